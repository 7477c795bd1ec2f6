// Indexing kernels. Plain copies and fills use clEnqueueCopyBuffer[Rect] and clEnqueueFillBuffer instead.

extension KernelSources {
    public static let memory = #"""
    /* y[i, :] = x[idx[offset + i], :]; an index outside 0..rows-1 gives a row of NaN (the CPU backend does the same). */
    __kernel void memory_gather_rows_f32(__global const float* x, const int rows, const int cols,
                                         __global const int* idx, const int offset, const int count, __global float* y) {
        int e = get_global_id(0);
        if (e >= count * cols) return;
        int i = e / cols, j = e - i * cols;
        int r = idx[offset + i];
        y[e] = (r >= 0 && r < rows) ? x[(long)r * cols + j] : NAN;
    }
    """#
}

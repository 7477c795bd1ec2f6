// Indexing, fill and block-copy kernels. Plain copies use clEnqueueCopyBuffer. Fills and block copies are kernels rather
// than clEnqueueFillBuffer and clEnqueueCopyBufferRect: drivers run kernels for those anyway, and Oclgrind's
// uninitialised-value tracking sees a kernel's writes but not those commands' (every value derived from a filled buffer
// was reported as uninitialised).

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

    __kernel void memory_fill_f32(__global float* y, const int offset, const int count, const float value) {
        int i = get_global_id(0);
        if (i < count) y[offset + i] = value;
    }

    /* A rows x cols block between matrices of row strides ss and ds (elements): clEnqueueCopyBufferRect's work, as a
       kernel for the same reason as the fill. */
    __kernel void memory_copy_block_f32(__global const float* src, const int so, const int ss, __global float* dst, const int dof,
                                        const int ds, const int rows, const int cols) {
        int e = get_global_id(0);
        if (e >= rows * cols) return;
        int r = e / cols, c = e - r * cols;
        dst[dof + (long)r * ds + c] = src[so + (long)r * ss + c];
    }
    """#
}

// Reductions over one axis and row softmax. Row kernels use one work-group of LK_WG items per row with a
// tree reduction in local memory; column kernels come in two forms: one work-item per column (reads coalesce across
// items; for a CPU device's few cores) and column tiles (a work-group per 16 columns; for a GPU or few columns).

extension KernelSources {
    public static let reductions = #"""
    __kernel void reductions_sum_rows_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        __global const float* xr = x + (long)r * cols;
        float s = 0.0f;
        for (int j = t; j < cols; j += LK_WG) s += xr[j];
        float total = lk_group_sum(scratch, s, t);
        if (t == 0) y[r] = total;
    }

    __kernel void reductions_max_rows_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        float m = lk_row_max(x + (long)r * cols, cols, t, scratch);
        if (t == 0) y[r] = m;
    }

    __kernel void reductions_logsumexp_rows_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        __global const float* xr = x + (long)r * cols;
        float m = lk_row_max(xr, cols, t, scratch);
        if (!isfinite(m)) { if (t == 0) y[r] = m; return; }  /* uniform across the group */
        float s = lk_row_sum_exp(xr, cols, m, t, scratch);
        if (t == 0) y[r] = m + log(s);
    }

    __kernel void reductions_softmax_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        __global const float* xr = x + (long)r * cols;
        __global float* yr = y + (long)r * cols;
        float m = lk_row_max(xr, cols, t, scratch);
        float inv = 1.0f / lk_row_sum_exp(xr, cols, m, t, scratch);
        for (int j = t; j < cols; j += LK_WG) yr[j] = exp(xr[j] - m) * inv;
    }

    __kernel void reductions_log_softmax_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        __global const float* xr = x + (long)r * cols;
        __global float* yr = y + (long)r * cols;
        float m = lk_row_max(xr, cols, t, scratch);
        float shift = m + log(lk_row_sum_exp(xr, cols, m, t, scratch));
        for (int j = t; j < cols; j += LK_WG) yr[j] = xr[j] - shift;
    }

    __kernel void reductions_sum_columns_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        int c = get_global_id(0);
        if (c >= cols) return;
        float s = 0.0f;
        for (int r = 0; r < rows; ++r) s += x[(long)r * cols + c];
        y[c] = s;
    }

    /* The column sums in column tiles (a work-group per 16 columns): the form for a GPU, or for few columns. */
    __kernel void reductions_sum_columns_tiled_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float partial[LK_WG];
        int lane = get_local_id(0);
        int c = get_group_id(0) * LK_TILE_COLS + lane % LK_TILE_COLS, r0 = lane / LK_TILE_COLS;
        float s = 0.0f;
        if (c < cols) for (int r = r0; r < rows; r += LK_TILE_ROWS) s += x[(long)r * cols + c];
        float total = lk_tile_column_sum(partial, s, lane);
        if (r0 == 0 && c < cols) y[c] = total;
    }

    /* The maximum of `value` over the LK_TILE_ROWS work-items of each column of a tile (as lk_tile_column_sum). */
    inline float lk_tile_column_max(__local float* partial, float value, int lane) {
        int r0 = lane / LK_TILE_COLS;
        partial[lane] = value;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = LK_TILE_ROWS / 2; s > 0; s >>= 1) {
            if (r0 < s) partial[lane] = lk_max(partial[lane], partial[lane + s * LK_TILE_COLS]);
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        float total = partial[lane % LK_TILE_COLS];
        barrier(CLK_LOCAL_MEM_FENCE);
        return total;
    }

    /* Column maxima and log-sum-exps in column tiles, for a GPU or few columns. A column whose maximum is not finite
       gives that maximum (as the per-column form); its lanes still take part in every barrier. */
    /* The maximum of column c of a tile, returned to all the column's lanes (-inf for lanes past the last column). */
    inline float lk_tile_max_of_column(__global const float* x, int rows, int cols, int c, int lane, __local float* partial) {
        float m = -INFINITY;
        if (c < cols) for (int r = lane / LK_TILE_COLS; r < rows; r += LK_TILE_ROWS) m = lk_max(m, x[(long)r * cols + c]);
        return lk_tile_column_max(partial, m, lane);
    }

    __kernel void reductions_max_columns_tiled_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float partial[LK_WG];
        int lane = get_local_id(0);
        int c = get_group_id(0) * LK_TILE_COLS + lane % LK_TILE_COLS;
        float total = lk_tile_max_of_column(x, rows, cols, c, lane, partial);
        if (lane < LK_TILE_COLS && c < cols) y[c] = total;
    }

    __kernel void reductions_logsumexp_columns_tiled_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        __local float partial[LK_WG];
        int lane = get_local_id(0);
        int c = get_group_id(0) * LK_TILE_COLS + lane % LK_TILE_COLS, r0 = lane / LK_TILE_COLS;
        float m = lk_tile_max_of_column(x, rows, cols, c, lane, partial);
        float s = 0.0f;
        if (c < cols && isfinite(m)) for (int r = r0; r < rows; r += LK_TILE_ROWS) s += exp(x[(long)r * cols + c] - m);
        float total = lk_tile_column_sum(partial, s, lane);
        if (r0 == 0 && c < cols) y[c] = isfinite(m) ? m + log(total) : m;
    }

    inline float lk_column_max(__global const float* x, int rows, int cols, int c) {
        float m = -INFINITY;
        for (int r = 0; r < rows; ++r) m = lk_max(m, x[(long)r * cols + c]);
        return m;
    }

    __kernel void reductions_max_columns_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        int c = get_global_id(0);
        if (c >= cols) return;
        y[c] = lk_column_max(x, rows, cols, c);
    }

    __kernel void reductions_logsumexp_columns_f32(__global const float* x, __global float* y, const int rows, const int cols) {
        int c = get_global_id(0);
        if (c >= cols) return;
        float m = lk_column_max(x, rows, cols, c);
        if (!isfinite(m)) { y[c] = m; return; }
        float s = 0.0f;
        for (int r = 0; r < rows; ++r) s += exp(x[(long)r * cols + c] - m);
        y[c] = m + log(s);
    }
    """#
}

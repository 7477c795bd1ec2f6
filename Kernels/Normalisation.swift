// Batch normalisation (Ioffe & Szegedy 2015) fused per column: statistics, normalisation, affine map and the running
// statistics in one kernel, and its backward in another. Twins of Sources/LatentCPU/CPUBackend+BatchNorm.swift.
// Two forms: one work-item per feature column looping over the batch (neighbouring work-items read neighbouring
// addresses; best on a CPU device with many columns), and column tiles, a work-group per 16 columns with the batch
// split across its work-items and reduced in local memory (for a GPU, which needs far more work-items than columns).

extension KernelSources {
    public static let normalisation = #"""
    __kernel void normalisation_batch_norm_training_f32(
            __global const float* x, __global const float* scale, __global const float* shift, __global float* y,
            __global float* batch_mean, __global float* inverse_deviation, __global float* running_mean, __global float* running_var,
            const int rows, const int cols, const float epsilon, const float momentum) {
        int c = get_global_id(0);
        if (c >= cols) return;
        float n = (float)rows, mean = 0.0f, var = 0.0f;
        for (int r = 0; r < rows; r++) mean += x[(long)r * cols + c];
        mean /= n;
        for (int r = 0; r < rows; r++) { float d = x[(long)r * cols + c] - mean; var += d * d; }
        var /= n;
        float inv = 1.0f / sqrt(var + epsilon);
        for (int r = 0; r < rows; r++) { long i = (long)r * cols + c; y[i] = scale[c] * ((x[i] - mean) * inv) + shift[c]; }
        batch_mean[c] = mean;
        inverse_deviation[c] = inv;
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (var * n / (n - 1.0f));
    }

    /* The same in column tiles (a work-group per 16 columns, see the preamble): the form for a GPU, or for few columns. */
    __kernel void normalisation_batch_norm_training_tiled_f32(
            __global const float* x, __global const float* scale, __global const float* shift, __global float* y,
            __global float* batch_mean, __global float* inverse_deviation, __global float* running_mean, __global float* running_var,
            const int rows, const int cols, const float epsilon, const float momentum) {
        __local float partial[LK_WG];
        int lane = get_local_id(0);
        int c = get_group_id(0) * LK_TILE_COLS + lane % LK_TILE_COLS, r0 = lane / LK_TILE_COLS;
        int in = c < cols;
        float n = (float)rows, s = 0.0f;
        if (in) for (int r = r0; r < rows; r += LK_TILE_ROWS) s += x[(long)r * cols + c];
        float mean = lk_tile_column_sum(partial, s, lane) / n;
        s = 0.0f;
        if (in) for (int r = r0; r < rows; r += LK_TILE_ROWS) { float d = x[(long)r * cols + c] - mean; s += d * d; }
        float var = lk_tile_column_sum(partial, s, lane) / n;
        float inv = 1.0f / sqrt(var + epsilon);
        if (!in) return;
        for (int r = r0; r < rows; r += LK_TILE_ROWS) { long i = (long)r * cols + c; y[i] = scale[c] * ((x[i] - mean) * inv) + shift[c]; }
        if (r0 == 0) {
            batch_mean[c] = mean;
            inverse_deviation[c] = inv;
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (var * n / (n - 1.0f));
        }
    }

    __kernel void normalisation_batch_norm_inference_f32(
            __global const float* x, __global const float* scale, __global const float* shift, __global const float* running_mean,
            __global const float* running_var, __global float* y, const int rows, const int cols, const float epsilon) {
        int i = get_global_id(0);
        if (i >= rows * cols) return;
        int c = i % cols;
        y[i] = scale[c] * ((x[i] - running_mean[c]) / sqrt(running_var[c] + epsilon)) + shift[c];
    }

    /* x^ = (x - mean) inv: dshift = sum dy, dscale = sum dy x^, dx = scale inv (dy - dshift/n - x^ dscale/n) */
    __kernel void normalisation_batch_norm_backward_f32(
            __global const float* x, __global const float* scale, __global const float* batch_mean, __global const float* inverse_deviation,
            __global const float* dy, __global float* dx, __global float* dscale, __global float* dshift, const int rows, const int cols) {
        int c = get_global_id(0);
        if (c >= cols) return;
        float mean = batch_mean[c], inv = inverse_deviation[c], sg = 0.0f, sgx = 0.0f, n = (float)rows;
        for (int r = 0; r < rows; r++) { long i = (long)r * cols + c; sg += dy[i]; sgx += dy[i] * (x[i] - mean) * inv; }
        float k = scale[c] * inv;
        for (int r = 0; r < rows; r++) { long i = (long)r * cols + c; dx[i] = k * (dy[i] - sg / n - (x[i] - mean) * inv * sgx / n); }
        dscale[c] = sgx;
        dshift[c] = sg;
    }

    /* The same in column tiles. */
    __kernel void normalisation_batch_norm_backward_tiled_f32(
            __global const float* x, __global const float* scale, __global const float* batch_mean, __global const float* inverse_deviation,
            __global const float* dy, __global float* dx, __global float* dscale, __global float* dshift, const int rows, const int cols) {
        __local float partial[LK_WG];
        int lane = get_local_id(0);
        int c = get_group_id(0) * LK_TILE_COLS + lane % LK_TILE_COLS, r0 = lane / LK_TILE_COLS;
        int in = c < cols;
        float mean = in ? batch_mean[c] : 0.0f, inv = in ? inverse_deviation[c] : 0.0f, a = 0.0f, b = 0.0f, n = (float)rows;
        if (in) for (int r = r0; r < rows; r += LK_TILE_ROWS) { long i = (long)r * cols + c; a += dy[i]; b += dy[i] * (x[i] - mean) * inv; }
        float sg = lk_tile_column_sum(partial, a, lane), sgx = lk_tile_column_sum(partial, b, lane);
        if (!in) return;
        float k = scale[c] * inv;
        for (int r = r0; r < rows; r += LK_TILE_ROWS) { long i = (long)r * cols + c; dx[i] = k * (dy[i] - sg / n - (x[i] - mean) * inv * sgx / n); }
        if (r0 == 0) {
            dscale[c] = sgx;
            dshift[c] = sg;
        }
    }
    """#
}

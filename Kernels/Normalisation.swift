// Batch normalisation (Ioffe & Szegedy 2015) fused per column: statistics, normalisation, affine map and the running
// statistics in one kernel, and its backward in another. Twins of Sources/LatentCPU/CPUBackend+BatchNorm.swift.
// One work-item per feature column looping over the batch: neighbouring work-items read neighbouring addresses.

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
    """#
}

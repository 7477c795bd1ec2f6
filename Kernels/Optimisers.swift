// Fused optimiser steps. Bias corrections are computed once on the host (AdamHyperparameters.biasCorrections).

extension KernelSources {
    public static let optimisers = #"""
    /* PyTorch's Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps). */
    __kernel void optimisers_adam_f32(__global float* p, __global const float* g, __global float* m, __global float* v,
                                      const int n, const float beta1, const float beta2, const float epsilon,
                                      const float step_size, const float sqrt_bc2) {
        int i = get_global_id(0);
        if (i >= n) return;
        float grad = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * grad;
        float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrt(vi) / sqrt_bc2 + epsilon);
    }
    """#
}

// Fused optimiser steps. Bias corrections are computed once on the host (AdamHyperparameters.biasCorrections).

extension KernelSources {
    public static let optimisers = #"""
    /* PyTorch's Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps). */
    inline void lk_adam(__global float* p, __global const float* g, __global float* m, __global float* v, int i,
                        float beta1, float beta2, float epsilon, float step_size, float sqrt_bc2) {
        float grad = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * grad;
        float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrt(vi) / sqrt_bc2 + epsilon);
    }

    /* Up to 16 tensors in one launch (the multi-tensor apply of PyTorch's optimisers): tensor t holds the elements
       o_t ..< o_{t+1} of the launch, each in its own four buffers. */
    #define LK_ADAM_TENSOR(t) __global float* p##t, __global const float* g##t, __global float* m##t, __global float* v##t,
    __kernel void optimisers_adam_f32(
        LK_ADAM_TENSOR(0) LK_ADAM_TENSOR(1) LK_ADAM_TENSOR(2) LK_ADAM_TENSOR(3) LK_ADAM_TENSOR(4) LK_ADAM_TENSOR(5)
        LK_ADAM_TENSOR(6) LK_ADAM_TENSOR(7) LK_ADAM_TENSOR(8) LK_ADAM_TENSOR(9) LK_ADAM_TENSOR(10) LK_ADAM_TENSOR(11)
        LK_ADAM_TENSOR(12) LK_ADAM_TENSOR(13) LK_ADAM_TENSOR(14) LK_ADAM_TENSOR(15)
        const int o0, const int o1, const int o2, const int o3, const int o4, const int o5, const int o6, const int o7,
        const int o8, const int o9, const int o10, const int o11, const int o12, const int o13, const int o14, const int o15,
        const int o16, const float beta1, const float beta2, const float epsilon, const float step_size, const float sqrt_bc2) {
        int i = get_global_id(0);
        if (i >= o16) return;
        #define LK_ADAM_AT(t, next) if (i < next) { lk_adam(p##t, g##t, m##t, v##t, i - o##t, beta1, beta2, epsilon, step_size, sqrt_bc2); return; }
        LK_ADAM_AT(0, o1) LK_ADAM_AT(1, o2) LK_ADAM_AT(2, o3) LK_ADAM_AT(3, o4) LK_ADAM_AT(4, o5) LK_ADAM_AT(5, o6)
        LK_ADAM_AT(6, o7) LK_ADAM_AT(7, o8) LK_ADAM_AT(8, o9) LK_ADAM_AT(9, o10) LK_ADAM_AT(10, o11) LK_ADAM_AT(11, o12)
        LK_ADAM_AT(12, o13) LK_ADAM_AT(13, o14) LK_ADAM_AT(14, o15) LK_ADAM_AT(15, o16)
    }
    """#
}

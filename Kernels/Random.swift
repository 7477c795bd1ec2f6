// Philox random fills: one work-item per Philox block, four elements per block, element 4b + l from word l.
// Twins of Sources/LatentCPU/CPUBackend+Random.swift.

extension KernelSources {
    public static let random = #"""
    #define LK_RANDOM_HEAD \
        int b = get_global_id(0); \
        if (4 * b >= n) return; \
        uint4 w = lk_philox4x32_10(lk_counter_at((uint4)(c0, c1, c2, c3), (uint)b), (uint2)(k0, k1)); \
        float4 u = (float4)(lk_uniform(w.x), lk_uniform(w.y), lk_uniform(w.z), lk_uniform(w.w));
    #define LK_RANDOM_ARGS const int n, const uint k0, const uint k1, const uint c0, const uint c1, const uint c2, const uint c3

    inline void lk_store4(__global float* y, int b, int n, float4 v) {
        int i = 4 * b;
        y[i] = v.x;
        if (i + 1 < n) y[i + 1] = v.y;
        if (i + 2 < n) y[i + 2] = v.z;
        if (i + 3 < n) y[i + 3] = v.w;
    }

    inline float2 lk_normal_pair(float u0, float u1) {
        float r = sqrt(-2.0f * log(u0));
        float theta = 6.283185307179586f * u1;
        return (float2)(r * cos(theta), r * sin(theta));
    }

    inline float lk_gumbel(float u) { return -log(-log(u)); }

    __kernel void random_uniform_f32(__global float* y, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        lk_store4(y, b, n, u);
    }

    __kernel void random_normal_f32(__global float* y, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        float2 z01 = lk_normal_pair(u.x, u.y), z23 = lk_normal_pair(u.z, u.w);
        lk_store4(y, b, n, (float4)(z01, z23));
    }

    __kernel void random_gumbel_f32(__global float* y, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        lk_store4(y, b, n, (float4)(lk_gumbel(u.x), lk_gumbel(u.y), lk_gumbel(u.z), lk_gumbel(u.w)));
    }

    /* 1 with probability p[i]: dynamic binarisation of intensities. */
    __kernel void random_bernoulli_f32(__global float* y, __global const float* p, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        int i = 4 * b;
        float4 v = (float4)(u.x < p[i] ? 1.0f : 0.0f,
                            (i + 1 < n && u.y < p[i + 1]) ? 1.0f : 0.0f,
                            (i + 2 < n && u.z < p[i + 2]) ? 1.0f : 0.0f,
                            (i + 3 < n && u.w < p[i + 3]) ? 1.0f : 0.0f);
        lk_store4(y, b, n, v);
    }

    __kernel void random_bits_u32(__global uint* y, LK_RANDOM_ARGS) {
        int b = get_global_id(0);
        if (4 * b >= n) return;
        uint4 w = lk_philox4x32_10(lk_counter_at((uint4)(c0, c1, c2, c3), (uint)b), (uint2)(k0, k1));
        int i = 4 * b;
        y[i] = w.x;
        if (i + 1 < n) y[i + 1] = w.y;
        if (i + 2 < n) y[i + 2] = w.z;
        if (i + 3 < n) y[i + 3] = w.w;
    }
    """#
}

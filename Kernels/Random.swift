// Philox random fills: one work-item per Philox block, four elements per block, stream element 4b + l from word l;
// output element i is stream element i + shift (shift < 4: the host advances the counter by whole blocks of a fill's
// stream offset and passes the rest).
// Twins of Sources/LatentCPU/CPUBackend+Random.swift.

extension KernelSources {
    public static let random = #"""
    #define LK_RANDOM_HEAD \
        int b = get_global_id(0); \
        if (4 * b - shift >= n) return; \
        uint4 w = lk_philox4x32_10(lk_counter_at((uint4)(c0, c1, c2, c3), (uint)b), (uint2)(k0, k1)); \
        float4 u = (float4)(lk_uniform(w.x), lk_uniform(w.y), lk_uniform(w.z), lk_uniform(w.w));
    #define LK_RANDOM_ARGS const int n, const uint k0, const uint k1, const uint c0, const uint c1, const uint c2, const uint c3, const int shift

    /* Whether output element i of a fill of n exists. */
    inline int lk_in(int i, int n) { return i >= 0 && i < n; }

    inline void lk_store4(__global float* y, int b, int n, int shift, float4 v) {
        int i = 4 * b - shift;
        if (lk_in(i, n)) y[i] = v.x;
        if (lk_in(i + 1, n)) y[i + 1] = v.y;
        if (lk_in(i + 2, n)) y[i + 2] = v.z;
        if (lk_in(i + 3, n)) y[i + 3] = v.w;
    }

    inline float2 lk_normal_pair(float u0, float u1) {
        float r = sqrt(-2.0f * log(u0));
        float theta = 6.283185307179586f * u1;
        return (float2)(r * cos(theta), r * sin(theta));
    }

    inline float lk_gumbel(float u) { return -log(-log(u)); }

    __kernel void random_uniform_f32(__global float* y, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        lk_store4(y, b, n, shift, u);
    }

    __kernel void random_normal_f32(__global float* y, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        float2 z01 = lk_normal_pair(u.x, u.y), z23 = lk_normal_pair(u.z, u.w);
        lk_store4(y, b, n, shift, (float4)(z01, z23));
    }

    __kernel void random_gumbel_f32(__global float* y, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        lk_store4(y, b, n, shift, (float4)(lk_gumbel(u.x), lk_gumbel(u.y), lk_gumbel(u.z), lk_gumbel(u.w)));
    }

    /* 1 with probability p[i]: dynamic binarisation of intensities. */
    __kernel void random_bernoulli_f32(__global float* y, __global const float* p, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        int i = 4 * b - shift;
        float4 v = (float4)((lk_in(i, n) && u.x < p[i]) ? 1.0f : 0.0f,
                            (lk_in(i + 1, n) && u.y < p[i + 1]) ? 1.0f : 0.0f,
                            (lk_in(i + 2, n) && u.z < p[i + 2]) ? 1.0f : 0.0f,
                            (lk_in(i + 3, n) && u.w < p[i + 3]) ? 1.0f : 0.0f);
        lk_store4(y, b, n, shift, v);
    }

    /* Inverted dropout's mask: 1/keep where the uniform is below keep, else 0. */
    __kernel void random_dropout_mask_f32(__global float* y, const float keep, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        float scale = 1.0f / keep;
        lk_store4(y, b, n, shift, (float4)(u.x < keep ? scale : 0.0f, u.y < keep ? scale : 0.0f,
                                           u.z < keep ? scale : 0.0f, u.w < keep ? scale : 0.0f));
    }

    /* The gathered rows x[idx[offset + i], :] binarised as random_bernoulli_f32 binarises y in place: one launch for a
       training step's minibatch. n = count * cols. */
    inline float lk_gathered(__global const float* x, int rows, int cols, __global const int* idx, int offset, int e) {
        int i = e / cols, r = idx[offset + i];
        return (r >= 0 && r < rows) ? x[(long)r * cols + (e - i * cols)] : NAN;
    }
    __kernel void random_gather_bernoulli_f32(__global float* y, __global const float* x, const int rows, const int cols,
                                              __global const int* idx, const int offset, LK_RANDOM_ARGS) {
        LK_RANDOM_HEAD
        int i = 4 * b - shift;
        float4 v = (float4)((lk_in(i, n) && u.x < lk_gathered(x, rows, cols, idx, offset, i)) ? 1.0f : 0.0f,
                            (lk_in(i + 1, n) && u.y < lk_gathered(x, rows, cols, idx, offset, i + 1)) ? 1.0f : 0.0f,
                            (lk_in(i + 2, n) && u.z < lk_gathered(x, rows, cols, idx, offset, i + 2)) ? 1.0f : 0.0f,
                            (lk_in(i + 3, n) && u.w < lk_gathered(x, rows, cols, idx, offset, i + 3)) ? 1.0f : 0.0f);
        lk_store4(y, b, n, shift, v);
    }

    /* Gamma(alpha, 1): Marsaglia-Tsang, boosted below 1; twin of GammaDistribution.sample (Sources/LatentCore/Gamma.swift). */
    inline float lk_gamma(float alpha, uint index, uint2 key, uint c0, uint c1) {
        int boosted = alpha < 1.0f;
        float a = boosted ? alpha + 1.0f : alpha;
        float d = a - 1.0f / 3.0f, c = 1.0f / sqrt(9.0f * d);
        float value = d, boost = 1.0f;
        for (uint attempt = 0; attempt < 64u; ++attempt) {
            uint4 w = lk_philox4x32_10((uint4)(index, attempt, c0, c1), key);
            float u0 = lk_uniform(w.x), u1 = lk_uniform(w.y), u2 = lk_uniform(w.z);
            boost = lk_uniform(w.w);
            float x = sqrt(-2.0f * log(u0)) * cos(6.283185307179586f * u1);
            float v = 1.0f + c * x;
            if (v <= 0.0f) continue;
            v = v * v * v;
            if (log(u2) < 0.5f * x * x + d - d * v + d * log(v)) { value = d * v; break; }
        }
        if (boosted) value = exp(log(value) + log(boost) / alpha);
        return fmax(value, FLT_MIN);
    }

    __kernel void random_gamma_f32(__global const float* alpha, __global float* y, const int n,
                                   const uint k0, const uint k1, const uint c0, const uint c1, const uint first) {
        int i = get_global_id(0);
        if (i >= n) return;
        y[i] = lk_gamma(alpha[i], first + (uint)i, (uint2)(k0, k1), c0, c1);
    }

    /* dx/dalpha of a Gamma(alpha, 1) sample by the implicit function theorem; twin of GammaDistribution.dxDalpha
       (the digamma computed every 8 terms, carried between by psi(a + 1) = psi(a) + 1/a). */
    inline float lk_gamma_dx_dalpha(float alpha, float x) {
        float log_x = log(x), sum = 0.0f, weights = 0.0f, w = 1.0f, n = 0.0f, psi = 0.0f;
        while (n < 100000.0f) {
            float a = alpha + n + 1.0f;
            if ((int)n % 8 == 0) psi = lk_digamma(a);  /* n counts the terms */
            sum += w * (log_x - psi);
            weights += w;
            w *= x / a;
            psi += 1.0f / a;
            n += 1.0f;
            if (alpha + n + 1.0f > x && w < 1e-9f * weights) break;
        }
        return -(x / alpha) * sum;
    }

    __kernel void random_gamma_backward_f32(__global const float* alpha, __global const float* x, __global const float* g,
                                            __global float* dalpha, const int n) {
        int i = get_global_id(0);
        if (i >= n) return;
        dalpha[i] = g[i] * lk_gamma_dx_dalpha(alpha[i], x[i]);
    }

    __kernel void random_bits_u32(__global uint* y, LK_RANDOM_ARGS) {  /* shift is 0 */
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

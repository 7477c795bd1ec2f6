// Special functions as device functions, line-by-line twins of Sources/LatentCore/SpecialFunctions.swift
// (see there for the method and the accuracy). Included in every program, so fused kernels can call them.

extension KernelSources {
    public static let specialFunctions = #"""
    /* lgamma(2 + t) = t * P(t) on [-1/2, 1/2]: degree-8 Chebyshev fit (mpmath). */
    constant float LK_LGAMMA_P[9] = {
        4.227843350e-01f, 3.224670179e-01f, -6.735228130e-02f, 2.058163064e-02f, -7.386177637e-03f,
        2.878826910e-03f, -1.185837699e-03f, 5.703469216e-04f, -2.538618445e-04f };

    inline float lk_lgamma(float x) {
        if (isnan(x)) return x;
        if (x < 0.0f) return NAN;
        if (x == 0.0f || isinf(x)) return INFINITY;
        if (x >= 8.0f) {
            float z = 1.0f / (x * x);
            float series = (1.0f / x) * ((1.0f / 12.0f) - z * ((1.0f / 360.0f) - z * (1.0f / 1260.0f)));
            return (x - 0.5f) * log(x) - x + 0.9189385332046727f + series;
        }
        float result = 0.0f;
        while (x < 1.5f) { result -= log(x); x += 1.0f; }
        float product = 1.0f;
        while (x >= 2.5f) { x -= 1.0f; product *= x; }
        if (product != 1.0f) result += log(product);
        float t = x - 2.0f;
        float p = LK_LGAMMA_P[8];
        for (int i = 7; i >= 0; --i) p = p * t + LK_LGAMMA_P[i];
        return result + t * p;
    }

    inline float lk_digamma(float x) {
        if (isnan(x)) return x;
        if (x < 0.0f) return NAN;
        if (x == 0.0f) return -INFINITY;
        if (isinf(x)) return INFINITY;
        float result = 0.0f;
        while (x < 6.0f) { result -= 1.0f / x; x += 1.0f; }
        float z = 1.0f / (x * x);
        float tail = z * ((1.0f / 12.0f) - z * ((1.0f / 120.0f) - z * ((1.0f / 252.0f) - z * ((1.0f / 240.0f)
                   - z * ((1.0f / 132.0f) - z * (691.0f / 32760.0f))))));
        return result + log(x) - 0.5f / x - tail;
    }

    inline float lk_trigamma(float x) {
        if (isnan(x)) return x;
        if (x < 0.0f) return NAN;
        if (x == 0.0f) return INFINITY;
        if (isinf(x)) return 0.0f;
        float result = 0.0f;
        while (x < 6.0f) { result += 1.0f / (x * x); x += 1.0f; }
        float r = 1.0f / x, z = r * r;
        float tail = r * z * ((1.0f / 6.0f) - z * ((1.0f / 30.0f) - z * ((1.0f / 42.0f) - z * ((1.0f / 30.0f)
                   - z * ((5.0f / 66.0f) - z * (691.0f / 2730.0f))))));
        return result + r + 0.5f * z + tail;
    }

    inline float lk_tetragamma(float x) {
        if (isnan(x)) return x;
        if (x < 0.0f) return NAN;
        if (x == 0.0f) return -INFINITY;
        if (isinf(x)) return 0.0f;
        float result = 0.0f;
        while (x < 6.0f) { result -= 2.0f / (x * x * x); x += 1.0f; }
        float r = 1.0f / x, z = r * r;
        float tail = z * z * (0.5f - z * ((1.0f / 6.0f) - z * ((1.0f / 6.0f) - z * ((3.0f / 10.0f)
                   - z * ((5.0f / 6.0f) - z * (691.0f / 210.0f))))));
        return result - z - z * r - tail;
    }

    inline float lk_softplus(float x) { return x > 0.0f ? x + log1p(exp(-x)) : log1p(exp(x)); }
    inline float lk_log_sigmoid(float x) { return -lk_softplus(-x); }
    inline float lk_sigmoid(float x) {
        if (x >= 0.0f) return 1.0f / (1.0f + exp(-x));
        float e = exp(x);
        return e / (1.0f + e);
    }
    inline float lk_tanh_grad(float x) { float t = tanh(x); return 1.0f - t * t; }
    inline float lk_sigmoid_grad(float x) { float s = lk_sigmoid(x); return s * (1.0f - s); }
    """#
}

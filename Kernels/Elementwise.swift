// Elementwise kernels: every UnaryOp forward and backward, BinaryOp with broadcast, affine.
// Expressions are the twins of CPUScalar in Sources/LatentCPU/CPUBackend+Elementwise.swift.

extension KernelSources {
    public static let elementwise = #"""
    #define LK_UNARY(name, expr) \
    __kernel void elementwise_##name##_f32(__global const float* xs, __global float* ys, const int n) { \
        int i = get_global_id(0); \
        if (i >= n) return; \
        float x = xs[i]; \
        ys[i] = (expr); \
    }

    /* dx = dy * f'(x) */
    #define LK_UNARY_BACKWARD(name, expr) \
    __kernel void elementwise_##name##_backward_f32(__global const float* xs, __global const float* dys, \
                                                    __global float* dxs, const int n) { \
        int i = get_global_id(0); \
        if (i >= n) return; \
        float x = xs[i], dy = dys[i]; \
        dxs[i] = (expr); \
    }

    LK_UNARY(neg, -x)
    LK_UNARY(exp, exp(x))
    LK_UNARY(log, log(x))
    LK_UNARY(log1p, log1p(x))
    LK_UNARY(expm1, expm1(x))
    LK_UNARY(sqrt, sqrt(x))
    LK_UNARY(square, x * x)
    LK_UNARY(reciprocal, 1.0f / x)
    LK_UNARY(abs, fabs(x))
    LK_UNARY(tanh, tanh(x))
    LK_UNARY(sigmoid, lk_sigmoid(x))
    LK_UNARY(softplus, lk_softplus(x))
    LK_UNARY(log_sigmoid, lk_log_sigmoid(x))
    LK_UNARY(relu, x < 0.0f ? 0.0f : x)
    LK_UNARY(elu, x > 0.0f ? x : expm1(x))
    LK_UNARY(lgamma, lk_lgamma(x))
    LK_UNARY(digamma, lk_digamma(x))
    LK_UNARY(trigamma, lk_trigamma(x))

    inline float lk_sign_or_nan(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x == 0.0f ? 0.0f : x)); }

    LK_UNARY_BACKWARD(neg, -dy)
    LK_UNARY_BACKWARD(exp, dy * exp(x))
    LK_UNARY_BACKWARD(log, dy / x)
    LK_UNARY_BACKWARD(log1p, dy / (1.0f + x))
    LK_UNARY_BACKWARD(expm1, dy * exp(x))
    LK_UNARY_BACKWARD(sqrt, dy * 0.5f / sqrt(x))
    LK_UNARY_BACKWARD(square, dy * 2.0f * x)
    LK_UNARY_BACKWARD(reciprocal, -dy / (x * x))
    LK_UNARY_BACKWARD(abs, dy * lk_sign_or_nan(x))
    LK_UNARY_BACKWARD(tanh, dy * lk_tanh_grad(x))
    LK_UNARY_BACKWARD(sigmoid, dy * lk_sigmoid_grad(x))
    LK_UNARY_BACKWARD(softplus, dy * lk_sigmoid(x))
    LK_UNARY_BACKWARD(log_sigmoid, dy * lk_sigmoid(-x))
    LK_UNARY_BACKWARD(relu, dy * (x > 0.0f ? 1.0f : (x == x ? 0.0f : x)))
    LK_UNARY_BACKWARD(elu, x > 0.0f ? dy : dy * exp(x))
    LK_UNARY_BACKWARD(lgamma, dy * lk_digamma(x))
    LK_UNARY_BACKWARD(digamma, dy * lk_trigamma(x))
    LK_UNARY_BACKWARD(trigamma, dy * lk_tetragamma(x))

    /* c = a op b for a rows x cols matrix a; mode: 0 same shape, 1 row vector, 2 column vector, 3 scalar. */
    #define LK_BINARY(name, expr) \
    __kernel void elementwise_##name##_f32(__global const float* as, __global const float* bs, __global float* cs, \
                                           const int rows, const int cols, const int mode) { \
        int i = get_global_id(0); \
        if (i >= rows * cols) return; \
        int j = mode == 0 ? i : (mode == 1 ? i % cols : (mode == 2 ? i / cols : 0)); \
        float a = as[i], b = bs[j]; \
        cs[i] = (expr); \
    }

    LK_BINARY(add, a + b)
    LK_BINARY(sub, a - b)
    LK_BINARY(mul, a * b)
    LK_BINARY(div, a / b)
    LK_BINARY(max, lk_max(a, b))
    LK_BINARY(min, lk_min(a, b))

    __kernel void elementwise_affine_f32(__global const float* xs, __global float* ys, const int n,
                                         const float alpha, const float beta) {
        int i = get_global_id(0);
        if (i >= n) return;
        ys[i] = alpha * xs[i] + beta;
    }
    """#
}

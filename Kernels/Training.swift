// The fused kernels of a training step, each replacing a chain of launches a GPU would pay for one by one: the dense
// layer's epilogue after its GEMM (bias + activation) and its backward form (activation derivative + bias-gradient
// reduction), and the ELBO's loss chain (two sums, two scalings, a subtraction) with its gradient seeds.
// Twins of Sources/LatentCPU/CPUBackend+Training.swift; activation expressions are those of Kernels/Elementwise.swift.

extension KernelSources {
    public static let training = #"""
    #define LK_ACT_softplus(x) lk_softplus(x)
    #define LK_ACT_tanh(x) tanh(x)
    #define LK_ACT_relu(x) ((x) < 0.0f ? 0.0f : (x))
    #define LK_ACT_elu(x) ((x) > 0.0f ? (x) : expm1(x))
    #define LK_ACT_sigmoid(x) lk_sigmoid(x)
    /* dy f'(x) */
    #define LK_GRAD_identity(x, dy) (dy)
    #define LK_GRAD_softplus(x, dy) ((dy) * lk_sigmoid(x))
    #define LK_GRAD_tanh(x, dy) ((dy) * lk_tanh_grad(x))
    #define LK_GRAD_relu(x, dy) ((dy) * ((x) > 0.0f ? 1.0f : ((x) == (x) ? 0.0f : (x))))
    #define LK_GRAD_elu(x, dy) ((x) > 0.0f ? (dy) : (dy) * exp(x))
    #define LK_GRAD_sigmoid(x, dy) ((dy) * lk_sigmoid_grad(x))

    /* a += bias (row broadcast) in place; y = f(a). */
    #define LK_BIAS_ACTIVATION(act) \
    __kernel void training_bias_##act##_f32(__global float* a, __global const float* bias, __global float* y, \
                                            const int rows, const int cols) { \
        int i = get_global_id(0); \
        if (i >= rows * cols) return; \
        float v = a[i] + bias[i % cols]; \
        a[i] = v; \
        y[i] = LK_ACT_##act(v); \
    }

    __kernel void training_bias_f32(__global float* a, __global const float* bias, const int rows, const int cols) {
        int i = get_global_id(0);
        if (i >= rows * cols) return;
        a[i] = a[i] + bias[i % cols];
    }

    LK_BIAS_ACTIVATION(softplus)
    LK_BIAS_ACTIVATION(tanh)
    LK_BIAS_ACTIVATION(relu)
    LK_BIAS_ACTIVATION(elu)
    LK_BIAS_ACTIVATION(sigmoid)

    /* da = dy f'(a) and dbias[c] = sum_r da[r, c], in column tiles (see the preamble). WRITE is 0 for the identity,
       whose da is dy itself. */
    #define LK_BIAS_ACTIVATION_BACKWARD(act, WRITE) \
    __kernel void training_bias_##act##_backward_f32(__global const float* a, __global const float* dy, __global float* da, \
                                                     __global float* dbias, const int rows, const int cols) { \
        __local float partial[LK_WG]; \
        int lane = get_local_id(0); \
        int c = get_group_id(0) * LK_TILE_COLS + lane % LK_TILE_COLS, r0 = lane / LK_TILE_COLS; \
        float sum = 0.0f; \
        if (c < cols) { \
            for (int r = r0; r < rows; r += LK_TILE_ROWS) { \
                long i = (long)r * cols + c; \
                float g = LK_GRAD_##act(a[i], dy[i]); \
                if (WRITE) da[i] = g; \
                sum += g; \
            } \
        } \
        float total = lk_tile_column_sum(partial, sum, lane); \
        if (r0 == 0 && c < cols) dbias[c] = total; \
    }

    LK_BIAS_ACTIVATION_BACKWARD(identity, 0)
    LK_BIAS_ACTIVATION_BACKWARD(softplus, 1)
    LK_BIAS_ACTIVATION_BACKWARD(tanh, 1)
    LK_BIAS_ACTIVATION_BACKWARD(relu, 1)
    LK_BIAS_ACTIVATION_BACKWARD(elu, 1)
    LK_BIAS_ACTIVATION_BACKWARD(sigmoid, 1)

    /* One work-group: L = sum ll, K = sum kl; loss = ks K - ls L, summary = (L - K, K). */
    __kernel void training_elbo_loss_f32(__global const float* ll, const int nll, __global const float* kl, const int nkl,
                                         const float ks, const float ls, __global float* loss, __global float* summary) {
        __local float scratch[LK_WG];
        int t = get_local_id(0);
        float a = 0.0f, b = 0.0f;
        for (int i = t; i < nll; i += LK_WG) a += ll[i];
        for (int i = t; i < nkl; i += LK_WG) b += kl[i];
        float l = lk_group_sum(scratch, a, t), k = lk_group_sum(scratch, b, t);
        if (t == 0) {
            loss[0] = ks * k - ls * l;
            summary[0] = l - k;
            summary[1] = k;
        }
    }

    /* dll = ls (-g), dkl = ks g, for the loss gradient g[0] (has_g) or the backward pass's seed. */
    __kernel void training_elbo_loss_backward_f32(__global const float* g, const int has_g, const float seed, const int nll,
                                                  const int nkl, const float ks, const float ls, __global float* dll,
                                                  __global float* dkl) {
        int i = get_global_id(0);
        float gradient = has_g ? g[0] : seed;
        if (i < nll) dll[i] = ls * -gradient;
        if (i < nkl) dkl[i] = ks * gradient;
    }
    """#
}

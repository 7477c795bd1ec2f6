// Fused kernels of the simplex and unit-interval latent families (Concrete, logit-normal, Dirichlet), each with
// its backward form. Twins of Sources/LatentCPU/CPUBackend+LatentFamilies.swift.
//
// One work-item per segment (a K-way categorical or a Dirichlet row) or per row: latent rows are short (tens to a
// few hundred values) and each kernel needs two or three passes over its segment (max, sum of exponentials,
// write), which a single work-item does without barriers; a work-group per segment would idle most of its items.

extension KernelSources {
    public static let latentFamilies = #"""
    #define LK_LOG_2PI_F 1.8378770664093453f

    /* ---- Concrete (ExpConcrete, Maddison et al. 2017) ---- */

    /* y = log-softmax((l + g) / lambda) over each categorical of k classes */
    __kernel void families_concrete_sample_f32(__global const float* l, __global const float* g, __global float* y,
                                               const int segments, const int k, const float lambda) {
        int s = get_global_id(0);
        if (s >= segments) return;
        long b = (long)s * k;
        float m = -INFINITY;
        for (int j = 0; j < k; j++) { float t = (l[b + j] + g[b + j]) / lambda; y[b + j] = t; m = lk_max(m, t); }
        float e = 0.0f;
        for (int j = 0; j < k; j++) e += exp(y[b + j] - m);
        float lse = m + log(e);
        for (int j = 0; j < k; j++) y[b + j] -= lse;
    }

    /* dl = (dy - e^y sum(dy)) / lambda */
    __kernel void families_concrete_sample_backward_f32(__global const float* y, __global const float* dy, __global float* dl,
                                                        const int segments, const int k, const float lambda) {
        int s = get_global_id(0);
        if (s >= segments) return;
        long b = (long)s * k;
        float sd = 0.0f;
        for (int j = 0; j < k; j++) sd += dy[b + j];
        for (int j = 0; j < k; j++) dl[b + j] = (dy[b + j] - exp(y[b + j]) * sd) / lambda;
    }

    /* t_j = a_j - lambda y_j (a = 0 without logits); its max and sum of exp(t - max) over one categorical */
    inline float2 lk_concrete_lse_parts(__global const float* y, __global const float* a, long b, int k, float lambda, int has_logits) {
        float m = -INFINITY;
        for (int j = 0; j < k; j++) m = lk_max(m, (has_logits ? a[b + j] : 0.0f) - lambda * y[b + j]);
        float e = 0.0f;
        for (int j = 0; j < k; j++) e += exp((has_logits ? a[b + j] : 0.0f) - lambda * y[b + j] - m);
        return (float2)(m, e);
    }

    /* lp[r] = sum over groups of normaliser + sum_j t_j - k logsumexp(t), normaliser = lgamma(k) + (k-1) log lambda */
    __kernel void families_concrete_log_density_f32(__global const float* y, __global const float* a, __global float* lp,
                                                    const int rows, const int groups, const int k, const float lambda,
                                                    const int has_logits, const float normaliser) {
        int r = get_global_id(0);
        if (r >= rows) return;
        float total = 0.0f;
        for (int q = 0; q < groups; q++) {
            long b = ((long)r * groups + q) * k;
            float2 p = lk_concrete_lse_parts(y, a, b, k, lambda, has_logits);
            float st = 0.0f;
            for (int j = 0; j < k; j++) st += (has_logits ? a[b + j] : 0.0f) - lambda * y[b + j];
            total += normaliser + st - (float)k * (p.x + log(p.y));
        }
        lp[r] = total;
    }

    /* w = softmax(t): da = g (1 - k w), dy = -lambda g (1 - k w) */
    __kernel void families_concrete_log_density_backward_f32(__global const float* y, __global const float* a, __global const float* g,
                                                             __global float* dy, __global float* da, const int rows, const int groups,
                                                             const int k, const float lambda, const int has_logits) {
        int r = get_global_id(0);
        if (r >= rows) return;
        for (int q = 0; q < groups; q++) {
            long b = ((long)r * groups + q) * k;
            float2 p = lk_concrete_lse_parts(y, a, b, k, lambda, has_logits);
            for (int j = 0; j < k; j++) {
                float w = exp((has_logits ? a[b + j] : 0.0f) - lambda * y[b + j] - p.x) / p.y;
                float dt = g[r] * (1.0f - (float)k * w);
                if (has_logits) da[b + j] = dt;
                dy[b + j] = -lambda * dt;
            }
        }
    }

    /* logsumexp of one categorical's logits */
    inline float lk_segment_lse(__global const float* l, long b, int k) {
        float m = -INFINITY;
        for (int j = 0; j < k; j++) m = lk_max(m, l[b + j]);
        float e = 0.0f;
        for (int j = 0; j < k; j++) e += exp(l[b + j] - m);
        return m + log(e);
    }

    /* KL of one categorical to the uniform one: sum_j pi_j (log pi_j + log k) */
    inline float lk_categorical_kl(__global const float* l, long b, int k, float lse) {
        float kl = 0.0f, log_k = log((float)k);
        for (int j = 0; j < k; j++) { float lp = l[b + j] - lse; kl += exp(lp) * (lp + log_k); }
        return kl;
    }

    __kernel void families_categorical_kl_f32(__global const float* l, __global float* kl, const int rows, const int groups, const int k) {
        int r = get_global_id(0);
        if (r >= rows) return;
        float total = 0.0f;
        for (int q = 0; q < groups; q++) {
            long b = ((long)r * groups + q) * k;
            total += lk_categorical_kl(l, b, k, lk_segment_lse(l, b, k));
        }
        kl[r] = total;
    }

    /* dl_j = g pi_j (log pi_j + log k - KL_group) */
    __kernel void families_categorical_kl_backward_f32(__global const float* l, __global const float* g, __global float* dl,
                                                       const int rows, const int groups, const int k) {
        int r = get_global_id(0);
        if (r >= rows) return;
        float log_k = log((float)k);
        for (int q = 0; q < groups; q++) {
            long b = ((long)r * groups + q) * k;
            float lse = lk_segment_lse(l, b, k), kl = lk_categorical_kl(l, b, k, lse);
            for (int j = 0; j < k; j++) { float lp = l[b + j] - lse; dl[b + j] = g[r] * exp(lp) * (lp + log_k - kl); }
        }
    }

    /* The two above with a work-group per row, its work-items taking the row's categoricals in turn: for a GPU. */
    __kernel void families_categorical_kl_rows_f32(__global const float* l, __global float* kl, const int rows, const int groups,
                                                   const int k) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        float part = 0.0f;
        for (int q = t; q < groups; q += LK_WG) {
            long b = ((long)r * groups + q) * k;
            part += lk_categorical_kl(l, b, k, lk_segment_lse(l, b, k));
        }
        float total = lk_group_sum(scratch, part, t);
        if (t == 0) kl[r] = total;
    }

    __kernel void families_categorical_kl_backward_rows_f32(__global const float* l, __global const float* g, __global float* dl,
                                                            const int rows, const int groups, const int k) {
        int r = get_group_id(0), t = get_local_id(0);
        float log_k = log((float)k);
        for (int q = t; q < groups; q += LK_WG) {
            long b = ((long)r * groups + q) * k;
            float lse = lk_segment_lse(l, b, k), kl = lk_categorical_kl(l, b, k, lse);
            for (int j = 0; j < k; j++) { float lp = l[b + j] - lse; dl[b + j] = g[r] * exp(lp) * (lp + log_k - kl); }
        }
    }

    /* ---- logit-normal (paper 001) ---- */

    /* y = mu + exp(lv / 2) eps, z = sigmoid(y) */
    __kernel void families_logit_normal_sample_f32(__global const float* mu, __global const float* lv, __global const float* eps,
                                                   __global float* y, __global float* z, const int n) {
        int i = get_global_id(0);
        if (i >= n) return;
        float v = mu[i] + exp(0.5f * lv[i]) * eps[i];
        y[i] = v;
        z[i] = lk_sigmoid(v);
    }

    /* s = dz sigmoid(y) sigmoid(-y): dmu = s, dlv = s eps exp(lv / 2) / 2 */
    __kernel void families_logit_normal_sample_backward_f32(__global const float* lv, __global const float* eps, __global const float* y,
                                                            __global const float* dz, __global float* dmu, __global float* dlv, const int n) {
        int i = get_global_id(0);
        if (i >= n) return;
        float s = dz[i] * lk_sigmoid(y[i]) * lk_sigmoid(-y[i]);
        dmu[i] = s;
        dlv[i] = s * eps[i] * 0.5f * exp(0.5f * lv[i]);
    }

    /* lp[r] = sum_j -1/2 (log 2 pi + lv + (y - mu)^2 exp(-lv)) + softplus(y) + softplus(-y) */
    __kernel void families_logit_normal_log_density_f32(__global const float* y, __global const float* mu, __global const float* lv,
                                                        __global float* lp, const int rows, const int cols) {
        int r = get_global_id(0);
        if (r >= rows) return;
        long b = (long)r * cols;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) {
            float d = y[b + j] - mu[b + j];
            s += -0.5f * (LK_LOG_2PI_F + lv[b + j] + d * d * exp(-lv[b + j])) + lk_softplus(y[b + j]) + lk_softplus(-y[b + j]);
        }
        lp[r] = s;
    }

    /* d = (y - mu) exp(-lv): dy = g (tanh(y / 2) - d), dmu = g d, dlv = g ((y - mu) d - 1) / 2 */
    __kernel void families_logit_normal_log_density_backward_f32(__global const float* y, __global const float* mu, __global const float* lv,
                                                                 __global const float* g, __global float* dy, __global float* dmu,
                                                                 __global float* dlv, const int rows, const int cols) {
        int i = get_global_id(0);
        if (i >= rows * cols) return;
        float gr = g[i / cols], diff = y[i] - mu[i], d = diff * exp(-lv[i]);
        dy[i] = gr * (tanh(0.5f * y[i]) - d);
        dmu[i] = gr * d;
        dlv[i] = gr * 0.5f * (diff * d - 1.0f);
    }

    /* ---- Dirichlet (paper 000). Each op is a row function families_<op>_row(r, t, step, scratch, ...) that two kernels run:
       families_<op>_f32 with one work-item per row (t = 0, step = 1: the loops of the CPU twin, in its order), and
       families_<op>_rows_f32 with a work-group per row (t = local id, step = LK_WG: the row's loops split across the
       group, each sum reduced in local memory), for a GPU, long rows or small batches. ---- */

    /* The same for a row function of the approximation (0 Laplace, 1 Aitchison-Shen), with a work-group kernel for each,
       families_<name>_rows_<approximation>_f32, in which the approximation is a constant (the parameter shadowed): no
       barrier then sits in a branch, which PoCL's work-group loops got wrong (a crash) and a GPU need not evaluate. */
    #define LK_APPROXIMATION_ROW_KERNELS(name, params, args) \
        LK_ROW_KERNEL(name, params, args) \
        LK_ROWS_KERNEL(name##_rows_laplace, name, params, args, const int approximation = 0;) \
        LK_ROWS_KERNEL(name##_rows_aitchison_shen, name, params, args, const int approximation = 1;)

    /* Laplace: mean and variance of logit j from alpha_j, the mean of log alpha and the sum of 1/alpha */
    inline float lk_laplace_mean(float a, float mean_log) { return log(a) - mean_log; }
    inline float lk_laplace_variance(float a, float sum_inverse, float k) { return (1.0f / a) * (1.0f - 2.0f / k) + sum_inverse / (k * k); }

    inline void lk_laplace_sums(__global const float* a, long b, int k, int t, int step, __local float* scratch, float* mean_log,
                                float* sum_inverse) {
        float sl = 0.0f, si = 0.0f;
        for (int j = t; j < k; j += step) { sl += log(a[b + j]); si += 1.0f / a[b + j]; }
        *mean_log = lk_row_total(scratch, sl, t, step) / (float)k;
        *sum_inverse = lk_row_total(scratch, si, t, step);
    }

    /* Laplace: y = mean + sqrt(var) eps. Aitchison-Shen: for j < k-1, y_j = psi(a_j) - psi(a_K) + sqrt(psi1(a_j)) eps_j
       - sqrt(psi1(a_K)) eps_K (one shared eps_K), y_K = 0. */
    inline void families_dirichlet_sample_row(int r, int t, int step, __local float* scratch, __global const float* a, __global const float* eps,
                                              __global float* y, int k, int approximation) {
        long b = (long)r * k;
        if (approximation == 0) {
            float mean_log, sum_inverse;
            lk_laplace_sums(a, b, k, t, step, scratch, &mean_log, &sum_inverse);
            for (int j = t; j < k; j += step)
                y[b + j] = lk_laplace_mean(a[b + j], mean_log) + sqrt(lk_laplace_variance(a[b + j], sum_inverse, (float)k)) * eps[b + j];
        } else {
            float aK = a[b + k - 1], psiK = lk_digamma(aK), shared = sqrt(lk_trigamma(aK)) * eps[b + k - 1];
            for (int j = t; j < k - 1; j += step) y[b + j] = (lk_digamma(a[b + j]) - psiK) + sqrt(lk_trigamma(a[b + j])) * eps[b + j] - shared;
            if (t == 0) y[b + k - 1] = 0.0f;
        }
    }
    LK_APPROXIMATION_ROW_KERNELS(families_dirichlet_sample, (__global const float* a, __global const float* eps, __global float* y, const int rows, const int k,
                                      const int approximation), (a, eps, y, k, approximation))

    /* Laplace chain rule: with A_j = dL/dmean_j and B_j = dL/dvar_j,
       da_i = (A_i - sum(A)/k) / a_i - ((1 - 2/k) B_i + sum(B)/k^2) / a_i^2.
       mode 0 (sample): A = dy, B = dy eps / (2 sqrt(var)); mode 1 (density, upstream g per row, input y):
       with c = (y - mean)/var, A = g c, B = g (c^2 - 1/var)/2, and dy = -A. */
    inline float2 lk_laplace_parts(int mode, float mean, float var, float input, float up) {
        if (mode == 0) return (float2)(up, up * input * 0.5f / sqrt(var));
        float c = (input - mean) / var;
        return (float2)(up * c, up * 0.5f * (c * c - 1.0f / var));
    }

    inline void lk_laplace_backward(int mode, __global const float* a, __global const float* input, float up_row, __global const float* up,
                                    __global float* da, __global float* dy, long b, int k, int t, int step, __local float* scratch) {
        float mean_log, sum_inverse, fk = (float)k;
        lk_laplace_sums(a, b, k, t, step, scratch, &mean_log, &sum_inverse);
        float pa = 0.0f, pb = 0.0f;
        for (int j = t; j < k; j += step) {
            float2 p = lk_laplace_parts(mode, lk_laplace_mean(a[b + j], mean_log), lk_laplace_variance(a[b + j], sum_inverse, fk),
                                        input[b + j], mode == 0 ? up[b + j] : up_row);
            pa += p.x;
            pb += p.y;
        }
        float sa = lk_row_total(scratch, pa, t, step), sb = lk_row_total(scratch, pb, t, step);
        for (int j = t; j < k; j += step) {
            float aj = a[b + j];
            float2 p = lk_laplace_parts(mode, lk_laplace_mean(aj, mean_log), lk_laplace_variance(aj, sum_inverse, fk),
                                        input[b + j], mode == 0 ? up[b + j] : up_row);
            da[b + j] = (p.x - sa / fk) / aj - ((1.0f - 2.0f / fk) * p.y + sb / (fk * fk)) / (aj * aj);
            if (mode == 1) dy[b + j] = -p.x;
        }
    }

    inline void families_dirichlet_sample_backward_row(int r, int t, int step, __local float* scratch, __global const float* a,
                                                       __global const float* eps, __global const float* dy, __global float* da, int k,
                                                       int approximation) {
        long b = (long)r * k;
        if (approximation == 0) {
            lk_laplace_backward(0, a, eps, 0.0f, dy, da, da, b, k, t, step, scratch);
        } else {
            float part = 0.0f;
            for (int j = t; j < k - 1; j += step) {
                float aj = a[b + j], t1 = lk_trigamma(aj);
                da[b + j] = dy[b + j] * (t1 + eps[b + j] * lk_tetragamma(aj) * 0.5f / sqrt(t1));
                part += dy[b + j];
            }
            float sum = lk_row_total(scratch, part, t, step);
            float aK = a[b + k - 1], t1K = lk_trigamma(aK);
            if (t == 0) da[b + k - 1] = -sum * (t1K + eps[b + k - 1] * lk_tetragamma(aK) * 0.5f / sqrt(t1K));
        }
    }
    LK_APPROXIMATION_ROW_KERNELS(families_dirichlet_sample_backward, (__global const float* a, __global const float* eps, __global const float* dy,
                                               __global float* da, const int rows, const int k, const int approximation),
                   (a, eps, dy, da, k, approximation))

    /* Aitchison-Shen density by the determinant lemma and Sherman-Morrison: r = y - mean, s1 = sum 1/d, s2 = sum r^2/d,
       s3 = sum r/d, u = 1 + c s1; log N = -1/2 ((k-1) log 2 pi + sum log d + log u + s2 - c s3^2 / u). */
    inline float4 lk_aitchison_sums(__global const float* a, __global const float* y, long b, int k, int t, int step, __local float* scratch) {
        float psiK = lk_digamma(a[b + k - 1]);
        float s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, sl = 0.0f;
        for (int j = t; j < k - 1; j += step) {
            float d = lk_trigamma(a[b + j]), r = y[b + j] - (lk_digamma(a[b + j]) - psiK);
            s1 += 1.0f / d;
            s2 += r * r / d;
            s3 += r / d;
            sl += log(d);
        }
        return (float4)(lk_row_total(scratch, s1, t, step), lk_row_total(scratch, s2, t, step), lk_row_total(scratch, s3, t, step),
                        lk_row_total(scratch, sl, t, step));
    }

    inline void families_dirichlet_approximation_log_density_row(int r, int t, int step, __local float* scratch, __global const float* y,
                                                                 __global const float* a, __global float* lp, int k, int approximation) {
        long b = (long)r * k;
        if (approximation == 0) {
            float mean_log, sum_inverse, part = 0.0f;
            lk_laplace_sums(a, b, k, t, step, scratch, &mean_log, &sum_inverse);
            for (int j = t; j < k; j += step) {
                float v = lk_laplace_variance(a[b + j], sum_inverse, (float)k), d = y[b + j] - lk_laplace_mean(a[b + j], mean_log);
                part += -0.5f * (LK_LOG_2PI_F + log(v) + d * d / v);
            }
            float total = lk_row_total(scratch, part, t, step);
            if (t == 0) lp[r] = total;
        } else {
            float4 s = lk_aitchison_sums(a, y, b, k, t, step, scratch);
            float c = lk_trigamma(a[b + k - 1]), u = 1.0f + c * s.x;
            if (t == 0) lp[r] = -0.5f * ((float)(k - 1) * LK_LOG_2PI_F + s.w + log(u) + s.y - c * s.z * s.z / u);
        }
    }
    LK_APPROXIMATION_ROW_KERNELS(families_dirichlet_approximation_log_density, (__global const float* y, __global const float* a, __global float* lp,
                                                         const int rows, const int k, const int approximation), (y, a, lp, k, approximation))

    /* Aitchison-Shen gradients: q_j = (r_j - c s3/u)/d_j (the precision times r); dy_j = -g q_j (dy_K = 0);
       dL/dd_j = (q_j^2 - 1/d_j + c/(u d_j^2))/2, dL/dc = -(s1/u - s3^2/u^2)/2; then through mean, d and c to alpha. */
    inline void families_dirichlet_approximation_log_density_backward_row(int r, int t, int step, __local float* scratch, __global const float* y,
                                                                          __global const float* a, __global const float* g, __global float* dy,
                                                                          __global float* da, int k, int approximation) {
        long b = (long)r * k;
        if (approximation == 0) {
            lk_laplace_backward(1, a, y, g[r], g, da, dy, b, k, t, step, scratch);
            return;
        }
        float4 s = lk_aitchison_sums(a, y, b, k, t, step, scratch);
        float aK = a[b + k - 1], psiK = lk_digamma(aK), c = lk_trigamma(aK), u = 1.0f + c * s.x, part = 0.0f;
        for (int j = t; j < k - 1; j += step) {
            float aj = a[b + j], d = lk_trigamma(aj), rj = y[b + j] - (lk_digamma(aj) - psiK);
            float q = (rj - c * s.z / u) / d;
            float dd = 0.5f * (q * q - 1.0f / d + c / (u * d * d));
            dy[b + j] = -g[r] * q;
            da[b + j] = g[r] * (q * d + dd * lk_tetragamma(aj));
            part += q;
        }
        float sq = lk_row_total(scratch, part, t, step);
        float dc = -0.5f * (s.x / u - s.z * s.z / (u * u));
        if (t == 0) {
            dy[b + k - 1] = 0.0f;
            da[b + k - 1] = g[r] * (-sq * c + dc * lk_tetragamma(aK));
        }
    }
    LK_APPROXIMATION_ROW_KERNELS(families_dirichlet_approximation_log_density_backward,
                                 (__global const float* y, __global const float* a, __global const float* g, __global float* dy, __global float* da,
                    const int rows, const int k, const int approximation), (y, a, g, dy, da, k, approximation))

    /* KL(Dir(a) || Dir(beta 1)); normaliser = k lgamma(beta) - lgamma(k beta) */
    inline void families_dirichlet_kl_row(int r, int t, int step, __local float* scratch, __global const float* a, __global float* kl, int k,
                                          float beta, float normaliser) {
        long b = (long)r * k;
        float s = 0.0f, lgs = 0.0f;
        for (int j = t; j < k; j += step) { s += a[b + j]; lgs += lk_lgamma(a[b + j]); }
        float a0 = lk_row_total(scratch, s, t, step), lg = lk_row_total(scratch, lgs, t, step);
        float psi0 = lk_digamma(a0), c = 0.0f;
        for (int j = t; j < k; j += step) c += (a[b + j] - beta) * (lk_digamma(a[b + j]) - psi0);
        float cross = lk_row_total(scratch, c, t, step);
        if (t == 0) kl[r] = (lk_lgamma(a0) - lg) + (cross + normaliser);
    }
    LK_ROW_KERNELS(families_dirichlet_kl, (__global const float* a, __global float* kl, const int rows, const int k, const float beta,
                                  const float normaliser), (a, kl, k, beta, normaliser))

    inline void families_dirichlet_kl_backward_row(int r, int t, int step, __local float* scratch, __global const float* a, __global const float* g,
                                                   __global float* da, int k, float beta) {
        long b = (long)r * k;
        float s = 0.0f;
        for (int j = t; j < k; j += step) s += a[b + j];
        float a0 = lk_row_total(scratch, s, t, step);
        float common = (a0 - (float)k * beta) * lk_trigamma(a0);
        for (int j = t; j < k; j += step) da[b + j] = g[r] * ((a[b + j] - beta) * lk_trigamma(a[b + j]) - common);
    }
    LK_ROW_KERNELS(families_dirichlet_kl_backward, (__global const float* a, __global const float* g, __global float* da, const int rows, const int k,
                                           const float beta), (a, g, da, k, beta))

    /* log Dir(z; a) */
    inline void families_dirichlet_log_density_row(int r, int t, int step, __local float* scratch, __global const float* z, __global const float* a,
                                                   __global float* lp, int k) {
        long b = (long)r * k;
        float s0 = 0.0f, lgs = 0.0f, ls = 0.0f;
        for (int j = t; j < k; j += step) { s0 += a[b + j]; lgs += lk_lgamma(a[b + j]); ls += (a[b + j] - 1.0f) * log(z[b + j]); }
        float a0 = lk_row_total(scratch, s0, t, step), lg = lk_row_total(scratch, lgs, t, step), s = lk_row_total(scratch, ls, t, step);
        if (t == 0) lp[r] = (lk_lgamma(a0) - lg) + s;
    }
    LK_ROW_KERNELS(families_dirichlet_log_density, (__global const float* z, __global const float* a, __global float* lp, const int rows, const int k),
                   (z, a, lp, k))

    inline void families_dirichlet_log_density_backward_row(int r, int t, int step, __local float* scratch, __global const float* z,
                                                            __global const float* a, __global const float* g, __global float* dz,
                                                            __global float* da, int k) {
        long b = (long)r * k;
        float s = 0.0f;
        for (int j = t; j < k; j += step) s += a[b + j];
        float psi0 = lk_digamma(lk_row_total(scratch, s, t, step));
        for (int j = t; j < k; j += step) {
            dz[b + j] = g[r] * (a[b + j] - 1.0f) / z[b + j];
            da[b + j] = g[r] * (psi0 - lk_digamma(a[b + j]) + log(z[b + j]));
        }
    }
    LK_ROW_KERNELS(families_dirichlet_log_density_backward, (__global const float* z, __global const float* a, __global const float* g,
                                                    __global float* dz, __global float* da, const int rows, const int k),
                   (z, a, g, dz, da, k))
    """#
}

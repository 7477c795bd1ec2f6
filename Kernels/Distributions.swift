// Fused per-family kernels with their backward forms: the Gaussian reparameterised sample, its KL to N(0, I),
// the Gaussian log-density and the Bernoulli log-likelihood from logits. Row sums use one work-group per row.
// Twins of Sources/LatentCPU/CPUBackend+Distributions.swift.

extension KernelSources {
    public static let distributions = #"""
    /* Sum over a row of `cols` terms computed by `term` (an expression of j), one work-group per row. The kernel
       declares `__local float scratch[LK_WG]` (local arrays must be declared at kernel scope). */
    #define LK_ROW_SUM(result, term) { \
        float lk_acc = 0.0f; \
        for (int j = t; j < cols; j += LK_WG) lk_acc += (term); \
        result = lk_group_sum(scratch, lk_acc, t); \
    }

    #define LK_LOG_2PI 1.8378770664093453f

    /* z = mu + exp(lv / 2) eps */
    __kernel void distributions_gaussian_sample_f32(__global const float* mu, __global const float* lv,
                                                    __global const float* eps, __global float* z, const int n) {
        int i = get_global_id(0);
        if (i >= n) return;
        z[i] = mu[i] + exp(0.5f * lv[i]) * eps[i];
    }

    /* dlv = dz eps exp(lv / 2) / 2 (dmu = dz is the identity and needs no kernel) */
    __kernel void distributions_gaussian_sample_backward_f32(__global const float* lv, __global const float* eps,
                                                             __global const float* dz, __global float* dlv, const int n) {
        int i = get_global_id(0);
        if (i >= n) return;
        dlv[i] = dz[i] * eps[i] * 0.5f * exp(0.5f * lv[i]);
    }

    /* kl[r] = -1/2 sum_j (1 + lv - plv - (mu^2 + exp(lv)) exp(-plv)): KL to N(0, exp(plv)) */
    __kernel void distributions_gaussian_kl_f32(__global const float* mu, __global const float* lv, __global float* kl,
                                                const int rows, const int cols, const float plv) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * cols;
        float inverse_prior = exp(-plv);
        __local float scratch[LK_WG];
        float s;
        LK_ROW_SUM(s, -0.5f * (1.0f + lv[base + j] - plv - (mu[base + j] * mu[base + j] + exp(lv[base + j])) * inverse_prior))
        if (t == 0) kl[r] = s;
    }

    /* The diagonal Gaussian posterior from its joined heads h (rows x 2n: mean, then log-variance): z = mu + exp(lv/2) eps
       and kl[r] as distributions_gaussian_kl_f32, one work-group per row. */
    __kernel void distributions_gaussian_posterior_f32(__global const float* h, __global const float* eps, __global float* z,
                                                       __global float* kl, const int rows, const int n, const float plv) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * n, hbase = 2 * base;
        float inverse_prior = exp(-plv);
        __local float scratch[LK_WG];
        float acc = 0.0f;
        for (int j = t; j < n; j += LK_WG) {
            float mu = h[hbase + j], lv = h[hbase + n + j];
            z[base + j] = mu + exp(0.5f * lv) * eps[base + j];
            acc += -0.5f * (1.0f + lv - plv - (mu * mu + exp(lv)) * inverse_prior);
        }
        float total = lk_group_sum(scratch, acc, t);
        if (t == 0) kl[r] = total;
    }

    /* dh from the sample's gradient dz and the KL's per-row gradient g (has_dz, has_g: 0 when absent). */
    __kernel void distributions_gaussian_posterior_backward_f32(__global const float* h, __global const float* eps,
                                                                __global const float* dz, __global const float* g,
                                                                __global float* dh, const int rows, const int n, const float plv,
                                                                const int has_dz, const int has_g) {
        int i = get_global_id(0);
        if (i >= rows * n) return;
        int r = i / n;
        long hi = (long)i + (long)r * n;
        float mu = h[hi], lv = h[hi + n];
        float dmu = 0.0f, dlv = 0.0f;
        if (has_g) { float gr = g[r]; dmu = gr * mu * exp(-plv); dlv = gr * 0.5f * (exp(lv - plv) - 1.0f); }
        if (has_dz) {
            float d = dz[i];
            dmu = has_g ? dmu + d : d;
            float s = d * eps[i] * 0.5f * exp(0.5f * lv);
            dlv = has_g ? dlv + s : s;
        }
        dh[hi] = dmu;
        dh[hi + n] = dlv;
    }

    /* A continuous layer's conditional Gaussians from joined heads q and p (rows x 2n: mean, then log-variance):
       z = muq + exp(lvq/2) eps, and kl[r] = 1/2 sum_j (lvp - lvq + (exp(lvq) + (muq - mup)^2) exp(-lvp) - 1), one
       work-group per row. */
    __kernel void distributions_gaussian_conditional_posterior_f32(__global const float* q, __global const float* p,
                                                                   __global const float* eps, __global float* z,
                                                                   __global float* kl, const int rows, const int n) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * n, hbase = 2 * base;
        __local float scratch[LK_WG];
        float acc = 0.0f;
        for (int j = t; j < n; j += LK_WG) {
            float mq = q[hbase + j], lq = q[hbase + n + j], mp = p[hbase + j], lp = p[hbase + n + j];
            z[base + j] = mq + exp(0.5f * lq) * eps[base + j];
            float d = mq - mp;
            acc += 0.5f * (lp - lq + (exp(lq) + d * d) * exp(-lp) - 1.0f);
        }
        float total = lk_group_sum(scratch, acc, t);
        if (t == 0) kl[r] = total;
    }

    /* dq and dp from the sample's gradient dz and the KL's per-row gradient g (has_dz, has_g: 0 when absent). */
    __kernel void distributions_gaussian_conditional_posterior_backward_f32(
        __global const float* q, __global const float* p, __global const float* eps, __global const float* dz,
        __global const float* g, __global float* dq, __global float* dp, const int rows, const int n, const int has_dz,
        const int has_g) {
        int i = get_global_id(0);
        if (i >= rows * n) return;
        int r = i / n;
        long hi = (long)i + (long)r * n;
        float mq = q[hi], lq = q[hi + n], mp = p[hi], lp = p[hi + n];
        float dmq = 0.0f, dlq = 0.0f, dmp = 0.0f, dlp = 0.0f;
        if (has_g) {
            float gr = g[r], d = mq - mp, inverse = exp(-lp), v = exp(lq - lp);
            dmq = gr * d * inverse;
            dmp = -dmq;
            dlq = gr * 0.5f * (v - 1.0f);
            dlp = gr * 0.5f * (1.0f - v - d * d * inverse);
        }
        if (has_dz) {
            float s = dz[i];
            dmq += s;
            dlq += s * eps[i] * 0.5f * exp(0.5f * lq);
        }
        dq[hi] = dmq;
        dq[hi + n] = dlq;
        dp[hi] = dmp;
        dp[hi + n] = dlp;
    }

    /* dmu = g[r] mu exp(-plv); dlv = g[r] (exp(lv - plv) - 1) / 2 */
    __kernel void distributions_gaussian_kl_backward_f32(__global const float* mu, __global const float* lv,
                                                         __global const float* g, __global float* dmu, __global float* dlv,
                                                         const int rows, const int cols, const float plv) {
        int i = get_global_id(0);
        if (i >= rows * cols) return;
        float gr = g[i / cols];
        dmu[i] = gr * mu[i] * exp(-plv);
        dlv[i] = gr * 0.5f * (exp(lv[i] - plv) - 1.0f);
    }

    /* ll[r] = sum_j x l - softplus(l): log Bernoulli(x | sigmoid(l)), stable for any logit */
    __kernel void distributions_bernoulli_log_likelihood_f32(__global const float* l, __global const float* x,
                                                             __global float* ll, const int rows, const int cols) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * cols;
        __local float scratch[LK_WG];
        float s;
        LK_ROW_SUM(s, x[base + j] * l[base + j] - lk_softplus(l[base + j]))
        if (t == 0) ll[r] = s;
    }

    /* dl = g[r] (x - sigmoid(l)) */
    __kernel void distributions_bernoulli_log_likelihood_backward_f32(__global const float* l, __global const float* x,
                                                                      __global const float* g, __global float* dl,
                                                                      const int rows, const int cols) {
        int i = get_global_id(0);
        if (i >= rows * cols) return;
        dl[i] = g[i / cols] * (x[i] - lk_sigmoid(l[i]));
    }

    /* A bag of words' log-probability under softmax(l), without the multinomial coefficient:
       ll[r] = sum_j c_j (l_j - z), z = log sum_j exp(l_j), written to lse[r] for the backward kernel */
    __kernel void distributions_multinomial_log_likelihood_f32(__global const float* l, __global const float* c,
                                                               __global float* ll, __global float* lse,
                                                               const int rows, const int cols) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * cols;
        __local float scratch[LK_WG];
        float m = lk_row_max(l + base, cols, t, scratch);
        float z = m + log(lk_row_sum_exp(l + base, cols, m, t, scratch));
        float s;
        LK_ROW_SUM(s, c[base + j] * (l[base + j] - z))
        if (t == 0) { ll[r] = s; lse[r] = z; }
    }

    /* dl = g[r] (c - N exp(l - z)), N = sum_j c_j */
    __kernel void distributions_multinomial_log_likelihood_backward_f32(__global const float* l, __global const float* c,
                                                                        __global const float* lse, __global const float* g,
                                                                        __global float* dl, const int rows, const int cols) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * cols;
        __local float scratch[LK_WG];
        float n;
        LK_ROW_SUM(n, c[base + j])
        float z = lse[r], gr = g[r];
        for (int j = t; j < cols; j += LK_WG) dl[base + j] = gr * (c[base + j] - n * exp(l[base + j] - z));
    }

    /* lp[r] = sum_j -1/2 (log 2 pi + lv + (x - mu)^2 exp(-lv)) */
    __kernel void distributions_gaussian_log_density_f32(__global const float* x, __global const float* mu,
                                                         __global const float* lv, __global float* lp,
                                                         const int rows, const int cols) {
        int r = get_group_id(0), t = get_local_id(0);
        long base = (long)r * cols;
        __local float scratch[LK_WG];
        float s;
        LK_ROW_SUM(s, -0.5f * (LK_LOG_2PI + lv[base + j]
                               + (x[base + j] - mu[base + j]) * (x[base + j] - mu[base + j]) * exp(-lv[base + j])))
        if (t == 0) lp[r] = s;
    }

    /* with d = (x - mu) exp(-lv): dx = -g d; dmu = g d; dlv = g ((x - mu) d - 1) / 2 */
    __kernel void distributions_gaussian_log_density_backward_f32(
            __global const float* x, __global const float* mu, __global const float* lv, __global const float* g,
            __global float* dx, __global float* dmu, __global float* dlv, const int rows, const int cols) {
        int i = get_global_id(0);
        if (i >= rows * cols) return;
        float gr = g[i / cols], diff = x[i] - mu[i], d = diff * exp(-lv[i]);
        dx[i] = -gr * d;
        dmu[i] = gr * d;
        dlv[i] = gr * 0.5f * (diff * d - 1.0f);
    }
    """#
}

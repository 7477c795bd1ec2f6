// Fused kernels of the structured Gaussian posteriors (paper 003's chain and grid): q(z|x) = N(μ, P⁻¹) with P = L Lᵀ and
// L lower block-bidiagonal (`blocks` blocks of `c` latents; the chain is c = 1). Twins of
// Sources/LatentCPU/CPUBackend+StructuredGaussian.swift, which documents the algebra; see LatentCore/PrecisionStructure.swift
// for the layout of L's strictly-lower non-zeros (row by row, each row's contiguous columns first(a)..a-1 in order).
//
// One work-item per batch row for the sample, the KL and their gradients: a row's triangular solves and the trace's
// recursion over blocks are sequential (a block depends on the one before), so a work-group per row would idle. The
// log-density and its gradient need no solve (u = Lᵀ(z - μ) gathers a column of L per latent): they have a
// work-group-per-row form too, its items taking the latents in turn, for a GPU, long rows or small batches. L's diagonal is exp(-lv/2) and every division by it is a multiplication by
// exp(lv/2), as in the diagonal family's sample. Per-row scratch (the Gram blocks of L⁻¹, vectors) lives in a global
// workspace the backend allocates, so no block size is baked into the program.

extension KernelSources {
    public static let structuredGaussian = #"""
    #define LK_SG_LOG_2PI 1.8378770664093453f

    /* the first non-zero column of row a of L */
    inline int lk_sg_first(int a, int c) { return a < c ? 0 : (a / c - 1) * c; }

    /* where row a's strictly-lower entries start among a batch row's off-diagonals */
    inline int lk_sg_start(int a, int c) {
        int r = a / c, i = a % c, tri = c * (c - 1) / 2;
        return r == 0 ? i * (i - 1) / 2 : tri + (r - 1) * (c * c + tri) + i * c + i * (i - 1) / 2;
    }

    inline int lk_sg_index(int a, int j, int c) { return lk_sg_start(a, c) + j - lk_sg_first(a, c); }

    /* D_r[i][k] (k < i), the diagonal block, and B_r[i][k], the sub-diagonal block, of L */
    inline float lk_sg_d(__global const float* off, int r, int i, int k, int c) { return off[lk_sg_start(r * c + i, c) + (r > 0 ? c : 0) + k]; }
    inline float lk_sg_b(__global const float* off, int r, int i, int k, int c) { return off[lk_sg_start(r * c + i, c) + k]; }

    /* v = L^-T eps by back substitution over the rows of L */
    inline void lk_sg_solve_transposed(__global const float* lv, __global const float* off, __global const float* eps,
                                       __global float* v, int n, int c) {
        for (int a = 0; a < n; a++) v[a] = eps[a];
        for (int a = n - 1; a >= 0; a--) {
            float va = exp(0.5f * lv[a]) * v[a];
            v[a] = va;
            int s = lk_sg_start(a, c), f = lk_sg_first(a, c);
            for (int j = f; j < a; j++) v[j] -= off[s + j - f] * va;
        }
    }

    /* (L^T r)_j with r = z - mu, gathering column j of L (rows j .. the end of the block after j's) */
    inline float lk_sg_transposed_product(__global const float* z, __global const float* mu, __global const float* lv,
                                          __global const float* off, int j, int n, int c) {
        float t = exp(-0.5f * lv[j]) * (z[j] - mu[j]);
        int last = min(n, (j / c + 2) * c) - 1;
        for (int a = j + 1; a <= last; a++) t += off[lk_sg_index(a, j, c)] * (z[a] - mu[a]);
        return t;
    }

    /* tr P^-1 = sum_r tr G_r, G_r = D_r^-1 (I + B_r G_{r-1} B_r^T) D_r^-T; every G_r left in ws, then 2 c^2 of scratch */
    inline float lk_sg_trace(__global const float* lv, __global const float* off, __global float* ws, int blocks, int c) {
        int cc = c * c;
        __global float* m = ws + blocks * cc;
        __global float* y = m + cc;
        float trace = 0.0f;
        for (int r = 0; r < blocks; r++) {
            int base = r * c;
            __global float* g = ws + r * cc;
            if (r == 0) {
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) m[i * c + j] = i == j ? 1.0f : 0.0f;
            } else {
                __global float* prev = ws + (r - 1) * cc;
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                    float t = 0.0f;
                    for (int k = 0; k < c; k++) t += lk_sg_b(off, r, i, k, c) * prev[k * c + j];
                    y[i * c + j] = t;
                }
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                    float t = i == j ? 1.0f : 0.0f;
                    for (int k = 0; k < c; k++) t += y[i * c + k] * lk_sg_b(off, r, j, k, c);
                    m[i * c + j] = t;
                }
            }
            for (int j = 0; j < c; j++) for (int i = 0; i < c; i++) {  /* y = D^-1 m */
                float t = m[i * c + j];
                for (int k = 0; k < i; k++) t -= lk_sg_d(off, r, i, k, c) * y[k * c + j];
                y[i * c + j] = t * exp(0.5f * lv[base + i]);
            }
            for (int j = 0; j < c; j++) for (int i = 0; i < c; i++) {  /* G = D^-1 y^T */
                float t = y[j * c + i];
                for (int k = 0; k < i; k++) t -= lk_sg_d(off, r, i, k, c) * g[k * c + j];
                g[i * c + j] = t * exp(0.5f * lv[base + i]);
            }
            for (int i = 0; i < c; i++) trace += g[i * c + i];
        }
        return trace;
    }

    __kernel void structured_gaussian_sample_f32(__global const float* mu, __global const float* lv, __global const float* off,
                                                 __global const float* eps, __global float* z, const int rows, const int blocks, const int c) {
        int r = get_global_id(0);
        if (r >= rows) return;
        int n = blocks * c;
        long o = (long)r * n, om = (long)r * (blocks * c * (c - 1) / 2 + (blocks - 1) * c * c);
        lk_sg_solve_transposed(lv + o, off + om, eps + o, z + o, n, c);
        for (int a = 0; a < n; a++) z[o + a] = mu[o + a] + z[o + a];
    }

    /* w = L^-1 dz; dL_aj = -v_a w_j; dlv_a = v_a w_a L_aa / 2 */
    __kernel void structured_gaussian_sample_backward_f32(__global const float* lv, __global const float* off, __global const float* eps,
                                                          __global const float* dz, __global float* dlv, __global float* doff,
                                                          __global float* ws, const int rows, const int blocks, const int c) {
        int r = get_global_id(0);
        if (r >= rows) return;
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c;
        long o = (long)r * n, om = (long)r * m;
        __global const float* l = lv + o;
        __global const float* L = off + om;
        __global float* v = ws + 2 * o;
        __global float* w = v + n;
        lk_sg_solve_transposed(l, L, eps + o, v, n, c);
        for (int a = 0; a < n; a++) {
            float t = dz[o + a];
            int s = lk_sg_start(a, c), f = lk_sg_first(a, c);
            for (int j = f; j < a; j++) t -= L[s + j - f] * w[j];
            w[a] = t * exp(0.5f * l[a]);
        }
        for (int a = 0; a < n; a++) {
            int s = lk_sg_start(a, c), f = lk_sg_first(a, c);
            for (int j = f; j < a; j++) doff[om + s + j - f] = -v[a] * w[j];
            dlv[o + a] = 0.5f * v[a] * w[a] * exp(-0.5f * l[a]);
        }
    }

    /* KL = (tr P^-1 + mu^T mu - n - sum lv) / 2 */
    __kernel void structured_gaussian_kl_f32(__global const float* mu, __global const float* lv, __global const float* off,
                                             __global float* kl, __global float* ws, const int rows, const int blocks, const int c) {
        int r = get_global_id(0);
        if (r >= rows) return;
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c;
        long o = (long)r * n;
        float trace = lk_sg_trace(lv + o, off + (long)r * m, ws + (long)r * (blocks + 4) * c * c, blocks, c);
        float rest = 0.0f;
        for (int a = 0; a < n; a++) rest += mu[o + a] * mu[o + a] - lv[o + a];
        kl[r] = 0.5f * (trace + rest - (float)n);
    }

    /* Reverse mode through lk_sg_trace: Gbar_r = I + B_{r+1}^T Mbar_{r+1} B_{r+1}, Mbar_r = D^-T Gbar D^-1,
       Dbar = -2 D^-T Gbar G_r, Bbar = 2 Mbar B G_{r-1}; dlv_a = g (Dbar_aa (-L_aa / 2) - 1) / 2, doff = g Lbar / 2, dmu = g mu */
    __kernel void structured_gaussian_kl_backward_f32(__global const float* mu, __global const float* lv, __global const float* off,
                                                      __global const float* gr, __global float* dmu, __global float* dlv,
                                                      __global float* doff, __global float* ws, const int rows, const int blocks, const int c) {
        int r = get_global_id(0);
        if (r >= rows) return;
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c, cc = c * c;
        long o = (long)r * n, om = (long)r * m;
        __global const float* l = lv + o;
        __global const float* L = off + om;
        __global float* W = ws + (long)r * (blocks + 4) * cc;
        lk_sg_trace(l, L, W, blocks, c);
        float scale = 0.5f * gr[r];
        __global float* gbar = W + blocks * cc;
        __global float* mbar = gbar + cc;
        __global float* x = mbar + cc;
        __global float* t = x + cc;
        for (int q = blocks - 1; q >= 0; q--) {
            int base = q * c;
            __global float* g = W + q * cc;
            if (q < blocks - 1) {
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                    float s = 0.0f;
                    for (int k = 0; k < c; k++) s += mbar[i * c + k] * lk_sg_b(L, q + 1, k, j, c);
                    t[i * c + j] = s;
                }
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                    float s = i == j ? 1.0f : 0.0f;
                    for (int k = 0; k < c; k++) s += lk_sg_b(L, q + 1, k, i, c) * t[k * c + j];
                    gbar[i * c + j] = s;
                }
            } else {
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) gbar[i * c + j] = i == j ? 1.0f : 0.0f;
            }
            for (int j = 0; j < c; j++) for (int i = c - 1; i >= 0; i--) {  /* x = D^-T Gbar */
                float s = gbar[i * c + j];
                for (int k = i + 1; k < c; k++) s -= lk_sg_d(L, q, k, i, c) * x[k * c + j];
                x[i * c + j] = s * exp(0.5f * l[base + i]);
            }
            for (int j = 0; j < c; j++) for (int i = c - 1; i >= 0; i--) {  /* Mbar = D^-T x^T */
                float s = x[j * c + i];
                for (int k = i + 1; k < c; k++) s -= lk_sg_d(L, q, k, i, c) * mbar[k * c + j];
                mbar[i * c + j] = s * exp(0.5f * l[base + i]);
            }
            for (int i = 0; i < c; i++) for (int j = 0; j <= i; j++) {  /* Dbar = -2 x G */
                float s = 0.0f;
                for (int k = 0; k < c; k++) s += x[i * c + k] * g[k * c + j];
                float adjoint = -2.0f * s;
                if (j == i) dlv[o + base + i] = scale * (adjoint * (-0.5f * exp(-0.5f * l[base + i])) - 1.0f);
                else doff[om + lk_sg_index(base + i, base + j, c)] = scale * adjoint;
            }
            if (q > 0) {  /* Bbar = 2 Mbar B G_{q-1} */
                __global float* prev = W + (q - 1) * cc;
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                    float s = 0.0f;
                    for (int k = 0; k < c; k++) s += lk_sg_b(L, q, i, k, c) * prev[k * c + j];
                    t[i * c + j] = s;
                }
                for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                    float s = 0.0f;
                    for (int k = 0; k < c; k++) s += mbar[i * c + k] * t[k * c + j];
                    doff[om + lk_sg_index(base + i, base - c + j, c)] = scale * 2.0f * s;
                }
            }
        }
        for (int a = 0; a < n; a++) dmu[o + a] = gr[r] * mu[o + a];
    }

    /* lp = -(n log 2pi + sum lv + |L^T (z - mu)|^2) / 2; each item of a row's work-group takes latents t, t + step, ... */
    inline void structured_gaussian_log_density_row(int r, int t, int step, __local float* scratch, __global const float* z,
                                                    __global const float* mu, __global const float* lv, __global const float* off,
                                                    __global float* lp, int blocks, int c) {
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c;
        long o = (long)r * n;
        float part = 0.0f;
        for (int j = t; j < n; j += step) {
            float u = lk_sg_transposed_product(z + o, mu + o, lv + o, off + (long)r * m, j, n, c);
            part += LK_SG_LOG_2PI + lv[o + j] + u * u;
        }
        float total = lk_row_total(scratch, part, t, step);
        if (t == 0) lp[r] = -0.5f * total;
    }
    LK_ROW_KERNELS(structured_gaussian_log_density, (__global const float* z, __global const float* mu, __global const float* lv,
                                                     __global const float* off, __global float* lp, const int rows, const int blocks,
                                                     const int c), (z, mu, lv, off, lp, blocks, c))

    /* u = L^T (z - mu): dz = -g L u = -dmu, dL_aj = -g (z - mu)_a u_j, dlv_a = g (-1/2 + (z - mu)_a u_a L_aa / 2). A row's
       work-group computes u in turn into the workspace, then (after a barrier that makes the group's writes visible to
       it) each latent a's row of L times u. */
    inline void structured_gaussian_log_density_backward_row(int r, int t, int step, __local float* scratch, __global const float* z,
                                                             __global const float* mu, __global const float* lv, __global const float* off,
                                                             __global const float* gr, __global float* dz, __global float* dmu,
                                                             __global float* dlv, __global float* doff, __global float* ws, int blocks, int c) {
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c;
        long o = (long)r * n, om = (long)r * m;
        __global const float* L = off + om;
        __global float* u = ws + 2 * o;
        float g = gr[r];
        for (int j = t; j < n; j += step) u[j] = lk_sg_transposed_product(z + o, mu + o, lv + o, L, j, n, c);
        if (step > 1) barrier(CLK_GLOBAL_MEM_FENCE);  /* a constant in each kernel: no barrier in a varying branch */
        for (int a = t; a < n; a += step) {
            float ra = z[o + a] - mu[o + a], la = exp(-0.5f * lv[o + a]);
            float ta = la * u[a];
            int s = lk_sg_start(a, c), f = lk_sg_first(a, c);
            for (int j = f; j < a; j++) {
                ta += L[s + j - f] * u[j];
                doff[om + s + j - f] = -g * ra * u[j];
            }
            dz[o + a] = -g * ta;
            dmu[o + a] = g * ta;
            dlv[o + a] = g * (-0.5f + 0.5f * ra * u[a] * la);
        }
    }
    LK_ROW_KERNELS(structured_gaussian_log_density_backward,
                   (__global const float* z, __global const float* mu, __global const float* lv, __global const float* off,
                    __global const float* gr, __global float* dz, __global float* dmu, __global float* dlv, __global float* doff,
                    __global float* ws, const int rows, const int blocks, const int c), (z, mu, lv, off, gr, dz, dmu, dlv, doff, ws, blocks, c))
    """#
}

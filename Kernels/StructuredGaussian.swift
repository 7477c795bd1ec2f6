// Fused kernels of the structured Gaussian posteriors (paper 003's chain and grid): q(z|x) = N(μ, P⁻¹) with P = L Lᵀ and
// L lower block-bidiagonal (`blocks` blocks of `c` latents; the chain is c = 1). Twins of
// Sources/LatentCPU/CPUBackend+StructuredGaussian.swift, which documents the algebra; see LatentCore/PrecisionStructure.swift
// for the layout of L's strictly-lower non-zeros (row by row, each row's contiguous columns first(a)..a-1 in order).
//
// Two forms of each kernel. One work-item per batch row runs the block recursions in order, as the CPU twin does (a
// CPU device's few cores do best with long independent loops). A work-group per row (the `_rows` kernels, for a GPU,
// long chains or small batches) splits them across its items:
// - the log-density and its gradient need no solve (u = Lᵀ(z - μ) gathers a column of L per latent), so items take
//   latents in turn;
// - the sample, the KL and their gradients are recursions over blocks, each block needing the one before. Each is an
//   affine recursion x_r = b_r + A_r x_{r-1} (a vector for the solves Lᵀv = ε and Lw = dz; for the trace and its
//   adjoint a congruence X_r = C_r + E_r X_{r-1} E_rᵀ of C×C matrices), and affine maps compose associatively, so a
//   work-group builds every block's map at once and combines them with a parallel prefix (Hillis–Steele: log2(blocks)
//   rounds, each item composing the maps of its blocks with those d blocks before). The composed maps applied to zero
//   are the solution of every block.
// L's diagonal is exp(-lv/2) and every division by it is a multiplication by exp(lv/2), as in the diagonal family's
// sample. Per-row scratch (the Gram blocks of L⁻¹, the maps, vectors) lives in a global workspace the backend
// allocates, so no block size is baked into the program.

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

    /* x = D_r^-1 x in place for one vector at stride s (forward substitution) */
    inline void lk_sg_d_solve(__global const float* lv, __global const float* off, int r, int c, __global float* x, int s) {
        for (int i = 0; i < c; i++) {
            float t = x[i * s];
            for (int k = 0; k < i; k++) t -= lk_sg_d(off, r, i, k, c) * x[k * s];
            x[i * s] = t * exp(0.5f * lv[r * c + i]);
        }
    }

    /* x = D_r^-T x in place for one vector at stride s (back substitution) */
    inline void lk_sg_dt_solve(__global const float* lv, __global const float* off, int r, int c, __global float* x, int s) {
        for (int i = c - 1; i >= 0; i--) {
            float t = x[i * s];
            for (int k = i + 1; k < c; k++) t -= lk_sg_d(off, r, k, i, c) * x[k * s];
            x[i * s] = t * exp(0.5f * lv[r * c + i]);
        }
    }

    /* x = D_q^-T Gbar_q with Gbar_q = I + B_{q+1}^T Mbar_{q+1} B_{q+1} (next = Mbar_{q+1}), or I for the last block */
    inline void lk_sg_adjoint_x(__global const float* l, __global const float* L, int q, int blocks, int c, __global const float* next,
                                __global float* tmp, __global float* x) {
        if (q < blocks - 1) {
            for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                float s = 0.0f;
                for (int k = 0; k < c; k++) s += next[i * c + k] * lk_sg_b(L, q + 1, k, j, c);
                tmp[i * c + j] = s;
            }
            for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
                float s = i == j ? 1.0f : 0.0f;
                for (int k = 0; k < c; k++) s += lk_sg_b(L, q + 1, k, i, c) * tmp[k * c + j];
                x[i * c + j] = s;
            }
        } else {
            for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) x[i * c + j] = i == j ? 1.0f : 0.0f;
        }
        for (int j = 0; j < c; j++) lk_sg_dt_solve(l, L, q, c, x + j, c);
    }

    /* Block q's share of the KL gradient (the row's dlv and doff): Dbar = -2 x G_q on the diagonal block, and for q > 0
       Bbar = 2 Mbar_q B_q G_{q-1} (prev = G_{q-1}) on the sub-diagonal block, scaled by `scale` = g / 2 */
    inline void lk_sg_kl_block_gradients(__global const float* l, __global const float* L, int q, int c, __global const float* x,
                                         __global const float* g, __global const float* mbar, __global const float* prev,
                                         __global float* tmp, __global float* dlv, __global float* doff, float scale) {
        int base = q * c;
        for (int i = 0; i < c; i++) for (int j = 0; j <= i; j++) {
            float s = 0.0f;
            for (int k = 0; k < c; k++) s += x[i * c + k] * g[k * c + j];
            float adjoint = -2.0f * s;
            if (j == i) dlv[base + i] = scale * (adjoint * (-0.5f * exp(-0.5f * l[base + i])) - 1.0f);
            else doff[lk_sg_index(base + i, base + j, c)] = scale * adjoint;
        }
        if (q == 0) return;
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
            float s = 0.0f;
            for (int k = 0; k < c; k++) s += lk_sg_b(L, q, i, k, c) * prev[k * c + j];
            tmp[i * c + j] = s;
        }
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
            float s = 0.0f;
            for (int k = 0; k < c; k++) s += mbar[i * c + k] * tmp[k * c + j];
            doff[lk_sg_index(base + i, base - c + j, c)] = scale * 2.0f * s;
        }
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
        __global float* mbar = W + (blocks + 1) * cc;  /* (the slot before it is unused) */
        __global float* x = mbar + cc;
        __global float* t = x + cc;
        for (int q = blocks - 1; q >= 0; q--) {
            lk_sg_adjoint_x(l, L, q, blocks, c, mbar, t, x);  /* mbar holds Mbar_{q+1} */
            for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) mbar[i * c + j] = x[j * c + i];
            for (int j = 0; j < c; j++) lk_sg_dt_solve(l, L, q, c, mbar + j, c);  /* Mbar_q = D^-T x^T */
            lk_sg_kl_block_gradients(l, L, q, c, x, W + q * cc, mbar, q > 0 ? W + (q - 1) * cc : 0, t, dlv + o, doff + om, scale);
        }
        for (int a = 0; a < n; a++) dmu[o + a] = gr[r] * mu[o + a];
    }

    /* ---- The work-group forms of the block recursions: affine maps over blocks and their parallel prefix ---- */

    /* Floats of workspace per row of every scan kernel: two ping-pong pairs of `blocks` maps of at most 2 c^2 floats */
    inline long lk_sg_scan_workspace(int blocks, int c) { return 8L * blocks * c * c; }

    /* A map is A (c x c, row-major) then b: a c-vector (x -> b + A x) or, for a congruence, a c x c matrix
       (X -> b + A X A^T). out = f after g: A_f A_g, and b_f + A_f b_g (A_f^T). out's A holds A_f b_g meanwhile. */
    inline void lk_sg_compose(__global const float* f, __global const float* g, __global float* out, int c, int congruence) {
        int cc = c * c, width = congruence ? c : 1;
        __global const float* bf = f + cc;
        __global const float* bg = g + cc;
        __global float* bo = out + cc;
        for (int i = 0; i < c; i++) for (int j = 0; j < width; j++) {
            float t = 0.0f;
            for (int k = 0; k < c; k++) t += f[i * c + k] * bg[k * width + j];
            if (congruence) out[i * c + j] = t; else bo[i] = bf[i] + t;
        }
        if (congruence) for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
            float t = bf[i * c + j];
            for (int k = 0; k < c; k++) t += out[i * c + k] * f[j * c + k];
            bo[i * c + j] = t;
        }
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
            float t = 0.0f;
            for (int k = 0; k < c; k++) t += f[i * c + k] * g[k * c + j];
            out[i * c + j] = t;
        }
    }

    /* Inclusive prefix of `count` maps of `size` floats in a (slot k applied after slot k - 1), ping-ponging with b;
       returns the buffer that holds the prefixes. Every item of the group calls it (its barriers). */
    inline __global float* lk_sg_scan(__global float* a, __global float* b, int count, int c, int size, int congruence, int t, int step) {
        for (int d = 1; d < count; d *= 2) {
            for (int k = t; k < count; k += step) {
                if (k >= d) lk_sg_compose(a + k * size, a + (k - d) * size, b + k * size, c, congruence);
                else for (int e = 0; e < size; e++) b[k * size + e] = a[k * size + e];
            }
            barrier(CLK_GLOBAL_MEM_FENCE);
            __global float* swap = a;
            a = b;
            b = swap;
        }
        return a;
    }

    /* Block r's map of L^T v = eps, run from the last block: v_r = D_r^-T eps_r - D_r^-T B_{r+1}^T v_{r+1} */
    inline void lk_sg_transposed_map(__global const float* lv, __global const float* off, __global const float* eps, int r, int blocks,
                                     int c, __global float* map) {
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) map[i * c + j] = r + 1 < blocks ? -lk_sg_b(off, r + 1, j, i, c) : 0.0f;
        for (int i = 0; i < c; i++) map[c * c + i] = eps[r * c + i];
        for (int j = 0; j < c; j++) lk_sg_dt_solve(lv, off, r, c, map + j, c);  /* the columns of A */
        lk_sg_dt_solve(lv, off, r, c, map + c * c, 1);
    }

    /* Block r's map of L w = dz: w_r = D_r^-1 dz_r - D_r^-1 B_r w_{r-1} */
    inline void lk_sg_forward_map(__global const float* lv, __global const float* off, __global const float* dz, int r, int c,
                                  __global float* map) {
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) map[i * c + j] = r > 0 ? -lk_sg_b(off, r, i, j, c) : 0.0f;
        for (int i = 0; i < c; i++) map[c * c + i] = dz[r * c + i];
        for (int j = 0; j < c; j++) lk_sg_d_solve(lv, off, r, c, map + j, c);
        lk_sg_d_solve(lv, off, r, c, map + c * c, 1);
    }

    /* Block r's map of the Gram blocks of L^-1: G_r = D_r^-1 D_r^-T + E_r G_{r-1} E_r^T, E_r = D_r^-1 B_r */
    inline void lk_sg_gram_map(__global const float* lv, __global const float* off, int r, int c, __global float* map) {
        __global float* g = map + c * c;
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
            map[i * c + j] = r > 0 ? lk_sg_b(off, r, i, j, c) : 0.0f;
            g[i * c + j] = i == j ? 1.0f : 0.0f;
        }
        for (int j = 0; j < c; j++) {
            lk_sg_d_solve(lv, off, r, c, map + j, c);
            lk_sg_dt_solve(lv, off, r, c, g + j, c);
        }
        for (int j = 0; j < c; j++) lk_sg_d_solve(lv, off, r, c, g + j, c);
    }

    /* Block q's map of the trace's adjoint, run from the last block: Mbar_q = D_q^-T D_q^-1 + F_q Mbar_{q+1} F_q^T,
       F_q = D_q^-T B_{q+1}^T (Gbar_q = I + B_{q+1}^T Mbar_{q+1} B_{q+1}, Mbar_q = D_q^-T Gbar_q D_q^-1) */
    inline void lk_sg_adjoint_map(__global const float* lv, __global const float* off, int q, int blocks, int c, __global float* map) {
        __global float* m = map + c * c;
        for (int i = 0; i < c; i++) for (int j = 0; j < c; j++) {
            map[i * c + j] = q + 1 < blocks ? lk_sg_b(off, q + 1, j, i, c) : 0.0f;
            m[i * c + j] = i == j ? 1.0f : 0.0f;
        }
        for (int j = 0; j < c; j++) {
            lk_sg_dt_solve(lv, off, q, c, map + j, c);
            lk_sg_d_solve(lv, off, q, c, m + j, c);
        }
        for (int j = 0; j < c; j++) lk_sg_dt_solve(lv, off, q, c, m + j, c);
    }

    /* z = mu + L^-T eps, the solve as a reverse prefix over blocks (slot k holds block blocks - 1 - k) */
    inline void structured_gaussian_sample_scan_row(int r, int t, int step, __local float* scratch, __global const float* mu,
                                                    __global const float* lv, __global const float* off, __global const float* eps,
                                                    __global float* z, __global float* ws, int blocks, int c) {
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c, size = c * c + c;
        long o = (long)r * n;
        __global float* a = ws + r * lk_sg_scan_workspace(blocks, c);
        for (int k = t; k < blocks; k += step) lk_sg_transposed_map(lv + o, off + (long)r * m, eps + o, blocks - 1 - k, blocks, c, a + k * size);
        barrier(CLK_GLOBAL_MEM_FENCE);
        __global float* p = lk_sg_scan(a, a + blocks * size, blocks, c, size, 0, t, step);
        for (int e = t; e < n; e += step) z[o + e] = mu[o + e] + p[(blocks - 1 - e / c) * size + c * c + e % c];
    }
    LK_ROWS_KERNEL(structured_gaussian_sample_rows, structured_gaussian_sample_scan,
                   (__global const float* mu, __global const float* lv, __global const float* off, __global const float* eps,
                    __global float* z, __global float* ws, const int rows, const int blocks, const int c),
                   (mu, lv, off, eps, z, ws, blocks, c), )

    /* v = L^-T eps (reverse prefix) and w = L^-1 dz (forward prefix); then dL_aj = -v_a w_j, dlv_a = v_a w_a L_aa / 2 */
    inline void structured_gaussian_sample_backward_scan_row(int r, int t, int step, __local float* scratch, __global const float* lv,
                                                             __global const float* off, __global const float* eps, __global const float* dz,
                                                             __global float* dlv, __global float* doff, __global float* ws, int blocks, int c) {
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c, size = c * c + c;
        long o = (long)r * n, om = (long)r * m;
        __global const float* l = lv + o;
        __global const float* L = off + om;
        __global float* a = ws + r * lk_sg_scan_workspace(blocks, c);
        __global float* b = a + 2 * blocks * size;
        for (int k = t; k < blocks; k += step) {
            lk_sg_transposed_map(l, L, eps + o, blocks - 1 - k, blocks, c, a + k * size);
            lk_sg_forward_map(l, L, dz + o, k, c, b + k * size);
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
        __global float* v = lk_sg_scan(a, a + blocks * size, blocks, c, size, 0, t, step) + c * c;
        __global float* w = lk_sg_scan(b, b + blocks * size, blocks, c, size, 0, t, step) + c * c;
        for (int e = t; e < n; e += step) {
            float ve = v[(blocks - 1 - e / c) * size + e % c];
            int s = lk_sg_start(e, c), f = lk_sg_first(e, c);
            for (int j = f; j < e; j++) doff[om + s + j - f] = -ve * w[(j / c) * size + j % c];
            dlv[o + e] = 0.5f * ve * w[(e / c) * size + e % c] * exp(-0.5f * l[e]);
        }
    }
    LK_ROWS_KERNEL(structured_gaussian_sample_backward_rows, structured_gaussian_sample_backward_scan,
                   (__global const float* lv, __global const float* off, __global const float* eps, __global const float* dz,
                    __global float* dlv, __global float* doff, __global float* ws, const int rows, const int blocks, const int c),
                   (lv, off, eps, dz, dlv, doff, ws, blocks, c), )

    /* KL = (tr P^-1 + mu^T mu - n - sum lv) / 2 with tr P^-1 = sum_r tr G_r, the G_r by a forward prefix */
    inline void structured_gaussian_kl_scan_row(int r, int t, int step, __local float* scratch, __global const float* mu,
                                                __global const float* lv, __global const float* off, __global float* kl,
                                                __global float* ws, int blocks, int c) {
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c, size = 2 * c * c;
        long o = (long)r * n;
        __global float* a = ws + r * lk_sg_scan_workspace(blocks, c);
        for (int k = t; k < blocks; k += step) lk_sg_gram_map(lv + o, off + (long)r * m, k, c, a + k * size);
        barrier(CLK_GLOBAL_MEM_FENCE);
        __global float* g = lk_sg_scan(a, a + blocks * size, blocks, c, size, 1, t, step) + c * c;
        float part = 0.0f;
        for (int e = t; e < n; e += step) part += g[(e / c) * size + (e % c) * (c + 1)] + mu[o + e] * mu[o + e] - lv[o + e];
        float total = lk_row_total(scratch, part, t, step);
        if (t == 0) kl[r] = 0.5f * (total - (float)n);
    }
    LK_ROWS_KERNEL(structured_gaussian_kl_rows, structured_gaussian_kl_scan,
                   (__global const float* mu, __global const float* lv, __global const float* off, __global float* kl,
                    __global float* ws, const int rows, const int blocks, const int c), (mu, lv, off, kl, ws, blocks, c), )

    /* The KL's gradient with the G_q (forward prefix) and the Mbar_q (reverse prefix) of every block at once; then each
       block alone, as in structured_gaussian_kl_backward_f32: x = D^-T Gbar, Dbar = -2 x G_q, Bbar = 2 Mbar_q B_q G_{q-1}.
       Its three C x C temporaries are the slots of the buffers the prefixes ping-ponged through, which nothing reads any more. */
    inline void structured_gaussian_kl_backward_scan_row(int r, int t, int step, __local float* scratch, __global const float* mu,
                                                         __global const float* lv, __global const float* off, __global const float* gr,
                                                         __global float* dmu, __global float* dlv, __global float* doff, __global float* ws,
                                                         int blocks, int c) {
        int n = blocks * c, m = blocks * c * (c - 1) / 2 + (blocks - 1) * c * c, cc = c * c, size = 2 * cc;
        long o = (long)r * n, om = (long)r * m;
        __global const float* l = lv + o;
        __global const float* L = off + om;
        __global float* a = ws + r * lk_sg_scan_workspace(blocks, c);
        __global float* b = a + 2 * blocks * size;
        for (int k = t; k < blocks; k += step) {
            lk_sg_gram_map(l, L, k, c, a + k * size);
            lk_sg_adjoint_map(l, L, blocks - 1 - k, blocks, c, b + k * size);
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
        __global float* gs = lk_sg_scan(a, a + blocks * size, blocks, c, size, 1, t, step);
        __global float* ms = lk_sg_scan(b, b + blocks * size, blocks, c, size, 1, t, step);
        __global float* spare = gs == a ? a + blocks * size : a;
        __global float* spare2 = ms == b ? b + blocks * size : b;
        float scale = 0.5f * gr[r];
        for (int q = t; q < blocks; q += step) {
            __global const float* g = gs + q * size + cc;
            __global const float* mbar = ms + (blocks - 1 - q) * size + cc;
            __global float* x = spare + q * size;
            __global float* tmp = x + cc;
            __global float* tmp2 = spare2 + q * size;
            lk_sg_adjoint_x(l, L, q, blocks, c, q < blocks - 1 ? ms + (blocks - 2 - q) * size + cc : 0, tmp, x);
            lk_sg_kl_block_gradients(l, L, q, c, x, g, mbar, q > 0 ? gs + (q - 1) * size + cc : 0, tmp2, dlv + o, doff + om, scale);
        }
        for (int e = t; e < n; e += step) dmu[o + e] = gr[r] * mu[o + e];
    }
    LK_ROWS_KERNEL(structured_gaussian_kl_backward_rows, structured_gaussian_kl_backward_scan,
                   (__global const float* mu, __global const float* lv, __global const float* off, __global const float* gr,
                    __global float* dmu, __global float* dlv, __global float* doff, __global float* ws, const int rows,
                    const int blocks, const int c), (mu, lv, off, gr, dmu, dlv, doff, ws, blocks, c), )

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

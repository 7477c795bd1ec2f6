// Fused kernels of the discrete VAE (Rolfe 2016, paper 002): the spike-and-exponential smoothing of binary latents
// with its backward forms, and the bipartite RBM prior's block-Gibbs half-step, per-row energy (with its gradients)
// and the free-energy increment of annealed importance sampling. Twins of Sources/LatentCPU/CPUBackend+DiscreteVAE.swift.
//
// An RBM state is a row of n = nA + nB binary units, the A side first: E(z) = -(z_Aᵀ W z_B + bᵀ z), W of shape nA × nB.
// One work-item per unit or per row: the RBMs here have tens of units a side, so a row's loop is short.

extension KernelSources {
    public static let discreteVAE = #"""
    /* ---- spike-and-exponential smoothing ---- */

    /* zeta = F^-1(rho; q) for F(zeta) = (1 - q) + q (e^(beta zeta) - 1)/(e^beta - 1). With s = 1 - rho (exact for the
       Philox uniforms), z = 1 iff s < q, and then u = (q - s)/q in (0, 1], zeta = log1p(expm1(beta) u)/beta. Working
       with s and q = sigmoid(l) keeps q near 0 and 1 exact; em1 = expm1(beta) comes from the host in double precision. */
    __kernel void dvae_spike_exp_sample_f32(__global const float* l, __global const float* rho, __global float* zeta,
                                            __global float* z, const int n, const float beta, const float em1) {
        int i = get_global_id(0);
        if (i >= n) return;
        float q = lk_sigmoid(l[i]), s = 1.0f - rho[i];
        if (s < q) {
            float u = (q - s) / q;
            zeta[i] = log1p(em1 * u) / beta;
            z[i] = 1.0f;
        } else {
            zeta[i] = 0.0f;
            z[i] = 0.0f;
        }
    }

    /* dl = dzeta * dzeta/dq * q(1-q) = dzeta * em1 s (1-q) / (beta q (1 + em1 u)) on the exponential branch, 0 on the
       spike (zeta = 0 does not move with q there). s < q bounds s(1-q)/q by 1, and 1-q = sigmoid(-l) stays exact. */
    __kernel void dvae_spike_exp_sample_backward_f32(__global const float* l, __global const float* rho, __global const float* dzeta,
                                                     __global float* dl, const int n, const float beta, const float em1) {
        int i = get_global_id(0);
        if (i >= n) return;
        float q = lk_sigmoid(l[i]), s = 1.0f - rho[i];
        if (s < q) {
            float u = (q - s) / q, p = lk_sigmoid(-l[i]);
            float slope = em1 / (1.0f + em1 * u);
            dl[i] = dzeta[i] * (slope / beta) * (s * p / q);
        } else {
            dl[i] = 0.0f;
        }
    }

    /* Rolfe's estimator of the binary z's dependence on q: dz/dq := (1 - z)/(1 - q), unbiased because
       E[(1 - z)/(1 - q)] = 1; through q = sigmoid(l) the (1 - q) cancels: dl = dz (1 - z) q. */
    __kernel void dvae_indicator_backward_f32(__global const float* l, __global const float* z, __global const float* dz,
                                              __global float* dl, const int n) {
        int i = get_global_id(0);
        if (i >= n) return;
        dl[i] = dz[i] * (1.0f - z[i]) * lk_sigmoid(l[i]);
    }

    /* ---- RBM ---- */

    /* Word i % 4 of the Philox block at counter + i / 4: the layout of every random fill. */
    inline float lk_uniform_at(int i, uint2 key, uint4 counter) {
        uint4 w = lk_philox4x32_10(lk_counter_at(counter, (uint)(i / 4)), key);
        int lane = i % 4;
        return lk_uniform(lane == 0 ? w.x : (lane == 1 ? w.y : (lane == 2 ? w.z : w.w)));
    }

    /* One block-Gibbs half-step in place on chains x (nA + nB) states: side 0 redraws the A units from the B units,
       side 1 the B units from the A units. p = sigmoid(t (z_other . W + bias)) at inverse temperature t; z = u < p. */
    __kernel void dvae_gibbs_half_step_f32(__global float* state, __global const float* w, __global const float* bias,
                                           __global float* p_out, const int chains, const int na, const int nb, const int side,
                                           const float t, const uint k0, const uint k1, const uint c0, const uint c1,
                                           const uint c2, const uint c3) {
        int n_this = side == 0 ? na : nb, n_other = side == 0 ? nb : na;
        int i = get_global_id(0);
        if (i >= chains * n_this) return;
        int c = i / n_this, j = i % n_this, n = na + nb;
        __global const float* other = state + (long)c * n + (side == 0 ? na : 0);
        float a = 0.0f;
        for (int k = 0; k < n_other; k++) a += other[k] * (side == 0 ? w[(long)j * nb + k] : w[(long)k * nb + j]);
        float p = lk_sigmoid(t * (a + bias[(side == 0 ? 0 : na) + j]));
        p_out[i] = p;
        state[(long)c * n + (side == 0 ? 0 : na) + j] = lk_uniform_at(i, (uint2)(k0, k1), (uint4)(c0, c1, c2, c3)) < p ? 1.0f : 0.0f;
    }

    /* z_A . (W z_B) of one row; the order of the sums is the CPU twin's. */
    inline float lk_rbm_pair(__global const float* zr, __global const float* w, int na, int nb) {
        float e = 0.0f;
        for (int i = 0; i < na; i++) {
            float t = 0.0f;
            for (int j = 0; j < nb; j++) t += w[(long)i * nb + j] * zr[na + j];
            e += zr[i] * t;
        }
        return e;
    }

    /* e[r] = z_Aᵀ W z_B + bᵀ z, the negative energy of each row (z may be probabilities: the same polynomial). */
    __kernel void dvae_rbm_energy_f32(__global const float* z, __global const float* w, __global const float* b, __global float* e,
                                      const int rows, const int na, const int nb) {
        int r = get_global_id(0);
        if (r >= rows) return;
        int n = na + nb;
        __global const float* zr = z + (long)r * n;
        float lin = 0.0f;
        for (int i = 0; i < n; i++) lin += b[i] * zr[i];
        e[r] = lk_rbm_pair(zr, w, na, nb) + lin;
    }

    /* The energy with a work-group per row, its items taking the units in turn: for a GPU, or batches under 64. */
    __kernel void dvae_rbm_energy_rows_f32(__global const float* z, __global const float* w, __global const float* b, __global float* e,
                                           const int rows, const int na, const int nb) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0), n = na + nb;
        __global const float* zr = z + (long)r * n;
        float part = 0.0f;
        for (int i = t; i < na; i += LK_WG) {
            float s = 0.0f;
            for (int j = 0; j < nb; j++) s += w[(long)i * nb + j] * zr[na + j];
            part += zr[i] * s;
        }
        float lin = 0.0f;
        for (int i = t; i < n; i += LK_WG) lin += b[i] * zr[i];
        float pair = lk_group_sum(scratch, part, t), linear = lk_group_sum(scratch, lin, t);
        if (t == 0) e[r] = pair + linear;
    }

    /* dz[r, i] = g[r] (b_i + (W z_B)_i) on the A side, g[r] (b_i + (z_Aᵀ W)_i) on the B side. */
    __kernel void dvae_rbm_energy_backward_state_f32(__global const float* z, __global const float* w, __global const float* b,
                                                     __global const float* g, __global float* dz, const int rows, const int na, const int nb) {
        int n = na + nb;
        int i = get_global_id(0);
        if (i >= rows * n) return;
        int r = i / n, u = i % n;
        __global const float* zr = z + (long)r * n;
        float a = 0.0f;
        if (u < na) { for (int j = 0; j < nb; j++) a += w[(long)u * nb + j] * zr[na + j]; }
        else { for (int k = 0; k < na; k++) a += zr[k] * w[(long)k * nb + (u - na)]; }
        dz[i] = g[r] * (b[u] + a);
    }

    /* dW[i, j] = sum_r g[r] z[r, i] z[r, nA + j] (items < nA nB), db[u] = sum_r g[r] z[r, u] (the next n items). */
    __kernel void dvae_rbm_energy_backward_parameters_f32(__global const float* z, __global const float* g, __global float* dw,
                                                          __global float* db, const int rows, const int na, const int nb) {
        int n = na + nb;
        int i = get_global_id(0);
        if (i >= na * nb + n) return;
        float s = 0.0f;
        if (i < na * nb) {
            int a = i / nb, c = na + i % nb;
            for (int r = 0; r < rows; r++) s += g[r] * z[(long)r * n + a] * z[(long)r * n + c];
            dw[i] = s;
        } else {
            int u = i - na * nb;
            for (int r = 0; r < rows; r++) s += g[r] * z[(long)r * n + u];
            db[u] = s;
        }
    }

    /* AIS weight update with the B side summed out: log p*_t(z_A) = t b_Aᵀ z_A + sum_j softplus(t (z_Aᵀ W + b_B)_j);
       logw[r] += log p*_to(z_A) - log p*_from(z_A) for the A units of each chain's state. */
    __kernel void dvae_rbm_free_energy_increment_f32(__global const float* state, __global const float* w, __global const float* b,
                                                     __global float* logw, const int chains, const int na, const int nb,
                                                     const float t_from, const float t_to) {
        int r = get_global_id(0);
        if (r >= chains) return;
        __global const float* zr = state + (long)r * (na + nb);
        float lin = 0.0f;
        for (int i = 0; i < na; i++) lin += b[i] * zr[i];
        float d = (t_to - t_from) * lin;
        for (int j = 0; j < nb; j++) {
            float a = 0.0f;
            for (int k = 0; k < na; k++) a += zr[k] * w[(long)k * nb + j];
            a += b[na + j];
            d += lk_softplus(t_to * a) - lk_softplus(t_from * a);
        }
        logw[r] += d;
    }

    /* The AIS increment with a work-group per chain, its items taking the B units in turn. */
    __kernel void dvae_rbm_free_energy_increment_rows_f32(__global const float* state, __global const float* w, __global const float* b,
                                                          __global float* logw, const int chains, const int na, const int nb,
                                                          const float t_from, const float t_to) {
        __local float scratch[LK_WG];
        int r = get_group_id(0), t = get_local_id(0);
        __global const float* zr = state + (long)r * (na + nb);
        float lin = 0.0f, part = 0.0f;
        for (int i = t; i < na; i += LK_WG) lin += b[i] * zr[i];
        for (int j = t; j < nb; j += LK_WG) {
            float a = 0.0f;
            for (int k = 0; k < na; k++) a += zr[k] * w[(long)k * nb + j];
            a += b[na + j];
            part += lk_softplus(t_to * a) - lk_softplus(t_from * a);
        }
        float linear = lk_group_sum(scratch, lin, t), softplus = lk_group_sum(scratch, part, t);
        if (t == 0) logw[r] += (t_to - t_from) * linear + softplus;
    }
    """#
}

#!/usr/bin/env python3
"""Reference ExpConcrete log-densities (Maddison et al. 2017), computed with mpmath at 40 digits:
log p(y) = log Γ(K) + (K-1) log λ + Σ_k (log α_k - λ y_k) - K logsumexp_k(log α_k - λ y_k)
for y on the log-simplex (logsumexp y = 0). Columns: K, λ, log α (K values), y (K values), log p.
Inputs are float32 values written with 9 significant digits. Run from this folder.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
rng = np.random.default_rng(7)
rows = []
for K in (2, 3, 5):
    for lam in (0.5, 1.0, 2.0 / 3.0):
        for _ in range(4):
            log_alpha = rng.normal(0, 1.5, K).astype(np.float32)
            v = rng.normal(0, 2, K)
            y = (v - np.log(np.exp(v).sum())).astype(np.float32)
            lam32 = float(np.float32(lam))
            la = [mp.mpf(float(a)) for a in log_alpha]
            ys = [mp.mpf(float(b)) for b in y]
            t = [la[k] - lam32 * ys[k] for k in range(K)]
            lp = mp.loggamma(K) + (K - 1) * mp.log(lam32) + sum(t) - K * mp.log(sum(mp.exp(x) for x in t))
            rows.append([K, lam32] + [float(a) for a in log_alpha] + [float(b) for b in y] + [lp])
with open("concrete_density.tsv", "w") as out:
    out.write("# K\tlambda\tlog_alpha[K]\ty[K]\tlog_p\n")
    for r in rows:
        K = r[0]
        out.write("\t".join([str(K), "%.9g" % r[1]] + ["%.9g" % x for x in r[2:2 + 2 * K]] + ["%.17g" % r[-1]]) + "\n")

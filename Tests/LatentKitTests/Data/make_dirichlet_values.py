#!/usr/bin/env python3
"""Reference KL(Dir(alpha) || Dir(beta * 1)) summed over components, computed with mpmath at 40 digits:
lgamma(a0) - lgamma(K beta) - sum lgamma(a_k) + K lgamma(beta) + sum (a_k - beta)(digamma(a_k) - digamma(a0)).
Alphas span [1e-3, 1e3]. Columns: K, beta, alpha (K values), KL. Inputs are float32 with 9 digits. Run from this folder.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
rng = np.random.default_rng(11)
rows = []
for K in (2, 5, 20):
    for beta in (1.0 / K, 1.0, 0.5):
        for scale in ("small", "large", "mixed", "one"):
            if scale == "small":
                a = 10 ** rng.uniform(-3, -1, K)
            elif scale == "large":
                a = 10 ** rng.uniform(1, 3, K)
            elif scale == "mixed":
                a = 10 ** rng.uniform(-3, 3, K)
            else:
                a = np.full(K, beta) * (1 + rng.uniform(-0.01, 0.01, K))
            a = a.astype(np.float32)
            b = float(np.float32(beta))
            al = [mp.mpf(float(x)) for x in a]
            a0 = sum(al)
            kl = (mp.loggamma(a0) - mp.loggamma(K * b) - sum(mp.loggamma(x) for x in al) + K * mp.loggamma(b)
                  + sum((x - b) * (mp.digamma(x) - mp.digamma(a0)) for x in al))
            rows.append((K, b, [float(x) for x in a], kl))
with open("dirichlet_kl.tsv", "w") as out:
    out.write("# K\tbeta\talpha[K]\tKL\n")
    for K, b, a, kl in rows:
        out.write("\t".join([str(K), "%.9g" % b] + ["%.9g" % x for x in a] + ["%.17g" % kl]) + "\n")

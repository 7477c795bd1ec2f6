#!/usr/bin/env python3
"""Reference Dirichlet log-densities, mpmath at 40 digits: log Dir(z; alpha) = lgamma(a0) - sum lgamma(a_k) +
sum (a_k - 1) log z_k. Columns: K, alpha (K), z (K), log density. Inputs float32 with 9 digits. Run from this folder.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
rng = np.random.default_rng(3)
rows = []
for K in (2, 3, 6):
    for _ in range(6):
        a = (10 ** rng.uniform(-1, 1.5, K)).astype(np.float32)
        g = rng.gamma(2.0, size=K)
        z = (g / g.sum()).astype(np.float32)
        al = [mp.mpf(float(x)) for x in a]
        zs = [mp.mpf(float(x)) for x in z]
        lp = mp.loggamma(sum(al)) - sum(mp.loggamma(x) for x in al) + sum((x - 1) * mp.log(y) for x, y in zip(al, zs))
        rows.append((K, [float(x) for x in a], [float(x) for x in z], lp))
with open("dirichlet_density.tsv", "w") as out:
    out.write("# K\talpha[K]\tz[K]\tlog_density\n")
    for K, a, z, lp in rows:
        out.write("\t".join([str(K)] + ["%.9g" % x for x in a] + ["%.9g" % x for x in z] + ["%.17g" % lp]) + "\n")

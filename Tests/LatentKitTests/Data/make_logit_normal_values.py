#!/usr/bin/env python3
"""Reference logit-normal log-densities (paper 001), mpmath at 40 digits, for one coordinate:
log q(z) = log N(logit z; mu, sigma^2) - log z - log(1 - z), z in (0, 1).
Columns: mu, log-variance, z, log q. Inputs are float32 values with 9 digits. Run from this folder.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
rows = []
for mu in (0.0, 1.5, -2.0):
    for lv in (0.0, float(np.log(1.78)), -1.0):
        for z in (1e-4, 0.01, 0.2, 0.5, 0.77, 0.99, 0.9999):
            mu32, lv32, z32 = (float(np.float32(v)) for v in (mu, lv, z))
            m, l, x = mp.mpf(mu32), mp.mpf(lv32), mp.mpf(z32)
            y = mp.log(x / (1 - x))
            lq = -mp.mpf(1) / 2 * (mp.log(2 * mp.pi) + l + (y - m) ** 2 / mp.exp(l)) - mp.log(x) - mp.log(1 - x)
            rows.append((mu32, lv32, z32, lq))
with open("logit_normal_density.tsv", "w") as out:
    out.write("# mu\tlog_variance\tz\tlog_q\n")
    for r in rows:
        out.write("%.9g\t%.9g\t%.9g\t%.17g\n" % r)

#!/usr/bin/env python3
"""Reference implicit reparameterisation gradients of Gamma(alpha, 1) samples (Figurnov et al. 2018):
dx/dalpha = -(dP(alpha, x)/dalpha) / p(x; alpha), with dP/dalpha a float64 central difference (h = 1e-6 alpha) of
scipy.special.gammainc, the regularised lower incomplete gamma; x at quantiles 0.05..0.97 of Gamma(alpha).
This is the check PyTorch applies to its own implementation (relative error below 1e-3). Run from the package root.
"""
import numpy as np
from scipy import special

rows = []
for a in [1e-3, 0.01, 0.1, 0.5, 1.0, 2.5, 10.0, 100.0, 1000.0]:
    a32 = float(np.float32(a))
    for q in [0.05, 0.3, 0.5, 0.8, 0.97]:
        x32 = float(np.float32(special.gammaincinv(a32, q)))
        if x32 <= 1.2e-38 or not np.isfinite(x32):
            continue
        h = 1e-6 * a32
        dP = (special.gammainc(a32 + h, x32) - special.gammainc(a32 - h, x32)) / (2 * h)
        logp = (a32 - 1) * np.log(x32) - x32 - special.gammaln(a32)
        rows.append((a32, x32, -dP / np.exp(logp)))
with open("Tests/LatentKitTests/Data/gamma_implicit_gradient.tsv", "w") as f:
    f.write("# alpha\tx\tdx_dalpha (float64: -dP(alpha,x)/dalpha / p(x; alpha), dP by central difference of scipy.special.gammainc)\n")
    for r in rows:
        f.write("%.9g\t%.9g\t%.17g\n" % r)

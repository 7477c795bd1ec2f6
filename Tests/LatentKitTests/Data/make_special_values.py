#!/usr/bin/env python3
"""Reference values for the special-function tests, computed with mpmath at 40 digits.

Arguments are float32 numbers (the values the kernels actually see), written with 9 significant digits
so they parse back to the same float32; references are written with 17 significant digits.
Run from this folder: python3 make_special_values.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40

def f32(values):
    return sorted(set(float(v) for v in np.asarray(values, dtype=np.float32)))

# Positive-axis grid: log-spaced over [1e-6, 1e6], dense linear over [0.01, 12], and tight windows around the
# roots of lgamma (1, 2) and digamma (1.4616...), where naive code loses its relative accuracy.
root = 1.4616321449683622
xs = f32(np.concatenate([
    np.geomspace(1e-6, 1e6, 6001),
    np.linspace(0.01, 12.0, 4001),
    np.linspace(1 - 1e-3, 1 + 1e-3, 401),
    np.linspace(2 - 1e-3, 2 + 1e-3, 401),
    np.linspace(root - 1e-3, root + 1e-3, 401),
    [1.0, 2.0, 3.0, 0.5, 1.5, 2.5, 8.0, 7.999999, 8.000001, 6.0, 1e-6, 1e6],
]))
with open("special_functions.tsv", "w") as out:
    out.write("# x\tlgamma\tdigamma\ttrigamma\n")
    for x in xs:
        m = mp.mpf(x)
        out.write("%.9g\t%.17g\t%.17g\t%.17g\n" % (x, mp.loggamma(m), mp.digamma(m), mp.polygamma(1, m)))

# softplus(x) = log(1 + e^x) and log_sigmoid(x) = -softplus(-x) over [-100, 100], and a few beyond.
ys = f32(np.concatenate([np.linspace(-100, 100, 8001), np.linspace(-2, 2, 2001), [-1e3, -88.0, 88.0, 1e3]]))
with open("softplus.tsv", "w") as out:
    out.write("# x\tsoftplus\tlog_sigmoid\n")
    for x in ys:
        m = mp.mpf(x)
        out.write("%.9g\t%.17g\t%.17g\n" % (x, mp.log1p(mp.exp(m)), -mp.log1p(mp.exp(-m))))

#!/usr/bin/env python3
"""Reference multinomial logistic regression for LogisticRegression (Sources/LatentKit/Analysis/LinearClassifiers.swift).

Three overlapping 2-D Gaussian classes (numpy seed 5, 40 points each, float32 values). The objective is LatentKit's:
inputs standardised by the training mean and population standard deviation, then
mean_i [logsumexp(W x_i + b) - (W x_i + b)_{y_i}] + (l2 / 2) ||W||^2 with l2 = 1e-4 (biases not penalised),
minimised in float64 by scipy's BFGS to a gradient norm below 1e-10.
Writes logistic_regression_data.tsv (x1, x2, label) and logistic_regression_weights.tsv (one row per class:
w1, w2, b in the standardised space, then a last row with the minimum of the objective). Run from this folder.
"""
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

rng = np.random.default_rng(5)
centres = np.array([[0.0, 0.0], [1.5, 0.5], [0.5, 1.8]])
x = np.concatenate([rng.normal(c, 0.9, size=(40, 2)) for c in centres]).astype(np.float32).astype(np.float64)
y = np.repeat(np.arange(3), 40)
z = (x - x.mean(0)) / x.std(0)
l2, n, c, d = 1e-4, len(y), 3, 2


def objective(theta):
    w = theta.reshape(c, d + 1)
    logits = z @ w[:, :d].T + w[:, d]
    lse = logsumexp(logits, axis=1)
    p = np.exp(logits - lse[:, None])
    p[np.arange(n), y] -= 1
    grad = np.concatenate([p.T @ z, p.sum(0)[:, None]], axis=1) / n
    grad[:, :d] += l2 * w[:, :d]
    loss = np.mean(lse - logits[np.arange(n), y]) + 0.5 * l2 * np.sum(w[:, :d] ** 2)
    return loss, grad.ravel()


result = minimize(objective, np.zeros(c * (d + 1)), jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 10000})
assert np.abs(objective(result.x)[1]).max() < 1e-9, result
with open("logistic_regression_data.tsv", "w") as out:
    out.write("# x1\tx2\tlabel (make_logistic_regression_values.py)\n")
    for (a, b), label in zip(x, y):
        out.write("%.9g\t%.9g\t%d\n" % (a, b, label))
with open("logistic_regression_weights.tsv", "w") as out:
    out.write("# w1\tw2\tbias per class (standardised inputs); last row: the objective's minimum\n")
    for row in result.x.reshape(c, d + 1):
        out.write("%.17g\t%.17g\t%.17g\n" % tuple(row))
    out.write("%.17g\n" % result.fun)

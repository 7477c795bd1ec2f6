#!/usr/bin/env python3
"""Classical LDA baseline for the topic-model demo: scikit-learn's LatentDirichletAllocation (variational Bayes).

Reads train.npy, test.npy and vocab.txt written by scripts/fetch_corpus.py, fits K topics on train, prints the
test perplexity and the top words of each topic.

Perplexity, as scikit-learn computes it (LatentDirichletAllocation.perplexity): the test documents' topic
proportions are inferred by the E-step on the whole test document (no held-out words), then
    perplexity = exp(-bound / N),  N = total token count of the test matrix,
where bound is the variational lower bound (ELBO) on log p(test docs): E_q[log p(w | theta, beta)]
+ sum_d (E_q[log p(theta_d)] - E_q[log q(theta_d)]) + (E_q[log p(beta)] - E_q[log q(beta)]). Since the bound is
below the true log-likelihood, this is an upper bound on the true perplexity. The last term (minus the KL of the
topic-word posterior from its prior) belongs to the model, not to the test set; the "document-level" figure
leaves it out, which is the quantity ProdLDA/AVITM report (exp of minus the per-document ELBO summed, per word).

Usage: lda_baseline.py [DATA_DIR] [--topics K] [--iters N] [--seed S]   (default data/corpus, 20, 100, 0)
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

try:
    from sklearn.decomposition import LatentDirichletAllocation
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--break-system-packages", "scikit-learn"])
    from sklearn.decomposition import LatentDirichletAllocation
import sklearn
from scipy.sparse import csr_matrix
from scipy.special import gammaln, psi


def beta_term(lda):
    """E_q[log p(beta)] - E_q[log q(beta)] for the fitted topic-word Dirichlet posteriors (lda.components_)."""
    lam, eta = lda.components_, lda.topic_word_prior_
    e_log_beta = psi(lam) - psi(lam.sum(axis=1, keepdims=True))
    v = lam.shape[1]
    return float(np.sum((eta - lam) * e_log_beta) + np.sum(gammaln(lam) - gammaln(eta))
                 + np.sum(gammaln(eta * v) - gammaln(lam.sum(axis=1))))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", nargs="?", default=os.path.join(root, "data", "corpus"))
    p.add_argument("--topics", type=int, default=20)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    train = csr_matrix(np.load(os.path.join(a.data, "train.npy")))
    test = csr_matrix(np.load(os.path.join(a.data, "test.npy")))
    with open(os.path.join(a.data, "vocab.txt")) as f:
        vocab = f.read().split()
    print(f"scikit-learn {sklearn.__version__}; train {train.shape}, test {test.shape}; "
          f"K={a.topics}, batch VB, max_iter={a.iters}, seed={a.seed}")

    lda = LatentDirichletAllocation(n_components=a.topics, learning_method="batch", max_iter=a.iters,
                                    random_state=a.seed)
    t0 = time.time()
    lda.fit(train)
    fit_s = time.time() - t0
    t0 = time.time()
    results = {}
    for name, x in (("train", train), ("test", test)):
        bound = lda.score(x)  # the ELBO that perplexity() uses
        n = x.sum()
        results[name] = (lda.perplexity(x), np.exp(-(bound - beta_term(lda)) / n))
    eval_s = time.time() - t0
    print(f"fit {fit_s:.1f} s ({lda.n_iter_} iterations), evaluation {eval_s:.1f} s")
    for name, (ppl, doc_ppl) in results.items():
        print(f"{name} perplexity: {ppl:.1f} (sklearn), {doc_ppl:.1f} (document-level bound, without the beta term)")
    for k, row in enumerate(lda.components_):
        print(f"topic {k:2d}: " + " ".join(vocab[j] for j in np.argsort(-row)[:10]))


if __name__ == "__main__":
    main()

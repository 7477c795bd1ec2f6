#!/usr/bin/env python3
"""Topic models side by side on one corpus: LatentKit's count recipe and its Dirichlet recipe, Pyro's ProdLDA and
scikit-learn's LDA, each scored by the same scorer (`latentkit topics --weights`).

For each K in --topics and each seed, one model at a time on 2 threads, every model is trained on the corpus's
training documents, its K x V topic-word matrix is exported (LatentKit: `topics --export`; Pyro: the decoder's weight;
scikit-learn: components_), and all of them are scored on the test documents with `latentkit topics --weights`
(NPMI of each topic's top 10 words, document co-occurrence, -1 for pairs never together; TD@25; distinct topics). The
table gives, per model and K, the mean and the spread (min-max) over seeds of NPMI, TD@25, distinct topics, the
perplexity bound exp(sum -ELBO / sum tokens) on the test documents (LatentKit: `eval --k 0`; Pyro: the same one-sample
ELBO with the analytic KL, computed here; LDA: scikit-learn's variational bound without the topic-word term, as
Benchmarks/lda_baseline.py explains), the test KL in nats per document (LatentKit's `eval`; ProdLDA's analytic one), the
sparsity of the test documents' topic proportions (the mean share of a document's three largest topics: LatentKit's
`encode` codes, softmax of the posterior mean of z for the softmax-Gaussian and ProdLDA, α/α₀ for the Dirichlet; LDA's
normalised variational parameters) and the training wall-clock.

ProdLDA as described by Srivastava & Sutton (2017) and Pyro's ProdLDA tutorial, with the fix of pyro-ppl PR #2794:
encoder V-100-100 softplus, dropout 0.2, mean and log-variance heads with batch norm (no scale or shift); the prior the
Laplace approximation of Dir(1) (mean 0, variance 1 - 1/K); decoder: dropout 0.2 on theta = softmax(z), a linear map
without bias, batch norm with a learned shift and the scale frozen at 1; multinomial likelihood; Adam lr 2e-3,
betas (0.99, 0.999); batch 200; 200 epochs.

--split validation trains on the first 90% of train.npy and scores on the last 10% (how LatentKit's recipes were
chosen), never touching test.npy.

Not run by CI. Its packages are pinned in Benchmarks/requirements.txt; install them into a private environment:
    python3 -m venv .venv-topics && .venv-topics/bin/pip install -r Benchmarks/requirements.txt
    .venv-topics/bin/python Benchmarks/topic_models.py --json topic_models.json
Usage: topic_models.py [--data data/corpus] [--topics 20,50] [--seeds 3] [--epochs 200] [--models ...] [--split test|validation]
       [--latentkit .build/release/latentkit] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["latentkit", "latentkit-dirichlet", "prodlda", "lda"]


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        sys.exit(f"topic_models: {' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return out.stdout


def score(latentkit, matrix, docs, vocab):
    """NPMI, TD@25 and distinct topics of a K x V matrix on `docs`, by LatentKit's scorer."""
    return json.loads(run([latentkit, "topics", "--weights", matrix, "--documents", docs, "--vocabulary", vocab, "--json"]))


def top3_share(theta):
    """How sparse document-topic proportions are: the mean share of a document's three largest topics (rows sum to 1)."""
    theta = np.asarray(theta, dtype=np.float64)
    theta = theta / theta.sum(axis=1, keepdims=True)
    return float(np.sort(theta, axis=1)[:, -3:].sum(axis=1).mean())


def train_latentkit(a, k, seed, train, test, work, extra):
    out = os.path.join(work, f"run-{k}-{seed}-{len(extra)}")
    start = time.time()
    run([a.latentkit, "train", "--backend", "cpu", "--data", train, "--test-data", test, "--latent-size", str(k),
         "--seed", str(seed + 1), "--out", out] + (["--epochs", str(a.epochs)] if a.epochs else []) + extra,
        env=dict(os.environ, LATENTKIT_THREADS="2"))
    seconds = time.time() - start
    matrix = os.path.join(work, f"topics-{k}-{seed}-{len(extra)}.npy")
    run([a.latentkit, "topics", out, "--vocabulary", a.vocab, "--export", matrix, "--json"])
    ev = json.loads(run([a.latentkit, "eval", out, "--k", "0", "--json", "--backend", "cpu"]))
    # the posterior means of the test documents' proportions: softmax of the mean (softmax-Gaussian), α/α₀ (Dirichlet)
    codes = os.path.join(work, f"codes-{k}-{seed}-{len(extra)}")
    run([a.latentkit, "encode", out, "--out", codes, "--backend", "cpu"])
    return matrix, ev["perplexity_bound"], seconds, {"test_kl": ev["test_kl"], "top3": top3_share(np.load(os.path.join(codes, "test_codes.npy")))}


def train_prodlda(a, k, seed, train, test, work):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    torch.set_num_threads(2)
    pyro.set_rng_seed(seed)
    pyro.clear_param_store()
    x = torch.tensor(np.load(train), dtype=torch.float32)
    xt = torch.tensor(np.load(test), dtype=torch.float32)
    v, hidden, drop = x.shape[1], 100, 0.2
    prior_scale = (1.0 - 1.0 / k) ** 0.5  # Laplace approximation of Dir(1) in the softmax basis

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(v, hidden), nn.Linear(hidden, hidden)
            self.fcmu, self.fclv = nn.Linear(hidden, k), nn.Linear(hidden, k)
            self.bnmu, self.bnlv = nn.BatchNorm1d(k, affine=False), nn.BatchNorm1d(k, affine=False)
            self.drop = nn.Dropout(drop)

        def forward(self, inputs):
            h = self.drop(F.softplus(self.fc2(F.softplus(self.fc1(inputs)))))
            return self.bnmu(self.fcmu(h)), (0.5 * self.bnlv(self.fclv(h))).exp()

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.beta = nn.Linear(k, v, bias=False)
            self.bn = nn.BatchNorm1d(v, affine=True)
            self.bn.weight.requires_grad_(False)  # pyro-ppl PR #2794: the scale stays 1
            self.drop = nn.Dropout(drop)

        def forward(self, theta):
            return F.log_softmax(self.bn(self.beta(self.drop(theta))), dim=1)

    encoder, decoder = Encoder(), Decoder()

    def model(docs):
        pyro.module("decoder", decoder)
        with pyro.plate("documents", docs.shape[0]):
            loc, scale = docs.new_zeros((docs.shape[0], k)), docs.new_full((docs.shape[0], k), prior_scale)
            z = pyro.sample("z", dist.Normal(loc, scale).to_event(1))
            logp = decoder(F.softmax(z, dim=1))
            # the multinomial's log-probability without its coefficient (constant in the model's parameters)
            pyro.factor("words", (docs * logp).sum(-1))

    def guide(docs):
        pyro.module("encoder", encoder)
        with pyro.plate("documents", docs.shape[0]):
            loc, scale = encoder(docs)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    svi = SVI(model, guide, Adam({"lr": 2e-3, "betas": (0.99, 0.999)}), loss=Trace_ELBO())
    epochs = a.epochs or 200
    g = torch.Generator().manual_seed(seed)
    start = time.time()
    encoder.train(), decoder.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0] - 199, 200):  # whole batches, as LatentKit takes them
            svi.step(x[order[i:i + 200]])
    seconds = time.time() - start
    encoder.eval(), decoder.eval()
    with torch.no_grad():
        loc, scale = encoder(xt)
        z = loc + scale * torch.randn(loc.shape, generator=g)
        logp = decoder(F.softmax(z, dim=1))
        recon = -(xt * logp).sum(-1)
        kl = (torch.log(prior_scale / scale) + (scale ** 2 + loc ** 2) / (2 * prior_scale ** 2) - 0.5).sum(-1)
        bound = float(torch.exp((recon + kl).sum() / xt.sum()))
        matrix = os.path.join(work, f"prodlda-{k}-{seed}.npy")
        np.save(matrix, np.ascontiguousarray(decoder.beta.weight.detach().numpy().T, dtype="<f4"))
    return matrix, bound, seconds, {"test_kl": float(kl.mean()), "top3": top3_share(F.softmax(loc, dim=1).numpy())}


def train_lda(a, k, seed, train, test, work):
    from sklearn.decomposition import LatentDirichletAllocation
    from scipy.sparse import csr_matrix
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from lda_baseline import beta_term
    x, xt = csr_matrix(np.load(train)), csr_matrix(np.load(test))
    lda = LatentDirichletAllocation(n_components=k, learning_method="batch", max_iter=100, random_state=seed, n_jobs=1)
    start = time.time()
    lda.fit(x)
    seconds = time.time() - start
    bound = float(np.exp(-(lda.score(xt) - beta_term(lda)) / xt.sum()))
    matrix = os.path.join(work, f"lda-{k}-{seed}.npy")
    np.save(matrix, (lda.components_ / lda.components_.sum(axis=1, keepdims=True)).astype("<f4"))
    return matrix, bound, seconds, {"top3": top3_share(lda.transform(xt))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(ROOT, "data", "corpus"))
    p.add_argument("--topics", default="20,50")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="LatentKit and ProdLDA epochs (default: LatentKit's recipe, 200 for ProdLDA)")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--split", choices=["test", "validation"], default="test")
    p.add_argument("--latentkit", default=os.path.join(ROOT, ".build", "release", "latentkit"))
    p.add_argument("--json")
    p.add_argument("--work", help="keep the runs and the exported topic-word matrices in this folder (default: a temporary one)")
    a = p.parse_args()
    a.vocab = os.path.join(a.data, "vocab.txt")
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            sys.exit(f"topic_models: unknown model {m} (known: {', '.join(MODELS)})")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    with tempfile.TemporaryDirectory() as scratch:
        work = a.work or scratch
        os.makedirs(work, exist_ok=True)
        train, test = os.path.join(a.data, "train.npy"), os.path.join(a.data, "test.npy")
        if a.split == "validation":
            x = np.load(train)
            cut = len(x) - (len(x) + 9) // 10
            train, test = os.path.join(work, "fit.npy"), os.path.join(work, "validation.npy")
            np.save(train, x[:cut]), np.save(test, x[cut:])
        rows = []
        for k in [int(t) for t in a.topics.split(",")]:
            for model in models:
                for seed in range(a.seeds):
                    if model == "latentkit":
                        result = train_latentkit(a, k, seed, train, test, work, [])
                    elif model == "latentkit-dirichlet":
                        result = train_latentkit(a, k, seed, train, test, work, ["--latent", "dirichlet"])
                    elif model == "prodlda":
                        result = train_prodlda(a, k, seed, train, test, work)
                    else:
                        result = train_lda(a, k, seed, train, test, work)
                    matrix, bound, seconds, extra = result
                    s = score(a.latentkit, matrix, test, a.vocab)
                    row = dict(model=model, topics=k, seed=seed, npmi=s["mean_npmi"], diversity=s["diversity"], distinct=s["distinct"],
                               perplexity_bound=bound, seconds=seconds, words=[t["words"] for t in s["topics"]], **extra)
                    rows.append(row)
                    print(f"{model:20s} K={k:<3d} seed {seed}: NPMI {row['npmi']:.3f}  TD@25 {row['diversity']:.3f}  distinct {row['distinct']:2d}"
                          f"  bound {bound:7.1f}  {seconds:6.1f} s", flush=True)
        print(f"\n{a.split} documents of {a.data}; mean (min-max) over {a.seeds} seeds")
        print("| model | K | NPMI | TD@25 | distinct | perplexity bound | test KL | top-3 share | seconds |")
        print("|---|---|---|---|---|---|---|---|---|")
        for k in sorted({r["topics"] for r in rows}):
            for model in models:
                group = [r for r in rows if r["model"] == model and r["topics"] == k]
                def cell(key, fmt):
                    values = [r[key] for r in group if key in r]
                    if not values:
                        return "—"
                    return f"{format(statistics.mean(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"
                print(f"| {model} | {k} | {cell('npmi', '.3f')} | {cell('diversity', '.2f')} | {cell('distinct', '.1f')} | "
                      f"{cell('perplexity_bound', '.0f')} | {cell('test_kl', '.1f')} | {cell('top3', '.2f')} | {cell('seconds', '.0f')} |")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"split": a.split, "data": a.data, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

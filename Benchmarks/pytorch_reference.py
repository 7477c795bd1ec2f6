#!/usr/bin/env python3
"""The PyTorch twins of LatentKit's recipes, for throughput side by side: each `--recipe` trains, in PyTorch eager on the
CPU with `--threads` threads, the model, sampler and objective of `latentkit train --backend cpu` with the flags below
(784-200-200-nz softplus encoder, mirrored decoder, Bernoulli likelihood from logits, MNIST preloaded as one tensor and
dynamically binarised each step, Adam 1e-3, Xavier-Glorot normal weights and zero biases as LatentKit's `Dense`; batch
100, `--batch-size` for others; an epoch is len // batch steps, the rest dropped, as LatentKit's). Prints one line per
epoch (loss, seconds, images/s) and the best epoch's images/s last. The loss printed is what LatentKit's epoch line
prints: the mean unweighted -ELBO (or the bound trained on) per image, also during KL warm-up.

  python3 Benchmarks/pytorch_reference.py [--recipe gaussian] [--epochs 3] [--threads 2] [--batch-size 100]
                                          [--data-dir data/mnist] [--limit N] [--seed 1] [--compile]

--compile runs the loss through torch.compile (inductor, the default mode; forward and backward compiled, Adam eager)
for the recipes whose graph does not change from step to step (gaussian, logit-normal, batch-norm, iwae5: the others
feed a temperature or a KL weight that changes every step as a Python float, which would recompile). Compilation
happens in the first epoch, so take the best epoch of at least two. Needs a C++ compiler (inductor builds its CPU
kernels with one).

Recipes, each with the LatentKit flags it mirrors (defaults from ModelConfig.swift, RunConfig.swift, TrainCommand.swift,
LatentFamilies.swift, Dirichlet.swift, Objectives.swift and docs/CLI.md, "Latent families" and "Objectives"):

  gaussian           (no flags) nz 20, q = N(mu, diag e^lv) from a mean and a log-variance head, y = mu + e^(lv/2) eps,
                     analytic KL to N(0, I). Hand-written as before (the fastest eager form; torch.distributions adds
                     work). LatentKit joins the two heads into one GEMM of 2 nz outputs and fuses the sample and the KL
                     into one kernel; here two Linear heads and a few elementwise ops, the same arithmetic.
  logit-normal       (--latent logit-normal) nz 20, y ~ Normal(mu, e^(lv/2)) (torch.distributions), decoder sees
                     sigmoid(y), prior N(0, 1.78 I) on y, one-sample Monte Carlo KL log q(y) - log p(y) (the family's
                     default; the Jacobian of sigmoid cancels, as LatentKit computes it in logit space).
  concrete           (--latent concrete --categorical 20x10) nz 200 = 20 categoricals of 10 classes, one logits head (no
                     log-variance), y ~ ExpRelaxedCategorical(lambda, logits) (torch.distributions: log-space
                     ExpConcrete, as LatentKit), decoder sees e^y, lambda_t = max(0.5, 1 * exp(-3e-5 t)) at global step
                     t from 0 (LatentKit's defaults: --temperature 1 --anneal 3e-5 --min-temperature 0.5), KL the
                     analytic categorical KL of Jang et al., sum over categoricals of KL(Cat(softmax logits) || uniform)
                     (torch.distributions kl_divergence of Categoricals). ExpRelaxedCategorical normalises the logits
                     (a log-softmax) before adding the Gumbels, an extra pass LatentKit's fused kernel does not make
                     (the sample is the same: a log-softmax is shift-invariant).
  dirichlet-laplace  (--latent dirichlet) nz 20, alpha = softplus(h) + 1e-3 (the default alpha activation and LatentKit's
                     floor), the Laplace approximation in the softmax basis, diagonal as LatentKit's: mu_k = log alpha_k -
                     mean_j log alpha_j, sigma^2_k = (1/alpha_k)(1 - 2/K) + (1/K^2) sum_j 1/alpha_j, y ~ Normal(mu, sigma)
                     (torch.distributions); the decoder sees the centred log-ratio y - mean(y) (--decoder-input clr, the
                     default); KL(Dir(alpha) || Dir(1)) analytic (torch.distributions kl_divergence; prior concentration
                     1, the default); KL warm-up over 5 epochs' steps (the family's default --warmup-epochs 5): weight
                     min(1, t / (5 * steps per epoch)) at global step t from 0. LatentKit's sample and its backward are
                     one fused kernel each; here a dozen elementwise ops and autograd's backward of them.
  dirichlet-exact    (--latent dirichlet --dirichlet-approx exact) as dirichlet-laplace, but z = Dirichlet(alpha).rsample()
                     (torch.distributions: Gamma variates normalised, implicit reparameterisation gradients, as LatentKit)
                     and the decoder sees log z - mean(log z). LatentKit takes log of the Gamma variates themselves
                     (log G - mean log G, the same value: the normaliser cancels); PyTorch's rsample returns only z, so
                     here log z (z floored at the smallest normal float by PyTorch, where LatentKit keeps log G finite).
  batch-norm         (--batch-norm) the gaussian recipe with nn.BatchNorm1d (eps 1e-5, momentum 0.1, learned scale and
                     shift; LatentKit follows PyTorch's conventions) between each of the 4 hidden layers' Linear and its
                     softplus, encoder and decoder; none on the heads or the output; batch statistics throughout (training).
  iwae5              (--iw-samples 5) the gaussian model trained on the IWAE bound with k = 5: per image, log (1/k)
                     sum_j p(x|z_j) p(z_j) / q(z_j|x) with log q and log p from torch.distributions Normal, the decoder on
                     batch * 5 rows. The posterior's parameters and the images are repeated with repeat_interleave; LatentKit
                     repeats them by a (batch * k) x batch 0/1 matrix product (work that grows with batch^2) and a row
                     gather. LatentKit also computes the analytic KL of the posterior for its report only; not done here.

Common differences that could not be avoided: the random draws (LatentKit's Philox streams, PyTorch's generator: the same
distributions, other numbers, so the losses agree only in range); LatentKit reads its loss terms back every 20 steps, this
script every step (`loss.item()`, a cheap call on the CPU). torch.distributions' argument validation is switched off, as
LatentKit validates nothing per step.

Needs torch (a CPU wheel) and numpy; not a dependency of the package.
"""
import argparse
import gzip
import math
import struct
import time

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Dirichlet, Normal, kl_divergence
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical
from torch.nn import functional as F

# LatentKit's flags for each recipe (Benchmarks/cpu_vs_pytorch.sh keeps the same table).
RECIPES = {
    "gaussian": "",
    "logit-normal": "--latent logit-normal",
    "concrete": "--latent concrete --categorical 20x10",
    "dirichlet-laplace": "--latent dirichlet",
    "dirichlet-exact": "--latent dirichlet --dirichlet-approx exact",
    "batch-norm": "--batch-norm",
    "iwae5": "--iw-samples 5",
}
PRIOR_VARIANCE = 1.78       # logit-normal: ModelConfig.priorVariance
CATEGORICALS, CLASSES = 20, 10  # concrete: --categorical 20x10
TEMPERATURE, ANNEAL_RATE, MIN_TEMPERATURE = 1.0, 3e-5, 0.5  # concrete: ModelConfig.temperature, annealRate, minimumTemperature
ALPHA_FLOOR = 1e-3          # dirichlet: VAE.alphaFloor
PRIOR_CONCENTRATION = 1.0   # dirichlet: ModelConfig.effectivePriorConcentration
DIRICHLET_WARMUP_EPOCHS = 5  # dirichlet: RunConfig.defaultWarmupEpochs
IW_SAMPLES = 5              # iwae5: --iw-samples 5
COMPILABLE = ("gaussian", "logit-normal", "batch-norm", "iwae5")  # --compile: no per-step Python floats in the graph


def read_images(path):
    with gzip.open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x0803, f"{path}: not an IDX image file"
        return np.frombuffer(f.read(count * rows * cols), dtype=np.uint8).reshape(count, rows * cols).astype(np.float32) / 255.0


def hidden_layers(sizes, batch_norm):
    """Linear, then (with batch_norm) BatchNorm1d, then softplus, for each consecutive pair of sizes."""
    layers = []
    for inputs, outputs in zip(sizes, sizes[1:]):
        layers += [nn.Linear(inputs, outputs)] + ([nn.BatchNorm1d(outputs)] if batch_norm else []) + [nn.Softplus()]
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, recipe, steps_per_epoch, hidden=200):
        super().__init__()
        self.recipe = recipe
        self.gaussian = recipe in ("gaussian", "logit-normal", "batch-norm", "iwae5")
        latent = CATEGORICALS * CLASSES if recipe == "concrete" else 20
        batch_norm = recipe == "batch-norm"
        self.encoder = hidden_layers([784, hidden, hidden], batch_norm)
        if self.gaussian:
            self.mean = nn.Linear(hidden, latent)
            self.log_variance = nn.Linear(hidden, latent)
        else:  # concrete: the logits of every class; dirichlet: alpha before its activation
            self.head = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(hidden_layers([latent, hidden, hidden], batch_norm), nn.Linear(hidden, 784))
        for m in self.modules():  # LatentKit's Dense: W ~ N(0, 2 / (inputs + outputs)), b = 0
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        self.warmup_steps = DIRICHLET_WARMUP_EPOCHS * steps_per_epoch if recipe.startswith("dirichlet") else 0
        self.step = 0  # global step, from 0: the temperature's annealing and the KL warm-up
        self.standard_normal = Normal(torch.tensor(0.0), torch.tensor(1.0))
        self.logit_normal_prior = Normal(torch.tensor(0.0), torch.tensor(math.sqrt(PRIOR_VARIANCE)))
        self.uniform_categorical = Categorical(logits=torch.zeros(CLASSES))
        self.dirichlet_prior = Dirichlet(torch.full((latent,), PRIOR_CONCENTRATION))

    def reconstruction(self, decoder_input, x):
        """-log p(x|z) summed over the batch."""
        return F.binary_cross_entropy_with_logits(self.decoder(decoder_input), x, reduction="sum")

    def loss(self, x):
        """(what the optimiser minimises, what the epoch line reports), both per image."""
        b = x.shape[0]
        h = self.encoder(x)
        if self.recipe == "iwae5":
            return self.iwae_loss(x, h)
        kl_weight = min(1.0, self.step / self.warmup_steps) if self.warmup_steps else 1.0
        if self.gaussian:
            mu, lv = self.mean(h), self.log_variance(h)
            if self.recipe == "logit-normal":
                q = Normal(mu, torch.exp(0.5 * lv))
                y = q.rsample()
                reconstruction = self.reconstruction(torch.sigmoid(y), x)
                kl = torch.sum(q.log_prob(y) - self.logit_normal_prior.log_prob(y))
            else:  # gaussian, batch-norm
                z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
                reconstruction = self.reconstruction(z, x)
                kl = -0.5 * torch.sum(1 + lv - mu * mu - torch.exp(lv))
        elif self.recipe == "concrete":
            logits = self.head(h).view(b, CATEGORICALS, CLASSES)
            temperature = max(MIN_TEMPERATURE, TEMPERATURE * math.exp(-ANNEAL_RATE * self.step))
            y = ExpRelaxedCategorical(torch.tensor(temperature), logits=logits).rsample()
            reconstruction = self.reconstruction(torch.exp(y).view(b, -1), x)
            kl = kl_divergence(Categorical(logits=logits), self.uniform_categorical).sum()
        else:  # dirichlet-laplace, dirichlet-exact
            alpha = F.softplus(self.head(h)) + ALPHA_FLOOR
            k = alpha.shape[1]
            if self.recipe == "dirichlet-laplace":
                log_alpha = torch.log(alpha)
                inverse = 1 / alpha
                mean = log_alpha - log_alpha.mean(dim=1, keepdim=True)
                variance = inverse * (1 - 2 / k) + inverse.sum(dim=1, keepdim=True) / (k * k)
                y = Normal(mean, torch.sqrt(variance)).rsample()
                decoder_input = y - y.mean(dim=1, keepdim=True)
            else:
                log_z = torch.log(Dirichlet(alpha).rsample())
                decoder_input = log_z - log_z.mean(dim=1, keepdim=True)
            reconstruction = self.reconstruction(decoder_input, x)
            kl = kl_divergence(Dirichlet(alpha), self.dirichlet_prior).sum()
        reported = (reconstruction + kl) / b
        return (reported if kl_weight == 1.0 else (reconstruction + kl_weight * kl) / b), reported

    def iwae_loss(self, x, h):
        b, k = x.shape[0], IW_SAMPLES
        mu, std = self.mean(h), torch.exp(0.5 * self.log_variance(h))
        q = Normal(mu.repeat_interleave(k, dim=0), std.repeat_interleave(k, dim=0))
        z = q.rsample()
        x_k = x.repeat_interleave(k, dim=0)
        log_likelihood = -F.binary_cross_entropy_with_logits(self.decoder(z), x_k, reduction="none").sum(dim=1)
        log_weights = log_likelihood + (self.standard_normal.log_prob(z) - q.log_prob(z)).sum(dim=1)
        bound = torch.sum(torch.logsumexp(log_weights.view(b, k), dim=1)) - b * math.log(k)
        loss = -bound / b
        return loss, loss


def main():
    parser = argparse.ArgumentParser(description="PyTorch twins of LatentKit's recipes (see the module docstring).")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="gaussian",
                        help="; ".join(f"{name}: latentkit train {flags or '(defaults)'}" for name, flags in RECIPES.items()))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default="data/mnist")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="torch.compile the loss (gaussian, logit-normal, batch-norm, iwae5)")
    args = parser.parse_args()
    if args.compile and args.recipe not in COMPILABLE:
        parser.error(f"--compile: {args.recipe} recompiles every step; compilable recipes: {', '.join(COMPILABLE)}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.distributions.Distribution.set_default_validate_args(False)
    images = torch.from_numpy(read_images(f"{args.data_dir}/train-images-idx3-ubyte.gz")[: args.limit])
    batch = args.batch_size
    steps = len(images) // batch
    model = VAE(args.recipe, steps)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_of = torch.compile(model.loss) if args.compile else model.loss
    best = 0.0
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(images))
        start, total = time.perf_counter(), 0.0
        for s in range(steps):
            x = torch.bernoulli(images[order[s * batch:(s + 1) * batch]])
            optimiser.zero_grad(set_to_none=True)
            loss, reported = loss_of(x)
            loss.backward()
            optimiser.step()
            model.step += 1
            total += reported.item()
        seconds = time.perf_counter() - start
        rate = steps * batch / seconds
        best = max(best, rate)
        print(f"epoch {epoch}/{args.epochs}  loss {total / steps:.3f}  {seconds:.2f} s  {rate:.0f} images/s", flush=True)
    print(f"best {best:.0f} images/s")


if __name__ == "__main__":
    main()

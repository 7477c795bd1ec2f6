#!/usr/bin/env python3
"""The PyTorch twin of LatentKit's default run, for throughput side by side: the Gaussian VAE 784-200-200-20 (softplus,
Bernoulli likelihood from logits, dynamically binarised MNIST, batch 100, Adam 1e-3), trained on the CPU with a fixed
number of threads (`--batch-size` for other batches). Prints one line per epoch (loss, seconds, images/s) and the best epoch's images/s last.

  python3 Benchmarks/pytorch_reference.py [--epochs 3] [--threads 2] [--batch-size 100] [--data-dir data/mnist] [--limit N]

Needs torch (a CPU wheel) and numpy; not a dependency of the package.
"""
import argparse
import gzip
import struct
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def read_images(path):
    with gzip.open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x0803, f"{path}: not an IDX image file"
        return np.frombuffer(f.read(count * rows * cols), dtype=np.uint8).reshape(count, rows * cols).astype(np.float32) / 255.0


class VAE(nn.Module):
    def __init__(self, hidden=200, latent=20):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus())
        self.mean = nn.Linear(hidden, latent)
        self.log_variance = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus(),
                                     nn.Linear(hidden, 784))

    def loss(self, x):
        h = self.encoder(x)
        mu, lv = self.mean(h), self.log_variance(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        reconstruction = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="sum")
        kl = -0.5 * torch.sum(1 + lv - mu * mu - torch.exp(lv))
        return (reconstruction + kl) / x.shape[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default="data/mnist")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    images = torch.from_numpy(read_images(f"{args.data_dir}/train-images-idx3-ubyte.gz")[: args.limit])
    model = VAE()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = args.batch_size
    best = 0.0
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(images))
        start, total, steps = time.perf_counter(), 0.0, len(images) // batch
        for s in range(steps):
            x = torch.bernoulli(images[order[s * batch:(s + 1) * batch]])
            optimiser.zero_grad(set_to_none=True)
            loss = model.loss(x)
            loss.backward()
            optimiser.step()
            total += loss.item()
        seconds = time.perf_counter() - start
        rate = steps * batch / seconds
        best = max(best, rate)
        print(f"epoch {epoch}/{args.epochs}  loss {total / steps:.3f}  {seconds:.2f} s  {rate:.0f} images/s", flush=True)
    print(f"best {best:.0f} images/s")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Builds the Examples/ package (LatentKit used as a library, as a user's package uses it) and runs each program
# briefly: train-a-vae for one epoch on 10,000 MNIST images (then `latentkit eval` reads its checkpoint), and
# dirichlet-block for one epoch on 5,000, and topic-model on a small corpus with five planted topics that it writes
# (CI has no data/corpus), where it must find all five. Run after scripts/setup.sh (data/mnist) and a release build of latentkit.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --package-path Examples -c release
rm -rf runs/swift-api-example
Examples/.build/release/train-a-vae 1
.build/release/latentkit eval runs/swift-api-example --k 0 --limit 1000
Examples/.build/release/dirichlet-block 1
rm -rf runs/swift-api-example
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# 1,000 documents of 20-60 tokens over 100 words: topic k owns words 20k..20k+19, and 80% of a document's tokens come
# from topic (document mod 5)
python3 - "$corpus" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(21); n = 1000; counts = np.zeros((n, 100), dtype='<f4')
for d in range(n):
    for _ in range(rng.integers(20, 61)):
        topic = d % 5 if rng.random() < 0.8 else rng.integers(5)
        counts[d, topic * 20 + rng.integers(20)] += 1
np.save(sys.argv[1] + '/counts.npy', counts)
open(sys.argv[1] + '/vocab.txt', 'w').write(''.join(f't{w // 20}w{w % 20}\n' for w in range(100)))
PY
Examples/.build/release/topic-model "$corpus/counts.npy" "$corpus/vocab.txt" 5 100 | tee "$corpus/out.txt"
# every topic's top words from one planted topic, and all five found (100 epochs: the recipe fades the decoder's batch
# norm out over the first half; at 40 epochs two topics still had a stray word in their top 10)
found=$(grep '^topic' "$corpus/out.txt" | awk '{ t = ""; ok = 1; for (i = 5; i <= NF; i++) { p = substr($i, 1, 2); if (t == "") t = p; else if (p != t) ok = 0 } if (ok) print t }' | sort -u | wc -l)
[ "$found" -eq 5 ] || { echo "examples-check: topic-model found $found of the 5 planted topics"; exit 1; }
echo "examples-check: the three examples built and ran; topic-model found the 5 planted topics"

#!/usr/bin/env bash
# LatentKit's CPU backend against PyTorch eager on the same model, side by side: the default Gaussian VAE on MNIST
# (784-200-200-20 softplus, Bernoulli logits, dynamic binarisation, Adam 1e-3; Benchmarks/pytorch_reference.py is the
# PyTorch twin), 2 threads each, at each batch size, ROUNDS interleaved rounds (LatentKit then PyTorch, every batch, then
# the next round), each run the best epoch of EPOCHS on all 60,000 images, data loading excluded on both sides. Prints
# every run, then per batch the median, minimum and maximum ratio LatentKit / PyTorch over the rounds.
# With ALSO_CORE=NAME a third run per round forces OpenBLAS's kernels to NAME (OPENBLAS_CORETYPE), e.g. Prescott, the
# ones OpenBLAS falls back to on a CPU model it does not know: the gain of choosing them, measured in the same rounds.
# Only the default recipe has a PyTorch twin yet.
# Usage: PYTHON=.venv/bin/python Benchmarks/cpu_vs_pytorch.sh [rounds 5] [batches 100,1000] [epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
batches=${2:-100,1000}
epochs=${3:-2}
python=${PYTHON:-python3}
bin=.build/release/latentkit
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$python" -c 'import torch' 2>/dev/null || { echo "cpu_vs_pytorch: $python has no torch (pip install -r Benchmarks/requirements.txt)" >&2; exit 1; }
[ -x "$bin" ] || { echo "cpu_vs_pytorch: build first: swift build -c release" >&2; exit 1; }
latentkit() {  # batch [OPENBLAS_CORETYPE] -> best images/s
    rm -rf "$out/run"
    env ${2:+OPENBLAS_CORETYPE=$2} LATENTKIT_THREADS=2 "$bin" train --backend cpu --epochs "$epochs" --batch-size "$1" \
        --out "$out/run" | awk '/^epoch/ {for (i = 1; i < NF; i++) if ($(i + 1) == "images/s" && $i > best) best = $i} END {print best + 0}'
}
pytorch() {  # batch -> best images/s
    "$python" Benchmarks/pytorch_reference.py --epochs "$epochs" --threads 2 --batch-size "$1" | awk '/^best/ {print $2}'
}
IFS=, read -ra sizes <<<"$batches"
printf '%-6s %-6s %12s %12s %s\n' round batch latentkit pytorch "${ALSO_CORE:+latentkit-$ALSO_CORE}"
for r in $(seq "$rounds"); do
    for b in "${sizes[@]}"; do
        l=$(latentkit "$b"); p=$(pytorch "$b"); a=${ALSO_CORE:+$(latentkit "$b" "$ALSO_CORE")}
        printf '%-6s %-6s %12s %12s %s\n' "$r" "$b" "$l" "$p" "$a" | tee -a "$out/rows"
    done
done
echo
echo "ratio LatentKit / PyTorch over $rounds rounds (median, min, max)${ALSO_CORE:+; and LatentKit / LatentKit on $ALSO_CORE}"
for b in "${sizes[@]}"; do
    awk -v b="$b" '$2 == b {print $3 / $4, ($5 == "" ? "" : $3 / $5)}' "$out/rows" | "$python" -c '
import statistics, sys
rows = [line.split() for line in sys.stdin]
for col, name in ((0, "PyTorch"), (1, "forced core")):
    xs = [float(r[col]) for r in rows if len(r) > col]
    if xs:
        print(f"batch '"$b"' against {name}: {statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})")'
done

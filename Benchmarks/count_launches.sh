#!/usr/bin/env bash
# Kernel launches per training step on the OpenCL backend, per recipe: clEnqueueNDRangeKernel calls counted with
# ltrace (Debian's `ltrace`) over a 20-step and a 10-step run, difference / 10, so setup and checkpoints cancel.
# Usage: Benchmarks/count_launches.sh [path/to/latentkit] [data dir]    (defaults: .build/release/latentkit, data/mnist)
set -euo pipefail
bin=${1:-.build/release/latentkit}
data=${2:-data/mnist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
recipes=("gaussian|" "logit-normal|--latent logit-normal" "concrete 20x10|--latent concrete --categorical 20x10"
         "concrete 20x10 mc-kl|--latent concrete --categorical 20x10 --kl monte-carlo" "dirichlet laplace|--latent dirichlet"
         "dirichlet kl|--latent dirichlet --dirichlet-approx kl" "dirichlet exact|--latent dirichlet --dirichlet-approx exact"
         "gaussian batch-norm|--batch-norm" "gaussian iwae-5|--iw-samples 5")
count() {  # images, flags
    rm -rf "$out/run"
    # shellcheck disable=SC2086
    ltrace -f -c -e clEnqueueNDRangeKernel "$bin" train --backend opencl --epochs 1 --limit "$1" --data-dir "$data" --out "$out/run" $2 2>&1 \
        | awk '/clEnqueueNDRangeKernel/ {print $4}'
}
for recipe in "${recipes[@]}"; do
    name=${recipe%%|*}; flags=${recipe#*|}
    small=$(count 1000 "$flags"); large=$(count 2000 "$flags")
    printf '%-24s %4d launches per step\n' "$name" $(( (large - small) / 10 ))
done

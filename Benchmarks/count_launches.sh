#!/usr/bin/env bash
# What a GPU pays per training step, per recipe, on the OpenCL backend at batch 100: kernel launches
# (clEnqueueNDRangeKernel), other commands (buffer copies, writes, reads) and blocking calls (blocking reads and writes,
# clFinish), counted with ltrace (Debian's `ltrace`) over a 20-step and a 40-step run (2,000 and 4,000 images, one
# epoch), the difference divided by 20, so that setup, the epoch's end and the checkpoint cancel.
# Usage: Benchmarks/count_launches.sh [path/to/latentkit] [data dir]    (defaults: .build/release/latentkit, data/mnist)
#        ONLY=REGEX Benchmarks/count_launches.sh ...    counts the recipes whose names match REGEX only
set -euo pipefail
bin=${1:-.build/release/latentkit}
data=${2:-data/mnist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
recipes=("gaussian|" "logit-normal|--latent logit-normal" "concrete 20x10|--latent concrete --categorical 20x10"
         "concrete 20x10 mc-kl|--latent concrete --categorical 20x10 --kl monte-carlo" "dirichlet laplace|--latent dirichlet"
         "dirichlet kl|--latent dirichlet --dirichlet-approx kl" "dirichlet exact|--latent dirichlet --dirichlet-approx exact"
         "gaussian batch-norm|--batch-norm" "gaussian iwae-5|--iw-samples 5" "chain|--posterior chain" "grid|--posterior grid"
         "dvae|--latent dvae" "dvae 128|--latent dvae --latent-size 128"
         "dvae 128, 2 layers x 64|--latent dvae --latent-size 128 --continuous-layers 2 --continuous-size 64"
         "gaussian, 2 layers x 64|--continuous-layers 2 --continuous-size 64")
calls=clEnqueueNDRangeKernel+clEnqueueCopyBuffer+clEnqueueCopyBufferRect+clEnqueueFillBuffer+clEnqueueReadBuffer+clEnqueueWriteBuffer+clFinish
count() {  # images, flags -> "launches commands blocking" (ltrace -c gives totals; blocking reads and writes are every read and write made)
    for attempt in 1 2 3; do  # ltrace -f now and then stops for good as PoCL starts its threads: kill it and try again
        rm -rf "$out/run"
        # shellcheck disable=SC2086
        timeout -s KILL 300 ltrace -f -c -e "$calls" "$bin" train --backend opencl --epochs 1 --limit "$1" --data-dir "$data" \
            --out "$out/run" $2 >"$out/trace" 2>&1 && break
        pkill -KILL -f "$out/run" || true
        [ "$attempt" -lt 3 ] || { echo "count_launches: ltrace failed 3 times on: $2" >&2; exit 1; }
    done
    awk '/clEnqueueNDRangeKernel/ {l=$4} /clEnqueue(Copy|Fill)/ {c+=$4} /clEnqueue(Read|Write)Buffer/ {b+=$4; c+=$4} /clFinish/ {b+=$4}
         END {print l+0, c+0, b+0}' "$out/trace"
}
printf '%-24s %9s %9s %9s\n' recipe launches commands blocking
for recipe in "${recipes[@]}"; do
    name=${recipe%%|*}; flags=${recipe#*|}
    [[ -z "${ONLY:-}" || "$name" =~ $ONLY ]] || continue
    read -r l1 c1 b1 < <(count 2000 "$flags")
    read -r l2 c2 b2 < <(count 4000 "$flags")
    printf '%-24s %9.2f %9.2f %9.2f\n' "$name" "$(echo "($l2 - $l1) / 20" | bc -l)" "$(echo "($c2 - $c1) / 20" | bc -l)" "$(echo "($b2 - $b1) / 20" | bc -l)"
done

#!/usr/bin/env bash
# Where a CPU training step's time goes (issue 23): `perf record` of `latentkit train --backend cpu` for each recipe of
# RECIPES at BATCH (default 1000), EPOCHS epochs (default 2) on the first LIMIT training images (default all 60,000), and
# the samples of all threads sorted into GEMM (OpenBLAS and the backend's GEMM, whose inlined wait for the other
# thread's block is counted with it), elementwise passes (unary and binary ops, the fused family and likelihood
# kernels, reductions, copies, fills), random numbers (Philox, the fills, the binarising gather), the optimiser
# (Adam), thread hand-offs (the worker pool's spinning and the kernel's scheduler) and the rest (data loading, start-up,
# the page faults of fresh buffers). Shares are of CPU samples on both cores, so a thread spinning while it waits
# counts where it spins. Needs `perf` (Debian: linux-perf) and permission to use it (root, or perf_event_paranoid <= 1).
# Recipes as in Benchmarks/cpu_vs_pytorch.sh: gaussian, logit-normal, concrete, dirichlet-laplace, dirichlet-exact,
# batch-norm, iwae5.
# Usage: [RECIPES=gaussian,iwae5] [BATCH=1000] [EPOCHS=2] [LIMIT=60000] Benchmarks/profile_step.sh
set -euo pipefail
cd "$(dirname "$0")/.."
recipes=${RECIPES:-gaussian,logit-normal,concrete,dirichlet-laplace,dirichlet-exact,batch-norm,iwae5}
batch=${BATCH:-1000}
epochs=${EPOCHS:-2}
limit=${LIMIT:-60000}
bin=.build/release/latentkit
command -v perf > /dev/null || { echo "profile_step.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
[ -x "$bin" ] || { echo "profile_step.sh: build first: swift build -c release" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. Benchmarks/recipes.sh  # flags_of: recipe -> the LatentKit flags
printf '%-18s %6s %12s %6s %6s %10s %8s\n' recipe GEMM elementwise random Adam hand-offs other
for recipe in ${recipes//,/ }; do
    flags=$(flags_of "$recipe") || { echo "profile_step.sh: unknown recipe $recipe" >&2; exit 2; }
    # shellcheck disable=SC2086
    perf record -q -o "$out/$recipe.data" -- "$bin" train --backend cpu --batch-size "$batch" --epochs "$epochs" --limit "$limit" \
        --out "$out/$recipe.run" $flags > "$out/$recipe.log" 2>&1 || { cat "$out/$recipe.log" >&2; exit 1; }
    perf report -q -i "$out/$recipe.data" --no-children --sort symbol --stdio 2> /dev/null > "$out/$recipe.txt"
    python3 - "$recipe" "$out/$recipe.txt" <<'PY'
import re, sys
recipe, path = sys.argv[1], sys.argv[2]
rules = [  # first match wins; Swift symbols are mangled, so match their readable fragments
    ("GEMM", r"sgemm|CPUBackendC4gemm"),
    ("random", r"Philox|philox|fillRandom|gatherRows|gumbel|Gamma|gamma"),
    ("Adam", r"adam|Adam"),
    ("hand-offs", r"WorkerPool|__schedule|finish_task_switch|_raw_spin|futex|sched_|yield|pick_next|switch_|try_to_wake"),
    ("elementwise", r"LatentCPU|VectorMath|memmove|memset|memcpy|SIMD16|expf|logf|log1pf|softplus_|sigmoid_|exp_avx|exp_baseline"),
]
shares = {name: 0.0 for name, _ in rules}
shares["other"] = 0.0
total = 0.0
for line in open(path):
    m = re.match(r"\s*([\d.]+)%\s+\[[.k]\]\s+(\S+)", line)
    if not m:
        continue
    share, symbol = float(m.group(1)), m.group(2)
    total += share
    for name, pattern in rules:
        if re.search(pattern, symbol):
            shares[name] += share
            break
    else:
        shares["other"] += share
scale = 100 / total if total else 0
print(f"{recipe:<18} {shares['GEMM']*scale:5.1f}% {shares['elementwise']*scale:11.1f}% {shares['random']*scale:5.1f}% "
      f"{shares['Adam']*scale:5.1f}% {shares['hand-offs']*scale:9.1f}% {shares['other']*scale:7.1f}%")
PY
done

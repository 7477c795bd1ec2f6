#!/usr/bin/env bash
# LatentKit's CPU backend against PyTorch eager on the same model, sampler and objective, side by side, for each recipe
# of RECIPES (comma-separated; default gaussian, the default Gaussian VAE: 784-200-200-20 softplus, Bernoulli logits,
# dynamic binarisation, Adam 1e-3). Benchmarks/pytorch_reference.py --recipe NAME is each recipe's PyTorch twin; its
# docstring says what each mirrors and where the two differ. Recipes and the LatentKit flags they stand for:
#   gaussian (none), logit-normal (--latent logit-normal), concrete (--latent concrete --categorical 20x10),
#   dirichlet-laplace (--latent dirichlet), dirichlet-exact (--latent dirichlet --dirichlet-approx exact),
#   batch-norm (--batch-norm), iwae5 (--iw-samples 5).
# THREADS threads each (default 2), at each batch size, ROUNDS interleaved rounds (in each round, for every recipe and
# batch: LatentKit then PyTorch, then the next), each run the best epoch of EPOCHS on all 60,000 images (LIMIT=N: the
# first N only, passed to both as --limit, for quick checks), data loading excluded on both sides. Prints every run,
# then per recipe and batch the median, minimum and maximum ratio LatentKit / PyTorch over the rounds.
# With ALSO_CORE=NAME a third run per round forces OpenBLAS's kernels to NAME (OPENBLAS_CORETYPE), e.g. Prescott, the
# ones OpenBLAS falls back to on a CPU model it does not know: the gain of choosing them, measured in the same rounds.
# ALSO_CORE=auto runs it with OPENBLAS_CORETYPE unset instead (OpenBLAS's and LatentKit's own choice), for a machine
# whose environment names a core for every program. Its ratio against PyTorch is printed too. The first lines say which
# kernels each side runs: PyTorch's GEMM is MKL's, which OPENBLAS_CORETYPE does not touch.
# With COMPILE=R1,R2 another run per round of those recipes trains the PyTorch twin through torch.compile
# (pytorch_reference.py --compile: gaussian, logit-normal, batch-norm and iwae5 only; EPOCHS of at least 2, as the first
# epoch compiles, which takes about half a minute).
# Usage: [RECIPES=gaussian,concrete] [THREADS=2] [LIMIT=N] [ALSO_CORE=NAME] [COMPILE=gaussian] PYTHON=.venv/bin/python \
#        Benchmarks/cpu_vs_pytorch.sh [rounds 5] [batches 100,1000] [epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
batches=${2:-100,1000}
epochs=${3:-2}
python=${PYTHON:-python3}
threads=${THREADS:-2}
limit=${LIMIT:-}
bin=.build/release/latentkit
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. Benchmarks/recipes.sh  # flags_of: recipe -> the LatentKit flags
IFS=, read -ra recipes <<<"${RECIPES:-gaussian}"
for recipe in "${recipes[@]}"; do
    flags_of "$recipe" >/dev/null || {
        echo "cpu_vs_pytorch: unknown recipe '$recipe' (gaussian, logit-normal, concrete, dirichlet-laplace, dirichlet-exact, batch-norm, iwae5)" >&2
        exit 1
    }
done
"$python" -c 'import torch' 2>/dev/null || { echo "cpu_vs_pytorch: $python has no torch (pip install -r Benchmarks/requirements.txt)" >&2; exit 1; }
[ -x "$bin" ] || { echo "cpu_vs_pytorch: build first: swift build -c release" >&2; exit 1; }
core_env() {  # [CORE] -> sets core: env's arguments for OpenBLAS's kernels (none: the environment's; auto: unset)
    core=()
    case "${1:-}" in "") ;; auto) core=(-u OPENBLAS_CORETYPE) ;; *) core=("OPENBLAS_CORETYPE=$1") ;; esac
}
latentkit() {  # recipe batch [CORE] -> best images/s
    rm -rf "$out/run"
    core_env "${3:-}"
    # shellcheck disable=SC2046  # the recipe's flags are words
    env "${core[@]}" LATENTKIT_THREADS="$threads" "$bin" train --backend cpu --epochs "$epochs" --batch-size "$2" \
        ${limit:+--limit "$limit"} --out "$out/run" $(flags_of "$1") \
        | awk '/^epoch/ {for (i = 1; i < NF; i++) if ($(i + 1) == "images/s" && $i > best) best = $i} END {print best + 0}'
}
pytorch() {  # recipe batch [--compile] -> best images/s
    "$python" Benchmarks/pytorch_reference.py --recipe "$1" --epochs "$epochs" --threads "$threads" --batch-size "$2" \
        ${limit:+--limit "$limit"} ${3:-} | awk '/^best/ {print $2}'
}
compile=${COMPILE:-}
compiled() { [[ ",$compile," == *",$1,"* ]]; }  # recipe -> whether COMPILE names it
IFS=, read -ra sizes <<<"$batches"
header() {  # [CORE] -> the CPU backend's description on that core (its training header)
    rm -rf "$out/h"
    core_env "${1:-}"
    env "${core[@]}" LATENTKIT_THREADS="$threads" "$bin" train --backend cpu --epochs 1 --limit 100 --out "$out/h" \
        | head -1 | sed 's/^training on cpu (//; s/): .*//'
}
echo "environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; LatentKit runs $(header)"
if [ -n "${ALSO_CORE:-}" ]; then echo "latentkit-$ALSO_CORE runs $(header "$ALSO_CORE")"; fi
echo "PyTorch $("$python" -c 'import torch; print(torch.__version__, "with", "MKL" if torch.backends.mkl.is_available() else "no MKL", "and CPU capability", torch.backends.cpu.get_cpu_capability())')"
printf '%-6s %-18s %-6s %12s %12s %12s %s\n' round recipe batch latentkit pytorch "${compile:+torch.compile}" "${ALSO_CORE:+latentkit-$ALSO_CORE}"
for r in $(seq "$rounds"); do
    for recipe in "${recipes[@]}"; do
        for b in "${sizes[@]}"; do
            l=$(latentkit "$recipe" "$b"); p=$(pytorch "$recipe" "$b"); c=-; a=-
            if compiled "$recipe"; then c=$(pytorch "$recipe" "$b" --compile); fi
            if [ -n "${ALSO_CORE:-}" ]; then a=$(latentkit "$recipe" "$b" "$ALSO_CORE"); fi
            printf '%-6s %-18s %-6s %12s %12s %12s %s\n' "$r" "$recipe" "$b" "$l" "$p" "$c" "$a" | tee -a "$out/rows"
        done
    done
done
echo
echo "ratio LatentKit / PyTorch over $rounds rounds (median, min, max)${compile:+; against torch.compile}${ALSO_CORE:+; LatentKit / LatentKit on $ALSO_CORE; LatentKit on $ALSO_CORE / PyTorch}"
for recipe in "${recipes[@]}"; do
    for b in "${sizes[@]}"; do
        awk -v recipe="$recipe" -v b="$b" '$2 == recipe && $3 == b {print $4 / $5, ($6 > 0 ? $4 / $6 : "-"), ($7 > 0 ? $4 / $7 : "-"), ($7 > 0 ? $7 / $5 : "-")}' "$out/rows" | "$python" -c '
import statistics, sys
recipe, batch = sys.argv[1:]
rows = [line.split() for line in sys.stdin]
for col, name in ((0, "PyTorch"), (1, "torch.compile"), (2, "LatentKit on the other core"), (3, "PyTorch, LatentKit on the other core")):
    xs = [float(r[col]) for r in rows if r[col] != "-"]
    if xs:
        print(f"{recipe} batch {batch} against {name}: {statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})")' "$recipe" "$b"
    done
done

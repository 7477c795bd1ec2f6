#!/usr/bin/env bash
# Runs LatentKit's OpenCL path under Oclgrind (Debian `oclgrind`), an OpenCL 1.2 device simulator that checks every
# memory access, for the faults a GPU has and PoCL hides: a training step of every recipe, an `eval` with importance
# sampling and AIS, `analyze` (the per-row selection kernel of k-NN), and the work-group forms of every row and column
# kernel (`selftest` at small shapes), at tiny shapes, with --data-races and with every
# pool buffer filled with NaN before use, and the count recipe of bags of words (LATENTKIT_POISON_BUFFERS=1: a read before a write turns the loss into NaN).
# Any Oclgrind report, a non-zero exit or a non-finite loss fails. Then a gaussian run with --uninitialized: every report
# must name a kernel listed, with the reason it is safe, in scripts/oclgrind-uninitialized.txt.
# Usage: scripts/oclgrind-check.sh [path/to/latentkit] [data dir]    (defaults: .build/release/latentkit, data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.build/release/latentkit}")
data=$(realpath "${2:-data/mnist}")
command -v oclgrind >/dev/null || { echo "oclgrind-check: oclgrind is not installed (apt-get install oclgrind)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LATENTKIT_POISON_BUFFERS=1
failures=0
checks=0  # every check() call, and the uninitialised-value pass at the end
tiny=(--backend opencl --data-dir "$data" --limit 40 --epochs 1 --batch-size 20 --hidden 16,16 --latent-size 4)

# oclgrind-run NAME OCLGRIND-FLAGS -- COMMAND...: runs COMMAND under Oclgrind; fails on a report or a non-zero exit.
check() {
    local name=$1; shift
    checks=$((checks + 1))
    local flags=()
    while [ "$1" != "--" ]; do flags+=("$1"); shift; done; shift
    local log="$work/$(echo "$name" | tr ' /' '__').log" start=$SECONDS status=0
    oclgrind "${flags[@]}" --log "$log" "$@" >"$log.out" 2>&1 || status=$?
    local reports; reports=$(grep -c -E '^(Invalid|Uninitialized|Read-write|Write-write|Data race|Work-group divergence|Error|Warning)' "$log" 2>/dev/null || true)
    if [ "$status" -ne 0 ] || [ "${reports:-0}" -ne 0 ]; then
        failures=$((failures + 1))
        printf 'FAIL  %-28s exit %d, %d Oclgrind reports (%ds)\n' "$name" "$status" "${reports:-0}" $((SECONDS - start))
        head -40 "$log" 2>/dev/null; tail -5 "$log.out"
    else
        printf 'ok    %-28s exit 0, no Oclgrind report (%ds)\n' "$name" $((SECONDS - start))
    fi
}

recipes=("gaussian|" "logit-normal|--latent logit-normal" "concrete 1x4|--latent concrete --categorical 1x4"
         "concrete 2x2 monte-carlo|--latent concrete --categorical 2x2 --kl monte-carlo" "dirichlet laplace|--latent dirichlet"
         "dirichlet kl|--latent dirichlet --dirichlet-approx kl" "dirichlet exact|--latent dirichlet --dirichlet-approx exact"
         "batch-norm|--batch-norm" "iwae-3|--iw-samples 3" "chain|--posterior chain" "grid 2x2|--posterior grid --grid 2x2"
         "dvae|--latent dvae --gibbs-chains 8 --gibbs-steps 2" "streamed|--stream-chunk 20"
         "dvae, continuous layers|--latent dvae --gibbs-chains 8 --gibbs-steps 2 --groups 2 --continuous-layers 2 --continuous-size 3 --continuous-hidden 8"
         "hierarchical gaussian iwae|--continuous-layers 2 --continuous-size 3 --continuous-hidden 8 --iw-samples 3")
for recipe in "${recipes[@]}"; do
    name=${recipe%%|*}; flags=${recipe#*|}
    # shellcheck disable=SC2086
    check "train $name" --data-races -- "$bin" train "${tiny[@]}" $flags --out "$work/run-${name// /-}"
done
# Bags of words (counts): the count recipe's parts (softmax-Gaussian, head and decoder batch norm, both dropouts, the
# background bias, Scholar's annealing) and the sparse Dirichlet, on 60 random documents of 30 words.
python3 -c "
import numpy as np
r = np.random.default_rng(5); x = r.poisson(0.6, size=(60, 30)).astype('<f4'); x[:, 0] += 1
np.save('$work/counts.npy', x)"
words=(--backend opencl --data "$work/counts.npy" --epochs 1 --batch-size 20 --hidden 16,16 --latent-size 4)
check "train topic-model recipe" --data-races -- "$bin" train "${words[@]}" --background-bias --decoder-batch-norm-anneal 1 --out "$work/run-topics"
check "train sparse dirichlet (words)" --data-races -- "$bin" train "${words[@]}" --latent dirichlet --prior-concentration 0.1 --out "$work/run-dir-words"
check "eval topic-model recipe" --data-races -- "$bin" eval "$work/run-topics" --backend opencl --k 4
check "eval gaussian (IS)" --data-races -- "$bin" eval "$work/run-gaussian" --backend opencl --data-dir "$data" --k 4 --limit 10
check "eval concrete (discrete IS)" --data-races -- "$bin" eval "$work/run-concrete-2x2-monte-carlo" --backend opencl --data-dir "$data" \
    --k 4 --limit 10
check "eval dvae (IS, AIS)" --data-races -- "$bin" eval "$work/run-dvae" --backend opencl --data-dir "$data" --k 4 --limit 10 \
    --ais-chains 8 --ais-temperatures 20
check "eval dvae, layers (IS, AIS)" --data-races -- "$bin" eval "$work/run-dvae,-continuous-layers" --backend opencl --data-dir "$data" \
    --k 4 --limit 10 --ais-chains 8 --ais-temperatures 20
check "sample dvae, layers" --data-races -- "$bin" sample "$work/run-dvae,-continuous-layers" --backend opencl --count 4 \
    --out "$work/layers.png"
check "analyze (k-NN selection)" --data-races -- "$bin" analyze "$work/run-gaussian" --backend opencl --data-dir "$data" \
    --limit-train 40 --limit-test 10 --neighbours 2,5
# The work-group forms of every row and column kernel, which a GPU takes (the tiny runs above take the per-row forms of
# their rows, shorter than 16): the self-test's agreement checks at its small shapes, work-group forms forced, each
# compared with the CPU backend as well.
check "selftest, work-group forms" --data-races -- env LATENTKIT_OPENCL_REDUCTIONS=work-groups "$bin" selftest --backend opencl \
    --filter 7x --filter "7 chains" --filter "7 rows" --filter "chain of 200"

# Uninitialised values: each report's kernel must be an explained one.
allow=scripts/oclgrind-uninitialized.txt
log="$work/uninitialized.log"
# With the NaN fill: a pool buffer read before it is written is the NaN check's above; this pass is for every other
# buffer. (Without the fill, CLBlast's direct GEMM is flagged first and the flag then spreads to every kernel downstream,
# burying any other report: see scripts/oclgrind-uninitialized.txt.) The exit status is not checked: the plugin itself
# changes results on NaN-filled runs (a NaN loss at step 2 that neither PoCL nor Oclgrind without it gives).
oclgrind --uninitialized --max-errors 10000 --log "$log" "$bin" train "${tiny[@]}" --out "$work/run-uninitialized" >"$log.out" 2>&1 || true
unexplained=0
while read -r count kernel; do
    if grep -q -E "^$kernel([[:space:]]|$)" "$allow"; then
        printf 'ok    uninitialised-value reports in %s: %d (explained in %s)\n' "$kernel" "$count" "$allow"
    else
        unexplained=1
        printf 'FAIL  uninitialised-value reports in %s: %d, not explained in %s\n' "$kernel" "$count" "$allow"
    fi
done < <(grep -A1 '^Uninitialized' "$log" 2>/dev/null | sed -n 's/^[[:space:]]*Kernel: //p' | sort | uniq -c)
[ "$unexplained" -eq 0 ] || failures=$((failures + 1))
[ "$(grep -c '^Uninitialized' "$log" 2>/dev/null || true)" -gt 0 ] || echo "ok    no uninitialised-value report"

echo "oclgrind-check: $((checks + 1 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# The parallelism a GPU gets: the work-items of every kernel one training step launches (LATENTKIT_TRACE_LAUNCHES=1),
# at batch 100 with nz = 20, 200 and 2,000, per recipe, one line per kernel: the most work-items it asks for at each nz
# (before rounding up to whole work-groups; a work-group-per-row kernel asks for its whole groups). The step is the 2nd
# of a 2-step run, from its minibatch gather on. CLBlast's kernels are not ours and are left out. The reduction kernels'
# form is the device's choice; LATENTKIT_OPENCL_REDUCTIONS=work-groups shows on any device the forms a GPU gets.
# Usage: [LATENTKIT_OPENCL_REDUCTIONS=work-groups] Benchmarks/work_items.sh [path/to/latentkit] [data dir]
set -euo pipefail
bin=${1:-.build/release/latentkit}
data=${2:-data/mnist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
recipes=("gaussian|" "logit-normal|--latent logit-normal" "concrete Gx10|--latent concrete --categorical CAT"
         "dirichlet laplace|--latent dirichlet" "dirichlet exact|--latent dirichlet --dirichlet-approx exact" "batch-norm|--batch-norm"
         "chain|--posterior chain" "dvae|--latent dvae")
for recipe in "${recipes[@]}"; do
    name=${recipe%%|*}; flags=${recipe#*|}
    for nz in 20 200 2000; do
        f=${flags/CAT/$((nz / 10))x10}
        rm -rf "$out/run"
        # shellcheck disable=SC2086
        LATENTKIT_TRACE_LAUNCHES=1 "$bin" train --backend opencl --epochs 1 --limit 200 --batch-size 100 --latent-size "$nz" \
            --data-dir "$data" --out "$out/run" $f 2>"$out/trace-$nz" >/dev/null || { echo "$name nz $nz failed"; tail -2 "$out/trace-$nz"; continue; }
        # the launches of the second step: everything after the first step's Adam launch, up to the second's
        awk '/^launch (random_gather_bernoulli|memory_gather_rows)_f32/ {n++} n == 2 && /^launch / {if ($3 > best[$2]) best[$2] = $3}
             END {for (k in best) print k, best[k]}' "$out/trace-$nz" | sort -k1,1 > "$out/items-$nz"
    done
    echo "== $name (work-items per launch at nz = 20 / 200 / 2000)"
    join -a1 -e - -o 0,1.2,2.2 "$out/items-20" "$out/items-200" | join -a1 -e - -o 0,1.2,1.3,2.2 - "$out/items-2000" \
        | awk '{printf "  %-52s %9s %9s %9s\n", $1, $2, $3, $4}'
done

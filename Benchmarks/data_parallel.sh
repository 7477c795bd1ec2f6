#!/usr/bin/env bash
# Data-parallel throughput on one machine, side by side in one run: the default Gaussian recipe for EPOCHS epochs of
# MNIST as one process (every core, then one thread) and as N ranks under Open MPI (the cores shared among them), with
# each configuration's images/s (the last epoch's), and the ranks' gradient exchange per step (read back, allreduce,
# write) and its share of a step, as `train` prints it.
# Usage: Benchmarks/data_parallel.sh [EPOCHS=2] [RANKS=2] [backend=cpu] [extra train flags...]
set -euo pipefail
epochs=${1:-2}; ranks=${2:-2}; backend=${3:-cpu}; shift $(( $# < 3 ? $# : 3 ))
bin=${LATENTKIT:-.build/release/latentkit}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
last_epoch() { tail -1 "$1/metrics.jsonl" | python3 -c 'import json,sys; m=json.load(sys.stdin); print("%8.0f images/s  %6.1f steps/s  loss %.3f" % (m["images_per_second"], m["images_per_second"]/'"${BATCH:-100}"', m["loss"]))'; }
run() {  # run NAME COMMAND...
    local name=$1; shift
    "$@" > "$out/log" 2>&1 || { echo "$name failed:"; tail -5 "$out/log"; exit 1; }
    printf "%-44s %s\n" "$name" "$(last_epoch "$out/run")"
    grep -o "gradient exchange.*" "$out/log" | tail -1 | sed 's/^/    /' || true
    rm -rf "$out/run"
}
echo "$(nproc) cores; $epochs epochs of the default Gaussian recipe (batch ${BATCH:-100}) on $backend $*"
run "1 process, $(nproc) threads" "$bin" train --backend "$backend" --epochs "$epochs" --out "$out/run" "$@"
run "1 process, 1 thread" env LATENTKIT_THREADS=1 "$bin" train --backend "$backend" --epochs "$epochs" --out "$out/run" "$@"
run "$ranks ranks (Open MPI), shared cores" mpirun.openmpi --oversubscribe -np "$ranks" "$bin" train --backend "$backend" --epochs "$epochs" --out "$out/run" "$@"

#!/usr/bin/env bash
# Peak resident memory (GNU time's "Maximum resident set size") of the default training run at 5 and 50 epochs (it must
# not grow with the epochs), of `eval --k 5000`, `analyze` and `plots` with a t-SNE of 10,000 codes of the 50-epoch run.
# Usage: Benchmarks/peak_memory.sh [path/to/latentkit] [data dir] [backend]   (needs /usr/bin/time: Debian's `time`)
set -euo pipefail
bin=${1:-.build/release/latentkit}
data=${2:-data/mnist}
backend=${3:-cpu}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
peak() {  # peak NAME COMMAND...: prints NAME, the peak RSS in MiB and the wall-clock seconds
    local name=$1; shift
    /usr/bin/time -v "$@" >"$out/stdout" 2>"$out/time" || { echo "$name failed:"; tail -3 "$out/time"; exit 1; }
    awk -v name="$name" '/Maximum resident set size/ {rss = $NF} /Elapsed \(wall clock\)/ {wall = $NF}
        END {printf "%-40s %8.1f MiB  %s\n", name, rss / 1024, wall}' "$out/time"
}
peak "train, 5 epochs" "$bin" train --backend "$backend" --data-dir "$data" --epochs 5 --out "$out/run5"
peak "train, 50 epochs" "$bin" train --backend "$backend" --data-dir "$data" --epochs 50 --out "$out/run50"
peak "eval --k 5000 --limit 1000" "$bin" eval "$out/run50" --backend "$backend" --data-dir "$data" --k 5000 --limit 1000
peak "analyze" "$bin" analyze "$out/run50" --backend "$backend" --data-dir "$data"
peak "plots --tsne-points 10000" "$bin" plots "$out/run50" --backend "$backend" --data-dir "$data" --out "$out/plots" --tsne-points 10000

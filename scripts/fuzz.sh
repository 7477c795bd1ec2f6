#!/usr/bin/env bash
# Fuzzes every reader of outside bytes (IDX images and labels, plain and gzip; checkpoint.safetensors; config.json; the
# metrics.jsonl, eval.json and analysis.json that `report` reads; .npy data files) with libFuzzer and AddressSanitizer, from a seed corpus
# of valid files. A crash, a sanitizer report, or a single allocation over 256 MiB (-malloc_limit_mb: a header that
# claims more must be refused before allocating) is a finding: its input is saved under fuzz-findings/ and the script
# fails. Prints the executions run per target. Fuzz/lsan-suppressions.txt lists the leaks of the toolchain's own libraries.
# Usage: scripts/fuzz.sh [runs per target, default 1000000] [target ...]   (targets: idx3 idx1 safetensors config report npy)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift || true
targets=${*:-idx3 idx1 safetensors config report npy}
swift build --package-path Fuzz --scratch-path .build-fuzz -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
bin=.build-fuzz/debug/LatentKitFuzz
work=$(mktemp -d)
trap 'rm -rf "$work" /dev/shm/latentkit-fuzz-*' EXIT
LATENTKIT_FUZZ_WRITE_SEEDS="$work/seeds" "$bin"
for f in "$work"/seeds/idx3/* "$work"/seeds/idx1/*; do gzip -k -n "$f"; done
cp Tests/LatentKitTests/Data/npy/*.npy "$work/seeds/npy/"  # files NumPy wrote: every version and element type
mkdir -p fuzz-findings
failed=0
for t in $targets; do
    mkdir -p "$work/corpus/$t"
    log="$work/$t.log"
    start=$(date +%s)
    status=0
    LSAN_OPTIONS=suppressions=$PWD/Fuzz/lsan-suppressions.txt LATENTKIT_FUZZ_TARGET=$t "$bin" "$work/corpus/$t" "$work/seeds/$t" -runs="$runs" -max_len=16384 -rss_limit_mb=2048 \
        -malloc_limit_mb=256 -timeout=10 -print_final_stats=1 -artifact_prefix="fuzz-findings/$t-" > "$log" 2>&1 || status=$?
    executed=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -n 1)
    corpus=$(ls "$work/corpus/$t" | wc -l)
    echo "fuzz.sh: $t: ${executed:-?} executions in $(( $(date +%s) - start )) s, corpus $corpus inputs, exit $status"
    if [ "$status" -ne 0 ]; then
        failed=1
        grep -E 'ERROR|SUMMARY|Fatal|panic|error:' "$log" | head -n 5 | sed 's/^/   /'
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: findings saved under fuzz-findings/" >&2
    exit 1
fi
echo "fuzz.sh: no finding"

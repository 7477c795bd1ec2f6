#!/usr/bin/env bash
# LatentKit's device bundle: checks and measures an OpenCL device on a node that has no Swift toolchain and no network.
# Unpack the archive anywhere and run ./run.sh. It finds NVIDIA's OpenCL (writing a private ICD entry when the system
# has none), lists the devices, runs `latentkit selftest` and `latentkit bench` on the device, trains the default
# Gaussian VAE for 10 epochs on MNIST and evaluates it (importance-sampled NLL, k = 5000, 1,000 test images), and
# writes everything into one results.json.
#
# Settings (environment): OUT (results folder, default ./latentkit-results), BACKEND (opencl), EPOCHS (10), LIMIT
# (training images, default all), EVAL_K (5000), EVAL_LIMIT (1000), BENCH_SECONDS (1), BENCH_BATCHES (100,1000,10000),
# LATENTKIT_OPENCL_DEVICE (which device, as `latentkit devices` numbers them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${OUT:-$PWD/latentkit-results}" && cd "${OUT:-$PWD/latentkit-results}" && pwd)
backend=${BACKEND:-opencl}
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
latentkit="$here/bin/latentkit"

# NVIDIA's OpenCL: the ICD loader looks in /etc/OpenCL/vendors (or OCL_ICD_VENDORS). Containers often have the
# driver's libnvidia-opencl.so.1 but no vendors entry for it; then point the loader at a private one.
icd_note="system ICD entries"
if [ -z "${OCL_ICD_VENDORS:-}" ] && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    nvidia=""
    for dir in $(echo "${LD_LIBRARY_PATH}" | tr ':' ' ') /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 \
               /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu/nvidia/current; do
        if [ -e "$dir/libnvidia-opencl.so.1" ]; then nvidia="$dir/libnvidia-opencl.so.1"; break; fi
    done
    if [ -z "$nvidia" ] && command -v ldconfig > /dev/null; then
        nvidia=$(ldconfig -p 2> /dev/null | awk '/libnvidia-opencl\.so\.1/ { print $NF; exit }')
    fi
    if [ -n "$nvidia" ]; then
        mkdir -p "$out/icd"
        echo "$nvidia" > "$out/icd/nvidia.icd"
        export OCL_ICD_VENDORS="$out/icd"
        icd_note="private entry for $nvidia"
    else
        icd_note="no NVIDIA OpenCL library found; system ICD entries"
    fi
fi
echo "run.sh: OpenCL from $icd_note; results in $out"

stages=""
failed=0
# stage NAME COMMAND...: runs the command with its output in NAME.txt, shows its last lines, records status and time.
stage() {
    local name=$1
    shift
    local start end status
    start=$(date +%s.%N)
    "$@" > "$out/$name.txt" 2>&1
    status=$?
    end=$(date +%s.%N)
    local seconds
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    echo "== $name: exit $status in $seconds s"
    tail -n 4 "$out/$name.txt" | sed 's/^/   /'
    stages="$stages${stages:+,}{\"name\": \"$name\", \"status\": $status, \"seconds\": $seconds}"
    [ "$status" -eq 0 ] || failed=1
}

rm -rf "$out/run"
stage devices "$latentkit" devices
stage selftest "$latentkit" selftest --backend "$backend" --json "$out/selftest.json"
stage bench "$latentkit" bench --backend "$backend" --seconds "${BENCH_SECONDS:-1}" --batches "${BENCH_BATCHES:-100,1000,10000}" \
    --json "$out/bench.json"
stage train "$latentkit" train --backend "$backend" --data-dir "$here/data/mnist" --epochs "${EPOCHS:-10}" --out "$out/run" \
    ${LIMIT:+--limit "$LIMIT"}
stage eval "$latentkit" eval "$out/run" --backend "$backend" --k "${EVAL_K:-5000}" --limit "${EVAL_LIMIT:-1000}" --json

# results.json: each part as the tool wrote it (null where a stage wrote nothing), the devices listing as text.
json_or_null() { if [ -s "$1" ]; then cat "$1"; else echo null; fi; }
escape() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/ /g' "$1" | awk '{ printf "%s\\n", $0 }'; }
{
    echo "{"
    echo "  \"opencl\": \"$icd_note\","
    echo "  \"devices\": \"$(escape "$out/devices.txt")\","
    echo "  \"stages\": [$stages],"
    echo "  \"selftest\": $(json_or_null "$out/selftest.json"),"
    echo "  \"bench\": $(json_or_null "$out/bench.json"),"
    if [ -s "$out/run/metrics.jsonl" ]; then
        echo "  \"train\": [$(paste -sd, "$out/run/metrics.jsonl")],"
    else
        echo "  \"train\": null,"
    fi
    echo "  \"eval\": $(if grep -q '^{' "$out/eval.txt" 2> /dev/null; then grep '^{' "$out/eval.txt" | tail -n 1; else echo null; fi)"
    echo "}"
} > "$out/results.json"
echo "run.sh: wrote $out/results.json$([ $failed -eq 0 ] || echo '; a stage failed, see its .txt file')"
exit $failed

#!/usr/bin/env bash
# Builds device-bundle.tar.xz at the repository root: everything a GPU node without a Swift toolchain or a network needs
# to check and measure LatentKit on its device. Inside, under latentkit-device/:
#   bin/latentkit   built with --static-swift-stdlib and stripped
#   lib/            every shared library `ldd` lists beyond the C and C++ runtimes (the OpenCL ICD loader, CLBlast,
#                   OpenBLAS with libgfortran and libquadmath, zlib)
#   data/mnist/     the MNIST IDX files
#   run.sh          finds NVIDIA's OpenCL, runs devices, selftest, bench, a 10-epoch Gaussian run and eval, and writes
#                   results.json (scripts/device/run.sh)
# With --test it then unpacks the archive outside the checkout and runs run.sh there against this machine's OpenCL
# (PoCL) in a bare environment (env -i PATH=/usr/bin:/bin), at small settings, and checks results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
test_after=0
[ "${1:-}" = "--test" ] && test_after=1
./scripts/setup.sh
swift build -c release --product latentkit --static-swift-stdlib --scratch-path .build-static

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bundle="$work/latentkit-device"
mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/data/mnist"
cp .build-static/release/latentkit "$bundle/bin/"
strip "$bundle/bin/latentkit"
# ldd lists the whole closure (CLBlast's libOpenCL, OpenBLAS's libgfortran and libquadmath); the C and C++ runtimes and
# the loader are the node's own.
ldd "$bundle/bin/latentkit" | awk '/=> \// { print $1, $3 }' | while read -r name path; do
    case "$name" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|libresolv.so*|libstdc++.so*|libgcc_s.so*|ld-linux*) ;;
        *) cp -L "$path" "$bundle/lib/$name" ;;
    esac
done
cp data/mnist/*-ubyte.gz "$bundle/data/mnist/"
cp scripts/device/run.sh "$bundle/run.sh"
git rev-parse HEAD > "$bundle/COMMIT" 2> /dev/null || echo unknown > "$bundle/COMMIT"
tar -C "$work" -cJf device-bundle.tar.xz latentkit-device
size=$(stat -c %s device-bundle.tar.xz)
echo "device-check.sh: device-bundle.tar.xz, $((size / 1024 / 1024)) MiB: bin/latentkit $(($(stat -c %s "$bundle/bin/latentkit") / 1024 / 1024)) MiB," \
     "lib/ $(ls "$bundle/lib" | tr '\n' ' ')"
if [ "$size" -gt $((60 * 1024 * 1024)) ]; then
    echo "device-check.sh: the archive is over 60 MiB" >&2
    exit 1
fi

if [ "$test_after" = 1 ]; then
    unpacked="$work/unpacked"
    mkdir -p "$unpacked"
    tar -C "$unpacked" -xJf device-bundle.tar.xz
    env -i PATH=/usr/bin:/bin OUT="$work/results" EPOCHS=1 LIMIT=1000 EVAL_K=20 EVAL_LIMIT=50 BENCH_SECONDS=0.05 BENCH_BATCHES=100 \
        "$unpacked/latentkit-device/run.sh"
    python3 - "$work/results/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
stages = {s["name"]: s["status"] for s in r["stages"]}
assert all(v == 0 for v in stages.values()), stages
assert r["selftest"] and all(c["passed"] for c in r["selftest"]), "a selftest check failed"
assert r["bench"] and r["train"] and r["eval"], "a part is missing"
print(f"device-check.sh: results.json complete: {len(r['selftest'])} checks passed, {len(r['bench'])} workloads timed, "
      f"{len(r['train'])} epoch(s) trained, eval {r['eval']}")
PY
fi

#!/usr/bin/env bash
# Sets up the machine and runs the whole test suite against every backend (CPU and OpenCL), with every buffer the
# tensor pool hands out filled with NaN first (LATENTKIT_POISON_BUFFERS=1), so that an op that reads memory before
# writing it fails a test instead of passing by chance. With LATENTKIT_REQUIRE_OPENCL=1 (as CI sets it) a missing
# OpenCL platform fails the run; without it, a run in which no OpenCL case ran says so on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
LATENTKIT_POISON_BUFFERS=1 swift test -c release --skip-build "$@" 2>&1 | tee "$log"
if [ $# -eq 0 ] && ! grep -q '→ .opencl' "$log"; then
    echo "test.sh: NOTE: no OpenCL platform here, so only the CPU backend was tested (0 OpenCL cases ran); install"
    echo "test.sh: pocl-opencl-icd for an OpenCL device on the CPU, or set LATENTKIT_REQUIRE_OPENCL=1 to make this a failure"
fi

#!/usr/bin/env bash
# Sets up the machine and runs the whole test suite against every backend (CPU and OpenCL).
# With LATENTKIT_REQUIRE_OPENCL=1 (as CI sets it) a missing OpenCL platform fails the run instead of
# leaving the OpenCL backend untested.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build "$@"

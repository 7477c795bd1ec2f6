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
# Bounded: a suite that hangs fails within LATENTKIT_SUITE_TIMEOUT seconds (default 1800; it takes about 5 minutes
# here), shows what its processes wait in (scripts/bounded.sh) and names the tests still running, instead of holding CI
# until its own limit. (Each program a test starts is bounded as well: runProgram in Tests/TestSupport/Tool.swift.)
# `stdbuf -oL`: the test runner writes its progress to a pipe in 4 KB blocks otherwise, so a killed run's log would end
# mid-line, kilobytes before the test that hung.
limit=${LATENTKIT_SUITE_TIMEOUT:-1800}
set +e
LATENTKIT_POISON_BUFFERS=1 ./scripts/bounded.sh "$limit" stdbuf -oL -eL swift test -c release --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "test.sh: FAILED: the suite did not end within $limit s (LATENTKIT_SUITE_TIMEOUT); tests started and not ended:"
    python3 - "$log" << 'PY'
import re, sys
running = {}
for line in open(sys.argv[1], errors="replace"):
    if "Test run started" in line:
        continue
    if m := re.search(r"◇ Test (?:case passing .* to )?(\S+\(.*?\)|\S+) started", line):
        if "case passing" in line or m.group(1) not in running:  # a test's latest case, else the test
            running[m.group(1)] = line.strip()
    elif m := re.search(r"[✔✘↷] Test (\S+\(.*?\)|\S+) .*(passed|failed|skipped)", line):
        running.pop(m.group(1), None)
print("\n".join("  " + v for v in running.values()) or "  (none: the runner itself hung)")
PY
fi
[ "$status" = 0 ] || exit "$status"
if [ $# -eq 0 ] && ! grep -q '→ .opencl' "$log"; then
    echo "test.sh: NOTE: no OpenCL platform here, so only the CPU backend was tested (0 OpenCL cases ran); install"
    echo "test.sh: pocl-opencl-icd for an OpenCL device on the CPU, or set LATENTKIT_REQUIRE_OPENCL=1 to make this a failure"
fi

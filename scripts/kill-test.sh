#!/usr/bin/env bash
# kill -9 at random moments (issue 12): trains with a checkpoint every 4 steps and kills the process with SIGKILL after a
# random 0.1–1.5 s, again and again, each time resuming with `train --resume`, until the run finishes; then checks that
# its final parameters and Adam moments equal those of an uninterrupted run bit for bit. After every kill the checkpoint
# must parse and `--resume` must start from it (verifying its checksums, with no fallback to the previous checkpoint),
# and the finished run's metrics.jsonl must hold each epoch once. Rounds repeat until at least KILLS kills (default 200). Counts the kills
# that landed while a checkpoint was being written (its .tmp file present). Not in CI: it takes a few minutes.
# Usage: scripts/kill-test.sh [KILLS] [path/to/latentkit]    (environment: BACKEND, default cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-200}
bin=$(realpath "${2:-.build/release/latentkit}")
backend=${BACKEND:-cpu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--backend "$backend" --data-dir data/mnist --limit 5000 --epochs 6 --checkpoint-every 4)

# The tensors of a checkpoint (names, shapes, bytes), without its metadata (which holds wall-clock seconds).
tensors() {
    python3 - "$1" <<'PY'
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
body = b[8 + n:]
for name in sorted(k for k in h if k != "__metadata__"):
    s, e = h[name]["data_offsets"]
    assert e - s == 4 * max(1, __import__("math").prod(h[name]["shape"])) or h[name]["shape"] == [], name
    print(name, h[name]["shape"], hashlib.sha256(body[s:e]).hexdigest())
PY
}

"$bin" train "${flags[@]}" --out "$work/reference" > /dev/null
tensors "$work/reference/checkpoint.safetensors" > "$work/reference.txt"

kills=0 in_write=0 rounds=0 resumes=0
while [ "$kills" -lt "$want" ]; do
    rounds=$((rounds + 1))
    run="$work/run-$rounds"
    while true; do
        if [ -f "$run/checkpoint.safetensors" ]; then
            args=(train --resume "$run" --backend "$backend" --data-dir data/mnist --checkpoint-every 4)
            resumes=$((resumes + 1))
        else
            rm -rf "$run"  # killed before its first checkpoint: start again
            args=(train "${flags[@]}" --out "$run")
        fi
        "$bin" "${args[@]}" > "$work/out.txt" 2>&1 &
        pid=$!
        sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.1 + 1.4 * r / 32767 }')"
        if ! kill -0 "$pid" 2> /dev/null; then
            wait "$pid" || { echo "kill-test: train failed without a kill:"; cat "$work/out.txt"; exit 1; }
            break  # the run finished
        fi
        kill -9 "$pid"
        wait "$pid" 2> /dev/null || true
        # a resume verifies the checkpoint's checksums and would fall back to the previous one in a note: never needed here
        if grep -q "fails its CRC-32C check\|is damaged" "$work/out.txt"; then
            echo "kill-test: a kill left a checkpoint that fails verification:"; cat "$work/out.txt"; exit 1
        fi
        kills=$((kills + 1))
        [ -f "$run/checkpoint.safetensors.tmp" ] && in_write=$((in_write + 1))
        if [ -f "$run/checkpoint.safetensors" ]; then
            tensors "$run/checkpoint.safetensors" > /dev/null || { echo "kill-test: checkpoint unreadable after kill $kills"; exit 1; }
        fi
    done
    tensors "$run/checkpoint.safetensors" > "$work/final.txt"
    if ! cmp -s "$work/reference.txt" "$work/final.txt"; then
        echo "kill-test: round $rounds ended with parameters that differ from the uninterrupted run"
        diff "$work/reference.txt" "$work/final.txt" | head
        exit 1
    fi
    # one metrics line per epoch, in order: a line appended before a checkpoint that a kill cut off is dropped on resume
    python3 -c 'import json, sys; e = [json.loads(l)["epoch"] for l in open(sys.argv[1])]; sys.exit(e != list(range(1, 7)))' \
        "$run/metrics.jsonl" || { echo "kill-test: round $rounds: metrics.jsonl epochs are not 1..6"; cat "$run/metrics.jsonl"; exit 1; }
    echo "kill-test: round $rounds finished equal to the uninterrupted run bit for bit ($kills kills so far)"
done
echo "kill-test: $kills kills ($in_write inside a checkpoint write), $resumes resumes, $rounds runs finished, all equal to the" \
     "uninterrupted run bit for bit; no checkpoint lost"

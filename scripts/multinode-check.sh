#!/usr/bin/env bash
# Data-parallel training across "nodes" over TCP (issue 24): NODES Linux network namespaces (default 2), each with its
# own address on a private bridge (10.77.0.0/24, in a namespace of its own, so no traffic touches the machine's own
# network) and its own host name (a UTS namespace), joined by virtual Ethernet pairs. mpirun runs in node 0 and reaches
# the others through an ssh stand-in that enters their namespaces, as it reaches real nodes through ssh. TCP only:
# Open MPI with `--mca pml ob1 --mca btl tcp,self`, MPICH (UCX) with UCX_TLS=tcp,self and MPIR_CVAR_NOLOCAL=1.
#
# Checks, each run bounded by `timeout`:
#   1. one rank per node trains as one process at equal global batch (the loss curve within 1e-5, as DataParallelTests
#      asks on one machine), under Open MPI and under MPICH, and the gradients crossed the virtual network;
#   2. the per-step gradient exchange over TCP, beside the same ranks on one node over shared memory;
#   3. a node lost: every process of node NODES-1 killed mid-epoch ends the job within seconds, the last checkpoint
#      verifies, and the job resumes on the remaining nodes, at the same global batch, to the curve of an uninterrupted
#      run (under Open MPI and MPICH);
#   4. a link cut (`ip link set eth0 down` in the last node) mid-step ends the job with a line naming the rank within
#      LATENTKIT_MPI_TIMEOUT (here 8 s) plus, under Open MPI, its daemon keepalive (5 + 3 x 2 s); both MPIs.
# A run that did all its work and then hung in MPI_Finalize (openucx/ucx#8738), ended by LatentKit's finalize deadline,
# is accepted once per check with a note (finished_but_for_teardown).
# The namespaces are removed when it ends, also on failure or Ctrl-C.
#
# Usage: scripts/multinode-check.sh [NODES] [path/to/latentkit]   (environment: BATCH, default 100, and LIMIT, default
# 2000 images, for checks 1 and 2; LATENTKIT_MPI_BUCKET, 0 for the single exchange after the backward pass)
# Needs root (network namespaces). Without the rights it prints one SKIPPED line and exits 0, or, with
# LATENTKIT_REQUIRE_MULTINODE=1 (CI), prints FAILED and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-2}
bin=$(realpath "${2:-.build/release/latentkit}")
data=$(realpath data/mnist)
say() { echo "multinode-check: $*"; }
fail() { say "FAILED: $*"; exit 1; }
skip() {
    [ "${LATENTKIT_REQUIRE_MULTINODE:-0}" = 1 ] && fail "$* (LATENTKIT_REQUIRE_MULTINODE=1)"
    say "SKIPPED: $*"
    exit 0
}
[[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 2 ] && [ "$nodes" -le 16 ] || fail "NODES must be 2 to 16, got '$nodes'"
[ -x "$bin" ] || fail "$bin is not built (swift build -c release)"
ls "$data"/train-images-idx3-ubyte* > /dev/null 2>&1 || fail "no MNIST in data/mnist (scripts/setup.sh fetches it)"
[ "$(id -u)" = 0 ] || skip "network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN); CI runs as root"
for tool in ip unshare timeout python3 mpirun.openmpi mpiexec.hydra; do
    command -v "$tool" > /dev/null || skip "$tool is missing (scripts/setup.sh installs iproute2, Open MPI and MPICH)"
done

prefix=lkmn$$
work=$(mktemp -d)
namespaces=()
cleanup() {
    for ns in "${namespaces[@]}"; do
        ip netns pids "$ns" 2> /dev/null | xargs -r kill -9 2> /dev/null || true
        ip netns del "$ns" 2> /dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
add_namespace() {
    ip netns add "$1" 2> "$work/err" || skip "cannot create network namespace $1: $(head -1 "$work/err")"
    namespaces+=("$1")
    ip -n "$1" link set lo up
}

# the switch: a bridge in a namespace of its own; node i: address 10.77.0.(i+1) on eth0, host name lk-node<i>
add_namespace "$prefix-switch"
ip -n "$prefix-switch" link add br0 type bridge
ip -n "$prefix-switch" link set br0 up
: > "$work/hosts"
for i in $(seq 0 $((nodes - 1))); do
    add_namespace "$prefix-$i"
    ip link add name eth0 netns "$prefix-$i" type veth peer name port$i netns "$prefix-switch"
    ip -n "$prefix-switch" link set port$i master br0
    ip -n "$prefix-switch" link set port$i up
    ip -n "$prefix-$i" addr add "10.77.0.$((i + 1))/24" dev eth0
    ip -n "$prefix-$i" link set eth0 up
    echo "10.77.0.$((i + 1)) $prefix-$i lk-node$i" >> "$work/hosts"
done

# ssh stand-in: [options] HOST COMMAND... runs COMMAND in HOST's namespace under HOST's host name
cat > "$work/agent" << EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1; shift
line=\$(grep "^\$host " "$work/hosts") || { echo "agent: unknown host \$host" >&2; exit 255; }
set -- \$line "\$*"
exec ip netns exec "\$2" unshare --uts /bin/sh -c 'hostname "\$0" && exec /bin/sh -c "\$1"' "\$3" "\$4"
EOF
chmod +x "$work/agent"

# on NODE COMMAND...: runs COMMAND in node NODE's namespace under its host name
on() {
    local node=$1
    shift
    ip netns exec "$prefix-$node" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "lk-node$node" "$@"
}
hosts() { seq -s, -f "10.77.0.%g" "$1" "$2"; }  # addresses of nodes FIRST-1 .. LAST-1, comma-separated
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent="$work/agent"
export LATENTKIT_MPI_TIMEOUT=${LATENTKIT_MPI_TIMEOUT:-60} LATENTKIT_MPI_BUCKET=${LATENTKIT_MPI_BUCKET:-16384}
tcp_openmpi=(--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24
             --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3
             -x LATENTKIT_MPI_TIMEOUT -x LATENTKIT_MPI_BUCKET)
# openmpi RANKS HOSTS MPIRUN_FLAGS... -- LATENTKIT_ARGS...   (from node 0, bounded in time)
openmpi() {
    local ranks=$1 hosts=$2 flags=()
    shift 2
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    on 0 timeout 300 mpirun.openmpi --host "$hosts" -np "$ranks" "${flags[@]}" "$bin" "$@"
}
mpich() {
    local ranks=$1 hosts=$2 flags=()
    shift 2
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    on 0 timeout 300 env "${flags[@]}" mpiexec.hydra -launcher ssh -launcher-exec "$work/agent" -hosts "$hosts" -np "$ranks" "$bin" "$@"
}
rx_bytes() { ip netns exec "$prefix-$1" cat "/sys/class/net/eth0/statistics/rx_bytes"; }
exchange() { tr '\r' '\n' < "$1" | grep -o 'gradient exchange [0-9.]* ms/step (allreduce [0-9.]* ms, [0-9]*% of a step; [0-9]* floats in [0-9]* buckets*)' | tail -1; }
# compare A B: the largest difference of two runs' per-epoch loss terms, relative to the loss (DataParallelTests's measure)
compare() {
    python3 - "$1/metrics.jsonl" "$2/metrics.jsonl" << 'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
assert [x["epoch"] for x in a] == [x["epoch"] for x in b], ("epochs differ", len(a), len(b))
d = max(abs(x[k] - y[k]) / abs(y["loss"]) for x, y in zip(a, b) for k in ("loss", "reconstruction", "kl"))
print(f"{d:.2e}")
sys.exit(0 if d <= 1e-5 else 1)
PY
}

# finished_but_for_teardown LOG: true, with a note, when the run in LOG did all its work ("done:", no error line) and
# failed only because MPI_Finalize hung after it, ended by LatentKit's finalize deadline (MPICH over UCX's TCP
# transport, openucx/ucx#8738: the rank exits with the run's code, but mpiexec then exits 1). Accepted once per check,
# not twice: the hang is MPI's, rare and seen only under load; the TCP and resumed runs' curves are still compared.
teardown_hangs=0
finished_but_for_teardown() {
    grep -q "^done: " "$1" && grep -q "MPI_Finalize has not returned" "$1" && ! grep -q "^Error" "$1" || return 1
    teardown_hangs=$((teardown_hangs + 1))
    [ $teardown_hangs -le 1 ] || { say "MPI_Finalize hung after the work a second time in this check"; return 1; }
    say "note: the work ended, then MPI's teardown hung (openucx/ucx#8738) and the finalize deadline ended it;" \
        "accepted once: $(grep -m1 -o "rank [0-9]* ([^)]*): MPI_Finalize has not returned in [0-9.]* s" "$1")"
}
# run_failed LOG WHAT: after a job that exited non-zero with its output in LOG: accepted as above, or the check fails
run_failed() { finished_but_for_teardown "$1" || { tail -20 "$1"; fail "$2"; }; }

epochs=3 batch=${BATCH:-100} limit=${LIMIT:-2000}
train=(train --backend cpu --data-dir "$data" --limit "$limit" --batch-size "$batch")
"$bin" "${train[@]}" --epochs $epochs --out "$work/one" > /dev/null
say "$nodes nodes (namespaces $prefix-0..$((nodes - 1))), one rank each, global batch $batch, $limit MNIST images, $epochs epochs"

# 1 and 2: both implementations, TCP across nodes and shared memory within node 0
all=$(hosts 1 "$nodes")
for impl in openmpi mpich; do
    before=$(rx_bytes $((nodes - 1)))
    if [ $impl = openmpi ]; then
        openmpi "$nodes" "$all" "${tcp_openmpi[@]}" -- "${train[@]}" --epochs $epochs --out "$work/tcp-$impl" > "$work/tcp-$impl.txt" 2>&1 \
            || run_failed "$work/tcp-$impl.txt" "Open MPI over TCP across $nodes nodes"
        openmpi "$nodes" "10.77.0.1:$nodes" -x LATENTKIT_MPI_TIMEOUT -x LATENTKIT_MPI_BUCKET -- "${train[@]}" --epochs $epochs --out "$work/shm-$impl" > "$work/shm-$impl.txt" 2>&1 \
            || run_failed "$work/shm-$impl.txt" "Open MPI over shared memory on node 0"
    else
        mpich "$nodes" "$all" UCX_TLS=tcp,self MPIR_CVAR_NOLOCAL=1 -- "${train[@]}" --epochs $epochs --out "$work/tcp-$impl" > "$work/tcp-$impl.txt" 2>&1 \
            || run_failed "$work/tcp-$impl.txt" "MPICH over TCP across $nodes nodes"
        mpich "$nodes" "10.77.0.1:$nodes" LATENTKIT_MPI_TIMEOUT=$LATENTKIT_MPI_TIMEOUT -- "${train[@]}" --epochs $epochs --out "$work/shm-$impl" > "$work/shm-$impl.txt" 2>&1 \
            || run_failed "$work/shm-$impl.txt" "MPICH over shared memory on node 0"
    fi
    received=$(( $(rx_bytes $((nodes - 1))) - before ))
    difference=$(compare "$work/tcp-$impl" "$work/one") || fail "$impl over TCP: the loss curve differs from one process by $difference"
    # every step's allreduce moves the gradients (407,224 floats) through every node: at least half that reached the last
    [ "$received" -gt $((limit / batch * epochs * 407224 * 2)) ] || fail "$impl: only $received bytes reached node $((nodes - 1)) over its virtual link"
    say "$impl, TCP: the curve equals one process's (largest relative difference $difference); node $((nodes - 1)) received $((received / 1000000)) MB"
    say "$impl, TCP across $nodes nodes: $(exchange "$work/tcp-$impl.txt")"
    say "$impl, shared memory, $nodes ranks on node 0: $(exchange "$work/shm-$impl.txt")"
done

# a host that cannot be reached: mpirun ends with an error, bounded in time
status=0
openmpi 2 "10.77.0.1,10.77.0.99" "${tcp_openmpi[@]}" -- "${train[@]}" --epochs 1 --out "$work/unreachable" > "$work/unreachable.txt" 2>&1 || status=$?
[ $status -ne 0 ] && [ $status -ne 124 ] || fail "mpirun with an unreachable host ended with status $status (124: not within 300 s)"
say "an unreachable host (10.77.0.99): mpirun ends at once with exit $status: $(grep -m1 -i "unknown host\|not.*reach\|ORTE" "$work/unreachable.txt" || head -1 "$work/unreachable.txt")"

# launch IMPL RANKS HOSTS LATENTKIT_ARGS...: over TCP only, from node 0, with each implementation's flags
mpich_tcp=(UCX_TLS=tcp,self MPIR_CVAR_NOLOCAL=1)  # MPICH forwards the whole environment; Open MPI the -x variables
launch() {
    local impl=$1 ranks=$2 hosts=$3
    shift 3
    if [ "$impl" = openmpi ]; then openmpi "$ranks" "$hosts" "${tcp_openmpi[@]}" -- "$@"; else mpich "$ranks" "$hosts" "${mpich_tcp[@]}" -- "$@"; fi
}
# wait_for FILE LINES JOB LOG: until FILE has LINES lines (the job still running), at most 120 s
wait_for() {
    local deadline=$((SECONDS + 120))
    until [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; do
        kill -0 "$3" 2> /dev/null || { tail "$4"; fail "the run ended before the fault could be injected"; }
        [ $SECONDS -lt $deadline ] || fail "no progress in 120 s"
        sleep 0.1
    done
}
since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
last=$((nodes - 1)) left=$((nodes - 1))
"$bin" "${train[@]}" --epochs 8 --out "$work/whole" > /dev/null
for impl in openmpi mpich; do
    # 3. a node lost mid-epoch: kill every process of the last node, time the job's end, resume on the others
    run="$work/lost-$impl"
    launch $impl "$nodes" "$all" "${train[@]}" --epochs 8 --checkpoint-every 7 --out "$run" > "$run.txt" 2>&1 &
    job=$!
    wait_for "$run/metrics.jsonl" 2 $job "$run.txt"
    sleep 0.$((RANDOM % 9 + 1))
    at_epoch=$(($(wc -l < "$run/metrics.jsonl") + 1))
    killed_at=$(date +%s.%N)
    ip netns pids "$prefix-$last" | xargs -r kill -9
    status=0
    wait $job || status=$?
    ended=$(since "$killed_at")
    [ $status -ne 0 ] || fail "$impl: the job exited 0 although node $last was killed"
    [ $status -ne 124 ] || fail "$impl: the job did not end within 300 s of losing node $last"
    python3 -c "import sys; sys.exit(float(sys.argv[1]) > 30)" "$ended" || fail "$impl: the job took $ended s to end after losing a node"
    ip netns pids "$prefix-0" | xargs -r kill -9  # anything of the job that outlived it (nothing, so far)
    "$bin" eval "$run" --backend cpu --data-dir "$data" --k 0 --limit 10 > /dev/null 2> "$work/eval.txt" \
        || { cat "$work/eval.txt"; fail "$impl: the last checkpoint does not verify after the node was lost"; }
    launch $impl "$left" "$(hosts 1 $left)" train --resume "$run" --backend cpu --data-dir "$data" > "$work/resume.txt" 2>&1 \
        || run_failed "$work/resume.txt" "$impl: resuming on $left node(s)"
    grep -q "^note:" "$work/resume.txt" && { grep "^note:" "$work/resume.txt"; fail "$impl: the resume fell back to the previous checkpoint"; }
    difference=$(compare "$run" "$work/whole") || fail "$impl: the resumed run's curve differs from an uninterrupted one by $difference"
    say "$impl, node $last killed in epoch $at_epoch: the job ended in $ended s (exit $status);" \
        "the checkpoint verified; resumed on $left node(s) at global batch $batch to the uninterrupted curve (largest relative difference $difference)"

    # 4. a link cut mid-step: ends within LATENTKIT_MPI_TIMEOUT (8 s here), with a line naming the rank
    run="$work/cut-$impl"
    LATENTKIT_MPI_TIMEOUT=8 launch $impl "$nodes" "$all" "${train[@]}" --epochs 100 --out "$run" > "$run.txt" 2>&1 &
    job=$!
    wait_for "$run/metrics.jsonl" 1 $job "$run.txt"
    sleep 0.5
    cut_at=$(date +%s.%N)
    ip -n "$prefix-$last" link set eth0 down
    status=0
    wait $job || status=$?
    ended=$(since "$cut_at")
    [ $status -ne 0 ] && [ $status -ne 124 ] || { tail "$run.txt"; fail "$impl: after the link was cut the job ended with status $status (124: not within 300 s)"; }
    python3 -c "import sys; sys.exit(float(sys.argv[1]) > 40)" "$ended" || fail "$impl: the job took $ended s to end after the link was cut"
    if line=$(grep -m1 "^Error: rank [0-9]* (lk-node[0-9]*): MPI_" "$run.txt"); then
        say "$impl, link of node $last cut mid-step: the job ended in $ended s (exit $status): $line"
    else
        tail "$run.txt"
        fail "$impl: no line names the rank that gave up (the job ended in $ended s, exit $status)"
    fi
    # the cut-off node's processes end by their own watchdog; whatever is left goes, and the link comes back
    for i in $(seq 0 $last); do ip netns pids "$prefix-$i" | xargs -r kill -9; done
    ip -n "$prefix-$last" link set eth0 up
done
say "passed"

#!/usr/bin/env bash
# bounded.sh SECONDS COMMAND...: runs COMMAND and kills it, with every process of its group, after SECONDS (exit 124),
# so that a hang ends a CI stage with a failure instead of holding the run until CI's own limit. Thirty seconds before
# that it prints every process (as a tree) and every thread with the kernel function it waits in, so that the hang
# names itself in the log while its processes still exist.
set -uo pipefail
limit=$1
shift
ended=$(mktemp)
rm -f "$ended"
( for ((waited = 0; waited < limit - 30; waited++)); do
      sleep 1
      [ -e "$ended" ] || ! kill -0 $$ 2> /dev/null && exit 0
  done
  echo "bounded.sh: '$*' has run $((limit - 30)) s of its $limit; its processes and threads now:"
  ps -eo pid,ppid,stat,etimes,wchan:24,args --forest | awk '$1 != 2 && $2 != 2' | grep -v -e ' ps -e' -e ' awk ' -e ' grep -v'
  ps -eLo pid,tid,ppid,stat,wchan:24,comm | awk '$1 != 2 && $3 != 2' ) >&2 &
watchdog=$!
timeout -k 30 "$limit" "$@"
status=$?
touch "$ended"
wait "$watchdog" 2> /dev/null
rm -f "$ended"
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    echo "bounded.sh: FAILED: '$*' did not end within $limit s" >&2
fi
exit $status

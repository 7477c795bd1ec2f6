#!/usr/bin/env bash
# Fails when git tracks something that is not source: a downloaded package (.deb, .whl, .rpm, .tar.gz of a
# package), a fuzzer artefact (crash-*, leak-*, timeout-*, oom-*) or any file over 2 MiB (the generated
# special-function table, 1.3 MB, is the largest source file and stays under it).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((2 * 1024 * 1024))
bad=0
while IFS= read -r -d '' f; do
    name=$(basename "$f")
    case "$name" in
        crash-*|leak-*|timeout-*|oom-*) echo "tree-check: $f is a fuzzer artefact; remove it (git rm) and keep it out"; bad=1 ;;
        *.deb|*.whl|*.rpm|*.apk) echo "tree-check: $f is a downloaded package; remove it (git rm) and keep it out"; bad=1 ;;
    esac
    if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt "$limit" ]; then
        echo "tree-check: $f is $(stat -c %s "$f") bytes, over the 2 MiB a source file may have"; bad=1
    fi
done < <(git ls-files -z)
[ "$bad" -eq 0 ] && echo "tree-check: $(git ls-files | wc -l) tracked files, no package, fuzzer artefact or file over 2 MiB"
exit "$bad"

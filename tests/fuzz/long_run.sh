#!/bin/bash
# long_run.sh - the long heap-fuzzer run (not in default CI; README.md here).
#
#   bash tests/fuzz/long_run.sh [OPS [SEED [JOBS]]]
#
# Runs gh_fuzz_heap for every policy, OPS operations each (default 1e8),
# JOBS policies at a time (default 1), from the ci build (build/ci; set
# BUILD to use another), and prints each policy's figures: operations,
# cases, aborts by message, time.  GH_FUZZ_SECONDS=N stops each policy
# after N seconds (the figures then say how far it got).  Exit status 1 if
# any policy found a failure.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ops=${1:-100000000} seed=${2:-20261206} jobs=${3:-1}
bin=${BUILD:-build/ci}/tests/fuzz/gh_fuzz_heap
[ -x "$bin" ] || { echo "long_run.sh: $bin not built (cmake --build --preset ci)" >&2; exit 2; }
policies=$(sed -n 's/^#define GLASSHEAP_POLICIES(X) *//p' include/glassheap/policies.h | grep -o 'X([a-z]*)' | tr -d 'X()')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
run() { "$bin" "$1" "$ops" "$seed" >"$tmp/$1.out" 2>"$tmp/$1.err"; echo $? >"$tmp/$1.rc"; }
n=0
for p in $policies; do
    run "$p" &
    n=$((n + 1))
    if [ "$n" -ge "$jobs" ]; then wait -n; n=$((n - 1)); fi
done
wait
for p in $policies; do
    cat "$tmp/$p.out"
    if [ "$(cat "$tmp/$p.rc")" != 0 ]; then status=1; head -40 "$tmp/$p.err"; fi
done
exit $status

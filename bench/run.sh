#!/usr/bin/env bash
# bench/run.sh - every benchmark, one command.
#
#   bash bench/run.sh            # RUNS=5 interleaved rounds by default
#   bash bench/run.sh harden     # the hardened mode's cost only: every
#                                # policy with and without GLASSHEAP_HARDEN=1,
#                                # side by side, into bench/HARDEN.md
#   bash bench/run.sh checks     # the default checks' cost only: every
#                                # policy against the library built without
#                                # them, into bench/CHECKS.md
#
# Builds the release preset, then
#   1. bench_mix under glibc, jemalloc, mimalloc and every glassheap policy
#      (bench/compare.py: time per malloc+free pair as a ratio to glibc,
#      peak RSS; plus best fit without the segment and with a trace);
#   2. bench_threads (bench/threads.py): wall-clock time of thread-local
#      churn, cross-thread frees, producer/consumer and a realloc mix at 1, 2,
#      4 and 8 threads under the same allocators (THREAD_RUNS rounds, 3 by
#      default);
#   3. real programs (bench/programs.py): python3, cc1, sort, sqlite3 and a
#      multi-threaded C++ program, wall time and peak RSS (PROGRAM_RUNS
#      rounds, 3 by default);
#   4. bench_scaling: one malloc+free pair as the free blocks grow from 1e2
#      to 1e6, every policy and a linear list (median of 3 repetitions),
#      drawn as docs/scaling.svg;
# and writes every table, with the machine and the commands, to
# bench/RESULTS.md.  The whole run takes about 10 minutes here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-5}
THREAD_RUNS=${THREAD_RUNS:-3}
PROGRAM_RUNS=${PROGRAM_RUNS:-3}
cmake --preset release >/dev/null
cmake --build --preset release --target glassheap bench_mix bench_scaling bench_threads bench_run \
  bench_cxx_threads >/dev/null
if [ "${1:-}" = harden ]; then
  GH_BENCH_COMMAND="RUNS=$RUNS bash bench/run.sh harden" \
    python3 bench/compare.py --build build/release --runs "$RUNS" --harden --markdown bench/HARDEN.md
  echo "bench/run.sh: wrote bench/HARDEN.md"
  exit 0
fi
if [ "${1:-}" = checks ]; then
  cmake --build --preset release --target glassheap_unchecked >/dev/null
  GH_BENCH_COMMAND="RUNS=$RUNS bash bench/run.sh checks" \
    python3 bench/compare.py --build build/release --runs "$RUNS" --checks --markdown bench/CHECKS.md
  echo "bench/run.sh: wrote bench/CHECKS.md"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GH_BENCH_COMMAND="RUNS=$RUNS THREAD_RUNS=$THREAD_RUNS PROGRAM_RUNS=$PROGRAM_RUNS bash bench/run.sh" \
  python3 bench/compare.py --build build/release --runs "$RUNS" --markdown "$tmp/compare.md"
python3 bench/threads.py --build build/release --runs "$THREAD_RUNS" --modes --markdown "$tmp/threads.md"
python3 bench/programs.py --build build/release --runs "$PROGRAM_RUNS" --markdown "$tmp/programs.md"
build/release/bench/bench_scaling --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json >"$tmp/scaling.json"
mkdir -p docs
# The cache's bounds were measured by hand (the builds it compares are
# gone): that section is carried over from the file as it is.
if [ -f bench/RESULTS.md ]; then
  awk '/^## The cache.s bounds/{on=1} /^## / && !/^## The cache.s bounds/{on=0} on' bench/RESULTS.md >"$tmp/bounds.md"
else
  : >"$tmp/bounds.md"
fi
python3 bench/plot_scaling.py "$tmp/scaling.json" docs/scaling.svg --markdown "$tmp/scaling.md"
{
  cat "$tmp/compare.md"
  echo
  echo "## Threads: wall-clock time"
  echo
  echo "bench_threads (bench/bench_threads.c): each thread does the same fixed work, so with more"
  echo "threads than the machine's cores the time grows for every allocator; compare the columns of"
  echo "one row.  Command: \`python3 bench/threads.py --build build/release --runs $THREAD_RUNS --modes\`."
  echo
  cat "$tmp/threads.md"
  echo
  cat "$tmp/bounds.md"
  echo "## Real programs"
  echo
  echo "bench/programs.py (the programs and their inputs are described there).  Command:"
  echo "\`python3 bench/programs.py --build build/release --runs $PROGRAM_RUNS\`."
  echo
  cat "$tmp/programs.md"
  echo
  echo "## Free-block scaling"
  echo
  echo "CPU ns per malloc+free pair on the arena heap with N free blocks (bench_scaling, median of 3;"
  echo "the splinter pattern: N small free blocks, then 64 free 4 KiB blocks at the top; requests"
  echo "16 B - 3 KiB).  'linear list' is first fit over an address-ordered list of the same blocks."
  echo "Figure: [docs/scaling.svg](../docs/scaling.svg)."
  echo
  echo "Command: \`bash bench/run.sh\` (this file), or \`build/release/bench/bench_scaling\` alone."
  echo
  cat "$tmp/scaling.md"
} >bench/RESULTS.md
echo "bench/run.sh: wrote bench/RESULTS.md and docs/scaling.svg"

#!/usr/bin/env python3
"""shm_cost.py - what the segment costs: bench_threads under glassheap with
GLASSHEAP_SHM=1 (counters in place, region tables, the request look) and
GLASSHEAP_SHM=0 (no segment), interleaved, wall-clock time.

    python3 bench/shm_cost.py [--build build/release] [--runs 9] [--ops N]
        [--lib NAME=PATH ...] [--markdown FILE]

For every policy, the cache on and off, and 1 and 2 threads of each
workload, the median wall time of `runs` interleaved rounds with and
without the segment, and the cost: the median of the rounds' own ratios
(each round runs SHM=0 and SHM=1 back to back, so a slow spell of the
shared machine hits both), with the middle half of those ratios beside it
- where that spread is wider than the cost, the row cannot tell a cost
from the machine's noise (producer/consumer: its ring hands over with
sched_yield, and its time jumps several-fold with how the two threads
happen to be scheduled).  --lib adds another build of the library (e.g.
the tree before a change) measured in the same rounds; --policy and
--cache narrow the table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

POLICIES = ("best", "buddy")
WORKLOADS = (("local", 1), ("local", 2), ("server", 2), ("prodcons", 2))


def quartiles(xs):
    """The first and third quartiles of sorted xs (the middle half between)."""
    if len(xs) < 4:
        return xs[0], xs[-1]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--ops", type=int, default=2000000)
    ap.add_argument("--lib", action="append", default=[], help="NAME=PATH: another libglassheap.so")
    ap.add_argument("--markdown")
    ap.add_argument("--policy", action="append", choices=POLICIES, help="only these policies")
    ap.add_argument("--cache", action="append", choices=("on", "off"), help="only the cache on / off")
    ap.add_argument("--workload", action="append", choices=sorted({w for w, _ in WORKLOADS}),
                    help="only these workloads")
    a = ap.parse_args()
    policies = tuple(a.policy or POLICIES)
    caches = tuple("1" if c == "on" else "0" for c in (a.cache or ("on", "off")))
    workloads = tuple((w, t) for w, t in WORKLOADS if not a.workload or w in a.workload)
    libs = [("this tree", os.path.abspath(os.path.join(a.build, "libglassheap.so")))]
    for spec in a.lib:
        name, _, path = spec.partition("=")
        libs.append((name, os.path.abspath(path)))
    bench = os.path.join(a.build, "bench", "bench_threads")
    times = {}
    for r in range(a.runs):
        for pol in policies:
            for cache in caches:
                for wl, threads in workloads:
                    for name, lib in libs:
                        for shm in ("0", "1"):
                            env = dict(os.environ, LD_PRELOAD=lib, GLASSHEAP_POLICY=pol, GLASSHEAP_CACHE=cache,
                                       GLASSHEAP_SHM=shm)
                            out = subprocess.run([bench, wl, str(threads), str(a.ops)], env=env, check=True,
                                                 capture_output=True, text=True).stdout
                            wall = json.loads(out.strip().splitlines()[-1])["wall_s"]
                            times.setdefault((pol, cache, wl, threads, name, shm), []).append(wall)
        print("shm_cost.py: round %d/%d done" % (r + 1, a.runs), file=sys.stderr)
    cols = " | ".join("%s: SHM=1 / SHM=0 (middle half)" % name for name, _ in libs)
    lines = ["Wall time, median of %d interleaved rounds of %d operations per thread "
             "(`python3 bench/shm_cost.py --runs %d --ops %d%s`):" %
             (a.runs, a.ops, a.runs, a.ops, "".join(" --lib %s" % s for s in a.lib)
              + "".join(" --policy %s" % p for p in a.policy or ()) + "".join(" --cache %s" % c for c in a.cache or ())
              + "".join(" --workload %s" % w for w in a.workload or ())),
             "",
             "| policy | cache | workload | threads | %s |" % cols,
             "|---|---|---|---|%s" % ("---|" * len(libs))]
    for pol in policies:
        for cache in caches:
            for wl, threads in workloads:
                cells = []
                for name, _ in libs:
                    w0 = times[(pol, cache, wl, threads, name, "0")]
                    w1 = times[(pol, cache, wl, threads, name, "1")]
                    ratios = sorted(b / a for a, b in zip(w0, w1))
                    lo, hi = quartiles(ratios)
                    cells.append("%.3f (%.3f-%.3f; %.4f / %.4f s)" % (statistics.median(ratios), lo, hi,
                                                                     statistics.median(w1), statistics.median(w0)))
                lines.append("| %s | %s | %s | %d | %s |" % (pol, "on" if cache == "1" else "off", wl, threads,
                                                             " | ".join(cells)))
    text = "\n".join(lines) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

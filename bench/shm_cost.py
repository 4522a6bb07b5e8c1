#!/usr/bin/env python3
"""shm_cost.py - what the segment costs: bench_threads under glassheap with
GLASSHEAP_SHM=1 (counters in place, region tables, the request look) and
GLASSHEAP_SHM=0 (no segment), interleaved, wall-clock time.

    python3 bench/shm_cost.py [--build build/release] [--runs 9] [--ops N]
        [--lib NAME=PATH ...] [--markdown FILE]

For every policy, the cache on and off, and 1 and 2 threads of each
workload, the median wall time of `runs` interleaved rounds with and
without the segment, and their ratio.  --lib adds another build of the
library (e.g. the tree before a change) measured in the same rounds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

POLICIES = ("best", "buddy")
WORKLOADS = (("local", 1), ("local", 2), ("server", 2), ("prodcons", 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--ops", type=int, default=2000000)
    ap.add_argument("--lib", action="append", default=[], help="NAME=PATH: another libglassheap.so")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    libs = [("this tree", os.path.abspath(os.path.join(a.build, "libglassheap.so")))]
    for spec in a.lib:
        name, _, path = spec.partition("=")
        libs.append((name, os.path.abspath(path)))
    bench = os.path.join(a.build, "bench", "bench_threads")
    times = {}
    for r in range(a.runs):
        for pol in POLICIES:
            for cache in ("1", "0"):
                for wl, threads in WORKLOADS:
                    for name, lib in libs:
                        for shm in ("0", "1"):
                            env = dict(os.environ, LD_PRELOAD=lib, GLASSHEAP_POLICY=pol, GLASSHEAP_CACHE=cache,
                                       GLASSHEAP_SHM=shm)
                            out = subprocess.run([bench, wl, str(threads), str(a.ops)], env=env, check=True,
                                                 capture_output=True, text=True).stdout
                            wall = json.loads(out.strip().splitlines()[-1])["wall_s"]
                            times.setdefault((pol, cache, wl, threads, name, shm), []).append(wall)
        print("shm_cost.py: round %d/%d done" % (r + 1, a.runs), file=sys.stderr)
    cols = " | ".join("%s: SHM=1 / SHM=0" % name for name, _ in libs)
    lines = ["Wall time, median of %d interleaved rounds of %d operations per thread "
             "(`python3 bench/shm_cost.py --runs %d --ops %d%s`):" %
             (a.runs, a.ops, a.runs, a.ops, "".join(" --lib %s" % s for s in a.lib)), "",
             "| policy | cache | workload | threads | %s |" % cols,
             "|---|---|---|---|%s" % ("---|" * len(libs))]
    for pol in POLICIES:
        for cache in ("1", "0"):
            for wl, threads in WORKLOADS:
                cells = []
                for name, _ in libs:
                    t0 = statistics.median(times[(pol, cache, wl, threads, name, "0")])
                    t1 = statistics.median(times[(pol, cache, wl, threads, name, "1")])
                    cells.append("%.3f (%.4f / %.4f s)" % (t1 / t0, t1, t0))
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

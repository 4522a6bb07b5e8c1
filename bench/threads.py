#!/usr/bin/env python3
"""threads.py - wall-clock time of bench_threads under glibc, jemalloc,
mimalloc and every glassheap policy, at 1, 2, 4 and 8 threads, side by side.

    python3 bench/threads.py --build build/release [--runs 3] [--ops 300000]
                             [--threads 1,2,4,8] [--modes] [--markdown FILE]

Each (workload, threads, allocator) triple runs in its own process, the
triples interleaved round-robin --runs times so a burst of load on the
machine hits every allocator alike; the median wall time is kept, and the
largest peak RSS seen over the rounds (the child's own VmHWM: getrusage in
the parent would count this script's pages at fork too).  A run that
takes longer than --timeout seconds is killed and shown as "> T s".
The allocators are the ones compare.py names (one list); --modes adds the
cache-off, one-arena and pure variants (compare.py's mode_variants).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import allocators, mode_variants  # noqa: E402
from tables import ratio_table  # noqa: E402

WORKLOADS = {
    "local": "thread-local churn, 16-512 B",
    "server": "server: blocks freed by other threads",
    "prodcons": "producer/consumer pairs",
    "realloc": "realloc-heavy mix, 8 B-8 KiB",
}


def run_one(binary, workload, threads, ops, env_extra, timeout):
    """(wall seconds or None when killed, peak RSS KiB) of one run."""
    env = dict(os.environ)
    env.update(env_extra)
    cmd = [binary, workload, str(threads), str(ops)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.monotonic() - start > timeout:
            proc.kill()
            os.wait4(proc.pid, 0)
            return None, None
        time.sleep(0.005)
    out = proc.stdout.read()
    err = proc.stderr.read()
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (status {status}): {err.decode()[-500:]}")
    line = json.loads(out)
    return line["wall_s"], line["peak_rss_kib"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ops", type=int, default=300000, help="operations per thread")
    ap.add_argument("--threads", default="1,2,4,8")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--markdown", help="also write the tables to this Markdown file")
    ap.add_argument("--modes", action="store_true",
                    help="also every policy with GLASSHEAP_CACHE=0, and best fit with one arena and pure")
    args = ap.parse_args()
    binary = os.path.join(args.build, "bench", "bench_threads")
    if not os.path.exists(binary):
        sys.exit(f"threads.py: {binary} not found: build the bench_threads target first")
    threads = [int(t) for t in args.threads.split(",")]
    workloads = args.workloads.split(",")
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit(f"threads.py: unknown workload '{w}' (known: {', '.join(WORKLOADS)})")
    allocs = allocators(args.build, False, None)
    if args.modes:
        allocs += mode_variants(args.build)
    names = [a for a, _ in allocs]
    walls = {}
    rss = {}
    for r in range(args.runs):
        for w in workloads:
            for t in threads:
                for name, env in allocs:
                    key = (w, t, name)
                    if walls.get(key, [0])[-1:] == [None]:
                        continue  # it timed out once: do not wait for it again
                    wall, kib = run_one(binary, w, t, args.ops, env, args.timeout)
                    walls.setdefault(key, []).append(wall)
                    if kib is not None:
                        rss[key] = max(rss.get(key, 0), kib)
        print(f"threads.py: round {r + 1}/{args.runs} done", file=sys.stderr)

    def median(key):
        v = walls.get(key, [None])
        return None if None in v else statistics.median(v)

    lines = [f"Wall-clock time (median of {args.runs} interleaved runs, ms; ratio to glibc in brackets), "
             f"{args.ops} operations per thread\n"]
    for w in workloads:
        lines += ratio_table(f"**{w}** ({WORKLOADS[w]})", "threads", names,
                             [(t, {n: median((w, t, n)) for n in names}) for t in threads],
                             lambda s: f"{s * 1e3:.1f}") + [""]
    lines += ratio_table("Peak RSS (largest of the rounds, MiB; ratio to glibc in brackets)", "workload, threads",
                         names, [(f"{w}, {t}", {n: rss.get((w, t, n)) for n in names})
                                 for w in workloads for t in threads], lambda k: f"{k / 1024:.1f}")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()

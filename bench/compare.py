#!/usr/bin/env python3
"""compare.py - run bench_mix under glibc, jemalloc, mimalloc and glassheap
(every policy) side by side, and print one table: time per malloc+free pair
as a ratio to glibc, and peak RSS.  Two more columns measure glassheap's
own features: best-noshm is best fit with GLASSHEAP_SHM=0 (no segment; the
default publishes one), best-trace is best fit recording GLASSHEAP_TRACE.
--harden measures the hardened mode instead: every policy with and without
GLASSHEAP_HARDEN=1 in the same rounds, and their ratios; --checks what the
default mode's checks cost: every policy against the same library built
without them (libglassheap_unchecked.so).

    python3 bench/compare.py --build build/release [--runs 3] [--min-time 0.5]
                             [--markdown bench/RESULTS.md] [--harden | --checks]
                             [--bench BM_LargeCycle ...] [--alloc glibc ...]
                             [--lib NAME=path/to/libglassheap.so ...]

Each (benchmark, allocator) pair runs in its own process so peak RSS
(that process's VmHWM, which bench_mix prints) belongs to that benchmark
alone.  The runs are
interleaved round-robin --runs times and the median CPU time is kept, so
a burst of load on the machine hits every allocator alike.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import shutil
import subprocess
import sys
import tempfile

BENCHES = ["BM_FixedSmall", "BM_RandomMix", "BM_ProducerConsumer", "BM_Fragmentation", "BM_LargeCycle"]
LIBDIR = "/usr/lib/x86_64-linux-gnu"


def policies(build):
    """The policies, in their order: the build's policies.txt (CMake's
    GH_POLICIES_FILE), or, without one, the GLASSHEAP_POLICIES(X) table of
    include/glassheap/policies.h (the one place they are named)."""
    listed = os.path.join(build, "policies.txt")
    if os.path.exists(listed):
        with open(listed) as f:
            return [line.strip() for line in f if line.strip()]
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "include", "glassheap", "policies.h")
    with open(header) as f:
        m = re.search(r"#define\s+GLASSHEAP_POLICIES\(X\)\s+([^\n]*)", f.read())
    if not m:
        sys.exit(f"compare.py: {header}: no GLASSHEAP_POLICIES(X) table")
    return re.findall(r"X\((\w+)\)", m.group(1))


def paired_allocators(build, suffix, variant):
    """--harden and --checks: glibc (the ratios' base), then every policy in
    the default mode and beside it in the variant (`variant(env)` gives its
    environment), named POLICY-suffix."""
    lib = os.path.join(build, "libglassheap.so")
    out = [("glibc", {})]
    for p in policies(build):
        env = {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": p}
        out.append((f"glassheap-{p}", env))
        out.append((f"{p}-{suffix}", variant(dict(env))))
    return out


def harden_allocators(build):
    """--harden: the hardened mode (GLASSHEAP_HARDEN=1) beside the default."""
    return paired_allocators(build, "harden", lambda env: dict(env, GLASSHEAP_HARDEN="1"))


def unchecked_allocators(build):
    """--checks: the library with the default mode's checks compiled out
    (libglassheap_unchecked.so, the glassheap_unchecked target) beside the
    default, so the ratio is what the checks cost."""
    lib = os.path.join(build, "libglassheap_unchecked.so")
    if not os.path.exists(lib):
        sys.exit(f"compare.py: {lib} not found: build the glassheap_unchecked target first")
    return paired_allocators(build, "unchecked", lambda env: dict(env, LD_PRELOAD=os.path.abspath(lib)))


def allocators(build, extras, tracedir):
    lib = os.path.join(build, "libglassheap.so")
    out = [("glibc", {})]
    for name, so in (("jemalloc", "libjemalloc.so.2"), ("mimalloc", "libmimalloc.so.2")):
        path = os.path.join(LIBDIR, so)
        if os.path.exists(path):
            out.append((name, {"LD_PRELOAD": path}))
        else:
            print(f"compare.py: {path} not found, {name} skipped", file=sys.stderr)
    for p in policies(build):
        out.append((f"glassheap-{p}", {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": p}))
    if extras:
        # What publishing the segment and recording a trace cost: best fit
        # without the segment (GLASSHEAP_SHM=0), and with a trace recorded.
        out.append(("best-noshm", {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": "best", "GLASSHEAP_SHM": "0"}))
        out.append(("best-trace", {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": "best",
                                   "GLASSHEAP_TRACE": os.path.join(tracedir, "bench.%p.trace")}))
    return out


def mode_variants(build):
    """The modes issue 10 compares, beside every policy's default (cache on,
    arenas by the CPU count): every policy with the cache off, and best fit
    with one arena (cache on) and pure (no cache, one arena)."""
    lib = os.path.join(build, "libglassheap.so")
    out = [(f"{p}-nocache", {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": p, "GLASSHEAP_CACHE": "0"})
           for p in policies(build)]
    out.append(("best-1arena", {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": "best", "GLASSHEAP_ARENAS": "1"}))
    out.append(("best-pure", {"LD_PRELOAD": lib, "GLASSHEAP_POLICY": "best", "GLASSHEAP_CACHE": "0",
                              "GLASSHEAP_ARENAS": "1"}))
    return out


def run_one(binary, bench, env_extra, min_time):
    env = dict(os.environ)
    env.update(env_extra)
    cmd = [binary, f"--benchmark_filter=^{bench}(/|$)", f"--benchmark_min_time={min_time}",
           "--benchmark_format=json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    _, status, rusage = os.wait4(proc.pid, 0) if proc.returncode is None else (0, 0, None)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-500:]}")
    data = json.loads(out)
    b = data["benchmarks"][0]
    ns_per_item = b["cpu_time"] / (b["items_per_second"] * b["cpu_time"] * 1e-9) if False else 1e9 / b["items_per_second"]
    return ns_per_item, data["context"]


def peak_rss_kib(binary, bench, env_extra, min_time):
    """The benchmark process's own peak RSS (VmHWM, printed by bench_mix at
    exit): getrusage of the child would also count this script's pages,
    copied at fork, and no small benchmark exceeds them."""
    env = dict(os.environ)
    env.update(env_extra)
    env["GH_BENCH_PEAK_RSS"] = "1"
    cmd = [binary, f"--benchmark_filter=^{bench}(/|$)", f"--benchmark_min_time={min_time}"]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {proc.returncode}")
    m = re.search(rb"bench_mix: peak_rss_kib (\d+)", proc.stderr)
    if not m:
        raise RuntimeError(f"{' '.join(cmd)}: no peak_rss_kib line on stderr")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release", help="build directory with libglassheap.so and bench/")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--min-time", default="0.5")
    ap.add_argument("--markdown", help="also write the tables to this Markdown file")
    ap.add_argument("--no-extras", action="store_true",
                    help="leave out the best-noshm and best-trace columns (cost of the segment and of tracing)")
    ap.add_argument("--harden", action="store_true",
                    help="instead: every policy in the default and the hardened mode (GLASSHEAP_HARDEN=1), "
                         "and a table of hardened / default ratios")
    ap.add_argument("--checks", action="store_true",
                    help="instead: every policy with the default checks and without them "
                         "(libglassheap_unchecked.so), and a table of checked / unchecked ratios")
    ap.add_argument("--bench", action="append", choices=BENCHES,
                    help="run only this benchmark (repeatable; default: all)")
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH",
                    help="one more column: NAME, best fit of the glassheap library at PATH (e.g. another "
                         "build, to compare before and after a change in one run; repeatable)")
    ap.add_argument("--alloc", action="append",
                    help="run only this allocator column, e.g. glibc, glassheap-best (repeatable; default: all; "
                         "glibc, the ratios' base, always runs)")
    args = ap.parse_args()
    benches = args.bench or BENCHES
    binary = os.path.join(args.build, "bench", "bench_mix")
    if not os.path.exists(binary):
        sys.exit(f"compare.py: {binary} not found: build the bench_mix target first")
    tracedir = tempfile.mkdtemp(prefix="gh-bench-trace.")
    if args.harden:
        allocs = harden_allocators(args.build)
    elif args.checks:
        allocs = unchecked_allocators(args.build)
    else:
        allocs = allocators(args.build, not args.no_extras, tracedir)
    for spec in args.lib:
        name, sep, path = spec.partition("=")
        if not sep or not os.path.exists(path):
            sys.exit(f"compare.py: --lib {spec}: want NAME=PATH of an existing library")
        allocs.append((name, {"LD_PRELOAD": os.path.abspath(path), "GLASSHEAP_POLICY": "best"}))
    if args.alloc:
        unknown = set(args.alloc) - {a for a, _ in allocs}
        if unknown:
            sys.exit(f"compare.py: no allocator column {', '.join(sorted(unknown))}")
        allocs = [(a, env) for a, env in allocs if a == "glibc" or a in args.alloc or a in {l.split("=")[0] for l in args.lib}]
    times = {(b, a): [] for b in benches for a, _ in allocs}
    context = None
    for r in range(args.runs):
        for b in benches:
            for name, env in allocs:
                ns, context = run_one(binary, b, env, args.min_time)
                times[(b, name)].append(ns)
        print(f"compare.py: round {r + 1}/{args.runs} done", file=sys.stderr)
    rss = {(b, name): peak_rss_kib(binary, b, env, "0.1") for b in benches for name, env in allocs}

    shutil.rmtree(tracedir, ignore_errors=True)
    names = [a for a, _ in allocs]
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = []
    lines.append("Time per malloc+free pair (median CPU ns of %d interleaved runs; ratio to glibc in brackets)\n" % args.runs)
    lines.append("| benchmark | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    for b in benches:
        base = med[(b, "glibc")]
        cells = [f"{med[(b, n)]:.1f} ({med[(b, n)] / base:.2f}x)" for n in names]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Peak RSS of each benchmark process (MiB; ratio to glibc in brackets)\n")
    lines.append("| benchmark | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    for b in benches:
        base = rss[(b, "glibc")]
        cells = [f"{rss[(b, n)] / 1024:.1f} ({rss[(b, n)] / base:.2f}x)" for n in names]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    if args.harden or args.checks:
        # variant / default, or default / variant: the cost of what the
        # variant adds (hardening) or takes away (the checks)
        suffix, title = (("harden", "Hardened / default, same policy, same run (targets: time <= 2x, peak RSS <= 1.3x)")
                         if args.harden else
                         ("unchecked", "Default / unchecked (the checks' cost), same policy, same run (target: <= 1.05x)"))
        def ratio(d, b, p):
            num, den = d[(b, p + "-" + suffix)], d[(b, "glassheap-" + p)]
            return num / den if args.harden else den / num
        lines.append("")
        lines.append(title + "\n")
        pols = [n[len("glassheap-"):] for n in names if n.startswith("glassheap-")]
        lines.append("| benchmark | " + " | ".join(f"{p} time | {p} RSS" for p in pols) + " |")
        lines.append("|---" * (2 * len(pols) + 1) + "|")
        for b in benches:
            cells = []
            for p in pols:
                cells.append(f"{ratio(med, b, p):.2f}x")
                cells.append(f"{ratio(rss, b, p):.2f}x")
            lines.append(f"| {b} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        cpu = "unknown CPU"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        header = [
            "# glassheap benchmarks",
            "",
            ("## bench_mix, default and hardened (GLASSHEAP_HARDEN=1)" if args.harden else
             "## bench_mix, with and without the default checks" if args.checks else
             "## bench_mix under each allocator"),
            "",
            f"Measured {datetime.date.today().isoformat()} on {cpu}, "
            f"{os.cpu_count()} CPUs, Linux {platform.release()}, "
            "google-benchmark from Debian (it reports itself as a "
            f"{context.get('library_build_type', '?')} build; the code under test is built -O2); "
            "machine shared and noisy, so compare ratios within one run only.",
            "",
            "Command:",
            "",
            "    " + (os.environ.get("GH_BENCH_COMMAND") or " ".join(["python3", "bench/compare.py"] + sys.argv[1:])),
            "",
            "",
        ]
        with open(args.markdown, "w") as f:
            f.write("\n".join(header) + table + "\n")


if __name__ == "__main__":
    main()

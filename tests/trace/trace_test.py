#!/usr/bin/python3
"""trace_test.py - drives `glassheap record`, `replay`, `trace-stats` and
`convert` and checks what they print.

One CTest test per case:
  roundtrip PROG POLICY  run PROG (python3, gcc, sort) preloaded under POLICY
                 with GLASSHEAP_TRACE and the JSON exit summary, one file of
                 each per process; every trace replayed under POLICY gives the
                 summary's heap.peak_requested exactly (as the replay's
                 peak_requested_in_moves: the library counts both blocks of
                 a moving realloc, the program's peak_requested does not) and its
                 heap.peak_heap_bytes (exactly when the break started on a
                 page, as it does on Linux; otherwise within a page per
                 growth or trim); a second replay gives the same figures
  step POLICY    `replay --step` on tests/trace/step12.rep equals
                 golden/step12.POLICY.txt (regenerate: --update)
  rep_errors     bad .rep files: one message naming FILE:LINE, exit 3, nothing
                 on stdout (replay, trace-stats and convert alike); a
                 missing file exits 1
  binary_errors  bad binary traces (magic, version, header, unknown op, free
                 of an unknown address, an address returned twice, realloc of
                 an unknown block, a bad alignment): message naming the
                 record, exit 3; a record cut short is ignored with a note
  deterministic  two replays of a shipped trace: same JSON (timings aside),
                 same --step text
  convert        rep -> binary -> rep replays to the same figures; a second
                 round trip is byte-identical; a recorded binary trace ->
                 rep -> replay keeps peak live requested
  stats          trace-stats --json on a hand-made trace: every figure
  svg            --svg writes a well-formed chart: two lines per policy
  html           --step --html writes one group per step and policy, a slider
  record         `glassheap record -o DIR/t.%p -- sort FILE` writes the trace
                 of the program's pid, which replays; errors exit 2 / 3
  handworked     traces/hand14.rep under both models and every policy gives the
                 figures and placements docs/replay-by-hand.md works out by hand
  shipped        every traces/*.rep parses, replays under every policy with
                 no failure, and the generator script reproduces the
                 synthetic ones byte for byte
  usage          --help exits 0, bad options exit 2, for each subcommand

Exit 0 pass, 1 fail, 77 skip.  Child processes are waited for or killed;
temporary files are removed.
"""
import argparse
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SKIP = 77
RUN_TIMEOUT_S = 90
PAGE = 4096
POLICIES = ["first", "next", "best", "worst", "buddy"]
MAGIC = 0x3143415254484847
HEADER = struct.Struct("<QIIIiQ16sQ256s32s")   # struct gh_trace_header
RECORD = struct.Struct("<QQQQIIB7s")           # struct gh_trace_record
OP_MALLOC, OP_CALLOC, OP_REALLOC, OP_FREE, OP_ALIGNED = 1, 2, 3, 4, 5
TIMING_KEYS = ("seconds", "ops_per_second")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


# ---- running things -------------------------------------------------------

def run(cmd, env=None, cwd=None, expect=None, stdin=None):
    """Run cmd; (rc, stdout, stderr).  Killed on timeout."""
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, stdin=stdin, capture_output=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise Fail("timed out: %s" % " ".join(cmd))
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if expect is not None and p.returncode != expect:
        raise Fail("%s: exit %d, expected %d\nstdout: %s\nstderr: %s"
                   % (" ".join(cmd), p.returncode, expect, out[-2000:], err[-2000:]))
    return p.returncode, out, err


class Env:
    def __init__(self, args):
        self.gh = args.glassheap
        self.lib = args.library
        self.src = args.source
        self.tmp = tempfile.mkdtemp(prefix="gh-trace-")
        self.here = os.path.dirname(os.path.abspath(__file__))

    def cli(self, *a, expect=0):
        return run([self.gh] + list(a), expect=expect)

    def replay_json(self, path, *extra):
        _, out, _ = self.cli("replay", path, "--json", *extra)
        return json.loads(out)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p


def preload_env(env, policy, tdir):
    e = dict(os.environ)
    e.update({
        "LD_PRELOAD": env.lib,
        "GLASSHEAP_POLICY": policy,
        "GLASSHEAP_SHM": "0",
        "GLASSHEAP_TRACE": os.path.join(tdir, "t.%p"),
        "GLASSHEAP_STATS": "json",
        "GLASSHEAP_STATS_FILE": os.path.join(tdir, "s.%p"),
        "LC_ALL": "C",
    })
    return e


def strip_timing(d):
    for p in d["policies"]:
        for k in TIMING_KEYS:
            p.pop(k, None)
    return d


# ---- round trip -------------------------------------------------------------

PY_WORKLOAD = r"""
import json, os
d = {str(i): [i] * (i % 17) + ["x" * (i % 40)] for i in range(int(os.environ.get("GH_TRACE_N", "6000")))}
s = json.dumps(d)
t = json.loads(s)
words = sorted(set(s.split(",")))
acc = []
for i, w in enumerate(words):
    acc.append(w * (1 + i % 5))
    if i % 3 == 0:
        acc.pop(0)
print(len(t), len(words), sum(map(len, acc)))
"""


def gen_c_file(path, nfuncs=60):
    lines = ["#include <stdio.h>", "#include <string.h>"]
    for i in range(nfuncs):
        lines.append("struct s%d { int a; double b[%d]; char name[%d]; };" % (i, i % 7 + 1, i % 13 + 3))
        lines.append("static int f%d(int x, struct s%d *p) { int r = 0; for (int k = 0; k < x; k++) "
                     "{ r += (k * %d) ^ (int)p->b[k %% %d]; if (r > %d) r -= %d; } return r + (int)strlen(p->name); }"
                     % (i, i, i + 3, i % 7 + 1, 1000 + i, i + 1))
    lines.append("int main(void) { int t = 0;")
    for i in range(nfuncs):
        lines.append("  { struct s%d v; memset(&v, 0, sizeof v); t += f%d(%d, &v); }" % (i, i, i))
    lines.append('  printf("%d\\n", t); return 0; }')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def gen_sort_input(path, n=30000):
    with open(path, "w") as f:
        x = 12345
        for i in range(n):
            x = (x * 1103515245 + 12345) % (1 << 31)
            f.write("%d %s\n" % (x % 100003, "w" * (x % 23)))


def program(env, prog, small):
    if prog == "python3":
        return ["/usr/bin/python3", "-c", PY_WORKLOAD]
    if prog == "gcc":
        gcc = shutil.which("gcc")
        if not gcc:
            raise Skip("no gcc")
        src = env.path("prog.c")
        gen_c_file(src, 8 if small else 60)
        return [gcc, "-O2", "-c", src, "-o", env.path("prog.o")]
    if prog == "sort":
        sort = shutil.which("sort")
        if not sort:
            raise Skip("no sort")
        inp = env.path("sort.in")
        gen_sort_input(inp, 3000 if small else 30000)
        return [sort, "--parallel=1", "-o", env.path("sort.out"), inp]
    raise Fail("unknown program " + prog)


def first_heap_region(path):
    """The region start of the first heap block a trace allocated (its
    payload - 64: region record 48 + header 16), or None."""
    with open(path, "rb") as f:
        h = HEADER.unpack(f.read(HEADER.size))
        f.seek(h[2])
        threshold = h[7]
        while True:
            rec = f.read(h[3])
            if len(rec) < RECORD.size:
                return None
            r = RECORD.unpack(rec[:RECORD.size])
            if r[6] in (OP_MALLOC, OP_CALLOC) and r[2] and r[3] < threshold:
                return r[2] - 64


def case_roundtrip(env, prog, policy, small=False):
    cmd = program(env, prog, small)
    tdir = env.path("rec")
    os.mkdir(tdir)
    e = preload_env(env, policy, tdir)
    e["GH_TRACE_N"] = "600" if small else "6000"
    rc, out, err = run(cmd, env=e, cwd=env.tmp)
    check(rc == 0, "%s failed under glassheap (%d): %s" % (prog, rc, err[-1000:]))
    traces = sorted(glob.glob(os.path.join(tdir, "t.*")))
    check(traces, "no trace written")
    compared = 0
    for t in traces:
        pid = t.rsplit(".", 1)[1]
        sfile = os.path.join(tdir, "s." + pid)
        check(os.path.exists(sfile), "no exit summary for pid %s (trace %s)" % (pid, t))
        with open(sfile) as f:
            summary = json.load(f)
        check(summary["policy"] == policy, "summary policy %s" % summary["policy"])
        d1 = env.replay_json(t, "--policy", policy)
        d2 = env.replay_json(t, "--policy", policy)
        check(strip_timing(d1) == strip_timing(d2), "%s: two replays differ" % t)
        r = d1["policies"][0]
        check(r["policy"] == policy, "replayed policy %s" % r["policy"])
        check(r["failures"] == 0, "%s: %d failed allocations in the replay" % (t, r["failures"]))
        lib = summary["heap"]
        what = "%s (%s, %d ops)" % (t, d1["trace"].get("cmdline", "")[:60], d1["trace"]["operations"])
        check(r["peak_requested_in_moves"] == lib["peak_requested"],
              "%s: replay peak_requested_in_moves %d, the program's %d"
              % (what, r["peak_requested_in_moves"], lib["peak_requested"]))
        check(r["peak_requested"] <= r["peak_requested_in_moves"],
              "%s: the program's peak live %d above the heap's own count %d"
              % (what, r["peak_requested"], r["peak_requested_in_moves"]))
        start = first_heap_region(t)
        ops = r["heap_ops"]
        slack = 0 if start is None or start % PAGE == 0 else PAGE * (1 + ops["regions_extended"] + ops["trims"])
        diff = abs(r["peak_heap_bytes"] - lib["peak_heap_bytes"])
        check(diff <= slack, "%s: replay peak heap %d, the program's %d (break start %s)"
              % (what, r["peak_heap_bytes"], lib["peak_heap_bytes"], hex(start) if start else "?"))
        compared += 1
        print("ok %s: peak_requested %d, peak heap %d" % (what, lib["peak_requested"], lib["peak_heap_bytes"]))
    check(compared >= (2 if prog == "gcc" else 1), "only %d processes compared" % compared)


# ---- --step golden ----------------------------------------------------------

def case_step(env, policy, update=False):
    trace = os.path.join(env.here, "step12.rep")
    golden = os.path.join(env.here, "golden", "step12.%s.txt" % policy)
    _, out, _ = env.cli("replay", trace, "--step", "--policy", policy)
    out = out.replace(trace, "step12.rep")
    if update:
        with open(golden, "w") as f:
            f.write(out)
        print("wrote", golden)
        return
    with open(golden) as f:
        want = f.read()
    if out != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), out.splitlines(True), "golden", "replay --step"))
        raise Fail("--step output differs from %s:\n%s" % (golden, diff[:4000]))
    check(out.count("step ") >= 12, "fewer than 12 steps printed")


# ---- bad traces ---------------------------------------------------------------

REP_CASES = [
    # (name, text, message pattern with {f} for the file name)
    ("empty", "", r"{f}: empty file \(a malloc-lab trace starts with four header numbers\)"),
    ("short_header", "100\n3\n", r"{f}:2: file ends inside the header \(expected the number of operations\)"),
    ("header_word", "100\nthree\n3\n1\n", r"{f}:2: expected the header's number of ids \(a number\)"),
    ("bad_op", "100\n2\n2\n1\na 0 10\nx 0 10\n", r"{f}:6: expected an operation"),
    ("missing_size", "100\n2\n2\n1\na 0 10\na 1\n", r"{f}:6: malformed operation \(expected 'a ID SIZE'\)"),
    ("trailing_text", "100\n2\n2\n1\na 0 10\nf 0 7\n", r"{f}:6: malformed operation \(expected 'f ID'\)"),
    ("negative", "100\n2\n2\n1\na 0 -10\nf 0\n", r"{f}:5: malformed operation"),
    ("id_range", "100\n2\n2\n1\na 0 10\na 2 10\n", r"{f}:6: id 2 is out of range \(the header says 2 ids: 0 to 1\)"),
    ("free_unknown", "100\n3\n3\n1\na 0 10\nf 0\nf 2\n", r"{f}:7: frees id 2, which is not live .*bad trace"),
    ("double_free", "100\n3\n3\n1\na 0 10\nf 0\nf 0\n", r"{f}:7: frees id 0, which is not live .*bad trace"),
    ("reuse_live", "100\n3\n3\n1\na 0 10\na 1 10\na 0 20\n", r"{f}:7: allocates id 0, which is still live: bad trace"),
    ("realloc_unknown", "100\n3\n2\n1\na 0 10\nr 1 20\n", r"{f}:6: reallocates id 1, which is not live"),
    ("too_many_ops", "100\n3\n1\n1\na 0 10\nf 0\n", r"{f}:6: more operations than the header's 1"),
    ("too_few_ops", "100\n3\n3\n1\na 0 10\nf 0\n", r"{f}:6: the header says 3 operations, the file has 2"),
]


def case_rep_errors(env):
    for name, text, pattern in REP_CASES:
        f = env.write(name + ".rep", text)
        for sub in (["replay", f], ["replay", f, "--json"], ["trace-stats", f], ["convert", f, env.path("o.bin")]):
            rc, out, err = env.cli(*sub, expect=None)
            check(rc == 3, "%s %s: exit %d, expected 3 (stderr %r)" % (name, sub[0], rc, err))
            check(out == "", "%s %s: printed %r on stdout" % (name, sub[0], out[:200]))
            lines = err.strip().splitlines()
            check(len(lines) == 1, "%s %s: %d lines on stderr: %r" % (name, sub[0], len(lines), err))
            want = "glassheap: " + pattern.format(f=re.escape(f))
            check(re.match(want, lines[0]), "%s %s: stderr %r does not match %r" % (name, sub[0], lines[0], want))
    rc, _, err = env.cli("replay", env.path("no-such.rep"), expect=None)
    check(rc == 1 and "No such file" in err, "missing file: exit %d, %r" % (rc, err))
    # A realloc to 0 frees; blank lines are fine; the header may share a line.
    f = env.write("ok.rep", "100 2\n2\n1\n\na 0 10\nr 0 0\n")
    d = env.replay_json(f)
    check(d["trace"]["operations"] == 2, "ok.rep: %r" % d["trace"])


def header(version=1, header_size=HEADER.size, record_size=RECORD.size, magic=MAGIC, threshold=131072):
    return HEADER.pack(magic, version, header_size, record_size, 4242, 0, b"best", threshold,
                       b"hand-made", b"\0" * 32)


def rec(op, ptr=0, result=0, size=0, align=0, t=0):
    return RECORD.pack(t, ptr, result, size, align, 7, op, b"\0" * 7)


A, B = 0x10000, 0x20000


def case_binary_errors(env):
    good = [rec(OP_MALLOC, result=A, size=24), rec(OP_MALLOC, result=B, size=40),
            rec(OP_REALLOC, ptr=A, result=A, size=100), rec(OP_FREE, ptr=A), rec(OP_FREE, ptr=B)]
    cases = [
        ("magic", header(magic=1) + b"".join(good), r"not a glassheap trace \(bad magic\) and not malloc-lab text"),
        ("version", header(version=9) + b"".join(good), r"trace format version 9, this glassheap reads version 1"),
        ("short_header", header()[:100], r"file ends inside the trace header"),
        ("record_size", header(record_size=16) + b"".join(good), r"bad trace header \(header_size \d+, record_size 16\)"),
        ("unknown_op", header() + good[0] + rec(9, ptr=A), r"record 2: unknown operation 9"),
        ("free_unknown", header() + good[0] + rec(OP_FREE, ptr=B),
         r"record 2: free of 0x20000, which is not a live block \(double free or unknown address\): bad trace"),
        ("double_free", header() + good[0] + rec(OP_FREE, ptr=A) + rec(OP_FREE, ptr=A),
         r"record 3: free of 0x10000, which is not a live block"),
        ("twice", header() + good[0] + rec(OP_MALLOC, result=A, size=8),
         r"record 2: allocation returned 0x10000, which is still a live block: bad trace"),
        ("realloc_unknown", header() + good[0] + rec(OP_REALLOC, ptr=B, result=B, size=8),
         r"record 2: realloc of 0x20000, which is not a live block"),
        ("realloc_onto_live", header() + good[0] + good[1] + rec(OP_REALLOC, ptr=A, result=B, size=8),
         r"record 3: realloc moved to 0x20000, which is still a live block: bad trace"),
        ("align", header() + rec(OP_ALIGNED, result=A, size=8, align=48), r"record 1: alignment 48 is not a power of two"),
    ]
    for name, data, pattern in cases:
        f = env.write(name + ".bin", data)
        rc, out, err = env.cli("replay", f, expect=None)
        check(rc == 3, "%s: exit %d, expected 3 (stderr %r)" % (name, rc, err))
        check(out == "", "%s: printed %r" % (name, out[:200]))
        if pattern:
            want = "glassheap: " + re.escape(f) + ": " + pattern
            check(re.match(want, err.strip()), "%s: stderr %r does not match %r" % (name, err.strip(), want))
    # Failed calls are left out; a record cut short is ignored with a note.
    data = header() + b"".join(good[:2]) + rec(OP_MALLOC, result=0, size=1 << 40) + b"".join(good[2:]) + b"\1" * 20
    f = env.write("cut.bin", data)
    rc, out, err = env.cli("replay", f, "--json", expect=0)
    d = json.loads(out)
    check(d["trace"]["operations"] == 5 and d["trace"]["failed_calls"] == 1, "cut.bin: %r" % d["trace"])
    check("ignoring 20 bytes after record 6" in err, "cut.bin: no note about the cut record: %r" % err)
    best = [p for p in d["policies"] if p["policy"] == "best"][0]
    # The program's peak live: the realloc replaces 24 by 100 at once; the
    # heap's own count holds both blocks while best fit moves it.
    check(best["peak_requested"] == 100 + 40, "cut.bin: peak_requested %d" % best["peak_requested"])
    check(best["peak_requested_in_moves"] == 24 + 40 + 100,
          "cut.bin: peak_requested_in_moves %d" % best["peak_requested_in_moves"])


# ---- determinism, convert, stats, svg, html ------------------------------------

def shipped(env):
    reps = sorted(glob.glob(os.path.join(env.src, "traces", "*.rep")))
    check(reps, "no traces/*.rep shipped")
    return reps


def case_deterministic(env):
    for t in shipped(env)[:3]:
        a = strip_timing(env.replay_json(t))
        b = strip_timing(env.replay_json(t))
        check(a == b, "%s: two replays differ" % t)
    step = os.path.join(env.here, "step12.rep")
    _, s1, _ = env.cli("replay", step, "--step")
    _, s2, _ = env.cli("replay", step, "--step")
    check(s1 == s2, "two --step runs differ")


def case_cache(env):
    """replay --cache puts the library's thread cache in front of every
    policy: the model says so (text and JSON), the pure replay is unchanged by
    it, and on random.rep the cache changes what the fit policies do (blocks
    kept by the cache are not coalesced).  Deterministic, like any replay."""
    t = os.path.join(env.src, "traces", "random.rep")
    pure = env.replay_json(t, "--model", "exact")
    cached = env.replay_json(t, "--model", "exact", "--cache")
    again = env.replay_json(t, "--model", "exact", "--cache")
    check(pure["model"].get("cache") is False, "pure replay's model: %r" % pure["model"])
    check(cached["model"].get("cache") is True, "--cache replay's model: %r" % cached["model"])
    check(strip_timing(cached) == strip_timing(again), "two --cache replays differ")
    p = {x["policy"]: x["peak_heap_bytes"] for x in pure["policies"]}
    c = {x["policy"]: x["peak_heap_bytes"] for x in cached["policies"]}
    check(any(p[k] != c[k] for k in ("first", "next", "best", "worst")),
          "the cache changed no fit policy's peak heap: %r vs %r" % (p, c))
    check(all(x["peak_requested"] == y["peak_requested"] for x, y in zip(pure["policies"], cached["policies"])),
          "peak live depends on the trace alone")
    _, out, _ = env.cli("replay", t, "--cache", "--policy", "best")
    check("the thread's cache in front (--cache)" in out, out)


def figures(d):
    keep = ("policy", "peak_heap_bytes", "peak_requested", "fragmentation", "at_peak_live", "end", "large")
    return [{k: p[k] for k in keep} for p in d["policies"]]


def case_convert(env):
    src = os.path.join(env.here, "step12.rep")
    reps = [src] + shipped(env)[:2]
    for r in reps:
        b1, r1, b2, r2 = (env.path(n) for n in ("c.bin", "c1.rep", "c2.bin", "c2.rep"))
        env.cli("convert", r, b1)
        env.cli("convert", b1, r1)
        env.cli("convert", r1, b2, "--to", "binary")
        env.cli("convert", b2, r2)
        f0, f1, f2 = (figures(env.replay_json(x)) for x in (r, b1, r1))
        check(f0 == f1 == f2, "%s: figures change through convert" % r)
        with open(r1) as x, open(r2) as y:
            check(x.read() == y.read(), "%s: second rep round trip is not identical" % r)
        _, stdout, _ = env.cli("convert", r, "-", "--to", "rep")
        with open(r) as x:
            orig = x.read().split("\n")
        check(stdout.split("\n")[1:4] == orig[1:4], "%s: header changed: %r" % (r, stdout.split("\n")[:4]))
    # A recorded binary trace (python3) -> rep: the same figures.
    tdir = env.path("rec")
    os.mkdir(tdir)
    run(["/usr/bin/python3", "-c", PY_WORKLOAD], env=preload_env(env, "best", tdir), expect=0)
    t = sorted(glob.glob(os.path.join(tdir, "t.*")))[0]
    rep = env.path("rec.rep")
    env.cli("convert", t, rep)
    a = env.replay_json(t, "--policy", "first")["policies"][0]
    b = env.replay_json(rep, "--policy", "first")["policies"][0]  # a rep: the default threshold, dynamic
    check(a["peak_requested"] == b["peak_requested"] and a["peak_heap_bytes"] == b["peak_heap_bytes"],
          "binary -> rep changed the figures: %r vs %r" % (a["peak_requested"], b["peak_requested"]))
    rc, _, err = env.cli("convert", t, "-", expect=2)
    check("--to" in err, "convert to stdout without --to: %r" % err)


STATS_REP = """1000
4
9
1
a 0 10
a 1 100
r 0 3000
f 1
a 2 0
a 1 200000
f 0
a 3 5
f 3
"""


def case_stats(env):
    f = env.write("stats.rep", STATS_REP)
    _, out, _ = env.cli("trace-stats", f, "--json")
    d = json.loads(out)
    check(d["ops"] == {"alloc": 5, "realloc": 1, "free": 3, "failed": 0}, "ops %r" % d["ops"])
    check(d["sizes"] == {"min": 0, "max": 200000, "bytes_allocated": 10 + 100 + 2990 + 0 + 200000 + 5},
          "sizes %r" % d["sizes"])
    # live: 10, 110, 3100 (op 3), 3000, 3000, 203000 (op 6), 200000, 200005, 200000
    check(d["peak"]["live_requested"] == 203000 and d["peak"]["at_op"] == 6, "peak %r" % d["peak"])
    check(d["peak"]["heap_requested"] == 3100 and d["peak"]["heap_at_op"] == 3, "heap peak %r" % d["peak"])
    check(d["peak"]["blocks"] == 3, "peak blocks %r" % d["peak"])
    sizes = {(b["min"], b["max"]): b["count"] for b in d["size_histogram"]}
    check(sizes == {(0, 0): 1, (4, 7): 1, (8, 15): 1, (64, 127): 1, (2048, 4095): 1, (131072, 262143): 1},
          "size histogram %r" % sizes)
    # lifetimes: id 1 (op 2 -> 4): 2; id 0 (1 -> 7): 6; id 3 (8 -> 9): 1
    life = {(b["min"], b["max"]): b["count"] for b in d["lifetime_histogram"]}
    check(life == {(1, 1): 1, (2, 3): 1, (4, 7): 1}, "lifetime histogram %r" % life)
    check(d["never_freed"] == 2, "never freed %r" % d["never_freed"])
    _, text, _ = env.cli("trace-stats", f)
    for want in ("5 allocations, 1 reallocs, 3 frees", "never freed", "203000 B"):
        check(want in text, "text output lacks %r:\n%s" % (want, text))


def case_svg(env):
    t = shipped(env)[0]
    svg = env.path("chart.svg")
    _, out, _ = env.cli("replay", t, "--svg", svg)
    check("peak heap" in out, "no table printed with --svg")
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(".//%spolyline" % ns)
    # a heap line per policy, and a live line per policy or one for all
    check(len(lines) in (len(POLICIES) + 1, 2 * len(POLICIES)), "%d polylines" % len(lines))
    for pl in lines:
        pts = [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
        check(pts and all(80 <= x <= 750 and 56 <= y <= 444 for x, y in pts), "points outside the plot")
    texts = " ".join(x.text or "" for x in root.iter("%stext" % ns))
    for p in POLICIES:
        check(p in texts, "legend lacks %s" % p)
    svg2 = env.path("one.svg")
    env.cli("replay", t, "--svg", svg2, "--policy", "best,buddy", "--json")
    check(len(ET.parse(svg2).getroot().findall(".//%spolyline" % ns)) in (3, 4), "two policies: 3 or 4 lines expected")
    # The chart file follows the tools' output-file rule: never through a
    # symbolic link (its target stays as it was), new files 0600.
    check(os.stat(svg).st_mode & 0o777 == 0o600, "chart.svg mode %o, not 0600" % (os.stat(svg).st_mode & 0o777))
    target = env.write("target.txt", "keep me\n")
    link = env.path("link.svg")
    os.symlink(target, link)
    _, _, err = env.cli("replay", t, "--svg", link, expect=3)
    check("cannot write %s: it is a symbolic link" % link in err, "--svg through a symlink: %r" % err)
    check(open(target).read() == "keep me\n", "the symlink's target was written")


def case_html(env):
    step = os.path.join(env.here, "step12.rep")
    html = env.path("step.html")
    _, out, _ = env.cli("replay", step, "--step", "--html", html)
    check(out == "", "--html also printed %r" % out[:200])
    with open(html) as f:
        page = f.read()
    check(page.count("<g class='step'") == 12 * len(POLICIES), "%d step groups" % page.count("<g class='step'"))
    check("type='range'" in page and "max='12'" in page, "no slider")
    check(page.rstrip().endswith("</html>"), "page not closed")
    link = env.path("link.html")
    target = env.write("target.html", "keep me\n")
    os.symlink(target, link)
    _, _, err = env.cli("replay", step, "--step", "--html", link, expect=3)
    check("cannot write %s: it is a symbolic link" % link in err, "--html through a symlink: %r" % err)
    check(open(target).read() == "keep me\n", "the symlink's target was written")


def case_record(env):
    sort = shutil.which("sort")
    if not sort:
        raise Skip("no sort")
    inp = env.path("in.txt")
    gen_sort_input(inp, 3000)
    tdir = env.path("rec")
    os.mkdir(tdir)
    e = dict(os.environ, GLASSHEAP_LIBRARY=env.lib, GLASSHEAP_SHM="0", LC_ALL="C")
    p = subprocess.Popen([env.gh, "record", "-o", os.path.join(tdir, "t.%p"), "--policy", "worst", "--",
                          sort, "-o", env.path("out.txt"), inp], env=e, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise Fail("record timed out")
    check(p.returncode == 0, "record: exit %d: %s" % (p.returncode, err))
    files = os.listdir(tdir)
    check(files == ["t.%d" % p.pid], "trace files %r, expected t.%d" % (files, p.pid))
    d = env.replay_json(os.path.join(tdir, files[0]))
    check(d["trace"]["policy"] == "worst" and d["trace"]["pid"] == p.pid, "trace header %r" % d["trace"])
    check(d["trace"]["operations"] > 10, "only %d operations" % d["trace"]["operations"])
    with open(env.path("out.txt")) as f:
        got = f.read()
    with open(inp) as f:
        check(got == "".join(sorted(f.readlines())), "sort's output changed under record")
    rc, _, err = run([env.gh, "record", "-o", "/nonexistent-dir/t", "--", sort, inp], env=e)
    check(rc == 3 and "cannot write '/nonexistent-dir/t'" in err, "unwritable: exit %d %r" % (rc, err))
    rc, _, err = run([env.gh, "record", "-o", env.path("x")], env=e)
    check(rc == 2 and "no command" in err, "no command: exit %d %r" % (rc, err))
    rc, _, err = run([env.gh, "record", "--policy", "bogus", "--", sort, inp], env=e)
    check(rc == 2, "bad policy: exit %d %r" % (rc, err))


def case_shipped(env):
    reps = shipped(env)
    for t in reps:
        d = env.replay_json(t)
        check([p["policy"] for p in d["policies"]] == POLICIES, "%s: policies %r" % (t, d["policies"]))
        for p in d["policies"]:
            check(p["failures"] == 0, "%s: %s: %d failures" % (t, p["policy"], p["failures"]))
            check(p["peak_heap_bytes"] >= p["peak_requested"] > 0, "%s: %s: figures %r" % (t, p["policy"], p))
        env.cli("trace-stats", t)
    gen = os.path.join(env.src, "traces", "gen_synthetic.py")
    check(os.path.exists(gen), "no traces/gen_synthetic.py")
    out = env.path("gen")
    os.mkdir(out)
    run([sys.executable, gen, "--out", out], expect=0)
    made = sorted(os.listdir(out))
    check(made, "the generator made nothing")
    for name in made:
        ship = os.path.join(env.src, "traces", name)
        check(os.path.exists(ship), "generated %s is not shipped" % name)
        with open(ship, "rb") as a, open(os.path.join(out, name), "rb") as b:
            check(a.read() == b.read(), "traces/%s differs from what gen_synthetic.py makes" % name)


# ---- the hand-worked trace of docs/replay-by-hand.md -------------------------

# Worked by hand in docs/replay-by-hand.md (every figure below is derived
# there, step by step): per model and policy, the peak heap, the heap's own
# peak counting both blocks of the moving realloc, the sum of the heap after
# each operation (J&W #1), the free bytes and the largest free block at peak
# live (external fragmentation), the heap at the end, and where ids 7 and 8
# land at steps 9, 13 and 14 (block offsets from the arena's start).  The
# program's live bytes are the same for all: peak 1112 after step 14, 7160
# summed over the 14 steps, 1248 block bytes live at the peak.
HAND_LIVE_PEAK, HAND_LIVE_SUM, HAND_BLOCKS_AT_PEAK = 1112, 7160, 1248
HAND = {
    # model: policy: (peak heap, in moves, sum heap, free at peak, largest free, (at 9, 13, 14))
    "exact": {
        "first": (1888, 1240, 13392, 576, 224, (0x1f0, 0x30, 0x350)),
        "next": (1888, 1240, 13392, 576, 224, (0x1f0, 0x240, 0x350)),
        "best": (1888, 1240, 13392, 576, 224, (0x1f0, 0x120, 0x350)),
        "worst": (2032, 1240, 13536, 720, 224, (0x1f0, 0x350, 0x3e0)),
        "buddy": (2096, 1240, 25248, 800, 512, (0x1b0, 0x30, 0x430)),
    },
    "glassheap": {
        "first": (135168, 1240, 14 * 135168, 133856, 133280, (0x1f0, 0x30, 0x350)),
        "next": (135168, 1112, 14 * 135168, 133856, 132880, (0x490, 0x4e0, 0x4e0)),
        "best": (135168, 1240, 14 * 135168, 133856, 133280, (0x1f0, 0x120, 0x350)),
        "worst": (135168, 1112, 14 * 135168, 133856, 132880, (0x490, 0x4e0, 0x4e0)),
        "buddy": (1048624, 1240, 14 * 1048624, 1047328, 524288, (0x1b0, 0x30, 0x430)),
    },
}


def case_handworked(env):
    trace = os.path.join(env.src, "traces", "hand14.rep")
    close = lambda a, b: abs(a - b) < 5e-7
    for model, table in HAND.items():
        d = env.replay_json(trace, "--model", model)
        m = d["model"]
        check(m["name"] == model, "model %r" % m)
        if model == "exact":
            check(m["top_pad"] == 0 and m["trim_threshold"] is None and m["mmap_threshold"] is None
                  and m["growth_unit"] == 16 and not m["shrinks"] and m["buddy_chunk"] == 1024, "exact: %r" % m)
        else:
            check(m["top_pad"] == 131072 and m["trim_threshold"] == 131072 and m["mmap_threshold"] == 131072
                  and m["shrinks"] and m["buddy_chunk"] == 1 << 20, "glassheap: %r" % m)
        for p in d["policies"]:
            pol = p["policy"]
            peak, moves, sum_heap, free, largest, where = table[pol]
            what = "%s/%s" % (model, pol)
            f, a = p["fragmentation"], p["at_peak_live"]
            check(p["peak_heap_bytes"] == peak, "%s: peak heap %d, by hand %d" % (what, p["peak_heap_bytes"], peak))
            check(p["peak_requested"] == HAND_LIVE_PEAK, "%s: peak live %d" % (what, p["peak_requested"]))
            check(p["peak_requested_in_moves"] == moves, "%s: in moves %d, by hand %d"
                  % (what, p["peak_requested_in_moves"], moves))
            check(p["heap_at_peak_live"] == peak and p["live_at_peak_heap"] == HAND_LIVE_PEAK,
                  "%s: heap at peak live %d, live at peak heap %d" % (what, p["heap_at_peak_live"],
                                                                      p["live_at_peak_heap"]))
            check(p["end"]["heap_bytes"] == peak, "%s: final heap %d" % (what, p["end"]["heap_bytes"]))
            check(a["live_block_bytes"] == HAND_BLOCKS_AT_PEAK and a["free_bytes"] == free
                  and a["largest_free"] == largest, "%s: at peak live %r" % (what, a))
            want = {
                "jw1": sum_heap / HAND_LIVE_SUM - 1,
                "jw2": peak / HAND_LIVE_PEAK - 1,
                "jw3": peak / HAND_LIVE_PEAK - 1,
                "jw4": peak / HAND_LIVE_PEAK - 1,
                "internal": 1 - HAND_LIVE_PEAK / HAND_BLOCKS_AT_PEAK,
                "external": 1 - largest / free,
                "peak_utilisation": HAND_LIVE_PEAK / peak,
                "driver_utilisation": HAND_LIVE_PEAK / peak,
            }
            for k, v in want.items():
                check(close(f[k], v), "%s: %s %.6f, by hand %.6f" % (what, k, f[k], v))
            _, out, _ = env.cli("replay", trace, "--model", model, "--step", "--policy", pol)
            for step, off in zip((9, 13, 14), where):
                line = [l for l in out.splitlines() if l.startswith("step %d of 14:" % step)]
                check(line and line[0].endswith("at %#x" % off), "%s: step %d: %r, by hand at %#x"
                      % (what, step, line, off))


def case_usage(env):
    for sub in ("record", "replay", "trace-stats", "convert"):
        _, out, _ = env.cli(sub, "--help")
        check(out.startswith("usage: glassheap " + sub), "%s --help: %r" % (sub, out[:80]))
        rc, _, _ = env.cli(sub, "--bogus-option", expect=None)
        check(rc == 2, "%s --bogus-option: exit %d" % (sub, rc))
    step = os.path.join(env.here, "step12.rep")
    for bad in (["replay"], ["replay", step, step], ["replay", step, "--policy", "fastest"],
                ["replay", step, "--mmap-threshold", "lots"], ["replay", step, "--html", "x.html"],
                ["replay", step, "--step", "--json"], ["trace-stats"], ["convert", step],
                ["convert", step, "x", "--to", "xml"]):
        rc, out, err = env.cli(*bad, expect=None)
        check(rc == 2 and err.startswith("glassheap: "), "%r: exit %d, %r" % (bad, rc, err))
    big = shipped(env)
    sizes = [(sum(1 for _ in open(t)), t) for t in big]
    n, t = max(sizes)
    if n > 1004:
        rc, _, err = env.cli("replay", t, "--step", expect=None)
        check(rc == 2 and "--step is for small traces" in err, "--step on a big trace: %d %r" % (rc, err))


# ---- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--update", action="store_true", help="step: rewrite the golden file")
    ap.add_argument("--small", action="store_true", help="roundtrip: smaller workloads (checking builds)")
    ap.add_argument("case")
    ap.add_argument("params", nargs="*")
    args = ap.parse_args()
    env = Env(args)
    try:
        if args.case == "roundtrip":
            case_roundtrip(env, *args.params, small=args.small)
        elif args.case == "step":
            case_step(env, args.params[0], args.update)
        else:
            fn = globals().get("case_" + args.case)
            if not fn:
                raise Fail("unknown case " + args.case)
            fn(env)
    except Skip as e:
        print("skip:", e)
        return SKIP
    except Fail as e:
        print("FAIL:", e)
        return 1
    finally:
        shutil.rmtree(env.tmp, ignore_errors=True)
    print("pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

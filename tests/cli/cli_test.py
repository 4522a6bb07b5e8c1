#!/usr/bin/python3
"""cli_test.py - drives `glassheap ps` and `glassheap stat` against real
preloaded helper processes (cli_helper.c) and checks what they print.

One CTest test per case:
  stat POLICY      the helper runs a scripted pattern; the difference between
                   `stat --json` after and before it is exactly the pattern's
                   (calls, live bytes, blocks, large blocks); the fragmentation
                   figures follow DESIGN.md's formulas; the histogram and the
                   buddy orders add up; the text output shows the same numbers;
                   `ps --json` shows the same figures and the right policy
  stat_no_answer   a helper blocked in read(2) never answers: stat warns, shows
                   the last published counters ("fresh": false), exits 0
  ps               two helpers under two policies: both listed, text and JSON
  ps_stale         a SIGKILLed helper's segment: --keep-stale keeps it, plain
                   `ps` reports "stale: <pid> (removed)" and removes it
  err_*            each error a person can meet: message and exit status
                   (err_replaced: a process that exec()ed a program without
                   glassheap; disabled until the reader detects it)
  usage            bad arguments exit 2; --help exits 0

Exit 0 pass, 1 fail, 77 skip.  Every helper is killed and every segment file
the test made or left is removed, whatever happens.
"""
import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SHM_DIR = "/dev/shm"
LINE_TIMEOUT_S = 20.0     # a helper line: generous on a loaded machine
CLI_TIMEOUT_S = 30.0
MMAP_THRESHOLD = 128 * 1024
HEADER_BYTES = 16
NOBODY = 65534
SKIP = 77


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def seg_path(pid):
    return "%s/glassheap.%d" % (SHM_DIR, pid)


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k == "LD_PRELOAD" or k.startswith("GLASSHEAP_"):
            del env[k]
    env["LC_ALL"] = "C"
    return env


class Ctx:
    """What one case owns: its helpers, other children, crafted files."""

    def __init__(self, args):
        self.a = args
        self.procs = []
        self.files = []

    # -- glassheap itself ------------------------------------------------
    def cli(self, *argv, user=None, exe=None):
        kw = {}
        if user is not None:
            kw = dict(user=user, group=user, extra_groups=[])
        r = subprocess.run([exe or self.a.glassheap] + list(argv), env=clean_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=CLI_TIMEOUT_S, **kw)
        return r.returncode, r.stdout, r.stderr

    def cli_json(self, *argv):
        rc, out, err = self.cli(*argv)
        check(rc == 0, "glassheap %s: exit %d, stderr %r" % (" ".join(argv), rc, err))
        try:
            return json.loads(out), err
        except ValueError as e:
            raise Fail("glassheap %s: not one JSON object (%s): %r" % (" ".join(argv), e, out))

    # -- helpers -----------------------------------------------------------
    def helper(self, policy, steps=(), idle=False):
        env = clean_env()
        env["LD_PRELOAD"] = self.a.library
        env["GLASSHEAP_POLICY"] = policy
        argv = [self.a.helper] + (["--idle"] if idle else []) + list(steps)
        p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        line = self.read_line(p)
        check(line == "ready %d" % p.pid, "helper said %r, not 'ready %d'" % (line, p.pid))
        self.files.append(seg_path(p.pid))
        return p

    def read_line(self, p):
        """One line from p's stdout, waiting at most LINE_TIMEOUT_S."""
        fd = p.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            check(left > 0, "helper %d: no line within %.0f s (so far %r)" % (p.pid, LINE_TIMEOUT_S, buf))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            ch = os.read(fd, 1)
            if not ch:
                err = p.stderr.read().decode(errors="replace") if p.poll() is not None else ""
                raise Fail("helper %d closed its output (status %s) %s" % (p.pid, p.poll(), err))
            buf += ch
        return buf.decode().rstrip("\n")

    def send(self, p, line):
        p.stdin.write((line + "\n").encode())
        p.stdin.flush()

    def quit(self, p):
        """Let the helper exit normally and check its segment went with it."""
        self.send(p, "quit")
        p.stdin.close()
        rc = p.wait(timeout=LINE_TIMEOUT_S)
        check(rc == 0, "helper %d exited %d" % (p.pid, rc))
        check(not os.path.exists(seg_path(p.pid)), "helper %d exited but left %s" % (p.pid, seg_path(p.pid)))

    def kill9(self, p):
        p.kill()
        p.wait(timeout=LINE_TIMEOUT_S)

    def child(self, argv):
        p = subprocess.Popen(argv, env=clean_env(), stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=LINE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    try:
                        f.close()
                    except OSError:
                        pass
        for path in self.files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


# ---- the scripted pattern --------------------------------------------------

def pattern():
    """Steps for cli_helper and, computed apart, what they must change."""
    steps = []
    for i in range(40):
        steps.append("m:%d:%d" % (i, 24 + 40 * i))       # 24 .. 1584 bytes
    for i in range(1, 40, 2):
        steps.append("f:%d" % i)                          # 20 holes
    for j in range(8):
        steps.append("c:%d:7:%d" % (40 + j, 13 + j))      # calloc(7, 13..20)
    for j in range(4):
        steps.append("a:%d:64:256" % (50 + j))            # aligned_alloc(64, 256)
    for j in range(2):
        steps.append("q:%d:256:100" % (54 + j))           # posix_memalign(256, 100)
    steps.append("r:60:500")                              # realloc(NULL, 500)
    steps.append("r:0:4000")                              # grow: in place or moved
    steps.append("m:70:300000")                           # a large block
    steps.append("c:71:1:200000")                         # a large calloc ...
    steps.append("f:71")                                  # ... freed
    steps.append("r:40:0")                                # realloc(p, 0) frees p
    steps.append("m:72:0")                                # malloc(0): a block all the same
    return steps


def expected(steps):
    """Counter deltas the steps must cause, from the steps alone."""
    live = {}     # slot -> requested bytes
    calls = dict(malloc_calls=0, calloc_calls=0, realloc_calls=0, aligned_calls=0,
                 free_calls=0, failed_calls=0)
    resizes = 0   # realloc of a live block to a nonzero size: in place or moved
    for s in steps:
        f = s.split(":")
        op, slot, nums = f[0], int(f[1]), [int(x) for x in f[2:]]
        if op == "m":
            calls["malloc_calls"] += 1
            live[slot] = nums[0]
        elif op == "c":
            calls["calloc_calls"] += 1
            live[slot] = nums[0] * nums[1]
        elif op in "aq":
            calls["aligned_calls"] += 1
            live[slot] = nums[1]
        elif op == "f":
            calls["free_calls"] += 1
            del live[slot]
        elif op == "r":
            calls["realloc_calls"] += 1
            if slot in live and nums[0] == 0:
                del live[slot]          # realloc(p, 0) frees p: still a realloc call
            else:
                resizes += slot in live
                live[slot] = nums[0]
    heap = {k: v for k, v in live.items() if v < MMAP_THRESHOLD}
    large = {k: v for k, v in live.items() if v >= MMAP_THRESHOLD}
    return dict(calls=calls, resizes=resizes, heap=heap, slots=set(live),
                live_requested=sum(heap.values()), live_blocks=len(heap),
                large_requested=sum(large.values()), large_blocks=len(large))


def block_of(usable, policy):
    """The heap block behind a payload of `usable` bytes: header + usable for
    the fit policies; under buddy the power of two that holds both (an
    aligned buddy block may start its payload past the header: its usable
    size then counts from there to the block's end)."""
    n = usable + HEADER_BYTES
    if policy == "buddy":
        return 1 << (n - 1).bit_length()
    return n


# ---- checks shared by the cases ----------------------------------------------

def frag_of(c):
    def ratio(a, b):
        return a / b if b else 0.0
    return dict(internal=1 - ratio(c["live_requested"], c["live_block_bytes"]) if c["live_block_bytes"] else 0.0,
                external=1 - ratio(c["largest_free"], c["free_bytes"]) if c["free_bytes"] else 0.0,
                utilisation=ratio(c["live_requested"], c["heap_bytes"]),
                peak_utilisation=ratio(c["peak_requested"], c["peak_heap_bytes"]))


def check_snapshot(s, pid, policy):
    """What must hold in any one `stat --json` object."""
    check(s["pid"] == pid, "stat: pid %r, not %d" % (s["pid"], pid))
    check(s["policy"] == policy, "stat: policy %r, not %r" % (s["policy"], policy))
    check("cli_helper" in s["command"], "stat: command %r does not name cli_helper" % s["command"])
    c = s["counters"]
    for k, v in c.items():
        check(isinstance(v, int) and v >= 0, "stat: counter %s = %r is not an exact count" % (k, v))
    want = frag_of(c)
    for k, v in want.items():
        check(abs(s["fragmentation"][k] - v) < 1e-12,
              "stat: fragmentation %s = %r, the counters give %r" % (k, s["fragmentation"][k], v))
    hist = s["histogram"]
    check(sum(b["count"] for b in hist) == c["free_blocks"],
          "stat: histogram counts %d free blocks, free_blocks is %d"
          % (sum(b["count"] for b in hist), c["free_blocks"]))
    for b in hist:
        check(b["count"] > 0 and b["max"] == 2 * b["min"] and b["min"] & (b["min"] - 1) == 0,
              "stat: bad histogram bucket %r" % b)
    if c["free_blocks"]:
        top = max(b["min"] for b in hist)
        check(top <= c["largest_free"] < 2 * top,
              "stat: largest_free %d is not in the top bucket [%d, %d)" % (c["largest_free"], top, 2 * top))
    orders = s["buddy_orders"]
    if policy == "buddy":
        check(orders, "stat: buddy policy but no buddy_orders")
        check(sum(o["free"] for o in orders) == c["free_blocks"],
              "stat: buddy orders hold %d free blocks, free_blocks is %d"
              % (sum(o["free"] for o in orders), c["free_blocks"]))
        check(sum(o["free"] * o["size"] for o in orders) == c["free_bytes"],
              "stat: buddy orders hold %d free bytes, free_bytes is %d"
              % (sum(o["free"] * o["size"] for o in orders), c["free_bytes"]))
        for o in orders:
            check(o["size"] == 1 << o["order"], "stat: order %r" % o)
            k = o["order"]
            bucket = [b["count"] for b in hist if b["min"] == 1 << k]
            check((bucket[0] if bucket else 0) == o["free"],
                  "stat: order %d has %d free blocks, the histogram's [2^%d, 2^%d) %r"
                  % (k, o["free"], k, k + 1, bucket))
    else:
        check(orders == [], "stat: policy %s has buddy_orders %r" % (policy, orders))


def parse_text(out):
    """`stat` text: {(section, label): value text}, plus the histogram rows."""
    fields, hist, section = {}, {}, None
    for line in out.splitlines():
        if not line.startswith(" "):
            section = line.split(" (")[0]
            continue
        m = re.match(r"^  (\[[^)]*\))\s+(\d+)$", line)
        if m and section == "free blocks by size":
            hist[m.group(1)] = int(m.group(2))
            continue
        m = re.match(r"^  (\S+(?: \S+)*)\s{2,}(.*)$", line)
        if m:
            fields[(section, m.group(1))] = m.group(2)
    return fields, hist


def exact(text):
    """The exact byte count of '1.5 KiB (1536 B)' or '512 B', or a bare count."""
    m = re.search(r"\((\d+) B\)$", text) or re.match(r"^(\d+)(?: B)?$", text)
    check(m, "cannot read an exact number in %r" % text)
    return int(m.group(1))


def human_pow2(n):
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    k = n.bit_length() - 1
    return "%d %s" % (1 << (k - 10 * (k // 10)), units[k // 10])


def check_text(out, s):
    """The text form of stat shows the numbers of the JSON snapshot s."""
    fields, hist = parse_text(out)
    c = s["counters"]
    rows = {("process", "pid"): s["pid"],
            ("calls", "malloc"): c["malloc_calls"], ("calls", "calloc"): c["calloc_calls"],
            ("calls", "free"): c["free_calls"], ("calls", "aligned"): c["aligned_calls"],
            ("calls", "failed"): c["failed_calls"],
            ("heap", "heap bytes"): c["heap_bytes"], ("heap", "regions"): c["regions"],
            ("heap", "live requested"): c["live_requested"],
            ("heap", "live block bytes"): c["live_block_bytes"],
            ("heap", "live blocks"): c["live_blocks"], ("heap", "free bytes"): c["free_bytes"],
            ("heap", "free blocks"): c["free_blocks"], ("heap", "largest free"): c["largest_free"],
            ("heap", "overhead"): c["overhead_bytes"],
            ("large blocks", "requested"): c["large_requested"],
            ("large blocks", "mapped"): c["large_bytes"],
            ("large blocks", "blocks"): c["large_blocks"],
            ("peaks", "requested"): c["peak_requested"],
            ("peaks", "heap bytes"): c["peak_heap_bytes"]}
    for key, want in rows.items():
        check(key in fields, "stat text: no line %r in:\n%s" % (key, out))
        check(exact(fields[key]) == want, "stat text: %r shows %r, JSON says %d" % (key, fields[key], want))
    check(fields[("process", "policy")] == s["policy"], "stat text: policy %r" % fields[("process", "policy")])
    m = re.match(r"^(\d+) \(in place (\d+), moved (\d+)\)$", fields[("calls", "realloc")])
    check(m and [int(x) for x in m.groups()] == [c["realloc_calls"], c["realloc_in_place"], c["realloc_moved"]],
          "stat text: realloc line %r" % fields[("calls", "realloc")])
    for k, label in (("internal", "internal"), ("external", "external"),
                     ("utilisation", "utilisation"), ("peak_utilisation", "peak utilisation")):
        t = fields[("fragmentation", label)]
        m = re.match(r"^(-?\d+\.\d\d) %$", t)
        check(m and abs(float(m.group(1)) - 100 * s["fragmentation"][k]) <= 0.0051,
              "stat text: %s %r, JSON %r" % (label, t, s["fragmentation"][k]))
    for label, calls_k, bytes_k in (("mmap", "mmap_calls", "mmap_bytes"), ("munmap", "munmap_calls", "munmap_bytes"),
                                    ("madvise", "madvise_calls", "madvise_bytes")):
        t = fields[("system calls", label)]
        m = re.match(r"^(\d+) calls?, (.*)$", t)
        check(m and int(m.group(1)) == c[calls_k] and exact(m.group(2)) == c[bytes_k],
              "stat text: %s %r, JSON %d calls, %d bytes" % (label, t, c[calls_k], c[bytes_k]))
    t = fields[("system calls", "brk")]
    m = re.match(r"^(\d+) calls?, grew (.*), shrank (.*)$", t)
    check(m and int(m.group(1)) == c["brk_calls"] and exact(m.group(2)) == c["brk_grow_bytes"]
          and exact(m.group(3)) == c["brk_shrink_bytes"], "stat text: brk %r" % t)
    want_hist = {"[%s, %s)" % (human_pow2(b["min"]), human_pow2(b["max"])): b["count"] for b in s["histogram"]}
    check(hist == want_hist, "stat text: histogram %r, JSON gives %r" % (hist, want_hist))
    if s["policy"] == "buddy":
        check("buddy free blocks by order (as in /proc/buddyinfo)" in out, "stat text: no buddy orders")
        lines = out.split("buddy free blocks by order")[1].splitlines()[1:4]
        orders = [int(x) for x in lines[0].split()[1:]]
        free = [int(x) for x in lines[2].split()[1:]]
        check(orders == [o["order"] for o in s["buddy_orders"]] and free == [o["free"] for o in s["buddy_orders"]],
              "stat text: buddy rows %r do not match JSON %r" % (lines, s["buddy_orders"]))
    else:
        check("buddy free blocks" not in out, "stat text: buddy orders under policy %s" % s["policy"])


def ps_row(ps, pid):
    rows = [p for p in ps["processes"] if p["pid"] == pid]
    check(len(rows) == 1, "ps --json: pid %d listed %d times: %r" % (pid, len(rows), ps))
    return rows[0]


def ps_text_row(out, pid):
    lines = out.splitlines()
    check(lines and lines[0].split() == ["PID", "POLICY", "HEAP", "LIVE", "UTIL%", "EXTFRAG%", "COMMAND"],
          "ps: header %r" % (lines[:1],))
    for line in lines[1:]:
        f = line.split()
        if f and f[0].rstrip("*") == str(pid):
            return line
    raise Fail("ps: no row for %d in:\n%s" % (pid, out))


def check_ps_matches(row, s):
    c = s["counters"]
    for k in ("heap_bytes", "live_requested", "live_block_bytes", "live_blocks", "free_bytes",
              "free_blocks", "largest_free", "large_requested", "large_bytes"):
        check(row[k] == c[k], "ps --json: %s = %r, stat says %d" % (k, row[k], c[k]))
    check(row["policy"] == s["policy"], "ps --json: policy %r, stat says %r" % (row["policy"], s["policy"]))
    check(abs(row["utilisation"] - s["fragmentation"]["utilisation"]) < 1e-12, "ps --json: utilisation")
    check(abs(row["external_fragmentation"] - s["fragmentation"]["external"]) < 1e-12, "ps --json: external")
    check(row["fresh"] is True, "ps --json: the responsive helper did not answer: %r" % row)


def check_ps_text(line, s):
    f = line.split()
    check(f[1] == s["policy"], "ps: row %r: policy is not %s" % (line, s["policy"]))
    util, ext = 100 * s["fragmentation"]["utilisation"], 100 * s["fragmentation"]["external"]
    # PID POLICY HEAP(2) LIVE(2) UTIL EXTFRAG COMMAND...
    check(abs(float(f[6]) - util) <= 0.051 and abs(float(f[7]) - ext) <= 0.051,
          "ps: row %r: UTIL%%/EXTFRAG%% are not %.2f/%.2f" % (line, util, ext))
    check("cli_helper" in line, "ps: row %r does not show the command" % line)


# ---- the cases ---------------------------------------------------------------

def case_stat(ctx, policy):
    steps = pattern()
    want = expected(steps)
    p = ctx.helper(policy, steps)
    before, _ = ctx.cli_json("stat", "--json", str(p.pid))
    check_snapshot(before, p.pid, policy)
    check(before["fresh"] is True, "stat: the waiting helper did not answer: %r" % before)
    ctx.send(p, "go")
    done = ctx.read_line(p)
    check(done.startswith("done"), "helper said %r" % done)
    usable = {int(a): int(b) for a, b in (x.split(":") for x in done.split()[1:])}
    check(set(usable) == want["slots"], "helper's live slots %r, the pattern's %r" % (sorted(usable), sorted(want["slots"])))
    after, err = ctx.cli_json("stat", "--json", str(p.pid))
    check(err == "", "stat: unexpected stderr %r" % err)
    check_snapshot(after, p.pid, policy)
    check(after["fresh"] is True, "stat: the waiting helper did not answer: %r" % after)

    b, a = before["counters"], after["counters"]
    d = {k: a[k] - b[k] for k in a}
    moved, in_place = d["realloc_moved"], d["realloc_in_place"]
    check(moved + in_place == want["resizes"],
          "realloc: %d in place + %d moved, the pattern grows %d" % (in_place, moved, want["resizes"]))
    calls = dict(want["calls"])
    # free_calls counts free() calls only: a moved realloc is one realloc call
    for k, v in calls.items():
        check(d[k] == v, "%s grew by %d, the pattern makes %d" % (k, d[k], v))
    block_bytes = sum(block_of(usable[k], policy) for k in want["heap"])
    for k, v in (("live_requested", want["live_requested"]), ("live_blocks", want["live_blocks"]),
                 ("live_block_bytes", block_bytes),
                 ("large_requested", want["large_requested"]), ("large_blocks", want["large_blocks"])):
        check(d[k] == v, "%s grew by %d, the pattern holds %d (before %d, after %d)" % (k, d[k], v, b[k], a[k]))
    check(a["large_bytes"] - b["large_bytes"] >= want["large_requested"], "large_bytes grew too little")
    check(a["peak_requested"] >= a["live_requested"] and a["peak_heap_bytes"] >= a["heap_bytes"],
          "peaks below the current values")
    check(a["publishes"] > b["publishes"] and a["time_ns"] > b["time_ns"], "stat: no new publish")

    rc, out, err = ctx.cli("stat", str(p.pid))
    check(rc == 0 and err == "", "stat: exit %d, stderr %r" % (rc, err))
    check_text(out, after)

    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    check_ps_matches(ps_row(ps, p.pid), after)
    ctx.quit(p)


def case_stat_no_answer(ctx):
    p = ctx.helper("best", idle=True)
    t0 = time.monotonic()
    rc, out, err = ctx.cli("stat", "--json", "--timeout", "300", str(p.pid))
    took = time.monotonic() - t0
    check(rc == 0, "stat of a process that does not answer: exit %d, stderr %r" % (rc, err))
    check(took >= 0.3, "stat returned after %.3f s, before its 300 ms timeout" % took)
    check(re.fullmatch(r"glassheap: stat: process %d did not answer within 300 ms \(it makes no allocator "
                       r"calls, or it is stopped\); showing the counters it published \d+\.\d{3} s ago\n" % p.pid,
                       err), "stat: warning %r" % err)
    s = json.loads(out)
    check(s["fresh"] is False, "stat --json: fresh is %r for a process that did not answer" % s["fresh"])
    check_snapshot(s, p.pid, "best")
    check(s["counters"]["publishes"] >= 1 and s["counters"]["malloc_calls"] >= 0, "no published counters")
    rc, out, err = ctx.cli("stat", "--timeout", "0", str(p.pid))
    check(rc == 0 and "NOT fresh" in out and "did not answer" in err, "stat text: %r %r" % (out, err))
    rc, out, err = ctx.cli("ps", "--timeout", "100", "--keep-stale")
    line = ps_text_row(out, p.pid)
    check(line.split()[0] == "%d*" % p.pid and "* did not answer in time" in out,
          "ps: the idle helper's row %r is not marked '*'" % line)
    ctx.quit(p)


def case_ps(ctx):
    steps = pattern()
    helpers = [(ctx.helper(pol, steps), pol) for pol in ("first", "buddy")]
    for p, _ in helpers:
        ctx.send(p, "go")
        check(ctx.read_line(p).startswith("done"), "helper %d did not finish its pattern" % p.pid)
    stats = {p.pid: ctx.cli_json("stat", "--json", str(p.pid))[0] for p, _ in helpers}
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    check(set(ps) >= {"processes", "stale", "other_users", "unreadable"}, "ps --json: keys %r" % sorted(ps))
    check(all(isinstance(x, int) for x in ps["stale"]), "ps --json: stale %r" % ps["stale"])
    pids = [r["pid"] for r in ps["processes"]]
    check(pids == sorted(pids), "ps --json: not in pid order: %r" % pids)
    for p, pol in helpers:
        row = ps_row(ps, p.pid)
        check(row["policy"] == pol, "ps --json: pid %d policy %r, not %r" % (p.pid, row["policy"], pol))
        check_ps_matches(row, stats[p.pid])
        check("cli_helper" in row["command"], "ps --json: command %r" % row["command"])
    rc, out, err = ctx.cli("ps", "--keep-stale")
    check(rc == 0, "ps: exit %d, stderr %r" % (rc, err))
    for p, _ in helpers:
        check_ps_text(ps_text_row(out, p.pid), stats[p.pid])
    for p, _ in helpers:
        ctx.quit(p)
    ps, _ = ctx.cli_json("ps", "--json", "--keep-stale")
    for p, _ in helpers:
        check(p.pid not in [r["pid"] for r in ps["processes"]], "ps lists %d after it exited" % p.pid)


def case_ps_stale(ctx):
    p = ctx.helper("worst")
    pid = p.pid
    ctx.kill9(p)
    check(os.path.exists(seg_path(pid)), "a SIGKILLed helper left no segment: nothing to test")
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    check(pid in ps["stale"], "ps --json --keep-stale: %d not in stale %r" % (pid, ps["stale"]))
    check(pid not in [r["pid"] for r in ps["processes"]], "ps lists the dead %d as live" % pid)
    check("stale: %d (kept)\n" % pid in err, "ps --keep-stale: stderr %r" % err)
    check(os.path.exists(seg_path(pid)), "--keep-stale removed %s" % seg_path(pid))
    rc, out, err = ctx.cli("ps")
    check(rc == 0, "ps: exit %d, stderr %r" % (rc, err))
    check(re.search(r"^stale: %d \(removed\)$" % pid, err, re.M), "ps: stderr %r has no 'stale: %d (removed)'" % (err, pid))
    check(not re.search(r"^\s*%d\*?\s" % pid, out, re.M), "ps: the dead %d has a row:\n%s" % (pid, out))
    check(not os.path.exists(seg_path(pid)), "ps did not remove %s" % seg_path(pid))
    rc, out, err = ctx.cli("ps", "--keep-stale")
    check("stale: %d" % pid not in err, "ps reports %d again after removing it" % pid)


def case_err_replaced(ctx):
    """A preloaded process that exec()s a program without glassheap: its
    segment stays behind with its pid and start time, but no writer."""
    env = clean_env()
    env["LD_PRELOAD"] = ctx.a.library
    p = subprocess.Popen(["env", "-u", "LD_PRELOAD", "sleep", "60"], env=env, stdin=subprocess.DEVNULL)
    ctx.procs.append(p)
    ctx.files.append(seg_path(p.pid))
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while open("/proc/%d/comm" % p.pid).read().strip() != "sleep":
        check(time.monotonic() < deadline, "env %d never became sleep" % p.pid)
        time.sleep(0.01)
    check(os.path.exists(seg_path(p.pid)), "the preloaded env made no segment: nothing to test")
    msg = (r"glassheap: stat: the segment of %d is stale: the process exited or was replaced "
           r"\('glassheap ps' removes it\)" % p.pid)
    expect_error(ctx, ["stat", "--timeout", "100", str(p.pid)], 1, msg)
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale", "--timeout", "50")
    check(p.pid in ps["stale"], "ps --json: the replaced %d is not stale: %r" % (p.pid, ps))


def expect_error(ctx, argv, rc_want, err_re, user=None, exe=None):
    rc, out, err = ctx.cli(*argv, user=user, exe=exe)
    check(rc == rc_want, "glassheap %s: exit %d, want %d (stderr %r)" % (" ".join(argv), rc, rc_want, err))
    check(re.fullmatch(err_re + r"\n", err), "glassheap %s: stderr %r does not match %r" % (" ".join(argv), err, err_re))
    check(out == "", "glassheap %s: printed %r on an error" % (" ".join(argv), out))


def case_err_no_process(ctx):
    p = ctx.child(["true"])
    p.wait()
    pid = p.pid
    try:
        os.kill(pid, 0)
        return SKIP   # the pid was taken again at once
    except ProcessLookupError:
        pass
    check(not os.path.exists(seg_path(pid)), "%s exists" % seg_path(pid))
    expect_error(ctx, ["stat", str(pid)], 1, r"glassheap: stat: no process %d" % pid)
    expect_error(ctx, ["stat", "--json", str(pid)], 1, r"glassheap: stat: no process %d" % pid)


def case_err_no_glassheap(ctx):
    p = ctx.child(["sleep", "60"])
    # sleep has no segment; wait until it runs sleep (not our fork) to name it
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while open("/proc/%d/comm" % p.pid).read().strip() != "sleep":
        check(time.monotonic() < deadline, "sleep %d never started" % p.pid)
        time.sleep(0.01)
    expect_error(ctx, ["stat", str(p.pid)], 1, r"glassheap: stat: process %d \(sleep\) is not running glassheap" % p.pid)
    ps, _ = ctx.cli_json("ps", "--json", "--keep-stale")
    check(p.pid not in [r["pid"] for r in ps["processes"]], "ps lists sleep %d" % p.pid)


def case_err_stale(ctx):
    p = ctx.helper("next")
    pid = p.pid
    ctx.kill9(p)
    check(os.path.exists(seg_path(pid)), "a SIGKILLed helper left no segment: nothing to test")
    msg = (r"glassheap: stat: the segment of %d is stale: the process exited or was replaced "
           r"\('glassheap ps' removes it\)" % pid)
    expect_error(ctx, ["stat", str(pid)], 1, msg)
    expect_error(ctx, ["stat", "--json", str(pid)], 1, msg)
    check(os.path.exists(seg_path(pid)), "stat removed the stale segment (ps's job)")


def case_err_other_user(ctx):
    if os.geteuid() != 0:
        print("skip: needs root, to run glassheap as another user than the helper's")
        return SKIP
    p = ctx.helper("best")
    # nobody must be able to run glassheap: a copy in a directory anyone may enter
    d = tempfile.mkdtemp(prefix="cli_other_user.")
    try:
        os.chmod(d, 0o755)
        exe = os.path.join(d, "glassheap")
        shutil.copy2(ctx.a.glassheap, exe)
        os.chmod(exe, 0o755)
        msg = (r"glassheap: stat: segment of %d belongs to another user \(uid 0, root\); "
               r"only that user or root may read it" % p.pid)
        expect_error(ctx, ["stat", str(p.pid)], 3, msg, user=NOBODY, exe=exe)
        expect_error(ctx, ["stat", "--json", str(p.pid)], 3, msg, user=NOBODY, exe=exe)
        rc, out, err = ctx.cli("ps", "--json", "--keep-stale", user=NOBODY, exe=exe)
        check(rc == 0, "ps as nobody: exit %d, stderr %r" % (rc, err))
        ps = json.loads(out)
        check(p.pid in ps["other_users"], "ps as nobody: %d not in other_users %r" % (p.pid, ps["other_users"]))
        check(p.pid not in [r["pid"] for r in ps["processes"]], "ps as nobody lists root's %d" % p.pid)
        check(re.search(r"^glassheap: ps: \d+ segments? of other users not shown \(only root may read them\)$",
                        err, re.M), "ps as nobody: stderr %r" % err)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # root itself reads it
    s, _ = ctx.cli_json("stat", "--json", str(p.pid))
    check(s["pid"] == p.pid, "root cannot read its own helper")
    ctx.quit(p)


def shm_version(path):
    m = re.search(r"#define\s+GH_SHM_VERSION\s+(\d+)u?", open(path).read())
    check(m, "no GH_SHM_VERSION in %s" % path)
    m2 = re.search(r"#define\s+GH_SHM_MAGIC\s+(0x[0-9a-fA-F]+)", open(path).read())
    return int(m.group(1)), int(m2.group(1), 16)


def case_err_version(ctx):
    version, magic = shm_version(ctx.a.shm_h)
    bad = version + 6
    p = ctx.child(["sleep", "60"])
    path = seg_path(p.pid)
    ctx.files.append(path)
    # struct gh_shm_header starts: u64 magic, u32 version, u32 header_size
    image = magic.to_bytes(8, "little") + bad.to_bytes(4, "little") + (4096).to_bytes(4, "little")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, image + bytes(4096 - len(image)))
    finally:
        os.close(fd)
    msg = r"glassheap: stat: segment of %d has layout version %d; this glassheap reads version %d" % (p.pid, bad, version)
    expect_error(ctx, ["stat", str(p.pid)], 3, msg)
    expect_error(ctx, ["stat", "--json", str(p.pid)], 3, msg)
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    rows = [u for u in ps["unreadable"] if u["pid"] == p.pid]
    check(len(rows) == 1 and rows[0].get("version") == bad, "ps --json: unreadable %r" % ps["unreadable"])
    check(("glassheap: ps: segment of %d has layout version %d; this glassheap reads version %d\n"
           % (p.pid, bad, version)) in err, "ps: stderr %r" % err)
    check(os.path.exists(path), "ps removed a segment of another version")


def case_run(ctx):
    """glassheap run: the program's own output and exit status, on glassheap
    with the policy asked for (its exit summary says so), LD_PRELOAD kept."""
    for policy in ("first", "buddy"):
        rc, out, err = ctx.cli("run", "--policy", policy, "--stats=json", "--",
                               "/bin/bash", "-c", 'echo "hello $1"; exit 7', "bash", "world")
        check(rc == 7, "run: exit %d, want the program's 7 (stderr %r)" % (rc, err))
        check(out == "hello world\n", "run: stdout %r" % out)
        lines = [l for l in err.splitlines() if l.startswith("{")]
        check(lines, "run --stats=json printed no summary: %r" % err)
        summary = json.loads(lines[-1])
        check(summary["policy"] == policy, "run: the summary says policy %r" % summary["policy"])
    rc, out, err = ctx.cli("run", "--policy", "bogus", "--", "true")
    check(rc == 2 and "'bogus' is not a policy" in err, "run --policy bogus: %d %r" % (rc, err))
    rc, out, err = ctx.cli("run", "--", "/nonexistent/program")
    check(rc == 127 and "cannot run '/nonexistent/program'" in err, "run of a missing program: %d %r" % (rc, err))


def case_err_no_library(ctx):
    """glassheap run with no library to be found: a copy of the command away
    from its build tree, and a $GLASSHEAP_LIBRARY that names no file."""
    if os.path.exists("/usr/local/lib/libglassheap.so"):
        print("skip: an installed libglassheap.so would be found")
        return SKIP
    want = (r"glassheap: run: libglassheap.so not found \(set GLASSHEAP_LIBRARY, or run the glassheap "
            r"of a build tree or an installation\)\n")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "glassheap")
        shutil.copy(ctx.a.glassheap, exe)
        bad = dict(clean_env(), GLASSHEAP_LIBRARY=os.path.join(tmp, "no-such-libglassheap.so"))
        for argv, env in (([exe], clean_env()), ([ctx.a.glassheap], bad)):
            r = subprocess.run(argv + ["run", "--", "true"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=CLI_TIMEOUT_S)
            check(r.returncode == 3, "%s run: exit %d, want 3 (stderr %r)" % (argv[0], r.returncode, r.stderr))
            check(re.fullmatch(want, r.stderr), "%s run: stderr %r" % (argv[0], r.stderr))
            check(r.stdout == "", "%s run: printed %r" % (argv[0], r.stdout))


def case_usage(ctx):
    for argv, rc_want in ((["stat"], 2), (["stat", "abc"], 2), (["stat", "0"], 2), (["stat", "1", "2"], 2),
                          (["stat", "--bogus", "1"], 2), (["stat", "--timeout", "-1", "1"], 2),
                          (["ps", "extra"], 2), (["ps", "--timeout", "x"], 2), (["ps", "--bogus"], 2)):
        rc, out, err = ctx.cli(*argv)
        check(rc == rc_want, "glassheap %s: exit %d, want %d" % (" ".join(argv), rc, rc_want))
        check(err.startswith("glassheap: ") or err.startswith("usage:") or "unrecognized option" in err
              or "invalid option" in err, "glassheap %s: stderr %r" % (" ".join(argv), err))
    for sub in ("stat", "ps"):
        rc, out, err = ctx.cli(sub, "--help")
        check(rc == 0 and out.startswith("usage: glassheap %s" % sub) and err == "",
              "glassheap %s --help: exit %d, %r" % (sub, rc, out[:80]))
    rc, out, err = ctx.cli("--help")
    check(rc == 0 and re.search(r"^  ps\s", out, re.M) and re.search(r"^  stat\s", out, re.M),
          "glassheap --help does not list ps and stat: %r" % out)
    rc, out, err = ctx.cli("--version")
    check(rc == 0 and out == "glassheap %s\n" % ctx.a.project_version and err == "",
          "glassheap --version: exit %d, %r, want the project's version %s" % (rc, out, ctx.a.project_version))


CASES = {
    "stat": case_stat, "stat_no_answer": case_stat_no_answer, "ps": case_ps, "ps_stale": case_ps_stale,
    "err_no_process": case_err_no_process, "err_no_glassheap": case_err_no_glassheap,
    "err_stale": case_err_stale, "err_replaced": case_err_replaced, "err_other_user": case_err_other_user, "err_version": case_err_version,
    "usage": case_usage, "run": case_run, "err_no_library": case_err_no_library,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--helper", required=True)
    ap.add_argument("--shm-h", required=True)
    ap.add_argument("--project-version", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("params", nargs="*")
    a = ap.parse_args()
    ctx = Ctx(a)
    old = signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # ctest's timeout: clean up
    try:
        rc = CASES[a.case](ctx, *a.params)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    except subprocess.TimeoutExpired as e:
        print("FAIL: timed out: %s" % e)
        return 1
    finally:
        ctx.cleanup()
        signal.signal(signal.SIGTERM, old)
    if rc == SKIP:
        return SKIP
    print("ok: %s %s" % (a.case, " ".join(a.params)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

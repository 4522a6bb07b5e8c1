#!/usr/bin/env python3
"""map_test.py - drives `glassheap map` and `glassheap layout` against
map_helper running with glassheap preloaded.  One case per CTest test:

    map_test.py --glassheap G --library L --helper H --golden DIR --work DIR
                [--xmllint X] [--rsvg-convert R] CASE

Every helper runs in an empty environment (only LD_PRELOAD and
GLASSHEAP_POLICY=first), so its heap is the same on every run.  The helper
prints "ready <pid>" once its heap is built and exits at end of file on its
stdin; the driver closes stdin, waits (bounded), kills it when it has to, and
checks that its /dev/shm segment is gone.  Nothing sleeps to guess: every
wait polls with a deadline.  Exit 0 pass, 1 fail, 77 skipped (a tool the case
needs is missing).
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
import time

SKIP = 77
SHM_DIR = "/dev/shm"
CMD_TIMEOUT = 30
LARGE_BLOCK = 256 * 1024  # map_helper.c
EXTRA_LARGE = 1024 * 1024  # map_helper.c, EXTRA_LARGE_SIZE


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Helper:
    """map_helper MODE with glassheap preloaded, as a context manager."""

    def __init__(self, args, mode):
        self.args = args
        self.mode = mode
        self.proc = None
        self.pid = None

    def __enter__(self):
        env = {"LD_PRELOAD": self.args.library, "GLASSHEAP_POLICY": "first"}
        for k in ("GLASSHEAP_CACHE", "GLASSHEAP_ARENAS"):  # the mode CTest asks for
            if k in os.environ:
                env[k] = os.environ[k]
        self.proc = subprocess.Popen([self.args.helper, self.mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        line = b""
        deadline = time.monotonic() + 20
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.kill()
                raise Failure("map_helper %s did not become ready (got %r)" % (self.mode, line))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 64)
                if not chunk:
                    self.kill()
                    raise Failure("map_helper %s exited before it was ready" % self.mode)
                line += chunk
        if line == b"unsupported\n":
            self.proc.wait(10)
            print("SKIP: map_helper %s: the break cannot be blocked here" % self.mode)
            sys.exit(SKIP)
        m = re.fullmatch(rb"ready (\d+)\n", line)
        check(m, "map_helper said %r" % line)
        self.pid = int(m.group(1))
        check(self.pid == self.proc.pid, "map_helper reports pid %d, not %d" % (self.pid, self.proc.pid))
        wait_for(lambda: os.path.exists(segment(self.pid)), 10, "the segment of pid %d" % self.pid)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.pid:
            try:
                os.unlink(segment(self.pid))  # a killed writer cannot unlink it
            except FileNotFoundError:
                pass

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.kill()
            return False
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("map_helper %s did not exit at end of input" % self.mode)
        check(rc == 0, "map_helper %s exited with %d" % (self.mode, rc))
        wait_for(lambda: not os.path.exists(segment(self.pid)), 10,
                 "the segment of pid %d to go away" % self.pid)
        return False


def segment(pid):
    return os.path.join(SHM_DIR, "glassheap.%d" % pid)


def wait_for(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for " + what)
        time.sleep(0.01)


def run(args, *argv, expect=0, preexec=None):
    cmd = [args.glassheap] + [str(a) for a in argv]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("NO_COLOR", None)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=CMD_TIMEOUT, env=env,
                       preexec_fn=preexec)
    out, err = r.stdout.decode(), r.stderr.decode()
    if expect is not None and r.returncode != expect:
        raise Failure("%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                      % (" ".join(cmd), r.returncode, expect, out, err))
    return r.returncode, out, err


def run_on_pty(args, columns, *argv, no_color=False):
    """Run glassheap with stdout on a pseudo-terminal `columns` wide."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"
    if no_color:
        env["NO_COLOR"] = "1"
    p = subprocess.Popen([args.glassheap] + [str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=subprocess.PIPE, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + CMD_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
        rc = p.wait(10)
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
    check(rc == 0, "%s on a terminal: exit %d: %s" % (argv, rc, p.stderr.read().decode()))
    return out.decode().replace("\r\n", "\n")


def read_maps(pid):
    rows = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            rows.append((lo, hi, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return rows


# ---- cases ---------------------------------------------------------------

def case_terminal(args):
    with Helper(args, "tick") as h:
        _, out, _ = run(args, "map", h.pid, "--json")
        js = json.loads(out)
        _, text, _ = run(args, "map", h.pid, "--color=never", "--width", "64")
        _, colored, _ = run(args, "map", h.pid, "--color=always", "--width", "32")
        _, rel, _ = run(args, "map", h.pid, "--relative", "--cell", "32", "--width", "16")
        _, relj, _ = run(args, "map", h.pid, "--relative", "--json")
    # the block list: address order, tiles each region, agrees with the counters
    check(js["pid"] == h.pid and js["policy"] == "first" and js["program"] == "map_helper", "JSON head: %r" % js)
    blocks = js["blocks"]
    c = js["counters"]
    check(not js["truncated"] and js["nblocks"] == len(blocks) == js["total_blocks"], "block count")
    used = [b for b in blocks if b["state"] == "used"]
    free = [b for b in blocks if b["state"] == "free"]
    check(len(used) == c["live_blocks"], "used blocks %d vs live_blocks %d" % (len(used), c["live_blocks"]))
    check(len(free) == c["free_blocks"], "free blocks %d vs free_blocks %d" % (len(free), c["free_blocks"]))
    check(sum(b["size"] for b in used) == c["live_block_bytes"], "used bytes vs live_block_bytes")
    check(sum(b["requested"] for b in used) == c["live_requested"], "requested vs live_requested")
    check(sum(b["size"] for b in free) == c["free_bytes"], "free bytes vs free_bytes")
    check(max(b["size"] for b in free) == c["largest_free"], "largest free block")
    for a, b in zip(blocks, blocks[1:]):
        if a["region"] == b["region"]:
            check(a["addr"] + a["size"] == b["addr"], "blocks do not tile at %#x" % b["addr"])
    check(len(js["regions"]) == c["regions"] == 1, "one region expected: %r" % js["regions"])
    r0 = js["regions"][0]
    check(r0["start"] == js["heap_start"] and r0["end"] == js["heap_end"], "region 0 is the heap")
    check(js["heap_end"] - js["heap_start"] == c["heap_bytes"], "heap span %d vs heap_bytes %d"
          % (js["heap_end"] - js["heap_start"], c["heap_bytes"]))
    # the pattern: 60 bytes in the first hole (first fit), the 200-byte block intact
    sizes = [b["requested"] for b in used]
    for want in (24, 60, 150, 200, 48, 64, 16, 500, 32, 80, 128, 700, 256, 90):
        check(want in sizes, "no used block of %d requested bytes: %r" % (want, sizes))
    check(sizes.index(60) == 1, "first fit: 60 bytes should reuse the first hole: %r" % sizes)
    f = js["fragmentation"]
    check(abs(f["utilisation"] - c["live_requested"] / c["heap_bytes"]) < 1e-6, "utilisation")
    check(abs(f["internal"] - (1 - c["live_requested"] / c["live_block_bytes"])) < 1e-6, "internal")
    check(abs(f["external"] - (1 - c["largest_free"] / c["free_bytes"])) < 1e-6, "external")

    # the terminal map: header, one labelled row per range, cells by state
    lines = text.splitlines()
    check(lines[0] == "glassheap map: pid %d (map_helper), policy first; read from outside" % h.pid,
          "first line: %r" % lines[0])
    check("%d blocks (%d used, %d free)" % (len(blocks), len(used), len(free)) in lines[1], lines[1])
    check(re.search(r"utilisation [\d.]+%, internal fragmentation [\d.]+%, external fragmentation [\d.]+%",
                    lines[2]), lines[2])
    m = re.match(r"one cell (\d+) B, one row ([\d.]+ KiB|\d+ B)", lines[3])
    check(m, "cell line: %r" % lines[3])
    cell = int(m.group(1))
    rows = [l for l in lines if re.match(r"0x[0-9a-f]{12} \|", l)]
    check(rows, "no rows")
    for l in rows:
        body = l.split("|")[1]
        check(len(body) == 64 and set(body) <= set("#.h "), "bad row %r" % l)
    first = int(rows[0].split()[0], 16)
    check(first <= js["heap_start"] < first + 64 * cell, "first row does not hold the heap start")
    check(all(int(a.split()[0], 16) < int(b.split()[0], 16) for a, b in zip(rows, rows[1:])), "rows not in order")
    check(any("more rows like the one above" in l for l in lines), "the free top was not folded")
    # each cell's character by hand for the first row (16-byte cells, region record first)
    if cell == 16:
        expect = ""
        for i in range(64):
            lo, hi = first + 16 * i, first + 16 * i + 16
            kinds = {"#": 0, "h": 0, ".": 0, " ": 16}
            if lo < js["heap_start"] + (blocks[0]["addr"] - js["heap_start"]) and hi > js["heap_start"]:
                n = min(hi, blocks[0]["addr"]) - max(lo, js["heap_start"])
                kinds["h"] += n
                kinds[" "] -= n
            for b in blocks:
                parts = ([(b["addr"], b["addr"] + 16, "h"), (b["addr"] + 16, b["addr"] + 16 + b["requested"], "#"),
                          (b["addr"] + 16 + b["requested"], b["addr"] + b["size"], "h")]
                         if b["state"] == "used" else [(b["addr"], b["addr"] + b["size"], ".")])
                for s, e, k in parts:
                    n = min(e, hi) - max(s, lo)
                    if n > 0:
                        kinds[k] += n
                        kinds[" "] -= n
            expect += max("#h. ", key=lambda k: kinds[k])
        check(rows[0].split("|")[1] == expect, "first row\n got %r\nwant %r" % (rows[0], expect))
    # on a terminal: colour by default, the terminal's width, NO_COLOR respected
    with Helper(args, "tick") as h:
        tty = run_on_pty(args, 100, "map", h.pid)
        plain = run_on_pty(args, 100, "map", h.pid, no_color=True)
    check("\033[32m#" in tty, "no colour on a terminal: %r" % tty[:400])
    check("\033[" not in plain, "colour despite NO_COLOR")
    trows = [l for l in plain.splitlines() if re.match(r"0x[0-9a-f]{12} \|", l)]
    check(trows and all(len(l.split("|")[1]) == 80 for l in trows), "100 columns: rows of 80 cells expected: %r"
          % trows[:1])
    # colour: ANSI sequences only when asked
    check("\033[" not in text, "colour without --color")
    check("\033[32m#" in colored and "\033[0m" in colored, "no colour with --color=always")
    # relative: offsets from the heap start, in the rows and in JSON
    rrows = [l for l in rel.splitlines() if re.match(r"\s*\+0x[0-9a-f]+ \|", l)]
    check(rrows and rrows[0].split()[0] == "+0x000000", "relative rows: %r" % rrows[:2])
    check(all(len(l.split("|")[1]) == 16 for l in rrows), "--width 16")
    check("one cell 32 B, one row 512 B" in rel, "--cell 32")
    rj = json.loads(relj)
    check(rj["relative"] and rj["heap_start"] == 0 and rj["blocks"][0]["addr"] == blocks[0]["addr"] - js["heap_start"],
          "relative JSON")


def need(tool, what):
    if not tool or not os.access(tool, os.X_OK):
        print("SKIP: %s not installed" % what)
        sys.exit(SKIP)


def svg_ok(args, path):
    check(os.path.getsize(path) > 0, "%s is empty" % path)
    r = subprocess.run([args.xmllint, "--noout", path], capture_output=True, timeout=CMD_TIMEOUT)
    check(r.returncode == 0, "xmllint %s: %s" % (path, r.stderr.decode()))
    png = path + ".png"
    r = subprocess.run([args.rsvg_convert, "-o", png, path], capture_output=True, timeout=CMD_TIMEOUT)
    check(r.returncode == 0, "rsvg-convert %s: %s" % (path, r.stderr.decode()))
    with open(png, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % png)
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    check(width >= 600 and height >= 200, "%s is %dx%d" % (png, width, height))


def case_svg(args):
    need(args.xmllint, "xmllint")
    need(args.rsvg_convert, "rsvg-convert")
    msvg = os.path.join(args.work, "map.svg")
    lsvg = os.path.join(args.work, "layout.svg")
    with Helper(args, "tick") as h:
        _, out, _ = run(args, "map", h.pid, "--svg", msvg)
        check(out == "", "map --svg printed %r" % out)
        _, stdout_svg, _ = run(args, "map", h.pid, "--svg", "-", "--relative")
        run(args, "layout", h.pid, "--svg", lsvg)
        _, js, _ = run(args, "map", h.pid, "--json")
    svg_ok(args, msvg)
    svg_ok(args, lsvg)
    check(stdout_svg.startswith("<?xml") and stdout_svg.rstrip().endswith("</svg>"), "--svg - writes to stdout")
    blocks = json.loads(js)["blocks"]
    text = open(msvg).read()
    # addresses, sizes, legend and caption are in the picture
    check("Heap map of map_helper (pid %d), policy first" % h.pid in text, "title")
    for words in ("used: requested bytes", "header / padding", "free block", "Policy first.",
                  "Utilisation", "Internal fragmentation", "External fragmentation", "Blocks to scale"):
        check(words in text, "no %r in the SVG" % words)
    check(">0x%012x<" % json.loads(js)["heap_start"] in text, "no address label for the heap start")
    check(">224<" in text and ">176<" in text, "no block size labels")
    check(text.count("<title>used block") >= sum(1 for b in blocks if b["state"] == "used"),
          "a used block is missing from the SVG")
    ltext = open(lsvg).read()
    for words in ("heap [brk] - glassheap", "stack", "stack guard gap", "libc.so", "glassheap segment",
                  "glassheap large block", "text (map_helper)"):
        check(words in ltext, "no %r in the layout SVG" % words)


def normalise(text, pid):
    return re.sub(r"\bpid %d\b" % pid, "pid PID", text)


def case_golden(args):
    need(args.xmllint, "xmllint")
    outs = {}
    with Helper(args, "tick") as h:
        _, t, _ = run(args, "map", h.pid, "--relative", "--color=never", "--width", "64")
        outs["first.txt"] = normalise(t, h.pid)
        svg = os.path.join(args.work, "golden.svg")
        run(args, "map", h.pid, "--relative", "--svg", svg)
        with open(svg) as f:
            outs["first.svg"] = normalise(f.read(), h.pid)
    r = subprocess.run([args.xmllint, "--noout", svg], capture_output=True, timeout=CMD_TIMEOUT)
    check(r.returncode == 0, "xmllint: %s" % r.stderr.decode())
    update = os.environ.get("GH_UPDATE_GOLDEN") == "1"
    bad = []
    for name, got in sorted(outs.items()):
        path = os.path.join(args.golden, name)
        if update:
            os.makedirs(args.golden, exist_ok=True)
            with open(path, "w") as f:
                f.write(got)
            print("updated", path)
            continue
        with open(path) as f:
            want = f.read()
        if got != want:
            mine = os.path.join(args.work, name + ".got")
            with open(mine, "w") as f:
                f.write(got)
            bad.append("%s differs from %s (diff -u %s %s)" % (name, path, path, mine))
    check(not bad, "\n".join(bad))


def case_timeout(args):
    with Helper(args, "quiet") as h:
        t0 = time.monotonic()
        _, out, err = run(args, "map", h.pid, "--timeout", "300", "--source", "process", expect=1)
        took = time.monotonic() - t0
        _, jout, jerr = run(args, "map", h.pid, "--timeout", "100", "--json", "--source=process", expect=1)
        # the process still answers nothing, but layout draws it anyway
        _, lout, _ = run(args, "layout", h.pid, "--timeout", "100", "--source", "process")
    lines = err.splitlines()
    want = ("glassheap: map: process %d did not answer within 300 ms (it makes no allocator calls?); counters:"
            % h.pid)
    check(lines and lines[0] == want, "first stderr line:\n got %r\nwant %r" % (lines[:1], want))
    check(any(l.startswith("  policy first; heap ") for l in lines[1:]), "no counters summary: %r" % err)
    check(any("utilisation" in l and "fragmentation" in l for l in lines[1:]), "no figures: %r" % err)
    check(out == "", "stdout should be empty: %r" % out)
    check(0.25 <= took < 10, "waited %.2f s for a 300 ms timeout" % took)
    js = json.loads(jout)
    check(js["error"] == "timeout" and js["timeout_ms"] == 100 and js["pid"] == h.pid and "counters" in js, jout)
    check("did not answer within 100 ms" in jerr, jerr)
    check("did not answer a map request" in lout, "layout should say it used the last map: %r" % lout[:300])


def need_outside_reads():
    """Skip where Yama's ptrace_scope lets no process read another (2
    without root, or 3): the helpers allow it under 1 (PR_SET_PTRACER)."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return
    if scope >= 3 or (scope == 2 and os.geteuid() != 0):
        print("SKIP: Yama ptrace_scope %d: no reading from outside here" % scope)
        sys.exit(SKIP)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def map_of(args, pid, source):
    """`map --json --source SOURCE`, and the part two maps of one heap share."""
    _, out, err = run(args, "map", pid, "--json", "--source", source, "--timeout", "5000")
    js = json.loads(out)
    want = "process" if source == "process" else "outside"
    check(js["source"] == want, "map --source %s: source %r" % (source, js["source"]))
    check(err == "", "map --source %s: stderr %r" % (source, err))
    part = {k: js[k] for k in ("heap_start", "heap_end", "nblocks", "total_blocks", "regions", "blocks")}
    # only a walk knows each region's arena: compared apart (case_arenas)
    part["regions"] = [{k: v for k, v in r.items() if k != "arena"} for r in part["regions"]]
    return part


def same_map(outside, asked, what):
    check(outside["nblocks"] > 10, "%s: only %d blocks" % (what, outside["nblocks"]))
    for k in outside:
        check(outside[k] == asked[k], "%s: %s read from outside differs from the map the process answered:\n"
              " outside %r\n process %r" % (what, k, outside[k], asked[k]))


def case_stopped(args):
    """A process stopped with SIGSTOP is read from outside; once it runs
    again the map it answers itself is the same."""
    need_outside_reads()
    with Helper(args, "tick") as h:
        os.kill(h.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: proc_state(h.pid) in ("T", "t"), 10, "pid %d to stop" % h.pid)
            outside = map_of(args, h.pid, "outside")
            auto = map_of(args, h.pid, "auto")
            # asking a stopped process gets no answer
            run(args, "map", h.pid, "--source", "process", "--timeout", "200", expect=1)
        finally:
            os.kill(h.pid, signal.SIGCONT)
        asked = map_of(args, h.pid, "process")
    same_map(outside, asked, "stopped")
    check(auto == outside, "stopped: --source auto differs from --source outside")


def case_blocked(args):
    """A process blocked in read(2), making no allocator call, is read from
    outside; when it wakes and answers, its own map is the same."""
    need_outside_reads()
    with Helper(args, "blocked") as h:
        try:
            with open("/proc/%d/syscall" % h.pid) as f:
                in_read = lambda: open("/proc/%d/syscall" % h.pid).read().split()[0] == "0"
            wait_for(in_read, 10, "pid %d to block in read(2)" % h.pid)
        except (PermissionError, OSError):
            pass  # /proc/PID/syscall unreadable here: the helper blocks all the same
        outside = map_of(args, h.pid, "outside")
        _, text, err = run(args, "map", h.pid, "--width", "64")
        check(text.splitlines()[0].endswith("; read from outside") and err == "", "map: %r %r" % (text[:200], err))
        run(args, "map", h.pid, "--source", "process", "--timeout", "200", expect=1)
        h.proc.stdin.write(b"x")
        h.proc.stdin.flush()
        asked = map_of(args, h.pid, "process")
    same_map(outside, asked, "blocked in read")


def case_arenas(args):
    """Three threads, each with an arena of its own (GLASSHEAP_ARENAS=auto),
    and the main thread: the walk from outside reads every arena's table and
    memory, and gives the map the process answers itself."""
    need_outside_reads()
    with Helper(args, "threads") as h:
        outside = map_of(args, h.pid, "outside")
        asked = map_of(args, h.pid, "process")
        _, text, err = run(args, "map", h.pid, "--width", "64")
        _, out, _ = run(args, "map", h.pid, "--json", "--source", "outside")
        svg = os.path.join(args.work, "arenas.svg")
        run(args, "map", h.pid, "--svg", svg)
    same_map(outside, asked, "four arenas")
    check(len(outside["regions"]) >= 4, "four arenas in %d regions" % len(outside["regions"]))
    # each thread's blocks: the fixed list less every third, in its arena's regions
    check(outside["nblocks"] >= 4 * 12, "only %d blocks for four arenas" % outside["nblocks"])
    check(text.splitlines()[0].endswith("; read from outside") and err == "", "map: %r %r" % (text[:200], err))
    # each arena's part: from its own regions and blocks, adding up to the heap
    js = json.loads(out)
    ar = js["arenas"]
    check([a["arena"] for a in ar] == [0, 1, 2, 3], "arenas in the map: %r" % [a["arena"] for a in ar])
    check(sorted({r["arena"] for r in js["regions"]}) == [0, 1, 2, 3], "regions' arenas: %r" % js["regions"])
    for a in ar:
        mine = [r for r in js["regions"] if r["arena"] == a["arena"]]
        check(a["regions"] == len(mine) and a["heap_bytes"] == sum(r["end"] - r["start"] for r in mine),
              "arena %d: %r, its regions %r" % (a["arena"], a, mine))
        check(a["used_blocks"] >= 12 and a["largest_free"] <= a["free_bytes"], "arena %r" % a)
    check(sum(a["used_blocks"] + a["free_blocks"] for a in ar) == js["nblocks"], "arenas' blocks %r" % ar)
    lines = [l for l in text.splitlines() if l.startswith("  arena ") or l.startswith("  total ")]
    check(len(lines) == 5 and lines[-1].startswith("  total "), "map text: the arenas' lines %r" % lines)
    with open(svg) as f:
        s = f.read()
    check(all("Arena %d: " % k in s for k in range(4)) and ">arena 1<" in s, "svg: no arena sections")


def drop_ptrace_capability():
    """In the child before exec: no CAP_SYS_PTRACE in the bounding set, so
    a root glassheap loses it too (prctl PR_CAPBSET_DROP)."""
    if os.geteuid() == 0:
        import ctypes
        if ctypes.CDLL(None, use_errno=True).prctl(24, 19, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_SYS_PTRACE
            os._exit(77)


def case_refused(args):
    """A process the kernel does not let us read (undumpable, and the
    reader without CAP_SYS_PTRACE): map and layout fall back to asking it,
    with one line that says why; --source outside fails with that line."""
    with Helper(args, "nodump") as h:
        rc, out, err = run(args, "map", h.pid, "--json", expect=None, preexec=drop_ptrace_capability)
        if rc == 77:
            print("SKIP: cannot drop CAP_SYS_PTRACE here")
            sys.exit(SKIP)
        check(rc == 0, "map of an unreadable process: exit %d, %r" % (rc, err))
        js = json.loads(out)
        check(js["source"] == "process", "source %r" % js["source"])
        want = re.compile(r"glassheap: map: process %d: not read from outside \(process_vm_readv on process %d was "
                          r"refused \(Operation not permitted\): [^\n]*(Yama|undumpable)[^\n]*\); asking the process\n$"
                          % (h.pid, h.pid))
        check(want.fullmatch(err), "map: the fallback line: %r" % err)
        _, text, _ = run(args, "map", h.pid, preexec=drop_ptrace_capability)
        check(text.splitlines()[0].endswith("; answered by the process"), "map text: %r" % text[:200])
        rc, out, err = run(args, "map", h.pid, "--source", "outside", expect=3, preexec=drop_ptrace_capability)
        check("the heap cannot be read from outside: process_vm_readv on process %d was refused" % h.pid in err,
              "map --source outside: %r" % err)
        _, lout, _ = run(args, "layout", h.pid, preexec=drop_ptrace_capability)
        check("heap map answered by the process (not read from outside)" in lout, "layout: %r" % lout[:300])
        # the same reader with the capability reads it from outside
        _, text, err = run(args, "map", h.pid)
        check(text.splitlines()[0].endswith("; read from outside") and err == "", "map as root: %r" % err)


def case_layout(args):
    with Helper(args, "tick") as h:
        _, out, _ = run(args, "layout", h.pid, "--json")
        _, text, _ = run(args, "layout", h.pid)
        maps = read_maps(h.pid)
        exe = os.path.realpath(args.helper)
    js = json.loads(out)
    regions = js["regions"]
    check(js["pid"] == h.pid and js["exe"] == exe, "pid/exe: %r %r" % (js["pid"], js["exe"]))
    starts = [r["start"] for r in regions]
    check(starts == sorted(starts), "regions not in address order")
    for a, b in zip(regions, regions[1:]):
        check(a["end"] <= b["start"], "regions overlap: %r %r" % (a, b))
    heap_lines = [m for m in maps if m[3] == "[heap]"]
    check(len(heap_lines) == 1, "the helper has no [heap] mapping: %r" % maps)
    lo, hi = heap_lines[0][:2]
    heaps = [i for i, r in enumerate(regions) if r["kind"] == "heap"]
    check(len(heaps) == 1, "one heap region expected: %r" % [regions[i] for i in heaps])
    hp = regions[heaps[0]]
    check((hp["start"], hp["end"]) == (lo, hi), "heap %#x-%#x, /proc says %#x-%#x" % (hp["start"], hp["end"], lo, hi))
    check(hp["glassheap"] and hp["perms"] == "rw-p", "heap not marked glassheap's: %r" % hp)
    # between the program's data/bss and the stack
    data = [i for i, r in enumerate(regions) if r["kind"] in ("data", "bss") and r["name"] == "map_helper"]
    text_ = [i for i, r in enumerate(regions) if r["kind"] == "text" and r["name"] == "map_helper"]
    stack = [i for i, r in enumerate(regions) if r["kind"] == "stack"]
    check(data and text_ and len(stack) == 1, "text/data/stack missing: %r" % [r["kind"] for r in regions])
    check(max(text_) < max(data) < heaps[0] < stack[0], "order text < data/bss < heap < stack broken: %r"
          % [r["kind"] for r in regions])
    check(regions[max(data)]["end"] <= hp["start"] and hp["end"] <= regions[stack[0]]["start"], "addresses")
    st = regions[stack[0]]
    guard = regions[stack[0] - 1]
    check(guard["kind"] == "guard" and not guard["mapped"] and guard["end"] == st["start"], "no guard gap: %r" % guard)
    # the segment's knowledge: glassheap's heap inside [heap], the start of the break
    gh = js["glassheap"]
    check(gh and gh["policy"] == "first", "no glassheap section: %r" % gh)
    check(lo <= gh["heap_start"] < gh["heap_end"] <= hi, "glassheap heap %#x-%#x outside [heap] %#x-%#x"
          % (gh["heap_start"], gh["heap_end"], lo, hi))
    if js["start_brk"]:
        check(js["start_brk"] == lo, "start_brk %#x vs [heap] %#x" % (js["start_brk"], lo))
    # every mapping of /proc/PID/maps is in some region, with the same bounds
    for m in maps:
        inside = [r for r in regions if r["mapped"] and r["start"] <= m[0] and m[1] <= r["end"]]
        check(len(inside) == 1 or m[3] not in ("", "[heap]"), "mapping %#x-%#x %s in %d regions"
              % (m[0], m[1], m[3], len(inside)))
        check(inside or any(r["start"] < m[1] and m[0] < r["end"] for r in regions), "mapping %#x-%#x %s missing"
              % (m[0], m[1], m[3]))
    seg = [r for r in regions if r["kind"] == "glassheap-segment"]
    check(len(seg) == 1 and seg[0]["glassheap"] and seg[0]["name"] == "glassheap.%d" % h.pid, "segment: %r" % seg)
    large = [r for r in regions if r["kind"] == "glassheap-large"]
    check(gh["large_blocks"] == 1 and gh["large_found"] == 1, "large blocks: %r" % gh)
    check(len(large) == 1 and large[0]["size"] >= LARGE_BLOCK and large[0]["glassheap"], "large: %r" % large)
    libs = {r["name"] for r in regions if r["kind"] == "library"}
    check({"libc.so.6", os.path.basename(args.library)} <= libs, "libraries: %r" % libs)
    # the text diagram: high addresses first, the heap box with its break
    lines = text.splitlines()
    check(lines[0].startswith("glassheap layout: pid %d (%s), glassheap policy first" % (h.pid, exe)), lines[0])
    boxes = [l for l in lines if re.match(r"\s+\| ", l)]
    pos = {k: next((i for i, l in enumerate(boxes) if k in l), None)
           for k in ("| stack ", "| heap [brk]", "| data (map_helper)", "| text (map_helper)")}
    check(None not in pos.values(), "boxes missing: %r" % pos)
    check(pos["| stack "] < pos["| heap [brk]"] < pos["| data (map_helper)"] < pos["| text (map_helper)"],
          "diagram order: %r" % pos)
    check("break 0x%012x" % hi in boxes[pos["| heap [brk]"]], "heap box: %r" % boxes[pos["| heap [brk]"]])
    addrs = [int(l.split()[0], 16) for l in lines if re.match(r"\s*0x[0-9a-f]+ \+", l)]
    check(addrs == sorted(addrs, reverse=True), "boundary addresses not descending")


def case_regions(args):
    """A heap of mmap regions (the break blocked): map and layout show each."""
    with Helper(args, "regions") as h:
        _, out, _ = run(args, "map", h.pid, "--json")
        _, text, _ = run(args, "map", h.pid, "--color=never")
        _, lout, _ = run(args, "layout", h.pid, "--json")
        maps = read_maps(h.pid)
        svg = os.path.join(args.work, "regions.svg")
        run(args, "map", h.pid, "--svg", svg)
    js = json.loads(out)
    regions, blocks, c = js["regions"], js["blocks"], js["counters"]
    check(len(regions) == c["regions"] >= 2, "regions: %r, counters say %d" % (regions, c["regions"]))
    check(sum(r["blocks"] for r in regions) == len(blocks), "blocks per region")
    check(sum(r["end"] - r["start"] for r in regions) == c["heap_bytes"], "region spans vs heap_bytes")
    i = 0
    for k, r in enumerate(regions):
        mine = blocks[i:i + r["blocks"]]
        i += r["blocks"]
        check(all(b["region"] == mine[0]["region"] for b in mine), "region %d mixes blocks" % k)
        check(r["start"] < mine[0]["addr"] and mine[-1]["addr"] + mine[-1]["size"] < r["end"], "region %d bounds" % k)
        for a, b in zip(mine, mine[1:]):
            check(a["addr"] + a["size"] == b["addr"], "region %d does not tile" % k)
    check("%d regions" % len(regions) in text.splitlines()[1], text.splitlines()[1])
    check(not any(m[3] == "[heap]" and m[1] - m[0] > 4096 for m in maps), "the break grew: %r" % maps)
    lj = json.loads(lout)
    marked = [r for r in lj["regions"] if r["kind"] == "glassheap-region"]
    check(len(marked) == len(regions), "layout marks %d heap regions, the map has %d" % (len(marked), len(regions)))
    for m, r in zip(marked, regions):
        check(m["start"] <= r["start"] and r["end"] <= m["end"] and m["glassheap"], "layout %r vs map %r" % (m, r))
        inside = [x for x in maps if x[0] <= m["start"] and m["end"] <= x[1]]
        check(len(inside) == 1 and inside[0][3] == "", "region %#x-%#x is not in an anonymous mapping"
              % (m["start"], m["end"]))
    if args.xmllint and os.access(args.xmllint, os.X_OK):
        r = subprocess.run([args.xmllint, "--noout", svg], capture_output=True, timeout=CMD_TIMEOUT)
        check(r.returncode == 0, "xmllint: %s" % r.stderr.decode())


def case_errors(args):
    # no such process: a pid that was just reaped
    p = subprocess.Popen(["true"])
    p.wait()
    _, _, err = run(args, "map", p.pid, expect=1)
    check("no process %d" % p.pid in err, err)
    _, _, err = run(args, "layout", p.pid, expect=1)
    check("no process %d" % p.pid in err, err)
    # a process without glassheap: map says so, layout still draws it
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    q = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, env=env)
    try:
        wait_for(lambda: b"sys.stdin.read" in open("/proc/%d/cmdline" % q.pid, "rb").read(), 10,
                 "python to start")
        _, _, err = run(args, "map", q.pid, expect=1)
        check("does not run glassheap" in err, err)
        _, out, _ = run(args, "layout", q.pid, "--json")
        js = json.loads(out)
        check(js["glassheap"] is None and any(r["kind"] == "stack" for r in js["regions"]), "layout of python")
    finally:
        q.stdin.close()
        q.wait(10)
    # usage
    for argv in (["map"], ["map", "x"], ["map", "1", "2"], ["map", "1", "--width", "3"], ["map", "1", "--cell", "24"],
                 ["map", "1", "--color=sometimes"], ["map", "1", "--timeout", "-5"], ["map", "1", "--bogus"],
                 ["layout"], ["layout", "0"], ["layout", "1", "--timeout", "x"]):
        _, out, err = run(args, *argv, expect=2)
        check(err.startswith("glassheap: ") or "usage:" in err, "%r: %r" % (argv, err))
    for sub in ("map", "layout"):
        _, out, _ = run(args, sub, "--help")
        check(out.startswith("usage: glassheap %s PID" % sub), out)


def case_layout_list(args):
    """Large blocks from the segment's list, checked against /proc/PID/maps."""
    p = subprocess.Popen([args.image], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        line = p.stdout.readline().decode()
        m = re.fullmatch(r"ready (\d+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\n", line)
        check(m, "layout_image said %r" % line)
        pid = int(m.group(1))
        listed = [(int(m.group(2), 16), int(m.group(3), 16)), (int(m.group(4), 16), int(m.group(5), 16))]
        bogus = int(m.group(6), 16)
        _, out, _ = run(args, "layout", pid, "--json", "--timeout", "0")
        _, text, _ = run(args, "layout", pid, "--timeout", "0")
    finally:
        p.stdin.close()
        p.wait(10)
    js = json.loads(out)
    gh = js["glassheap"]
    check(gh is not None and gh["large_found"] == 2, "large_found: %r" % gh)
    large = [r for r in js["regions"] if r["kind"] == "glassheap-large"]
    check(sum(r["blocks"] for r in large) == 2, "large boxes: %r" % large)
    for base, length in listed:
        check(any(r["start"] <= base and base + length <= r["end"] and r["glassheap"] for r in large),
              "listed block %#x+%#x not drawn: %r" % (base, length, large))
    check(not any(r["start"] <= bogus < r["end"] for r in js["regions"]), "the unmapped entry was drawn")
    check("2 found in the maps" in text, "text: %r" % text[:400])

def case_large_live(args):
    """map_helper large (the fixed heap's 256 KiB block and three of 1 MiB):
    layout finds and draws all four, map's counters count them."""
    with Helper(args, "large") as h:
        _, out, _ = run(args, "layout", h.pid, "--json")
        _, mout, _ = run(args, "map", h.pid, "--json")
        maps = read_maps(h.pid)
    js = json.loads(out)
    gh = js["glassheap"]
    check(gh["large_blocks"] == 4 and gh["large_found"] == 4, "large blocks: %r" % gh)
    large = [r for r in js["regions"] if r["kind"] == "glassheap-large"]
    check(sum(r["blocks"] for r in large) == 4 and all(r["glassheap"] for r in large), "large boxes: %r" % large)
    check(sum(r["size"] for r in large) >= 3 * EXTRA_LARGE + LARGE_BLOCK, "large bytes drawn: %r" % large)
    for r in large:
        check(any(m[0] <= r["start"] and r["end"] <= m[1] for m in maps), "large box outside a mapping: %r" % r)
    c = json.loads(mout)["counters"]
    check(c["large_blocks"] == 4 and c["large_bytes"] >= 3 * EXTRA_LARGE + LARGE_BLOCK, "map counters: %r" % c)


def map_image(args, count, total):
    """map, map --relative, map --json and map --svg of a map_image segment."""
    p = subprocess.Popen([args.map_image, str(count), str(total)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        line = p.stdout.readline().decode()
        m = re.fullmatch(r"ready (\d+)\n", line)
        check(m, "map_image said %r" % line)
        pid = int(m.group(1))
        _, text, _ = run(args, "map", pid, "--color=never", "--width", "64")
        _, rel, _ = run(args, "map", pid, "--relative", "--color=never", "--width", "64")
        _, js, _ = run(args, "map", pid, "--json")
        svg = os.path.join(args.work, "large%d.svg" % count)
        run(args, "map", pid, "--svg", svg)
    finally:
        p.stdin.close()
        p.wait(10)
    with open(svg) as f:
        picture = f.read()
    if args.xmllint:
        r = subprocess.run([args.xmllint, "--noout", svg], capture_output=True, timeout=CMD_TIMEOUT)
        check(r.returncode == 0, "xmllint: %s" % r.stderr.decode())
    return text, rel, json.loads(js), picture


def case_large(args):
    """The large blocks a segment lists, in every output; none: no trace."""
    text, rel, js, svg = map_image(args, 3, 5)
    blocks = [(0x7f0000000040 + 0x100000 * i, 0x21000, 0x20000 + i) for i in range(3)]
    check("large blocks (mmap, outside the heap): 3, 396.0 KiB mapped" in text,
          "text: %r" % text)
    for addr, length, req in blocks:
        want = "0x%012x  %10d bytes, %10d requested" % (addr, length, req)
        check(want in text, "text lacks %r: %r" % (want, text))
        check(want not in rel and "%10d bytes, %10d requested" % (length, req) in rel,
              "--relative: %r" % rel)
    check(rel.count("(mmap)") == 3, "--relative: %r" % rel)
    check("note: 2 more live large blocks are not listed" in text, "text: %r" % text)
    got = [(b["addr"], b["map_len"], b["requested"]) for b in js.get("large", [])]
    check(got == blocks, "JSON large: %r" % js.get("large"))
    check(all(b["map_base"] == b["addr"] - 0x40 for b in js["large"]), "JSON map_base: %r" % js["large"])
    check(js.get("large_total") == 5, "JSON large_total: %r" % js.get("large_total"))
    check(js["nblocks"] == 4 and len(js["blocks"]) == 4, "JSON blocks: %r" % js["blocks"])
    check("Large blocks (mmap, outside the heap): 3" in svg and svg.count("large block at 0x7f") == 3,
          "SVG lacks the large strip")

    text, rel, js, svg = map_image(args, 0, 0)
    check("large" not in text and "large" not in rel, "no large blocks, yet: %r" % text)
    check("large" not in js and "large_total" not in js, "no large blocks, yet JSON: %r" % js)
    check("Large blocks" not in svg, "no large blocks, yet the SVG has a strip")


CASES = {
    "terminal": case_terminal,
    "svg": case_svg,
    "golden": case_golden,
    "timeout": case_timeout,
    "layout": case_layout,
    "regions": case_regions,
    "errors": case_errors,
    "layout_list": case_layout_list,
    "large": case_large,
    "large_live": case_large_live,
    "stopped": case_stopped,
    "blocked": case_blocked,
    "arenas": case_arenas,
    "refused": case_refused,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--helper", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--map-image", dest="map_image", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--xmllint", default="")
    ap.add_argument("--rsvg-convert", dest="rsvg_convert", default="")
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    args.xmllint = args.xmllint or shutil.which("xmllint") or ""
    args.rsvg_convert = args.rsvg_convert or shutil.which("rsvg-convert") or ""
    args.work = os.path.join(args.work, args.case)
    os.makedirs(args.work, exist_ok=True)
    try:
        CASES[args.case](args)
    except Failure as e:
        print("FAIL: %s" % e)
        return 1
    print("PASS: map_%s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

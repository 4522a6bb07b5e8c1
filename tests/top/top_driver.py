#!/usr/bin/python3
"""top_driver.py - drives `glassheap top` against a live preloaded program.

    top_driver.py CASE --glassheap EXE --library LIB --churn HELPER

CASE:
  usage       --help, bad arguments, a process without glassheap, no process
  batch       stdout a pipe: a header, then one sane line per interval
  json        --json: one JSON object per interval
  batch_exit  the line view stops, exit 0, saying so, when the process exits
  tmux        the terminal view in a tmux pane: draws, refreshes, p pauses,
              + and - change the interval, q quits; after the process exits
              it says so and keeps the view until q

The helper (top_churn) runs with the library preloaded and keeps
allocating; it is stopped with SIGTERM (it then exits normally, so the
library removes its segment) and killed if it does not stop.  Every wait is
a poll with a deadline; no segment file of ours may be left behind.
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

DEADLINE = 15.0  # seconds any one expected event may take (2 shared cores)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def poll_until(fn, what, timeout=DEADLINE, every=0.05):
    """Call fn until it returns a true value; that value, or Fail."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("timed out waiting for " + what)
        time.sleep(every)


def segment(pid):
    return "/dev/shm/glassheap.%d" % pid


class Churn:
    """The preloaded helper that keeps allocating."""

    def __init__(self, exe, lib):
        env = dict(os.environ, LD_PRELOAD=lib, GLASSHEAP_POLICY="best")
        env.pop("GLASSHEAP_SHM", None)
        self.p = subprocess.Popen([exe, "60"], stdout=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        try:
            r, _, _ = select.select([self.p.stdout], [], [], DEADLINE)
            line = self.p.stdout.readline().decode() if r else ""
            check(line.startswith("ready "), "the helper did not start: %r" % line)
            poll_until(lambda: os.path.exists(segment(self.pid)), "the helper's segment")
        except BaseException:
            self.cleanup()
            raise

    def stop(self):
        """SIGTERM: a normal exit.  True when it exited by itself."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(DEADLINE)
            return True
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return False

    def cleanup(self):
        self.stop()
        left = os.path.exists(segment(self.pid))
        if left:
            os.unlink(segment(self.pid))
        return not left


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=DEADLINE * 2, **kw)


# ---- cases --------------------------------------------------------------

def case_usage(a):
    g = a.glassheap
    r = run([g, "top", "--help"])
    check(r.returncode == 0, "--help: exit %d" % r.returncode)
    out = r.stdout.decode()
    for word in ("q quits", "p pauses", "--interval", "--iterations", "--batch", "--json"):
        check(word in out, "--help does not mention %r" % word)
    for bad in ([], ["abc"], ["--interval", "5", "1"], ["--iterations", "0", "1"], ["1", "2"]):
        r = run([g, "top"] + bad)
        check(r.returncode == 2, "top %s: exit %d, not 2" % (bad, r.returncode))
    # a live process that does not run glassheap: this driver
    r = run([g, "top", "--iterations", "1", str(os.getpid())])
    check(r.returncode == 1, "a process without glassheap: exit %d" % r.returncode)
    check(b"does not run glassheap" in r.stderr, "no reason given: %r" % r.stderr)
    # no such process: a child that has been reaped
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    if not os.path.exists("/proc/%d" % p.pid):
        r = run([g, "top", "--iterations", "1", str(p.pid)])
        check(r.returncode == 1, "no such process: exit %d" % r.returncode)


LINE = re.compile(r"^\s*(\d+\.\d+)\s+(\d+(?:\.\d)? (?:B|KiB|MiB|GiB))\s+"
                  r"(\d+(?:\.\d)? (?:B|KiB|MiB|GiB))\s+(\d+\.\d)%\s+(\d+\.\d)%\s+(\S+)$")


def parse_line(line):
    m = LINE.match(line)
    check(m, "not a top line: %r" % line)
    return m.groups()


def case_batch(a):
    churn = Churn(a.churn, a.library)
    try:
        t0 = time.monotonic()
        r = run([a.glassheap, "top", "--interval", "100", "--iterations", "5", str(churn.pid)])
        took = time.monotonic() - t0
        check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.decode()))
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 7, "want a comment, a header and 5 lines, got %r" % lines)
        check(lines[0].startswith("# glassheap top: pid %d (best)" % churn.pid), lines[0])
        check(lines[1].split() == ["time_s", "heap", "live", "util", "ext", "calls/s"], lines[1])
        times, rates = [], []
        for i, line in enumerate(lines[2:]):
            t, heap, live, util, ext, rate = parse_line(line)
            times.append(float(t))
            check(not heap.startswith("0 "), "heap 0 in %r" % line)
            check(not live.startswith("0 "), "live 0 in %r" % line)
            check(0 < float(util) <= 100 and 0 <= float(ext) <= 100, "figures: %r" % line)
            if i == 0:
                check(rate == "-", "a rate without a previous sample: %r" % line)
            else:
                check(rate.isdigit(), "a rate: %r" % line)
                rates.append(int(rate))
        # a loaded machine may starve the helper for one interval, not for all
        check(max(rates) > 0, "the helper allocates, but the rates are %r" % rates)
        check(times == sorted(times) and times[-1] - times[0] >= 0.35,
              "five samples 100 ms apart: %r" % times)
        check(took < 10, "took %.1f s" % took)
    finally:
        clean = churn.cleanup()
    check(clean, "the helper left its segment")


def case_json(a):
    churn = Churn(a.churn, a.library)
    try:
        r = run([a.glassheap, "top", "--json", "--interval", "100", "--iterations", "3", str(churn.pid)])
        check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.decode()))
        lines = r.stdout.decode().splitlines()
        check(len(lines) == 3, "want 3 lines, got %r" % lines)
        objs = [json.loads(line) for line in lines]
        check(any(o["fresh"] for o in objs), "the helper never answered: %r" % lines)
        check(max(o["calls_per_s"] or 0 for o in objs) > 0, "no calls counted: %r" % lines)
        for i, line in enumerate(lines):
            o = json.loads(line)
            check(o["pid"] == churn.pid and o["policy"] == "best", line)
            check(o["heap_bytes"] > 0 and o["live_requested"] > 0, line)
            check(o["live_requested"] <= o["heap_bytes"], line)
            check(0 < o["utilisation"] <= 1 and 0 <= o["external_fragmentation"] <= 1, line)
            check(o["fresh"] in (True, False) and o["exited"] is False and o["execd"] is False, line)
            check(o["heap_source"] in ("outside", "counters"), line)
            if i == 0:
                check(o["calls_per_s"] is None, line)
            else:
                check(o["calls_per_s"] >= 0, line)
    finally:
        clean = churn.cleanup()
    check(clean, "the helper left its segment")


def case_batch_exit(a):
    churn = Churn(a.churn, a.library)
    top = None
    try:
        top = subprocess.Popen([a.glassheap, "top", "--interval", "100", str(churn.pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = []

        def read_line():
            r, _, _ = select.select([top.stdout], [], [], 0.1)
            if r:
                line = top.stdout.readline().decode()
                got.append(line)
                return line == ""  # EOF ends the wait too
            return False

        poll_until(lambda: read_line() or len(got) >= 4, "two lines", every=0)
        check(churn.stop(), "the helper did not stop on SIGTERM")
        rc = top.wait(DEADLINE)
        rest = top.stdout.read().decode()
        lines = "".join(got + [rest]).splitlines()
        check(rc == 0, "exit %d after the process exited: %s" % (rc, top.stderr.read().decode()))
        check(lines[-1] == "process %d exited" % churn.pid, "the last line: %r" % lines[-1:])
        parse_line(lines[-2])  # the last counters, read after the exit
        check(not os.path.exists(segment(churn.pid)), "the segment outlived a normal exit")
    finally:
        if top and top.poll() is None:
            top.kill()
            top.wait()
        clean = churn.cleanup()
    check(clean, "the helper left its segment")


class Tmux:
    """A private tmux server (its own socket) with one session."""

    def __init__(self, tmpdir):
        self.sock = os.path.join(tmpdir, "tmux.sock")
        self.env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8")
        self.env.pop("TMUX", None)
        self.env.pop("LD_PRELOAD", None)

    def tmux(self, *args, check_rc=True):
        r = subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                           timeout=DEADLINE)
        if check_rc:
            check(r.returncode == 0, "tmux %s: %s" % (args, r.stderr.decode()))
        return r

    def start(self, name, command):
        self.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", command)

    def screen(self, name, history=False):
        r = self.tmux("capture-pane", "-p", "-t", name, *(["-S", "-"] if history else []),
                      check_rc=False)
        return r.stdout.decode(errors="replace") if r.returncode == 0 else ""

    def alive(self, name):
        return self.tmux("has-session", "-t", name, check_rc=False).returncode == 0

    def keys(self, name, *keys):
        self.tmux("send-keys", "-t", name, *keys)

    def wait_for(self, name, pattern, what):
        rx = re.compile(pattern, re.M)
        try:
            return poll_until(lambda: rx.search(self.screen(name)), what)
        except Fail:
            screen = self.screen(name)
            if "built without ncurses" in self.screen(name, history=True):
                raise Fail("this glassheap was built without ncurses: glassheap_cli needs "
                           "GLASSHEAP_HAVE_CURSES and ncursesw (tools/glassheap/CMakeLists.txt)")
            raise Fail("%s; the screen:\n%s" % (what, screen))

    def kill(self):
        self.tmux("kill-server", check_rc=False)


def counters_line(screen):
    m = re.search(r"^calls\s+(?:\d+|-) calls/s\s+malloc (\d+)\s+calloc \d+\s+realloc \d+\s+free (\d+)",
                  screen, re.M)
    return m.group(0) if m else None


def case_tmux(a):
    if not shutil.which("tmux"):
        print("tmux is not installed: skipped")
        sys.exit(77)
    churn = Churn(a.churn, a.library)
    tmpdir = tempfile.mkdtemp(prefix="gh-top-tmux.")
    t = Tmux(tmpdir)
    try:
        cmd = "exec %s top --interval 200 %d" % (a.glassheap, churn.pid)
        # 1: draws, refreshes, pauses, changes the interval, quits
        t.start("one", cmd)
        t.wait_for("one", r"^glassheap top - pid %d - policy best" % churn.pid, "the title")
        s = t.wait_for("one", r"interval 200 ms \| p pause", "the status line").string
        for part in (r"^heap\s+\d", r"^frag\s+internal", r"^external fragmentation, last \d+ intervals",
                     r"^utilisation: ", r"^heap map: \d+", r"^free blocks by size", r"calls/s"):
            check(re.search(part, s, re.M), "no %r on the screen:\n%s" % (part, s))
        first = counters_line(s)
        check(first, "no calls line:\n" + s)
        poll_until(lambda: counters_line(t.screen("one")) not in (None, first), "a refresh")

        t.keys("one", "p")
        t.wait_for("one", r"\| paused", "'paused'")
        frozen = counters_line(t.screen("one"))
        time.sleep(0.8)  # four intervals: nothing may change while paused
        check(counters_line(t.screen("one")) == frozen, "the view changed while paused")
        t.keys("one", "+")
        t.wait_for("one", r"interval 500 ms", "+ to lengthen the interval")
        t.keys("one", "-")
        t.keys("one", "-")
        t.wait_for("one", r"interval 100 ms", "- to shorten it")
        t.keys("one", "a")
        s = t.wait_for("one", r"^arenas: 1 \(each its own heap", "a: the arenas panel").string
        check(re.search(r"^\s+0\s+1\s+\d", s, re.M) and re.search(r"^\s+total\s+1\s", s, re.M) and
              "a free blocks" in s, "the arenas panel lacks arena 0, the total or its key:\n" + s)
        t.keys("one", "a")
        t.wait_for("one", r"^free blocks by size", "a again: the free blocks back")
        t.keys("one", "p")
        poll_until(lambda: "paused" not in t.screen("one") and
                   counters_line(t.screen("one")) not in (None, frozen), "a refresh after resuming")
        t.keys("one", "q")
        poll_until(lambda: not t.alive("one"), "q to end the session")

        # 2: the process exits: it says so and keeps the view until q
        t.start("two", cmd)
        t.wait_for("two", r"interval 200 ms \| p pause", "the second view")
        check(churn.stop(), "the helper did not stop on SIGTERM")
        s = t.wait_for("two", r"\| process %d exited" % churn.pid, "'exited'").string
        check(counters_line(s), "the last view is gone:\n" + s)
        time.sleep(0.5)
        check(t.alive("two"), "top ended by itself after the exit")
        t.keys("two", "q")
        poll_until(lambda: not t.alive("two"), "q to end the session after the exit")
        check(not os.path.exists(segment(churn.pid)), "the segment outlived a normal exit")
    finally:
        t.kill()
        shutil.rmtree(tmpdir, ignore_errors=True)
        clean = churn.cleanup()
    check(clean, "the helper left its segment")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--churn", required=True)
    a = ap.parse_args()
    fn = globals().get("case_" + a.case)
    if not fn:
        print("no case %r" % a.case)
        return 2
    try:
        fn(a)
    except Fail as e:
        print("FAIL (%s): %s" % (a.case, e))
        return 1
    print("ok (%s)" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

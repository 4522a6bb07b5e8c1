"""cli_common.py - what the cli_ cases share (cli_test.py runs them): the
constants, Fail and check, the environment a child gets, Ctx (one case's
helpers, children and files, and glassheap itself), and the helper's
scripted pattern with the figures it must change (expected, block_of).
"""
import json
import os
import select
import subprocess
import time

SHM_DIR = "/dev/shm"
LINE_TIMEOUT_S = 20.0     # a helper line: generous on a loaded machine
CLI_TIMEOUT_S = 30.0
MMAP_THRESHOLD = 128 * 1024
HEADER_BYTES = 16
NOBODY = 65534
SKIP = 77


def outside_reads_allowed():
    """Can this user's glassheap read a process that is not its child?
    Not under Yama ptrace_scope 2 without root, nor under 3."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return True
    return scope < 2 or (scope == 2 and os.geteuid() == 0)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def seg_path(pid):
    return "%s/glassheap.%d" % (SHM_DIR, pid)


# The mode a test asks for in its CTest environment (cache, arenas) reaches
# the helper; every other GLASSHEAP_ variable is dropped.
PASSED_THROUGH = ("GLASSHEAP_CACHE", "GLASSHEAP_ARENAS")


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k == "LD_PRELOAD" or (k.startswith("GLASSHEAP_") and k not in PASSED_THROUGH):
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
    def helper(self, policy, steps=(), idle=False, env_extra=None):
        env = clean_env()
        env.update(env_extra or {})
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

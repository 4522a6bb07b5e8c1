#!/usr/bin/python3
"""trace_bounds.py - loading a trace costs what the file holds, its sums
cannot wrap, and its failures are named (issue 11, "bounded trace loading").

  - a 33-byte .rep whose header claims 2^31 ids and whose one operation uses
    id 2^31 - 1: trace-stats, convert (to rep and to binary) and replay each
    exit 0 with a peak RSS (the child's own ru_maxrss, from wait4) under
    RSS_LIMIT_KB - loading used to grow an array to the id, 2 GiB; convert
    to rep keeps the file's id and header; a file whose ids are about as
    many as it uses keeps them (replay --step shows them);
  - 200000 live requests of 2^47 bytes: trace-stats prints the exact totals
    (200000 * 2^47 = 28147497671065600000 B, past 2^64) in text and JSON,
    never a wrapped one; convert of its binary form to rep refuses with a
    line naming the peak (the rep header's heap size has 64 bits);
  - bad rep files: the line and what is wrong, exit 3.
Exit 0 pass, 1 fail (one line per failure).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

RSS_LIMIT_KB = 256 * 1024
BIG_ID = (1 << 31) - 1
HUGE_N = 200000
HUGE_SIZE = 1 << 47

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def run(argv):
    """Run argv; (status, stdout, stderr, peak RSS in KiB of that child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=dict(os.environ, GLASSHEAP_SHM="0"))
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    g = ap.parse_args().glassheap
    with tempfile.TemporaryDirectory() as d:
        big = os.path.join(d, "big.rep")
        with open(big, "w") as f:
            f.write("0\n%d\n1\n1\na %d 16\n" % (1 << 31, BIG_ID))
        for argv in ([g, "trace-stats", big], [g, "trace-stats", "--json", big],
                     [g, "convert", big, os.path.join(d, "big2.rep")],
                     [g, "convert", big, os.path.join(d, "big.bin")],
                     [g, "replay", big, "--policy", "best"]):
            rc, out, err, rss = run(argv)
            what = " ".join(os.path.basename(a) for a in argv[1:])
            check(rc == 0, "%s: exit %d, stderr %r" % (what, rc, err))
            check(rss < RSS_LIMIT_KB, "%s: peak RSS %d KiB for a %d-byte file (limit %d KiB)"
                  % (what, rss, os.path.getsize(big), RSS_LIMIT_KB))
        if os.path.exists(os.path.join(d, "big2.rep")):
            with open(os.path.join(d, "big2.rep")) as f:
                got = f.read()
            check(got == "0\n%d\n1\n1\na %d 16\n" % (1 << 31, BIG_ID), "convert to rep: %r" % got)

        # ids about as many as used: the file's own ids stay (the step view shows them)
        few = os.path.join(d, "few.rep")
        with open(few, "w") as f:
            f.write("0\n6\n3\n1\na 5 16\na 0 8\nf 5\n")
        rc, out, err, _ = run([g, "replay", few, "--step", "--policy", "first"])
        check(rc == 0 and "step 1 of 3: a 5 16" in out and "step 3 of 3: f 5" in out,
              "replay --step of few.rep: exit %d, %r" % (rc, out[:300]))
        rc, out, err, _ = run([g, "trace-stats", few])
        check(rc == 0 and "3 operations, 6 ids" in out, "trace-stats few.rep: %r" % out[:200])

        huge = os.path.join(d, "huge.rep")
        with open(huge, "w") as f:
            f.write("0\n%d\n%d\n1\n" % (HUGE_N, HUGE_N))
            for i in range(HUGE_N):
                f.write("a %d %d\n" % (i, HUGE_SIZE))
        total = HUGE_N * HUGE_SIZE
        rc, out, err, _ = run([g, "trace-stats", huge])
        check(rc == 0, "trace-stats huge: exit %d %r" % (rc, err))
        check("peak live:  25600000.0 TiB (%d B) after operation %d" % (total, HUGE_N) in out,
              "trace-stats huge: no exact peak live: %r" % out[:600])
        check("25600000.0 TiB allocated in all" in out, "trace-stats huge: wrapped total: %r" % out[:600])
        rc, out, err, _ = run([g, "trace-stats", "--json", huge])
        if check(rc == 0, "trace-stats --json huge: exit %d %r" % (rc, err)):
            j = json.loads(out)
            check(j["sizes"]["bytes_allocated"] == total, "json bytes_allocated %r" % j["sizes"]["bytes_allocated"])
            check(j["peak"]["live_requested"] == total, "json peak live %r" % j["peak"]["live_requested"])
        # Replay says why such requests fail: the kernel refuses each mapping
        # (2^47 bytes is the whole user address space), not a full arena.
        rc, out, err, _ = run([g, "replay", huge, "--policy", "best"])
        check(rc == 0 and ("best: %d allocations failed in the replay: %d whose mapping the kernel refused "
                           "(no address space or memory for it)\n" % (HUGE_N, HUGE_N)) in out,
              "replay huge: exit %d, %r" % (rc, out[-600:]))
        rc, out, err, _ = run([g, "replay", huge, "--policy", "best", "--json"])
        if check(rc == 0, "replay --json huge: exit %d %r" % (rc, err)):
            r = json.loads(out)["policies"][0]
            check(r["failures"] == HUGE_N and r["failures_mapping"] == HUGE_N and r["failures_too_large"] == 0,
                  "replay --json huge: failures %r" % {k: v for k, v in r.items() if k.startswith("failures")})
        hbin = os.path.join(d, "huge.bin")
        rc, out, err, _ = run([g, "convert", huge, hbin])
        check(rc == 0, "convert huge to binary: exit %d %r" % (rc, err))
        rc, out, err, _ = run([g, "convert", hbin, os.path.join(d, "back.rep")])
        want = ("glassheap: convert: %s: its peak of live bytes (%d B) does not fit the rep header's heap size "
                "(64 bits)\n" % (hbin, total))
        check(rc == 3 and err == want, "convert huge binary to rep: exit %d, stderr %r, want %r" % (rc, err, want))

        for name, text, msg in (
                ("id.rep", "0\n4\n1\n1\na 4 16\n",
                 "%s:5: id 4 is out of range (the header says 4 ids: 0 to 3)"),
                ("size.rep", "0\n4\n1\n1\na 1 %d\n" % (HUGE_SIZE + 1),
                 "%s:5: malformed operation (expected 'a ID SIZE')"),
                ("count.rep", "0\n4\n1\n1\na 1 16\nf 1\n", "%s:6: more operations than the header's 1"),
                ("free.rep", "0\n4\n1\n1\nf 2\n",
                 "%s:5: frees id 2, which is not live (freed or never allocated): bad trace")):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text)
            rc, out, err, _ = run([g, "trace-stats", path])
            want = "glassheap: " + (msg % path) + "\n"
            check(rc == 3 and err == want, "%s: exit %d, stderr %r, want %r" % (name, rc, err, want))
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("ok: trace bounds")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

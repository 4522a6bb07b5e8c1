#!/usr/bin/env python3
"""walk_race.py - the walker outside racing a heap that changes: walk_churn
(several threads, bursts of malloc/free) preloaded under POLICY, sampled by
`glassheap watch --json` and walked by `glassheap map --source outside`.

    walk_race.py --glassheap G --library L --churn C POLICY

Every sample's counters are read in place, and each arena's entry is of one
moment (used + free + overhead = heap bytes).  Every sample read from
outside is a heap of one moment (live + cached + free + overhead = heap
bytes, the histogram adds up to the free blocks, the
largest free block in the top bucket); a sample that could not be read says
the heap kept changing (or a call was in progress) - never that a header is
corrupt, which a torn read would look like.  Some samples must be read from
outside (the churn pauses).  Exit 0 pass, 1 fail, 77 skipped (Yama lets no
process read another).
"""
import argparse
import json
import os
import re
import subprocess
import sys

SAMPLES = 60
MAPS = 15
CHANGING = re.compile(r"the heap kept changing|an allocator call was in progress")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--churn", required=True)
    ap.add_argument("policy")
    a = ap.parse_args()
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read().strip() or "0")
    except (OSError, ValueError):
        scope = 0
    if scope >= 3 or (scope == 2 and os.geteuid() != 0):
        print("SKIP: Yama ptrace_scope %d: no reading from outside here" % scope)
        return 77
    # one arena: a process of several is not walked from outside (the
    # region table is the main arena's), and the race is what is tested
    env = {"LD_PRELOAD": a.library, "GLASSHEAP_POLICY": a.policy, "GLASSHEAP_ARENAS": "1"}
    p = subprocess.Popen([a.churn, "4", "60"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if not line.startswith("ready "):
            fail("walk_churn said %r" % line)
        pid = str(p.pid)
        r = subprocess.run([a.glassheap, "watch", pid, "--json", "--interval", "10", "--count", str(SAMPLES)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail("watch: exit %d: %s" % (r.returncode, r.stderr))
        outside = 0
        for line in r.stdout.splitlines():
            o = json.loads(line)
            # each arena's counters, read in place under its seq: never torn
            if o["counters_source"] != "in place":
                fail("counters not read in place: %r" % o)
            for ar in o["arenas"]:
                if ar["used_block_bytes"] + ar["free_bytes"] + ar["overhead_bytes"] != ar["heap_bytes"]:
                    fail("a torn arena entry (in place): %r" % ar)
            if o["source"] == "outside":
                outside += 1
                if (o["live_block_bytes"] + o["cached_bytes"] + o["free_bytes"] + o["overhead_bytes"]
                        != o["heap_bytes"]):
                    fail("a torn sample: %r" % o)
                if sum(b["count"] for b in o["histogram"]) != o["free_blocks"]:
                    fail("histogram and free blocks disagree: %r" % o)
                if o["free_blocks"] and not any(b["min"] <= o["largest_free"] < b["max"]
                                                for b in o["histogram"]):
                    fail("largest free block in no bucket: %r" % o)
            elif not CHANGING.search(o["note"]):
                fail("a sample neither read nor changing: %r" % o)
        if outside == 0:
            fail("no sample read from outside in %d" % SAMPLES)
        walked = 0
        for _ in range(MAPS):
            r = subprocess.run([a.glassheap, "map", pid, "--json", "--source", "outside"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                js = json.loads(r.stdout)
                for reg in js["regions"]:
                    blocks = [b for b in js["blocks"] if reg["start"] <= b["addr"] < reg["end"]]
                    for x, y in zip(blocks, blocks[1:]):
                        if x["addr"] + x["size"] != y["addr"]:
                            fail("map read from outside does not tile: %r %r" % (x, y))
                walked += 1
            elif not CHANGING.search(r.stderr):
                fail("map --source outside: exit %d: %s" % (r.returncode, r.stderr))
        print("%s: %d of %d samples and %d of %d maps read from outside" % (a.policy, outside, SAMPLES, walked, MAPS))
    finally:
        p.terminate()
        p.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

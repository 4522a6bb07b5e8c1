#!/usr/bin/env python3
"""harden_stat.py --glassheap CLI --library LIB --helper HELPER POLICY

The hardened mode's counters, end to end: runs tests/cli's helper preloaded
with GLASSHEAP_HARDEN=1 and a script with a known quarantine (50 freed
100-byte blocks between live fences), three malloc(0)s and a large block of
200003 bytes, then checks
  - malloc_usable_size gives the requested size (the canary is not usable);
  - `glassheap stat --json`: harden_on, quarantined_blocks/_requested,
    zero_blocks, canary bytes at least the known blocks', and
    live_block_bytes + quarantined_bytes + free_bytes + overhead_bytes =
    heap_bytes; the text form has its "hardened" section;
  - the exit summary (GLASSHEAP_STATS=json): the same figures and identity.
Exit 0 when all hold, 1 otherwise (every problem printed)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

QUARANTINED, SIZE, ZEROS, LARGE = 50, 100, 3, 200003
problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)


def counters_ok(where, c):
    check(c.get("harden_on") == 1, f"{where}: harden_on is {c.get('harden_on')}, not 1")
    check(c.get("quarantined_blocks") == QUARANTINED,
          f"{where}: quarantined_blocks {c.get('quarantined_blocks')}, not {QUARANTINED}")
    check(c.get("quarantined_requested") == QUARANTINED * SIZE,
          f"{where}: quarantined_requested {c.get('quarantined_requested')}, not {QUARANTINED * SIZE}")
    check(c.get("quarantined_bytes", 0) >= QUARANTINED * (SIZE + 16),
          f"{where}: quarantined_bytes {c.get('quarantined_bytes')} below {QUARANTINED * (SIZE + 16)}")
    check(c.get("zero_blocks") == ZEROS, f"{where}: zero_blocks {c.get('zero_blocks')}, not {ZEROS}")
    # each live 100-byte fence-free block has 12 canary bytes (usable 112);
    # the large block 13 (200003 ends 13 bytes short of a 16-byte boundary)
    check(c.get("canary_bytes", 0) >= 13, f"{where}: canary_bytes {c.get('canary_bytes')} too few")
    total = c["live_block_bytes"] + c["quarantined_bytes"] + c["free_bytes"] + c["overhead_bytes"]
    check(total == c["heap_bytes"],
          f"{where}: live {c['live_block_bytes']} + quarantined {c['quarantined_bytes']} + free "
          f"{c['free_bytes']} + overhead {c['overhead_bytes']} = {total}, not heap {c['heap_bytes']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--helper", required=True)
    ap.add_argument("policy")
    a = ap.parse_args()
    steps = []
    for i in range(2 * QUARANTINED + 1):
        steps.append(f"m:{i}:{SIZE if i % 2 else 64}")
    steps += [f"f:{i}" for i in range(1, 2 * QUARANTINED + 1, 2)]
    base = 2 * QUARANTINED + 1
    steps += [f"m:{base + k}:0" for k in range(ZEROS)]
    steps += [f"m:{base + ZEROS}:{LARGE}", f"m:{base + ZEROS + 1}:{SIZE}"]
    tmp = tempfile.mkdtemp(prefix="gh-harden-stat.")
    summary = os.path.join(tmp, "summary.json")
    env = dict(os.environ, LD_PRELOAD=a.library, GLASSHEAP_HARDEN="1", GLASSHEAP_POLICY=a.policy,
               GLASSHEAP_STATS="json", GLASSHEAP_STATS_FILE=summary, GLASSHEAP_SHM="1")
    p = subprocess.Popen([a.helper] + steps, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        check(line == f"ready {p.pid}", f"helper said {line!r}")
        p.stdin.write("go\n")
        p.stdin.flush()
        done = p.stdout.readline().split()
        usable = dict(tuple(map(int, s.split(":"))) for s in done[1:])
        check(usable.get(base + ZEROS + 1) == SIZE,
              f"malloc_usable_size of a {SIZE}-byte block is {usable.get(base + ZEROS + 1)}, not {SIZE}")
        check(usable.get(base) == 0, f"malloc_usable_size of malloc(0) is {usable.get(base)}, not 0")
        check(usable.get(base + ZEROS) == LARGE, f"malloc_usable_size of the large block is "
              f"{usable.get(base + ZEROS)}, not {LARGE}")
        clean = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLASSHEAP_HARDEN")}
        out = subprocess.run([a.glassheap, "stat", "--json", str(p.pid)], env=clean, capture_output=True,
                             text=True, timeout=30)
        check(out.returncode == 0, f"glassheap stat --json: status {out.returncode}: {out.stderr}")
        if out.returncode == 0:
            counters_ok("stat --json", json.loads(out.stdout)["counters"])
        text = subprocess.run([a.glassheap, "stat", str(p.pid)], env=clean, capture_output=True, text=True,
                              timeout=30)
        check("\nhardened (GLASSHEAP_HARDEN=1" in text.stdout and
              f"quarantined blocks {QUARANTINED}" in " ".join(text.stdout.split()),
              f"glassheap stat: no hardened section with {QUARANTINED} quarantined blocks:\n{text.stdout}")
    finally:
        p.stdin.write("quit\n")
        p.stdin.close()
        p.wait(timeout=30)
    check(p.returncode == 0, f"helper exit status {p.returncode}")
    with open(summary) as f:
        s = json.load(f)
    flat = dict(s["heap"])
    flat.update({("harden_on" if k == "on" else k): v for k, v in s["harden"].items()})
    counters_ok("exit summary", flat)
    for m in problems:
        print("FAIL:", m)
    if not problems:
        print("ok: hardened counters in stat --json, stat and the exit summary")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

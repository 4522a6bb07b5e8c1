#!/usr/bin/python3
"""check_summaries.py - prove from glassheap's exit summaries that it served a run.

Reads every gh.<pid>.json in --dir (written by GLASSHEAP_STATS=json with
GLASSHEAP_STATS_FILE=<dir>/gh.%p.json) and fails (exit 1, one line per
problem) unless
  - there are at least --min-summaries files (exactly --summaries if given);
  - every file holds one JSON object whose "policy" is --policy, whose "pid"
    is the PID in its name, and whose calls.* are non-negative integers;
  - at least one summary counts >= --min-calls allocation calls
    (calls.malloc + calls.calloc + calls.realloc), so a preload that was
    silently ignored, or that served nothing, fails;
  - the counters are consistent where DESIGN.md makes them so:
    largest_free <= free_bytes, peak_requested >= live_requested,
    peak_heap_bytes >= heap_bytes;
  - no process that wrote a summary left /dev/shm/glassheap.<pid> behind
    (the segment is unlinked at exit).
"""
import argparse
import json
import os
import re
import sys

NAME = re.compile(r"^gh\.(\d+)\.json$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--min-calls", type=int, default=1)
    ap.add_argument("--min-summaries", type=int, default=1)
    ap.add_argument("--summaries", type=int, default=None)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    problems = []
    files = sorted(f for f in os.listdir(a.dir) if not f.startswith("."))
    best = None            # (calls, pid)
    lines = []             # (calls, description) per valid summary
    for f in files:
        m = NAME.match(f)
        if not m:
            problems.append(f"unexpected file {f} in the summary directory")
            continue
        pid = int(m.group(1))
        path = os.path.join(a.dir, f)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
            s = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            problems.append(f"{f}: not one valid JSON object ({e}); first bytes {raw[:120]!r}")
            continue
        if not isinstance(s, dict):
            problems.append(f"{f}: top level is not an object")
            continue
        if "glassheap" not in s:
            problems.append(f"{f}: no \"glassheap\" version key")
        if s.get("policy") != a.policy:
            problems.append(f"{f}: policy is {s.get('policy')!r}, expected {a.policy!r}")
        if s.get("pid") != pid:
            problems.append(f"{f}: pid is {s.get('pid')!r}, the file name says {pid}")
        calls = s.get("calls")
        if not isinstance(calls, dict):
            problems.append(f"{f}: no \"calls\" object")
            continue
        bad = [k for k in ("malloc", "calloc", "realloc", "free")
               if not isinstance(calls.get(k), int) or calls.get(k) < 0]
        if bad:
            problems.append(f"{f}: calls.{bad[0]} missing or not a non-negative integer")
            continue
        n = calls["malloc"] + calls["calloc"] + calls["realloc"]
        if best is None or n > best[0]:
            best = (n, pid)
        heap = s.get("heap", {})
        if isinstance(heap, dict):
            def h(k):
                v = heap.get(k)
                return v if isinstance(v, int) else None
            if None not in (h("largest_free"), h("free_bytes")) and h("largest_free") > h("free_bytes"):
                problems.append(f"{f}: heap.largest_free {h('largest_free')} > heap.free_bytes {h('free_bytes')}")
            if None not in (h("peak_requested"), h("live_requested")) and h("peak_requested") < h("live_requested"):
                problems.append(f"{f}: heap.peak_requested {h('peak_requested')} < heap.live_requested {h('live_requested')}")
            if None not in (h("peak_heap_bytes"), h("heap_bytes")) and h("peak_heap_bytes") < h("heap_bytes"):
                problems.append(f"{f}: heap.peak_heap_bytes {h('peak_heap_bytes')} < heap.heap_bytes {h('heap_bytes')}")
        if os.path.exists(f"/dev/shm/glassheap.{pid}"):
            problems.append(f"{f}: process {pid} exited but left /dev/shm/glassheap.{pid} behind")
        lines.append((n, f"summary {f}: policy {s.get('policy')}, malloc {calls['malloc']} "
                         f"calloc {calls['calloc']} realloc {calls['realloc']} free {calls['free']}"))

    if a.summaries is not None and len(files) != a.summaries:
        problems.append(f"{len(files)} summary files, expected exactly {a.summaries}")
    elif len(files) < a.min_summaries:
        problems.append(f"{len(files)} summary files, expected at least {a.min_summaries}"
                        " (no summary at all: the preload was ignored or the library never initialised)")
    if best is not None and best[0] < a.min_calls:
        problems.append(f"the busiest process (pid {best[1]}) made {best[0]} allocation calls, "
                        f"expected at least {a.min_calls}")
    if not a.quiet:
        shown = lines if len(lines) <= 6 else sorted(lines, reverse=True)[:3]
        for _, text in shown:
            print(text)
        if len(shown) < len(lines):
            print(f"... {len(lines) - len(shown)} more summaries; the 3 busiest are shown")
        print(f"{len(files)} summary files")
    for p in problems:
        print("summary check: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""check_summary.py FILE [--pid N] [--policy P] [--workload]

The version the summary must name comes from GH_EXPECT_VERSION (CMake's
PROJECT_VERSION, set by tests/api/CMakeLists.txt).

Validates FILE as `python3 -m json.tool` does, then checks it as a
GLASSHEAP_STATS=json exit summary against frontend-contract.md: one
JSON object with every key the contract lists, integer values (the version
and policy are strings), and plausible numbers.  --workload: the summary is
gh_workload's, whose known live blocks at exit are checked too.
Exit 0 when it holds; otherwise prints every problem and exits 1."""
import argparse
import json
import os
import sys
from json import tool as json_tool

SCHEMA = {
    "glassheap": str, "pid": int, "policy": str, "mmap_threshold": int,
    "calls": {k: int for k in ("malloc", "calloc", "realloc", "free", "aligned", "failed")},
    "heap": {k: int for k in ("live_requested", "live_block_bytes", "live_blocks",
                              "free_bytes", "free_blocks", "largest_free", "heap_bytes",
                              "peak_requested", "peak_heap_bytes")},
    "large": {"live_blocks": int, "live_bytes": int},
    "os": {k: int for k in ("brk_calls", "mmap_calls", "munmap_calls", "mremap_calls")},
}

problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)


def walk(schema, obj, path):
    if not isinstance(obj, dict):
        problems.append(f"{path or 'summary'} is not an object")
        return
    for key, want in schema.items():
        where = f"{path}.{key}" if path else key
        if key not in obj:
            problems.append(f"missing key {where}")
        elif isinstance(want, dict):
            walk(want, obj[key], where)
        elif want is int:
            v = obj[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                problems.append(f"{where} = {v!r} is not a non-negative integer")
        elif not isinstance(obj[key], want):
            problems.append(f"{where} = {obj[key]!r} is not a {want.__name__}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--policy")
    ap.add_argument("--workload", action="store_true")
    a = ap.parse_args()
    version = os.environ.get("GH_EXPECT_VERSION")
    if not version:
        print("FAIL: GH_EXPECT_VERSION is not set (the build's version)")
        return 1
    # First exactly what `python3 -m json.tool FILE` does (one interpreter
    # start-up instead of two: they are slow on a loaded machine).
    argv, sys.argv = sys.argv, ["json.tool", a.file, os.devnull]
    try:
        json_tool.main()
    except SystemExit as e:
        if e.code:
            print(f"FAIL: python3 -m json.tool rejects {a.file}: {e.code}")
            return 1
    finally:
        sys.argv = argv
    with open(a.file) as f:
        text = f.read()
    try:
        s = json.loads(text)
    except ValueError as e:
        print(f"FAIL: not one JSON value: {e}")
        return 1
    walk(SCHEMA, s, "")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    c, h, l = s["calls"], s["heap"], s["large"]
    check(s["glassheap"] == version, f"glassheap = {s['glassheap']!r}, not {version!r}")
    if a.pid is not None:
        check(s["pid"] == a.pid, f"pid = {s['pid']}, not {a.pid}")
    if a.policy:
        check(s["policy"] == a.policy, f"policy = {s['policy']!r}, not {a.policy!r}")
    check(s["mmap_threshold"] == 128 * 1024, f"mmap_threshold = {s['mmap_threshold']}, not 131072")
    check(c["malloc"] > 0, "calls.malloc is 0")
    check(c["free"] > 0, "calls.free is 0")
    check(h["heap_bytes"] > 0, "heap.heap_bytes is 0")
    check(h["peak_heap_bytes"] >= h["heap_bytes"], "peak_heap_bytes < heap_bytes")
    check(h["peak_requested"] >= h["live_requested"], "peak_requested < live_requested")
    check(h["live_block_bytes"] >= h["live_requested"], "live_block_bytes < live_requested")
    check(h["live_block_bytes"] >= 48 * h["live_blocks"], "live_block_bytes < 48 * live_blocks")
    check(h["largest_free"] <= h["free_bytes"], "largest_free > free_bytes")
    check(h["free_bytes"] + h["live_block_bytes"] <= h["heap_bytes"],
          "free_bytes + live_block_bytes > heap_bytes")
    check((h["free_blocks"] == 0) == (h["free_bytes"] == 0), "free_blocks/free_bytes disagree")
    check(l["live_bytes"] >= l["live_blocks"] * 128 * 1024 // 2, "large.live_bytes too small")
    check(s["os"]["mmap_calls"] + s["os"]["brk_calls"] > 0, "no OS calls counted")
    if a.workload:
        check(c["malloc"] >= 1003, f"calls.malloc = {c['malloc']} < 1003")
        check(c["calloc"] >= 10, f"calls.calloc = {c['calloc']} < 10")
        check(c["realloc"] >= 10, f"calls.realloc = {c['realloc']} < 10")
        check(c["free"] >= 1010, f"calls.free = {c['free']} < 1010")
        check(h["live_requested"] >= 10000, "heap.live_requested < the 10000 bytes left live")
        check(h["live_blocks"] >= 1, "heap.live_blocks is 0")
        check(h["peak_requested"] >= sum(range(1, 1001)),
              "peak_requested below what the workload held at once")
        check(l["live_blocks"] >= 2, f"large.live_blocks = {l['live_blocks']} < 2")
        check(l["live_bytes"] >= 600000, f"large.live_bytes = {l['live_bytes']} < 600000")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    print(f"summary ok: {c['malloc']} mallocs, {c['free']} frees, heap {h['heap_bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

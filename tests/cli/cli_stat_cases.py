"""cli_stat_cases.py - the cli_ cases that read a live helper's figures
(cli_test.py runs them): stat POLICY, stat_idle, ps, ps_stale, and
the checks they share (a snapshot against the pattern and DESIGN.md's
formulas, the text output against the JSON, ps rows against stat).
"""
import json
import os
import re
import time

from cli_common import Fail, block_of, check, expected, pattern, seg_path


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
    # counters kept in place: read as they are, no publish asked for
    check(after["counters_source"] == "in place" and before["counters_source"] == "in place",
          "stat: counters from %r, then %r" % (before["counters_source"], after["counters_source"]))

    rc, out, err = ctx.cli("stat", str(p.pid))
    check(rc == 0 and err == "", "stat: exit %d, stderr %r" % (rc, err))
    check_text(out, after)

    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    check_ps_matches(ps_row(ps, p.pid), after)
    ctx.quit(p)


ARENA_WORDS = ("index", "threads", "calls", "used_blocks", "used_block_bytes", "used_requested",
               "free_blocks", "free_bytes", "largest_free", "heap_bytes", "overhead_bytes", "regions",
               "peak_heap_bytes")


def case_stat_arenas(ctx, policy, arenas):
    """Four threads allocate in their own arenas (GLASSHEAP_ARENAS=arenas), the
    main thread frees some of their blocks (cross-thread frees); stat's
    per-arena entries each add up, and together give the process's totals."""
    steps = ["m:0:100", "m:1:5000", "t:10:20:64", "t:30:20:200", "t:50:10:3000", "t:70:5:40",
             "f:10", "f:11", "f:12", "f:31", "f:50", "f:1"]
    p = ctx.helper(policy, steps, env_extra={"GLASSHEAP_ARENAS": arenas})
    ctx.send(p, "go")
    check(ctx.read_line(p).startswith("done"), "helper did not finish its steps")
    s, err = ctx.cli_json("stat", "--json", str(p.pid))
    check(err == "", "stat: unexpected stderr %r" % err)
    check(s["fresh"] is True, "stat: the helper did not answer: %r" % s)
    c, rows = s["counters"], s["arenas"]
    want = 1 if arenas == "1" else 5   # the main thread's arena and one per thread (5 <= 8 x CPUs)
    check(c["arenas"] == want and len(rows) == want,
          "arenas: counters say %d, %d entries, expected %d" % (c["arenas"], len(rows), want))
    for k, a in enumerate(rows):
        check(sorted(a) == sorted(ARENA_WORDS), "arena %d: words %r" % (k, sorted(a)))
        check(a["index"] == k, "arena entry %d has index %d" % (k, a["index"]))
        check(a["used_block_bytes"] + a["free_bytes"] + a["overhead_bytes"] == a["heap_bytes"],
              "arena %d: used %d + free %d + overhead %d != heap %d" %
              (k, a["used_block_bytes"], a["free_bytes"], a["overhead_bytes"], a["heap_bytes"]))
        check(a["heap_bytes"] <= a["peak_heap_bytes"], "arena %d: heap above its peak" % k)
        check(a["largest_free"] <= a["free_bytes"], "arena %d: largest free above free" % k)
        if want > 1 and k > 0:
            check(a["threads"] == 1, "arena %d: %d threads attached, its one thread expected" % (k, a["threads"]))
            check(a["used_blocks"] >= 4, "arena %d holds %d blocks: its thread's were placed elsewhere" %
                  (k, a["used_blocks"]))
    total = lambda w: sum(a[w] for a in rows)  # noqa: E731
    for w, want_sum in (("heap_bytes", c["heap_bytes"]), ("free_bytes", c["free_bytes"]),
                        ("free_blocks", c["free_blocks"]), ("overhead_bytes", c["overhead_bytes"]),
                        ("regions", c["regions"]),
                        ("used_block_bytes", c["live_block_bytes"] + c["cached_bytes"] + c["quarantined_bytes"]),
                        ("used_blocks", c["live_blocks"] + c["cached_blocks"] + c["quarantined_blocks"]),
                        ("used_requested", c["live_requested"] + c["cached_requested"] + c["quarantined_requested"])):
        check(total(w) == want_sum, "arenas' %s add up to %d, the process's is %d" % (w, total(w), want_sum))
    check(max(a["largest_free"] for a in rows) == c["largest_free"], "largest free is not the arenas' largest")
    check(total("threads") == (1 + 4 if want > 1 else 5), "threads attached: %d" % total("threads"))
    # top's and watch's JSON lines carry the same entries (the helper is idle: nothing moved)
    for argv in (("top", "--json", "--iterations", "1", str(p.pid)), ("watch", str(p.pid), "--json", "--count", "1")):
        line, err = ctx.cli_json(*argv)
        check(line["arenas"] == rows, "%s: arenas %r, stat's %r" % (argv[0], line["arenas"], rows))
        check(line["cached_bytes"] == c["cached_bytes"], "%s: cached_bytes %r" % (argv[0], line["cached_bytes"]))
    rc, out, err = ctx.cli("stat", str(p.pid))
    check(rc == 0 and err == "", "stat: exit %d, stderr %r" % (rc, err))
    table = "each arena, in place" in out
    check(table == (want > 1), "stat text: arena table %s with %d arenas" % ("shown" if table else "missing", want))
    if want > 1:
        line = [ln.split() for ln in out.splitlines() if ln.strip().startswith("total ")]
        check(len(line) == 1 and int(line[0][3]) == c["heap_bytes"],
              "stat text: the arenas' total line %r, heap %d" % (line, c["heap_bytes"]))
    ctx.quit(p)
    return 0


def case_stat_idle(ctx):
    """A helper blocked in read(2) between its script's steps makes no
    allocator call: stat reads the counters it keeps in place at once (no
    request, no wait), and they are exactly those of what it did before it
    went to sleep."""
    steps = pattern()
    want = expected(steps)
    p = ctx.helper("best", steps, idle=True)
    before, err = ctx.cli_json("stat", "--json", "--timeout", "5000", str(p.pid))
    check(err == "", "stat of a sleeping process: stderr %r" % err)
    ctx.send(p, "go")
    done = ctx.read_line(p)
    check(done.startswith("done"), "helper said %r" % done)
    usable = {int(a): int(b) for a, b in (x.split(":") for x in done.split()[1:])}
    t0 = time.monotonic()
    rc, out, err = ctx.cli("stat", "--json", "--timeout", "5000", str(p.pid))
    took = time.monotonic() - t0
    check(rc == 0 and err == "", "stat of a sleeping process: exit %d, stderr %r" % (rc, err))
    check(took < 2.5, "stat waited %.2f s for a process that keeps its counters in place" % took)
    after = json.loads(out)
    check_snapshot(after, p.pid, "best")
    check(after["fresh"] is True and after["counters_source"] == "in place",
          "stat: fresh %r, counters %r" % (after["fresh"], after["counters_source"]))
    b, a = before["counters"], after["counters"]
    d = {k: a[k] - b[k] for k in a}
    check(d["realloc_moved"] + d["realloc_in_place"] == want["resizes"], "realloc: %r" % d)
    for k, v in dict(want["calls"]).items():
        check(d[k] == v, "a sleeping process: %s grew by %d, its script made %d" % (k, d[k], v))
    block_bytes = sum(block_of(usable[k], "best") for k in want["heap"])
    for k, v in (("live_requested", want["live_requested"]), ("live_blocks", want["live_blocks"]),
                 ("live_block_bytes", block_bytes), ("large_requested", want["large_requested"]),
                 ("large_blocks", want["large_blocks"])):
        check(d[k] == v, "a sleeping process: %s grew by %d, its script holds %d" % (k, d[k], v))
    check(a["publishes"] == b["publishes"], "the sleeping helper published (%d, then %d)" % (b["publishes"], a["publishes"]))
    rc, out, err = ctx.cli("stat", "--timeout", "0", str(p.pid))
    check(rc == 0 and err == "" and "in place (current" in out, "stat text: %r %r" % (out[:400], err))
    # Options anywhere, as GNU tools take them; `--` ends the options.
    for argv in (("stat", str(p.pid), "--json", "--timeout", "0"), ("stat", "--timeout", "0", str(p.pid), "-j"),
                 ("stat", "--json", "--timeout=0", "--", str(p.pid))):
        rc, out, err = ctx.cli(*argv)
        check(rc == 0 and json.loads(out)["pid"] == p.pid, "glassheap %s: exit %d, %r %r" % (" ".join(argv), rc, out[:80], err))
    rc, out, err = ctx.cli("stat", "--timeout", "0", "--", "--json")
    check(rc == 2 and "'--json' is not a process id" in err, "stat -- --json: exit %d, %r" % (rc, err))
    # ps reads it in place too: not marked as one that did not answer
    rc, out, err = ctx.cli("ps", "--timeout", "100", "--keep-stale")
    line = ps_text_row(out, p.pid)
    check(line.split()[0] == "%d" % p.pid, "ps: the sleeping helper's row %r" % line)
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    check_ps_matches(ps_row(ps, p.pid), after)
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

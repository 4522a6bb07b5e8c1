"""cli_watch_cases.py - `glassheap watch` and the heap read from outside,
against cli_helper blocked in read(2) (--idle: it never makes an allocator
call between its script's steps, so it never answers a request).

  watch        N samples of a sleeping helper: N JSON lines, every one read
               from outside, all alike (nothing moves while it sleeps); the
               difference from a sample before the script is exactly the
               script's (live bytes and blocks, large blocks); the histogram
               adds up; the text view prints one line per sample; stat shows
               the same heap, read from outside, and the same calls, read in
               place, though the process answers no request
"""
import json

from cli_common import SKIP, check, expected, outside_reads_allowed, pattern

HEAP_KEYS = ("heap_bytes", "live_requested", "live_blocks", "live_block_bytes", "free_bytes", "free_blocks",
             "largest_free", "overhead_bytes", "regions", "large_blocks", "large_bytes", "histogram", "seq")


def watch_json(ctx, p, count, interval=20):
    rc, out, err = ctx.cli("watch", str(p.pid), "--json", "--count", str(count), "--interval", str(interval))
    check(rc == 0 and err == "", "watch: exit %d, stderr %r" % (rc, err))
    lines = out.splitlines()
    check(len(lines) == count, "watch --count %d printed %d lines: %r" % (count, len(lines), out[:300]))
    objs = [json.loads(line) for line in lines]
    for o in objs:
        check(o["pid"] == p.pid and o["policy"] == "first" and o["exited"] is False, "watch: %r" % o)
        check(o["source"] == "outside", "watch: not read from outside: %r" % o)
        check(sum(b["count"] for b in o["histogram"]) == o["free_blocks"], "histogram vs free_blocks: %r" % o)
        check(o["live_block_bytes"] + o["free_bytes"] + o["overhead_bytes"] == o["heap_bytes"], "identity: %r" % o)
        if o["free_blocks"]:
            top = max(o["histogram"], key=lambda b: b["min"])
            check(top["min"] <= o["largest_free"] < top["max"], "largest free outside the top bucket: %r" % o)
    return objs


def case_watch(ctx):
    if not outside_reads_allowed():
        print("SKIP: Yama's ptrace_scope lets no process read another here")
        return SKIP
    steps = pattern()
    want = expected(steps)
    p = ctx.helper("first", steps, idle=True)
    before = watch_json(ctx, p, 1)[0]
    ctx.send(p, "go")
    done = ctx.read_line(p)
    check(done.startswith("done"), "helper said %r" % done)
    samples = watch_json(ctx, p, 4)
    first = samples[0]
    for s in samples[1:]:
        for k in HEAP_KEYS:
            check(s[k] == first[k], "a sleeping process changed %s: %r then %r" % (k, first[k], s[k]))
    check(first["seq"] != before["seq"], "the script's calls did not move the heap's seq")
    for k in ("live_requested", "live_blocks", "large_blocks"):
        check(first[k] - before[k] == want[k], "%s grew by %d, the script holds %d" % (k, first[k] - before[k], want[k]))
    check(first["large_bytes"] - before["large_bytes"] >= want["large_requested"], "large_bytes grew too little")

    rc, out, err = ctx.cli("watch", str(p.pid), "--count", "3", "--interval", "20")
    check(rc == 0 and err == "", "watch text: exit %d, %r" % (rc, err))
    lines = out.splitlines()
    check(lines[0].startswith("# glassheap watch: pid %d (first)" % p.pid), "watch header: %r" % lines[:1])
    check(lines[1].split() == ["time_s", "heap", "live", "free", "largest", "util", "ext", "source"],
          "watch columns: %r" % lines[1])
    check(len(lines) == 5 and all(l.split()[-1] == "outside" for l in lines[2:]), "watch text lines: %r" % lines)

    # stat: the process answers no request; its counters are read in place,
    # its heap from outside
    rc, out, err = ctx.cli("stat", "--json", "--timeout", "0", str(p.pid))
    check(rc == 0, "stat: exit %d, %r" % (rc, err))
    s = json.loads(out)
    check(s["fresh"] is True and s["counters_source"] == "in place" and s["heap_source"] == "outside",
          "stat: %r" % {k: s[k] for k in ("fresh", "counters_source", "heap_source")})
    check(all(o["counters_source"] == "in place" for o in samples), "watch: counters not in place")
    for k in ("malloc", "free", "realloc", "calloc"):
        check(samples[-1]["calls"][k] == s["counters"][k + "_calls"], "watch's %s calls %r, stat's %r" %
              (k, samples[-1]["calls"][k], s["counters"][k + "_calls"]))
    for k in ("live_requested", "live_blocks", "free_blocks", "largest_free", "heap_bytes", "large_blocks"):
        check(s["counters"][k] == first[k], "stat's %s %d, watch's %d" % (k, s["counters"][k], first[k]))
    rc, out, err = ctx.cli("stat", "--timeout", "0", str(p.pid))
    check("\nheap (read from outside)\n" in out and "\nfree blocks by size (read from outside)\n" in out,
          "stat text: no source in the headings: %r" % out[:600])
    ctx.quit(p)

#!/usr/bin/python3
"""agree_test.py - trace_agree_POLICY: replay and the preloaded library agree.

Runs agree_prog (agree_prog.c: every way through the front end) preloaded
under POLICY with GLASSHEAP_TRACE and the JSON exit summary
(GLASSHEAP_STATS_FILE), replays the trace under POLICY with
`glassheap replay --json`, and requires the two to agree exactly on
  peak heap bytes       summary heap.peak_heap_bytes  = replay peak_heap_bytes
  peak requested        summary heap.peak_requested   = replay peak_requested_in_moves
  peak large bytes      summary large.peak_bytes      = replay large.peak_bytes
  mmap threshold        summary mmap_threshold(_rises) = replay large.mmap_threshold_end(_rises)
The replay runs the library's own front end (alloc/front.c) over a paged
arena that grows and trims as the break does, so nothing is allowed to
differ: the break must start on a page (it does on Linux) and the test says
so when it does not.  Prints the figures.  Exit 0 pass, 1 fail.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trace_test as tt  # noqa: E402  (run, check, preload_env, first_heap_region)


def agree(env, prog, policy):
    tdir = env.path("rec")
    os.mkdir(tdir)
    rc, out, err = tt.run([prog], env=tt.preload_env(env, policy, tdir), cwd=env.tmp)
    tt.check(rc == 0 and out.startswith("agree_prog "), "agree_prog under %s: exit %d, %r %r" % (policy, rc, out, err))
    traces = [f for f in os.listdir(tdir) if f.startswith("t.")]
    tt.check(len(traces) == 1, "one trace expected, found %r" % traces)
    pid = traces[0].split(".", 1)[1]
    trace = os.path.join(tdir, traces[0])
    with open(os.path.join(tdir, "s." + pid)) as f:
        lib = json.load(f)
    tt.check(lib["policy"] == policy, "summary policy %s" % lib["policy"])
    d = env.replay_json(trace, "--policy", policy)
    r = d["policies"][0]
    tt.check(r["policy"] == policy and r["failures"] == 0, "replay: %s, %d failures" % (r["policy"], r["failures"]))
    start = tt.first_heap_region(trace)
    tt.check(start is not None and start % tt.PAGE == 0,
             "the program's heap starts at %s, not on a page: replay cannot match it exactly"
             % (hex(start) if start is not None else "?"))
    pairs = (("peak heap bytes", lib["heap"]["peak_heap_bytes"], r["peak_heap_bytes"]),
             ("peak requested", lib["heap"]["peak_requested"], r["peak_requested_in_moves"]),
             ("peak large bytes", lib["large"]["peak_bytes"], r["large"]["peak_bytes"]))
    for what, want, got in pairs:
        print("%s %s: preloaded %d, replay %d" % (policy, what, want, got))
    for what, want, got in pairs:
        tt.check(want == got, "%s: %s preloaded %d, replay %d" % (policy, what, want, got))
    tt.check(r["large"]["blocks"] > 0 and lib["large"]["peak_bytes"] > 0, "no large block was made")
    # The dynamic mmap threshold: the same rises, to the same threshold.
    lt, lr = lib["mmap_threshold"], lib["mmap_threshold_rises"]
    rt, rr = r["large"]["mmap_threshold_end"], r["large"]["mmap_threshold_rises"]
    print("%s mmap threshold: preloaded %d (%d rises), replay %d (%d rises)" % (policy, lt, lr, rt, rr))
    tt.check(lib["mmap_threshold_dynamic"] == 1 and d["model"]["mmap_threshold_dynamic"],
             "the threshold is not dynamic in both")
    tt.check(lr > 0 and (lt, lr) == (rt, rr), "mmap threshold: preloaded %d after %d rises, replay %d after %d"
             % (lt, lr, rt, rr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--prog", required=True, help="agree_prog")
    ap.add_argument("policy")
    args = ap.parse_args()
    env = tt.Env(args)
    try:
        agree(env, args.prog, args.policy)
    except tt.Fail as e:
        print("FAIL:", e)
        return 1
    finally:
        tt.shutil.rmtree(env.tmp, ignore_errors=True)
    print("pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""cli_test.py - drives `glassheap ps` and `glassheap stat` against real
preloaded helper processes (cli_helper.c) and checks what they print.

One CTest test per case:
  stat POLICY      the helper runs a scripted pattern; the difference between
                   `stat --json` after and before it is exactly the pattern's
                   (calls, live bytes, blocks, large blocks); the fragmentation
                   figures follow DESIGN.md's formulas; the histogram and the
                   buddy orders add up; the text output shows the same numbers;
                   `ps --json` shows the same figures and the right policy
  stat_idle        a helper blocked in read(2) makes no allocator call: stat
                   reads its counters in place at once, exactly those of the
                   script it ran before it slept
  ps               two helpers under two policies: both listed, text and JSON
  ps_stale         a SIGKILLed helper's segment: --keep-stale keeps it, plain
                   `ps` reports "stale: <pid> (removed)" and removes it
  err_*            each error a person can meet: message and exit status
                   (err_replaced: a process that exec()ed a program without
                   glassheap; disabled until the reader detects it)
  usage            bad arguments exit 2; --help exits 0
  watch            cli_watch_cases.py: `glassheap watch` of a sleeping helper, N
                   samples read from outside with the script's exact figures;
                   stat of it shows the same heap, read from outside
  escapes, trace_escapes, err_forged, truncated
                   issue 11's safe tools (cli_safe_cases.py): control
                   characters from a segment or trace escaped everywhere, a
                   segment of another owner than its process refused, a
                   truncated one an error and never a SIGBUS

The cases live in cli_stat_cases.py (stat, ps), cli_watch_cases.py (watch)
and cli_error_cases.py (err_*, usage, run), over cli_common.py (Ctx, the pattern); this file
registers them and runs one.  Exit 0 pass, 1 fail, 77 skip.  Every helper is killed and every segment file
the test made or left is removed, whatever happens.
"""
import argparse
import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cli_common import SKIP, Ctx, Fail  # noqa: E402
from cli_error_cases import (case_err_no_glassheap, case_err_no_library, case_err_no_process,  # noqa: E402
                             case_err_other_user, case_err_replaced, case_err_stale, case_err_version,
                             case_run, case_usage)
from cli_safe_cases import case_err_forged, case_escapes, case_trace_escapes, case_truncated  # noqa: E402
from cli_stat_cases import case_ps, case_ps_stale, case_stat, case_stat_arenas, case_stat_idle  # noqa: E402
from cli_watch_cases import case_watch  # noqa: E402


CASES = {
    "stat": case_stat, "stat_arenas": case_stat_arenas, "stat_idle": case_stat_idle, "ps": case_ps, "ps_stale": case_ps_stale,
    "err_no_process": case_err_no_process, "err_no_glassheap": case_err_no_glassheap,
    "err_stale": case_err_stale, "err_replaced": case_err_replaced, "err_other_user": case_err_other_user, "err_version": case_err_version,
    "usage": case_usage, "run": case_run, "err_no_library": case_err_no_library,
    "escapes": case_escapes, "trace_escapes": case_trace_escapes, "err_forged": case_err_forged,
    "truncated": case_truncated, "watch": case_watch,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--helper", required=True)
    ap.add_argument("--shm-h", required=True)
    ap.add_argument("--project-version", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("params", nargs="*")
    a = ap.parse_args()
    ctx = Ctx(a)
    old = signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # ctest's timeout: clean up
    try:
        rc = CASES[a.case](ctx, *a.params)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    except subprocess.TimeoutExpired as e:
        print("FAIL: timed out: %s" % e)
        return 1
    finally:
        ctx.cleanup()
        signal.signal(signal.SIGTERM, old)
    if rc == SKIP:
        return SKIP
    print("ok: %s %s" % (a.case, " ".join(a.params)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

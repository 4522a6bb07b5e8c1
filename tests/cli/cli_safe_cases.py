"""cli_safe_cases.py - the cli_ cases of issue 11's "safe tools"
(cli_test.py runs them): strings from a segment or a trace never reach the
terminal raw, a forged segment is refused, a truncated one is an error and
never a SIGBUS.

  escapes        a live helper's segment gets ESC]0;...BEL written into its
                 command line and policy: stat, ps, map, top and layout
                 print them escaped (\\x1b ... \\x07), their JSON forms carry
                 them as \\u001b / \\u0007 and parse back to the same bytes
  trace_escapes  a binary trace whose header holds the same in its policy
                 and command line: trace-stats and replay, text and JSON
  err_forged     the segment of a live root helper chowned to nobody (as if
                 nobody had written it): stat refuses it (exit 3, its own
                 line), ps lists it as unreadable, map and top refuse it
  truncated      a live helper's segment truncated to 0: stat gives a clear
                 error, top exits without a signal, and the helper runs on,
                 allocates, exits 0 with exactly one warning line
"""
import json
import os
import re
import struct
import tempfile

from cli_common import NOBODY, SKIP, check, seg_path

EVIL_CMD = "\x1b]0;pwned-title\x07 evil\x9b2J\u202eend"
EVIL_POLICY = "\x1b]0;p\x07"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e]")

# include/glassheap/shm.h: header.config_offset at 24; config.policy at 0
# (16 bytes), config.cmdline at 56 (GH_SHM_CMDLINE_MAX bytes).
HDR_CONFIG_OFFSET = 24
CFG_POLICY, CFG_POLICY_LEN = 0, 16
CFG_CMDLINE, CFG_CMDLINE_LEN = 56, 512
# include/glassheap/trace.h: policy at 32 (16 bytes), cmdline at 56 (256).
TRACE_POLICY, TRACE_CMDLINE, TRACE_CMDLINE_LEN = 32, 56, 256


def put_str(buf, off, cap, s):
    b = s.encode("utf-8")[:cap - 1]
    buf[off:off + cap] = b + bytes(cap - len(b))


def forge_config(pid):
    """Write EVIL_POLICY and EVIL_CMD into the live segment's config."""
    path = seg_path(pid)
    with open(path, "r+b") as f:
        head = f.read(HDR_CONFIG_OFFSET + 4)
        (config_offset,) = struct.unpack_from("<I", head, HDR_CONFIG_OFFSET)
        f.seek(config_offset)
        cfg = bytearray(f.read(CFG_CMDLINE + CFG_CMDLINE_LEN))
        put_str(cfg, CFG_POLICY, CFG_POLICY_LEN, EVIL_POLICY)
        put_str(cfg, CFG_CMDLINE, CFG_CMDLINE_LEN, EVIL_CMD)
        f.seek(config_offset)
        f.write(cfg)


def no_raw(what, text):
    m = RAW.search(text)
    check(m is None, "%s printed a raw control character %r: %r" % (what, m and m.group(0), text[:400]))


EVIL_CMD_SHOWN = "\\x1b]0;pwned-title\\x07 evil\\xc2\\x9b2J\\xe2\\x80\\xaeend"
EVIL_POLICY_SHOWN = "\\x1b]0;p\\x07"


def case_escapes(ctx):
    p = ctx.helper("best")
    forge_config(p.pid)
    pid = str(p.pid)
    for argv in (["stat", pid], ["ps"], ["map", pid], ["top", "--batch", "--iterations", "1", pid],
                 ["layout", pid]):
        what = "glassheap " + " ".join(argv)
        rc, out, err = ctx.cli(*argv)
        check(rc == 0, "%s: exit %d (stderr %r)" % (what, rc, err))
        no_raw(what, out)
        no_raw(what + " (stderr)", err)
        check(EVIL_POLICY_SHOWN in out, "%s: the policy is not shown escaped: %r" % (what, out[:600]))
        if argv[0] in ("stat", "ps"):
            check(EVIL_CMD_SHOWN in out, "%s: the command is not shown escaped: %r" % (what, out[:600]))
    rc, out, err = ctx.cli("stat", "--json", pid)
    check(rc == 0, "stat --json: exit %d" % rc)
    no_raw("stat --json", out)
    check("\\u001b]0;" in out and "\\u0007" in out and "\\u009b" in out and "\\u202e" in out,
          "stat --json does not spell the controls \\u00XX: %r" % out[:300])
    s = json.loads(out)
    check(s["command"] == EVIL_CMD and s["policy"] == EVIL_POLICY,
          "stat --json: %r %r, want the forged strings back" % (s.get("command"), s.get("policy")))
    ps, _ = ctx.cli_json("ps", "--json")
    rows = [r for r in ps["processes"] if r["pid"] == p.pid]
    check(rows and rows[0]["command"] == EVIL_CMD and rows[0]["policy"] == EVIL_POLICY,
          "ps --json: %r" % rows)
    for argv in (["map", "--json", pid], ["top", "--json", "--iterations", "1", pid], ["layout", "--json", pid]):
        rc, out, err = ctx.cli(*argv)
        check(rc == 0, "glassheap %s: exit %d (stderr %r)" % (" ".join(argv), rc, err))
        no_raw("glassheap %s" % " ".join(argv), out)
        for line in out.splitlines():
            j = json.loads(line)
            if "policy" in j:
                check(j["policy"] == EVIL_POLICY, "glassheap %s: policy %r" % (" ".join(argv), j["policy"]))
    ctx.quit(p)


def evil_trace(ctx, d):
    """A real trace of bash -c : with its header's policy and command line
    replaced."""
    path = os.path.join(d, "t.bin")
    rc, out, err = ctx.cli("record", "-o", path, "--", "/bin/bash", "-c", ":")
    check(rc == 0, "record: exit %d (stderr %r)" % (rc, err))
    with open(path, "r+b") as f:
        head = bytearray(f.read(TRACE_CMDLINE + TRACE_CMDLINE_LEN))
        put_str(head, TRACE_POLICY, 16, EVIL_POLICY)
        put_str(head, TRACE_CMDLINE, TRACE_CMDLINE_LEN, EVIL_CMD)
        f.seek(0)
        f.write(head)
    return path


def case_trace_escapes(ctx):
    with tempfile.TemporaryDirectory() as d:
        path = evil_trace(ctx, d)
        for argv in (["trace-stats", path], ["replay", path, "--policy", "best"]):
            rc, out, err = ctx.cli(*argv)
            check(rc == 0, "glassheap %s: exit %d (stderr %r)" % (" ".join(argv), rc, err))
            no_raw("glassheap %s" % argv[0], out)
            check(EVIL_CMD_SHOWN in out and EVIL_POLICY_SHOWN in out,
                  "glassheap %s: the header is not shown escaped: %r" % (argv[0], out[:600]))
            no_raw("glassheap %s (stderr)" % argv[0], err)
        for argv in (["trace-stats", "--json", path], ["replay", path, "--json", "--policy", "best"]):
            rc, out, err = ctx.cli(*argv)
            check(rc == 0, "glassheap %s: exit %d (stderr %r)" % (" ".join(argv), rc, err))
            no_raw("glassheap %s" % " ".join(argv), out)
            j = json.loads(out)
            check(j["trace"]["cmdline"] == EVIL_CMD and j["trace"]["policy"] == EVIL_POLICY,
                  "%s: the strings did not come back: %r" % (" ".join(argv), j["trace"]))


def case_err_forged(ctx):
    if os.geteuid() != 0:
        print("skip: needs root, to give the segment to another user")
        return SKIP
    p = ctx.helper("first")
    pid = str(p.pid)
    os.chown(seg_path(p.pid), NOBODY, NOBODY)
    rc, out, err = ctx.cli("stat", pid)
    check(rc == 3 and out == "", "stat of a forged segment: exit %d, stdout %r" % (rc, out))
    check(re.fullmatch(r"glassheap: stat: segment of %s is owned by another user than the process's "
                       r"\(uid %d, nobody\): forged, not shown\n" % (pid, NOBODY), err),
          "stat of a forged segment: stderr %r" % err)
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    check(p.pid not in [r["pid"] for r in ps["processes"]], "ps --json lists the forged %s" % pid)
    rows = [u for u in ps["unreadable"] if u["pid"] == p.pid]
    check(len(rows) == 1 and "forged" in rows[0]["error"], "ps --json unreadable: %r" % ps["unreadable"])
    for argv in (["map", pid], ["top", "--batch", "--iterations", "1", pid]):
        rc, out, err = ctx.cli(*argv)
        check(rc == 3 and "forged" in err, "glassheap %s of a forged segment: exit %d, %r" % (" ".join(argv), rc, err))
    os.chown(seg_path(p.pid), 0, 0)
    ctx.quit(p)


def case_truncated(ctx):
    p = ctx.helper("best", steps=["m:0:100", "m:1:5000", "f:0", "m:2:300000"])
    pid = str(p.pid)
    os.truncate(seg_path(p.pid), 0)
    rc, out, err = ctx.cli("stat", pid)
    check(rc == 3 and out == "" and re.fullmatch(
        r"glassheap: stat: segment of %s: the segment file is shorter than its header says, or not a regular file\n"
        % pid, err), "stat of a truncated segment: exit %d, stderr %r" % (rc, err))
    rc, out, err = ctx.cli("top", "--batch", "--iterations", "2", pid)
    check(rc >= 0, "top on a truncated segment died of signal %d" % -rc)
    check(rc == 3, "top on a truncated segment: exit %d, stderr %r" % (rc, err))
    ctx.send(p, "go")
    line = ctx.read_line(p)
    check(line.startswith("done"), "helper after the truncation: %r" % line)
    ctx.send(p, "quit")
    p.stdin.close()
    rc = p.wait(timeout=20)
    err = p.stderr.read().decode(errors="replace")
    check(rc == 0, "the helper did not survive its truncated segment: status %d, stderr %r" % (rc, err))
    want = ("glassheap: the segment /dev/shm/glassheap.%s was truncated by another process; "
            "no longer publishing\n" % pid)
    check(err == want, "helper stderr %r, want exactly %r" % (err, want))
    check(not os.path.exists(seg_path(p.pid)), "the helper left its truncated segment behind")

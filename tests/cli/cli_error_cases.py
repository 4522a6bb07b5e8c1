"""cli_error_cases.py - the cli_ cases for each error a person can meet
(cli_test.py runs them): err_*, usage, and `glassheap run` (run,
err_no_library).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from cli_common import CLI_TIMEOUT_S, LINE_TIMEOUT_S, NOBODY, SKIP, check, clean_env, seg_path


def case_err_replaced(ctx):
    """A preloaded process that exec()s a program without glassheap: its
    segment stays behind with its pid and start time, but no writer."""
    env = clean_env()
    env["LD_PRELOAD"] = ctx.a.library
    p = subprocess.Popen(["env", "-u", "LD_PRELOAD", "sleep", "60"], env=env, stdin=subprocess.DEVNULL)
    ctx.procs.append(p)
    ctx.files.append(seg_path(p.pid))
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while open("/proc/%d/comm" % p.pid).read().strip() != "sleep":
        check(time.monotonic() < deadline, "env %d never became sleep" % p.pid)
        time.sleep(0.01)
    check(os.path.exists(seg_path(p.pid)), "the preloaded env made no segment: nothing to test")
    msg = (r"glassheap: stat: the segment of %d is stale: the process exited or was replaced "
           r"\('glassheap ps' removes it\)" % p.pid)
    expect_error(ctx, ["stat", "--timeout", "100", str(p.pid)], 1, msg)
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale", "--timeout", "50")
    check(p.pid in ps["stale"], "ps --json: the replaced %d is not stale: %r" % (p.pid, ps))


def expect_error(ctx, argv, rc_want, err_re, user=None, exe=None):
    rc, out, err = ctx.cli(*argv, user=user, exe=exe)
    check(rc == rc_want, "glassheap %s: exit %d, want %d (stderr %r)" % (" ".join(argv), rc, rc_want, err))
    check(re.fullmatch(err_re + r"\n", err), "glassheap %s: stderr %r does not match %r" % (" ".join(argv), err, err_re))
    check(out == "", "glassheap %s: printed %r on an error" % (" ".join(argv), out))


def case_err_no_process(ctx):
    p = ctx.child(["true"])
    p.wait()
    pid = p.pid
    try:
        os.kill(pid, 0)
        return SKIP   # the pid was taken again at once
    except ProcessLookupError:
        pass
    check(not os.path.exists(seg_path(pid)), "%s exists" % seg_path(pid))
    expect_error(ctx, ["stat", str(pid)], 1, r"glassheap: stat: no process %d" % pid)
    expect_error(ctx, ["stat", "--json", str(pid)], 1, r"glassheap: stat: no process %d" % pid)


def case_err_no_glassheap(ctx):
    p = ctx.child(["sleep", "60"])
    # sleep has no segment; wait until it runs sleep (not our fork) to name it
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while open("/proc/%d/comm" % p.pid).read().strip() != "sleep":
        check(time.monotonic() < deadline, "sleep %d never started" % p.pid)
        time.sleep(0.01)
    expect_error(ctx, ["stat", str(p.pid)], 1, r"glassheap: stat: process %d \(sleep\) is not running glassheap" % p.pid)
    ps, _ = ctx.cli_json("ps", "--json", "--keep-stale")
    check(p.pid not in [r["pid"] for r in ps["processes"]], "ps lists sleep %d" % p.pid)


def case_err_stale(ctx):
    p = ctx.helper("next")
    pid = p.pid
    ctx.kill9(p)
    check(os.path.exists(seg_path(pid)), "a SIGKILLed helper left no segment: nothing to test")
    msg = (r"glassheap: stat: the segment of %d is stale: the process exited or was replaced "
           r"\('glassheap ps' removes it\)" % pid)
    expect_error(ctx, ["stat", str(pid)], 1, msg)
    expect_error(ctx, ["stat", "--json", str(pid)], 1, msg)
    check(os.path.exists(seg_path(pid)), "stat removed the stale segment (ps's job)")


def case_err_other_user(ctx):
    if os.geteuid() != 0:
        print("skip: needs root, to run glassheap as another user than the helper's")
        return SKIP
    p = ctx.helper("best")
    # nobody must be able to run glassheap: a copy in a directory anyone may enter
    d = tempfile.mkdtemp(prefix="cli_other_user.")
    try:
        os.chmod(d, 0o755)
        exe = os.path.join(d, "glassheap")
        shutil.copy2(ctx.a.glassheap, exe)
        os.chmod(exe, 0o755)
        msg = (r"glassheap: stat: segment of %d belongs to another user \(uid 0, root\); "
               r"only that user or root may read it" % p.pid)
        expect_error(ctx, ["stat", str(p.pid)], 3, msg, user=NOBODY, exe=exe)
        expect_error(ctx, ["stat", "--json", str(p.pid)], 3, msg, user=NOBODY, exe=exe)
        rc, out, err = ctx.cli("ps", "--json", "--keep-stale", user=NOBODY, exe=exe)
        check(rc == 0, "ps as nobody: exit %d, stderr %r" % (rc, err))
        ps = json.loads(out)
        check(p.pid in ps["other_users"], "ps as nobody: %d not in other_users %r" % (p.pid, ps["other_users"]))
        check(p.pid not in [r["pid"] for r in ps["processes"]], "ps as nobody lists root's %d" % p.pid)
        check(re.search(r"^glassheap: ps: \d+ segments? of other users not shown \(only root may read them\)$",
                        err, re.M), "ps as nobody: stderr %r" % err)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # root itself reads it
    s, _ = ctx.cli_json("stat", "--json", str(p.pid))
    check(s["pid"] == p.pid, "root cannot read its own helper")
    ctx.quit(p)


def shm_version(path):
    m = re.search(r"#define\s+GH_SHM_VERSION\s+(\d+)u?", open(path).read())
    check(m, "no GH_SHM_VERSION in %s" % path)
    m2 = re.search(r"#define\s+GH_SHM_MAGIC\s+(0x[0-9a-fA-F]+)", open(path).read())
    return int(m.group(1)), int(m2.group(1), 16)


def case_err_version(ctx):
    version, magic = shm_version(ctx.a.shm_h)
    bad = version + 6
    p = ctx.child(["sleep", "60"])
    path = seg_path(p.pid)
    ctx.files.append(path)
    # struct gh_shm_header starts: u64 magic, u32 version, u32 header_size
    image = magic.to_bytes(8, "little") + bad.to_bytes(4, "little") + (4096).to_bytes(4, "little")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, image + bytes(4096 - len(image)))
    finally:
        os.close(fd)
    msg = r"glassheap: stat: segment of %d has layout version %d; this glassheap reads version %d" % (p.pid, bad, version)
    expect_error(ctx, ["stat", str(p.pid)], 3, msg)
    expect_error(ctx, ["stat", "--json", str(p.pid)], 3, msg)
    ps, err = ctx.cli_json("ps", "--json", "--keep-stale")
    rows = [u for u in ps["unreadable"] if u["pid"] == p.pid]
    check(len(rows) == 1 and rows[0].get("version") == bad, "ps --json: unreadable %r" % ps["unreadable"])
    check(("glassheap: ps: segment of %d has layout version %d; this glassheap reads version %d\n"
           % (p.pid, bad, version)) in err, "ps: stderr %r" % err)
    check(os.path.exists(path), "ps removed a segment of another version")


def case_run(ctx):
    """glassheap run: the program's own output and exit status, on glassheap
    with the policy asked for (its exit summary says so), LD_PRELOAD kept."""
    for policy in ("first", "buddy"):
        rc, out, err = ctx.cli("run", "--policy", policy, "--stats=json", "--",
                               "/bin/bash", "-c", 'echo "hello $1"; exit 7', "bash", "world")
        check(rc == 7, "run: exit %d, want the program's 7 (stderr %r)" % (rc, err))
        check(out == "hello world\n", "run: stdout %r" % out)
        lines = [l for l in err.splitlines() if l.startswith("{")]
        check(lines, "run --stats=json printed no summary: %r" % err)
        summary = json.loads(lines[-1])
        check(summary["policy"] == policy, "run: the summary says policy %r" % summary["policy"])
    rc, out, err = ctx.cli("run", "--policy", "bogus", "--", "true")
    check(rc == 2 and "'bogus' is not a policy" in err, "run --policy bogus: %d %r" % (rc, err))
    rc, out, err = ctx.cli("run", "--", "/nonexistent/program")
    check(rc == 127 and "cannot run '/nonexistent/program'" in err, "run of a missing program: %d %r" % (rc, err))


def case_err_no_library(ctx):
    """glassheap run with no library to be found: a copy of the command away
    from its build tree, and a $GLASSHEAP_LIBRARY that names no file."""
    if os.path.exists("/usr/local/lib/libglassheap.so"):
        print("skip: an installed libglassheap.so would be found")
        return SKIP
    want = (r"glassheap: run: libglassheap.so not found \(set GLASSHEAP_LIBRARY, or run the glassheap "
            r"of a build tree or an installation\)\n")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "glassheap")
        shutil.copy(ctx.a.glassheap, exe)
        bad = dict(clean_env(), GLASSHEAP_LIBRARY=os.path.join(tmp, "no-such-libglassheap.so"))
        for argv, env in (([exe], clean_env()), ([ctx.a.glassheap], bad)):
            r = subprocess.run(argv + ["run", "--", "true"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=CLI_TIMEOUT_S)
            check(r.returncode == 3, "%s run: exit %d, want 3 (stderr %r)" % (argv[0], r.returncode, r.stderr))
            check(re.fullmatch(want, r.stderr), "%s run: stderr %r" % (argv[0], r.stderr))
            check(r.stdout == "", "%s run: printed %r" % (argv[0], r.stdout))


def case_usage(ctx):
    for argv, rc_want in ((["stat"], 2), (["stat", "abc"], 2), (["stat", "0"], 2), (["stat", "1", "2"], 2),
                          (["stat", "--bogus", "1"], 2), (["stat", "--timeout", "-1", "1"], 2),
                          (["ps", "extra"], 2), (["ps", "--timeout", "x"], 2), (["ps", "--bogus"], 2),
                          (["ps", "extra", "--json"], 2), (["stat", "1", "--bogus"], 2)):
        rc, out, err = ctx.cli(*argv)
        check(rc == rc_want, "glassheap %s: exit %d, want %d" % (" ".join(argv), rc, rc_want))
        check(err.startswith("glassheap: ") or err.startswith("usage:") or "unrecognized option" in err
              or "invalid option" in err, "glassheap %s: stderr %r" % (" ".join(argv), err))
    for sub in ("stat", "ps"):
        rc, out, err = ctx.cli(sub, "--help")
        check(rc == 0 and out.startswith("usage: glassheap %s" % sub) and err == "",
              "glassheap %s --help: exit %d, %r" % (sub, rc, out[:80]))
    rc, out, err = ctx.cli("--help")
    check(rc == 0 and re.search(r"^  ps\s", out, re.M) and re.search(r"^  stat\s", out, re.M),
          "glassheap --help does not list ps and stat: %r" % out)
    rc, out, err = ctx.cli("--version")
    check(rc == 0 and out == "glassheap %s\n" % ctx.a.project_version and err == "",
          "glassheap --version: exit %d, %r, want the project's version %s" % (rc, out, ctx.a.project_version))

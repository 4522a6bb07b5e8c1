#!/usr/bin/python3
"""safe_files.py - GLASSHEAP_STATS_FILE and GLASSHEAP_TRACE never follow a
symbolic link, never write into another user's file, and never lose the
summary silently.

Runs `bash -c 'echo ran >&2'` preloaded (GLASSHEAP_SHM=0) and checks:
  - STATS_FILE a symlink to a file: one line at start-up, before the
    program's own output ("it is a symbolic link; the summary goes to
    stderr"), the JSON summary on stderr after it, the target untouched;
  - STATS_FILE an existing file owned by nobody (world-writable; needs root,
    else that case is skipped): refused, "owned by another user", untouched;
  - STATS_FILE a directory, a missing directory, /proc/self/x: the line
    first, the summary on stderr;
  - STATS_FILE new: mode 0600, holds the summary, stderr empty;
  - TRACE a symlink: one line ("not recording"), the target untouched, the
    program runs; TRACE new: mode 0600, starts with the trace magic.
Exit 0 when all hold, 1 with one line per failure.
"""
import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

NOBODY = 65534
PRECIOUS = b"precious root-only contents\n"
TRACE_MAGIC = b"GHHTRAC1"

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def run(lib, bash, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSHEAP_")}
    env.update({"LD_PRELOAD": lib, "GLASSHEAP_SHM": "0"})
    env.update(env_extra)
    p = subprocess.run([bash, "-c", "echo ran >&2"], env=env, capture_output=True, timeout=60)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def refused_stats(lib, bash, path, why, label):
    """The line first, then the program's output, then a JSON summary."""
    rc, err = run(lib, bash, {"GLASSHEAP_STATS": "json", "GLASSHEAP_STATS_FILE": path})
    lines = err.splitlines()
    want = f"glassheap: GLASSHEAP_STATS_FILE: cannot use '{path}': {why}; the summary goes to stderr"
    check(rc == 0, f"{label}: exit status {rc}")
    if not check(len(lines) == 3, f"{label}: expected 3 lines on stderr, got {lines!r}"):
        return
    check(lines[0] == want, f"{label}: first line {lines[0]!r}, expected {want!r}")
    check(lines[1] == "ran", f"{label}: the line did not come at start-up: {lines!r}")
    try:
        s = json.loads(lines[2])
        check(isinstance(s.get("calls"), dict), f"{label}: the summary has no calls")
    except ValueError as e:
        check(False, f"{label}: no JSON summary on stderr ({e}): {lines[2]!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bash", default="/bin/bash")
    a = ap.parse_args()
    lib, bash = a.lib, a.bash
    d = tempfile.mkdtemp(prefix="gh-safe-files-")
    try:
        target = os.path.join(d, "root-only")
        with open(target, "wb") as f:
            f.write(PRECIOUS)
        os.chmod(target, 0o600)
        link = os.path.join(d, "link")
        os.symlink(target, link)

        refused_stats(lib, bash, link, "it is a symbolic link", "stats symlink")
        with open(target, "rb") as f:
            check(f.read() == PRECIOUS, "stats symlink: the link's target was written")

        if os.geteuid() == 0:
            theirs = os.path.join(d, "theirs")
            with open(theirs, "wb") as f:
                f.write(PRECIOUS)
            os.chmod(theirs, 0o666)
            os.chown(theirs, NOBODY, NOBODY)
            refused_stats(lib, bash, theirs, "it is owned by another user", "stats other owner")
            with open(theirs, "rb") as f:
                check(f.read() == PRECIOUS, "stats other owner: the file was written")
        else:
            print("skipped: the other-owner case needs root")

        refused_stats(lib, bash, d, "it is a directory", "stats directory")
        refused_stats(lib, bash, os.path.join(d, "missing", "s.json"), "no such directory",
                      "stats missing directory")
        refused_stats(lib, bash, "/proc/self/x", "no such directory", "stats /proc/self/x")

        new = os.path.join(d, "new.json")
        rc, err = run(lib, bash, {"GLASSHEAP_STATS": "json", "GLASSHEAP_STATS_FILE": new})
        check(rc == 0 and err == "ran\n", f"stats new file: status {rc}, stderr {err!r}")
        if check(os.path.exists(new), "stats new file: not written"):
            check(stat.S_IMODE(os.stat(new).st_mode) == 0o600,
                  f"stats new file: mode {oct(stat.S_IMODE(os.stat(new).st_mode))}, expected 0o600")
            with open(new) as f:
                try:
                    json.load(f)
                except ValueError as e:
                    check(False, f"stats new file: not JSON ({e})")

        rc, err = run(lib, bash, {"GLASSHEAP_TRACE": link})
        want = f"glassheap: GLASSHEAP_TRACE: cannot use '{link}': it is a symbolic link; not recording\nran\n"
        check(rc == 0 and err == want, f"trace symlink: status {rc}, stderr {err!r}, expected {want!r}")
        with open(target, "rb") as f:
            check(f.read() == PRECIOUS, "trace symlink: the link's target was written")

        trace = os.path.join(d, "t.bin")
        rc, err = run(lib, bash, {"GLASSHEAP_TRACE": trace})
        check(rc == 0 and err == "ran\n", f"trace new file: status {rc}, stderr {err!r}")
        if check(os.path.exists(trace), "trace new file: not written"):
            check(stat.S_IMODE(os.stat(trace).st_mode) == 0o600, "trace new file: mode is not 0600")
            with open(trace, "rb") as f:
                check(f.read(8) == TRACE_MAGIC, "trace new file: no trace header")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("all safe-file cases hold")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

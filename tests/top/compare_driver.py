#!/usr/bin/python3
"""compare_driver.py - drives `glassheap compare` on small real programs.

    compare_driver.py CASE --glassheap EXE --library LIB --policies-file FILE

FILE: the build's policies, one a line (CMake's GH_POLICIES_FILE).

CASE:
  policies  python3 (PYTHONMALLOC=malloc, so every object goes through
            malloc) under every policy and baseline, --runs 1: every row is
            listed with sane figures, the outputs match, the SVG is
            well-formed and has every row in every panel, the table too
  differs   a program that prints $GLASSHEAP_POLICY: the policy rows are
            reported as differing, the baselines as the same, exit 3
  usage     --help, bad options, no command, a command that does not exist

compare runs with TMPDIR set to a private directory, which must be empty
afterwards (compare removes its own files).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

TIMEOUT = 120
POLICIES = []  # the build's policies, one a line in --policies-file (GH_POLICIES_FILE)
BASELINES = ["glibc", "jemalloc", "mimalloc"]
PYTHON = "/usr/bin/python3"
# ~100k small objects through malloc: a heap of several MiB
WORKLOAD = "x = [str(i) * 3 for i in range(100000)]; d = {s: len(s) for s in x[::3]}; print(len(x), len(d))"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Env:
    def __init__(self, a):
        self.g = a.glassheap
        self.tmp = tempfile.mkdtemp(prefix="gh-compare-test.")
        self.env = dict(os.environ, TMPDIR=self.tmp, GLASSHEAP_LIBRARY=a.library)
        self.env.pop("LD_PRELOAD", None)

    def compare(self, *args):
        r = subprocess.run([self.g, "compare"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.env, timeout=TIMEOUT)
        left = os.listdir(self.tmp)
        check(not left, "compare left %r in TMPDIR" % left)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def done(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def table_rows(out):
    """{allocator: the rest of its line split on 2+ spaces} from the table."""
    rows = {}
    lines = out.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("allocator ")]
    check(head, "no table header in:\n" + out)
    for line in lines[head[0] + 1:]:
        if not line.strip():
            break
        name = line.split()[0]
        rows[name] = line
    return rows


def case_policies(e):
    svg = os.path.join(e.tmp + ".svg")
    try:
        rc, out, err = e.compare("--runs", "1", "--json", "--svg", svg, "--",
                                 "env", "PYTHONMALLOC=malloc", PYTHON, "-c", WORKLOAD)
        check(rc == 0, "exit %d: %s\n%s" % (rc, err, out))
        o = json.loads(out)
        check(o["runs"] == 1 and o["reference"] == "glibc", out)
        check(o["all_outputs_match"] is True, "outputs differ: " + out)
        names = [r["name"] for r in o["rows"]]
        check(names == POLICIES + BASELINES, "rows: %r" % names)
        for r in o["rows"]:
            n = r["name"]
            if r["kind"] == "baseline" and r["library"] and not os.path.exists(r["library"]):
                check(r["installed"] is False, "%s: listed as installed" % n)
                continue
            check(r["installed"] is True, "%s: not run" % n)
            check(r["exit_statuses"] == [0], "%s: exit %r" % (n, r["exit_statuses"]))
            check(r["output_matches"] is True, "%s: output differs" % n)
            check(len(r["wall_s_runs"]) == 1 and 0 < r["wall_s"] < 60, "%s: wall %r" % (n, r["wall_s"]))
            check(r["peak_rss_bytes"] > 1 << 20, "%s: peak RSS %r" % (n, r["peak_rss_bytes"]))
            if r["kind"] == "policy":
                check(r["policy_ran"] == n, "%s ran %r" % (n, r["policy_ran"]))
                check(r["peak_heap_bytes"] > 1 << 20, "%s: peak heap %r" % (n, r["peak_heap_bytes"]))
                check(r["peak_heap_bytes"] < r["peak_rss_bytes"] * 4, "%s: peak heap %r vs RSS %r"
                      % (n, r["peak_heap_bytes"], r["peak_rss_bytes"]))
                check(0.1 < r["peak_utilisation"] <= 1, "%s: peak utilisation %r" % (n, r["peak_utilisation"]))
                check(0 <= r["external_fragmentation_at_peak"] <= 1,
                      "%s: external fragmentation %r" % (n, r["external_fragmentation_at_peak"]))
                check(r["external_fragmentation_source"] in ("sampled", "exit"), n)
                check(r["brk_calls"] >= 1 and r["mmap_calls"] >= 0, "%s: brk %r mmap %r"
                      % (n, r["brk_calls"], r["mmap_calls"]))
            else:
                for k in ("peak_heap_bytes", "peak_utilisation", "external_fragmentation_at_peak",
                          "brk_calls", "mmap_calls"):
                    check(r[k] is None, "%s: %s should be null, is %r" % (n, k, r[k]))
        # a run of ~0.1 s is sampled (every 10 ms) at least under some policy
        sources = [r["external_fragmentation_source"] for r in o["rows"] if r["kind"] == "policy"]
        check("sampled" in sources, "no run was sampled: %r" % sources)
        # the SVG: well-formed, five panels, every row in each
        root = ET.parse(svg).getroot()
        texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        shown = [r["name"] for r in o["rows"] if r["installed"]]
        for n in shown:
            check(texts.count(n) == 5, "%s appears %d times in the SVG" % (n, texts.count(n)))
        bars = list(root.iter("{http://www.w3.org/2000/svg}rect"))
        # the background, two bars per row (wall, RSS), five per policy
        want = 1 + 2 * len(shown) + 3 * len(POLICIES)
        check(len(bars) == want, "%d bars, not %d" % (len(bars), want))

        # the table, with fewer allocators and two runs (medians)
        rc, out, err = e.compare("--runs", "2", "--policies", "best,buddy", "--baselines", "glibc",
                                 "--", "env", "PYTHONMALLOC=malloc", PYTHON, "-c", WORKLOAD)
        check(rc == 0, "exit %d: %s\n%s" % (rc, err, out))
        check("(2 runs each; medians; policies pure" in out, out)
        rows = table_rows(out)
        check(list(rows) == ["best", "buddy", "glibc"], "table rows %r" % list(rows))
        for n in ("best", "buddy"):
            check(re.search(r"\d+\.\d{3} s\s+\d+\.\d \w+\s+\d+\.\d \w+\s+\d+\.\d%\s+\d+\.\d%\*?\s+\d+\s+\d+\s+same$",
                            rows[n]), "row %r" % rows[n])
        check(re.search(r"^glibc\s+\d+\.\d{3} s\s+\d+\.\d \w+(\s+-){5}\s+reference$", rows["glibc"]),
              "row %r" % rows["glibc"])
    finally:
        if os.path.exists(svg):
            os.unlink(svg)


def other_baseline():
    """A preloadable baseline that is installed (jemalloc or mimalloc), or None."""
    for name, so in (("jemalloc", "libjemalloc.so.2"), ("mimalloc", "libmimalloc.so.2")):
        if os.path.exists("/usr/lib/x86_64-linux-gnu/" + so) or os.path.exists("/usr/lib/" + so):
            return name
    return None


def case_differs(e):
    prog = "import os; print(os.environ.get('GLASSHEAP_POLICY', 'none'))"
    other = other_baseline()
    base = ["glibc"] + ([other] if other else [])
    rc, out, err = e.compare("--runs", "2", "--policies", "first,best", "--baselines", ",".join(base),
                             "--", PYTHON, "-c", prog)
    check(rc == 3, "exit %d, not 3: %s\n%s" % (rc, err, out))
    rows = table_rows(out)
    check(list(rows) == ["first", "best"] + base, "rows %r" % list(rows))
    check(rows["first"].endswith("DIFFERS (run 1)") and rows["best"].endswith("DIFFERS (run 1)"), out)
    check(rows["glibc"].endswith("reference"), out)
    if other:
        check(rows[other].endswith("same"), out)
    check("outputs differing from glibc's first run:" in out, out)
    check(re.search(r"^  first, run 1: stdout differs from byte 0 on$", out, re.M), out)
    # the same in JSON
    rc, out, err = e.compare("--runs", "1", "--json", "--policies", "first", "--baselines", "glibc",
                             "--", PYTHON, "-c", prog)
    check(rc == 3, "exit %d: %s" % (rc, err))
    o = json.loads(out)
    check(o["all_outputs_match"] is False, out)
    by = {r["name"]: r for r in o["rows"]}
    check(by["first"]["output_matches"] is False and by["first"]["first_differing_run"] == 1, out)
    check(by["glibc"]["output_matches"] is True, out)
    # only the exit status differs
    prog = "import os, sys; sys.exit(3 if os.environ.get('GLASSHEAP_POLICY') else 0)"
    rc, out, err = e.compare("--runs", "1", "--policies", "best", "--baselines", "glibc", "--", PYTHON, "-c", prog)
    check(rc == 3, "exit %d: %s" % (rc, err))
    check(re.search(r"best, run 1: the same stdout, but exit 3 \(the reference: exit 0\)", out), out)


def case_usage(e):
    r = subprocess.run([e.g, "compare", "--help"], stdout=subprocess.PIPE, env=e.env, timeout=TIMEOUT)
    check(r.returncode == 0, "--help: exit %d" % r.returncode)
    h = r.stdout.decode()
    for word in ("--policies", "--baselines", "--runs", "--json", "--svg", "ext frag", "peak RSS",
                 "external fragmentation"):
        check(word in h, "--help does not mention %r" % word)
    for bad in ([], ["--"], ["--policies", "fastest", "--", "true"], ["--baselines", "tcmallocx", "--", "true"],
                ["--runs", "0", "--", "true"], ["--policies", "", "--baselines", "", "--", "true"],
                ["--policies", "best,best", "--", "true"]):
        rc, out, err = e.compare(*bad)
        check(rc == 2, "compare %r: exit %d, not 2" % (bad, rc))
    rc, out, err = e.compare("--runs", "1", "--policies", "best", "--baselines", "glibc",
                             "--", "/nonexistent/program")
    check(rc == 3, "a missing program: exit %d, not 3" % rc)
    check("cannot run '/nonexistent/program'" in err, err)
    # a baseline that is not installed is listed as such, the rest runs
    rc, out, err = e.compare("--runs", "1", "--policies", "", "--baselines", "glibc,gone=/nonexistent/libgone.so",
                             "--", "/bin/true")
    check(rc == 0, "exit %d: %s" % (rc, err))
    check(re.search(r"^gone\s+not installed \(/nonexistent/libgone.so\)$", out, re.M), out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--glassheap", required=True)
    ap.add_argument("--library", required=True)
    ap.add_argument("--policies-file", required=True)
    a = ap.parse_args()
    with open(a.policies_file) as f:
        POLICIES.extend(line.strip() for line in f if line.strip())
    fn = globals().get("case_" + a.case)
    if not fn:
        print("no case %r" % a.case)
        return 2
    e = Env(a)
    try:
        fn(e)
    except Fail as x:
        print("FAIL (%s): %s" % (a.case, x))
        return 1
    finally:
        e.done()
    print("ok (%s)" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""programs.py - real programs timed under glibc, jemalloc, mimalloc and every
glassheap policy, side by side: wall time and peak RSS.

    python3 bench/programs.py --build build/release [--runs 3] [--markdown FILE]

The programs (inputs generated here, deterministic):
  python3   /usr/bin/python3 with PYTHONMALLOC=malloc (every object through
            malloc): dicts, lists, strings, json round trips;
  cc1       gcc -O2 -c of a generated 600-function C file (gcc runs cc1
            and as; LD_PRELOAD reaches all of them);
  sort      LC_ALL=C sort of 400,000 generated lines (about 14 MiB);
  sqlite3   an in-memory database: 200,000 inserted rows, an index, a
            grouped query;
  cxx-mt    bench_cxx_threads, 4 threads of std::map/std::string work with
            batches freed by another thread (C++ new/delete).
Each (program, allocator) pair runs through bench_run (wall time, peak RSS
of the largest process), interleaved round-robin --runs times; the median
wall time and the largest peak RSS are kept.  The allocators are the ones
compare.py names.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import allocators  # noqa: E402
from tables import ratio_table  # noqa: E402

PY_SCRIPT = r"""
import json
d = {}
for i in range(100000):
    d["k%d" % i] = [i, str(i) * 3, {"v": i}]
rows = [json.dumps(v) for v in d.values()]
back = [json.loads(r) for r in rows]
words = sorted(("%x" % (i * 2654435761 % 4294967296)) for i in range(100000))
text = " ".join(words)
print(len(back), len(text.split()), sum(len(w) for w in words))
"""

SQL = """
create table t(id integer primary key, name text, grp integer, payload text);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 200000)
insert into t(name, grp, payload) select 'name' || (i * 7919 % 200000), i % 500, hex(randomblob(48)) from n;
create index t_name on t(name);
select grp, count(*), max(length(payload)) from t group by grp order by grp limit 3;
select count(*) from t where name like 'name1%';
"""


def make_inputs(tmp):
    with open(os.path.join(tmp, "work.py"), "w") as f:
        f.write(PY_SCRIPT)
    with open(os.path.join(tmp, "work.sql"), "w") as f:
        f.write(SQL)
    with open(os.path.join(tmp, "big.c"), "w") as f:
        for i in range(600):
            f.write(f"int f{i}(int x, int y) {{ int s = 0; for (int k = 0; k < x; k++) {{ switch ((k + y) % 5) {{"
                    f" case 0: s += k * {i}; break; case 1: s ^= y << (k & 7); break;"
                    f" case 2: s -= x / (k + 1); break; default: s += {i} % (k + 3); }} }} return s + y; }}\n")
    rng = random.Random(42)
    with open(os.path.join(tmp, "lines.txt"), "w") as f:
        for _ in range(400000):
            f.write("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(8, 48))) + "\n")


def programs(build, tmp):
    cxx = os.path.join(build, "bench", "bench_cxx_threads")
    return [
        ("python3", ["/usr/bin/python3", os.path.join(tmp, "work.py")], {"PYTHONMALLOC": "malloc"}, None),
        ("cc1", ["gcc", "-O2", "-c", os.path.join(tmp, "big.c"), "-o", os.path.join(tmp, "big.o")], {}, None),
        ("sort", ["sort", "-o", os.path.join(tmp, "sorted.txt"), os.path.join(tmp, "lines.txt")],
         {"LC_ALL": "C"}, None),
        ("sqlite3", ["sqlite3", ":memory:"], {}, os.path.join(tmp, "work.sql")),
        ("cxx-mt", [cxx, "4", "8"], {}, None),
    ]


def run_one(runner, cmd, env_extra, stdin):
    env = dict(os.environ)
    env.update(env_extra)
    args = [runner] + (["--stdin", stdin] if stdin else []) + ["--"] + cmd
    proc = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.decode()[-500:]}")
    line = json.loads(proc.stdout)
    if line["status"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with status {line['status']} under {env_extra}: "
                           f"{proc.stderr.decode()[-500:]}")
    return line["wall_s"], line["peak_rss_kib"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--markdown", help="also write the tables to this Markdown file")
    args = ap.parse_args()
    runner = os.path.join(args.build, "bench", "bench_run")
    for path in (runner, os.path.join(args.build, "bench", "bench_cxx_threads")):
        if not os.path.exists(path):
            sys.exit(f"programs.py: {path} not found: build the bench_run and bench_cxx_threads targets first")
    for tool in ("gcc", "sort", "sqlite3"):
        if shutil.which(tool) is None:
            sys.exit(f"programs.py: {tool} not found (apt-get install gcc coreutils sqlite3)")
    tmp = tempfile.mkdtemp(prefix="gh-programs.")
    try:
        make_inputs(tmp)
        progs = programs(args.build, tmp)
        allocs = allocators(args.build, False, None)
        walls, rss = {}, {}
        for r in range(args.runs):
            for pname, cmd, penv, stdin in progs:
                for aname, aenv in allocs:
                    wall, kib = run_one(runner, cmd, {**penv, **aenv}, stdin)
                    walls.setdefault((pname, aname), []).append(wall)
                    rss[(pname, aname)] = max(rss.get((pname, aname), 0), kib)
            print(f"programs.py: round {r + 1}/{args.runs} done", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    names = [a for a, _ in allocs]
    med = {k: statistics.median(v) for k, v in walls.items()}
    lines = ratio_table(f"Wall time (median of {args.runs} interleaved runs, s; ratio to glibc in brackets)",
                        "program", names, [(p, {n: med[(p, n)] for n in names}) for p, *_ in progs],
                        lambda s: f"{s:.2f}", geomean_row=True)
    lines += [""] + ratio_table("Peak RSS of the largest process (MiB; ratio to glibc in brackets)", "program",
                                names, [(p, {n: rss[(p, n)] for n in names}) for p, *_ in progs],
                                lambda k: f"{k / 1024:.1f}", geomean_row=True)
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()

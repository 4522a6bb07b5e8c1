#!/usr/bin/env python3
"""plot_scaling.py - draw bench_scaling's results: ns per malloc+free pair
against the number of free blocks (log scale), one line per policy and one
for the linear free list, as an SVG with no dependencies.

    build/release/bench/bench_scaling --benchmark_format=json > scaling.json
    python3 bench/plot_scaling.py scaling.json docs/scaling.svg [--markdown table.md]
"""
import json
import math
import sys

COLOURS = {"first": "#1f77b4", "next": "#ff7f0e", "best": "#2ca02c", "worst": "#d62728",
           "buddy": "#9467bd", "linear list": "#7f7f7f"}


def load(path):
    with open(path) as f:
        data = json.load(f)
    series, visits = {}, {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).split("/")
        if name[0] == "BM_Policy":
            label, n = name[1], int(name[2])
        elif name[0] == "BM_LinearFirstFit":
            label, n = "linear list", int(name[1])
        else:
            continue
        series.setdefault(label, {})[n] = b["cpu_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
        if "node_visits" in b:
            visits.setdefault(label, {})[n] = b["node_visits"]
    return series, visits, data.get("context", {})


def svg(series, out):
    W, H, L, R, T, B = 780, 480, 100, 170, 40, 60
    xs = sorted({n for s in series.values() for n in s})
    ys = [v for s in series.values() for v in s.values()]
    x0, x1 = math.log10(xs[0]), math.log10(xs[-1])
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    px = lambda n: L + (math.log10(n) - x0) / (x1 - x0) * (W - L - R)
    py = lambda v: H - B - (math.log10(v) - y0) / (y1 - y0) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">Cost of one malloc+free pair as free blocks grow</text>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 8}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g} ns</text>')
    for n in xs:
        x = px(n)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#eee"/>')
        o.append(f'<text x="{x:.1f}" y="{H - B + 18}" text-anchor="middle">{n:,}</text>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 15}" text-anchor="middle">free blocks in the heap (log scale)</text>')
    o.append(f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" text-anchor="middle">CPU ns per pair (log scale)</text>')
    for i, (label, pts) in enumerate(sorted(series.items(), key=lambda kv: kv[0] == "linear list")):
        c = COLOURS.get(label, "#000")
        path = " ".join(f"{'M' if j == 0 else 'L'}{px(n):.1f},{py(v):.1f}" for j, (n, v) in enumerate(sorted(pts.items())))
        dash = ' stroke-dasharray="6,4"' if label == "linear list" else ""
        o.append(f'<path d="{path}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        for n, v in pts.items():
            o.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{c}"/>')
        ly = T + 10 + 20 * i
        o.append(f'<line x1="{W - R + 15}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/>')
        o.append(f'<text x="{W - R + 46}" y="{ly + 4}">{label}</text>')
    o.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")


def table(series, fmt="%.1f"):
    xs = sorted({n for s in series.values() for n in s})
    rows = ["| policy | " + " | ".join(f"{n:,}" for n in xs) + " | 1e6 / 1e3 |", "|---" * (len(xs) + 2) + "|"]
    for label, pts in sorted(series.items(), key=lambda kv: kv[0] == "linear list"):
        ratio = pts[1000000] / pts[1000] if 1000000 in pts and 1000 in pts and pts[1000] else float("nan")
        cell = f"{ratio:.2f}x" if ratio == ratio else "-"
        rows.append(f"| {label} | " + " | ".join(fmt % pts[n] if n in pts else "-" for n in xs) + f" | {cell} |")
    return "\n".join(rows)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    series, visits, _ = load(sys.argv[1])
    svg(series, sys.argv[2])
    t = table(series)
    if visits:
        t += ("\n\nIndex nodes visited per malloc+free pair: tree nodes and the exact-size bins' heap "
              "nodes (the search, and the removes and inserts of the split and the coalesce; first fit's "
              "9-step tournament over the bins is not counted); counted in a build of the core made for "
              "this, which the times above come from too:\n\n" + table(visits))
    print(t)
    if "--markdown" in sys.argv:
        with open(sys.argv[sys.argv.index("--markdown") + 1], "w") as f:
            f.write(t + "\n")


if __name__ == "__main__":
    main()

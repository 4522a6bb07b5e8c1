"""tables.py - the one Markdown table the benchmark scripts print: a row per
case, a column per allocator, each cell a figure and its ratio to glibc's."""
import math


def cell(value, base, fmt):
    """One cell: fmt(value) and its ratio to base; "timed out" for None."""
    if value is None:
        return "timed out"
    if not base:
        return fmt(value)
    return f"{fmt(value)} ({value / base:.2f}x)"


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def ratio_table(title, key, names, rows, fmt, base="glibc", geomean_row=False):
    """Lines of a table headed `title`: `rows` is a list of (label, {name:
    value or None}); the ratios are to the `base` column; with geomean_row a
    last row gives each column's geometric mean of the ratios (the rows that
    have both figures)."""
    lines = [title + "\n", f"| {key} | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, values in rows:
        lines.append(f"| {label} | " + " | ".join(cell(values.get(n), values.get(base), fmt) for n in names) + " |")
    if geomean_row:
        cells = []
        for n in names:
            ratios = [v[n] / v[base] for _, v in rows if v.get(n) is not None and v.get(base)]
            cells.append(f"{geomean(ratios):.2f}x" if ratios else "-")
        lines.append("| geomean of ratios | " + " | ".join(cells) + " |")
    return lines

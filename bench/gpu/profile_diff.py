#!/usr/bin/env python3
"""Two per-kernel profile tables side by side (`dreamer bench-step --profile A.txt`,
`reference.py step --profile B.txt`; format in kernel_table.py): the metadata of both, then one
line per kernel name with its ms per step in A and in B and B - A, largest |B - A| first.

Usage: profile_diff.py A.txt B.txt [--top N]

A name missing from one table's rows shows '-' there and counts as 0 in the difference: it ran
no kernel of that name, or fell below that table's smallest row (into its rest_ms_per_step).
Standard library only.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_table  # noqa: E402  (beside this file)

META = ("impl", "label", "steps", "wall_ms_per_step", "device_ms_per_step", "kernel_names",
        "rest_names", "rest_ms_per_step")


def read(path):
    try:
        with open(path) as f:
            return kernel_table.parse_table(f.read(), path)
    except OSError as e:
        raise SystemExit("profile_diff.py: cannot read %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise SystemExit("profile_diff.py: %s" % e)


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def diff(a_path, b_path, top=None):
    (a_meta, a_rows), (b_meta, b_rows) = read(a_path), read(b_path)
    a_name, b_name = a_meta.get("impl") or "A", b_meta.get("impl") or "B"
    lines = ["A: %s (%s)" % (a_path, a_name), "B: %s (%s)" % (b_path, b_name), ""]
    lines.append("%-20s %14s %14s %12s" % ("", "A", "B", "B - A"))
    for key in META:
        a, b = a_meta.get(key, "-"), b_meta.get(key, "-")
        x, y = number(a), number(b)
        d = "%12.3f" % (y - x) if x is not None and y is not None and key != "label" else ""
        lines.append("%-20s %14s %14s %12s" % (key, a, b, d))
    a_by = {r["name"]: r for r in a_rows}
    b_by = {r["name"]: r for r in b_rows}
    names = list(a_by) + [n for n in b_by if n not in a_by]
    rows = []
    for name in names:
        a, b = a_by.get(name), b_by.get(name)
        a_ms = a["ms_per_step"] if a else 0.0
        b_ms = b["ms_per_step"] if b else 0.0
        rows.append((b_ms - a_ms, name, a, b))
    rows.sort(key=lambda r: (-abs(r[0]), r[1]))
    if top is not None:
        rows = rows[:top]
    lines += ["", "%10s %8s %10s %8s %10s  %s" % ("A_ms", "A_calls", "B_ms", "B_calls", "B-A_ms",
                                                  "name")]
    cell = lambda r, key, fmt: fmt % r[key] if r else "-"
    for d, name, a, b in rows:
        lines.append("%10s %8s %10s %8s %+10.3f  %s" % (
            cell(a, "ms_per_step", "%.3f"), cell(a, "calls_per_step", "%g"),
            cell(b, "ms_per_step", "%.3f"), cell(b, "calls_per_step", "%g"), d, name))
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--top", type=int, default=None, help="print only the N largest differences")
    a = p.parse_args()
    if a.top is not None and a.top < 1:
        p.error("--top: expected a positive number of rows, got %d" % a.top)
    sys.stdout.write(diff(a.a, a.b, a.top))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Device time per step by the CPU operator that launched it, from the Chrome trace that
`dreamer bench-step --profile F` (F.trace.json) and `reference.py step --profile F` write.

The kernel table (kernel_table.py) names kernels only, and a kernel such as `direct_copy` or a
bf16 `Mul` is launched by many operators. Kineto tags each kernel with the External id of the
innermost CPU operator that launched it; this script nests the CPU operators of each thread by
their time spans and charges each kernel to the path outermost > innermost, e.g.
`autograd::engine::evaluate_function: MulBackward0 > aten::mul` or `aten::linear > aten::copy_`.
Standard library only (the trace may be .xz-compressed):

  op_table.py dense58_dreamer.txt.trace.json[.xz] --steps 3 [--top 40] [--depth 2]
"""
import argparse
import json
import lzma
import sys
from collections import defaultdict

KERNEL_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}


def load(path):
    opener = lzma.open if path.endswith(".xz") else open
    with opener(path, "rt") as f:
        data = json.load(f)
    return data["traceEvents"] if isinstance(data, dict) else data


def parents(ops):
    """ops: list of CPU events of one thread. Returns {index: parent index or None}."""
    order = sorted(range(len(ops)), key=lambda i: (ops[i]["ts"], -ops[i].get("dur", 0)))
    parent, stack = {}, []
    for i in order:
        start = ops[i]["ts"]
        end = start + ops[i].get("dur", 0)
        while stack and ops[stack[-1]]["ts"] + ops[stack[-1]].get("dur", 0) < end:
            stack.pop()
        parent[i] = stack[-1] if stack else None
        stack.append(i)
    return parent


def op_paths(events, depth):
    """External id -> 'outermost > ... > innermost' (at most `depth` names: the outermost and
    the innermost depth - 1)."""
    by_thread = defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "user_annotation"):
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    paths = {}
    for ops in by_thread.values():
        parent = parents(ops)
        for i, op in enumerate(ops):
            ext = op.get("args", {}).get("External id")
            if ext is None:
                continue
            chain, j = [], i
            while j is not None:
                chain.append(ops[j]["name"])
                j = parent[j]
            chain.reverse()  # outermost first
            if len(chain) > depth:
                chain = [chain[0]] + chain[len(chain) - depth + 1:]
            paths[ext] = " > ".join(chain)
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("trace")
    p.add_argument("--steps", type=int, required=True, help="profiled steps in the trace")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--depth", type=int, default=2, help="names per path (outermost first)")
    a = p.parse_args(argv)
    if a.steps < 1 or a.depth < 1:
        p.error("--steps and --depth must be positive")
    events = load(a.trace)
    paths = op_paths(events, a.depth)
    total = defaultdict(float)
    calls = defaultdict(int)
    for e in events:
        if e.get("ph") != "X" or e.get("cat") not in KERNEL_CATS:
            continue
        key = paths.get(e.get("args", {}).get("External id"), "(no CPU operator)")
        total[key] += e.get("dur", 0)
        calls[key] += 1
    if not total:
        sys.exit("op_table.py: %s holds no kernel events" % a.trace)
    device = sum(total.values()) / 1000.0 / a.steps
    print("# trace %s\n# steps %d\n# device_ms_per_step %.3f" % (a.trace, a.steps, device))
    print("# %8s %8s  %s" % ("ms/step", "calls", "outermost > innermost CPU operator"))
    rows = sorted(total, key=lambda k: -total[k])
    for k in rows[:a.top]:
        print("%10.3f %8.1f  %s" % (total[k] / 1000.0 / a.steps, calls[k] / a.steps, k))
    rest = sum(total[k] for k in rows[a.top:]) / 1000.0 / a.steps
    print("# rest %d paths, %.3f ms/step" % (max(len(rows) - a.top, 0), rest))


if __name__ == "__main__":
    main()

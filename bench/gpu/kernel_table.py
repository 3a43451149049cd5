"""The per-kernel profile table (issue 11), standard library only: device time per step summed
per kernel name, the top rows and the rest, in the text format util/profile.cpp writes for
`dreamer bench-step --profile` (its header comment describes it). reference.py writes it from
torch.profiler; profile_diff.py reads two. tests/util/profile_test.cpp checks that this module
and the C++ one print the same bytes for the same events.
"""


def _fmt_calls(calls):
    return "%d" % round(calls) if abs(calls - round(calls)) < 1e-9 else "%.2f" % calls


def table(kernels, steps, wall_ms_per_step, top=40, impl="", label=""):
    """kernels: iterable of (name, duration in us). Returns a dict of the table's fields."""
    if steps < 1:
        raise ValueError("kernel_table: steps must be at least 1, got %r" % steps)
    if not wall_ms_per_step > 0:
        raise ValueError("kernel_table: the wall time per step must be positive, got %r"
                         % wall_ms_per_step)
    by_name = {}
    for name, us in kernels:
        calls, total = by_name.get(name, (0, 0.0))
        by_name[name] = (calls + 1, total + us)
    rows = []
    device = 0.0
    for name in sorted(by_name):  # the C++ side sums in name order too
        calls, total = by_name[name]
        ms = total / 1000.0 / steps
        device += ms
        rows.append({"name": name, "calls_per_step": calls / steps, "ms_per_step": ms,
                     "mean_us": total / calls, "percent": 100.0 * ms / wall_ms_per_step})
    rows.sort(key=lambda r: (-r["ms_per_step"], r["name"]))
    rest = rows[top:]
    return {"impl": impl, "label": label, "steps": steps, "wall_ms_per_step": wall_ms_per_step,
            "device_ms_per_step": device, "kernel_names": len(rows), "rows": rows[:top],
            "rest_names": len(rest), "rest_ms_per_step": sum(r["ms_per_step"] for r in rest)}


def format_table(t):
    out = ["# impl %s" % t["impl"], "# label %s" % t["label"], "# steps %d" % t["steps"],
           "# wall_ms_per_step %.3f" % t["wall_ms_per_step"],
           "# device_ms_per_step %.3f" % t["device_ms_per_step"],
           "# kernel_names %d" % t["kernel_names"],
           "# %8s %10s %10s %8s  %s" % ("total_ms", "calls", "mean_us", "percent", "name")]
    for r in t["rows"]:
        out.append("%10.3f %10s %10.2f %7.2f%%  %s" % (r["ms_per_step"], _fmt_calls(r["calls_per_step"]),
                                                      r["mean_us"], r["percent"], r["name"]))
    out += ["# rest_names %d" % t["rest_names"], "# rest_ms_per_step %.3f" % t["rest_ms_per_step"]]
    return "\n".join(out) + "\n"


def parse_table(text, where="table"):
    """The rows ({name, ms_per_step, calls_per_step, mean_us, percent}) and the "# key value"
    metadata of a formatted table; ValueError naming `where` and the line on a malformed row."""
    meta, rows = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line[1:].split(None, 1)
            if len(parts) == 2 and parts[0] != "total_ms":
                meta[parts[0]] = parts[1]
            continue
        fields = line.split(None, 4)
        if len(fields) != 5 or not fields[3].endswith("%"):
            raise ValueError("%s:%d: expected 'total_ms calls mean_us percent%% name', got %r"
                             % (where, n, line))
        rows.append({"ms_per_step": float(fields[0]), "calls_per_step": float(fields[1]),
                     "mean_us": float(fields[2]), "percent": float(fields[3][:-1]),
                     "name": fields[4]})
    return meta, rows

#!/usr/bin/env python3
"""Measured GPU peaks against the memory model, predicted on any machine.

  python3 bench/gpu/memory_compare.py MEASURED.jsonl [--bin build/dreamer] [--markdown]

MEASURED.jsonl: `dreamer bench-memory` lines from a GPU host (bench/gpu/memory_diag.sh or the
loop in docs/PERF.md). For each line this runs `dreamer bench-memory --predict-only` with the
line's config (bench/gpu/memory/<label>.json, or bench/cpu_memory/<name>.json for cpu_*
labels), batch, seq and precision, for the device and LibTorch release of the line ("--for
cuda --torch 2.11" unless the line says otherwise), and prints measured, predicted and their
ratio, with the per-sequence slope (B 4 minus B 1) where both batches were measured.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def config_path(label):
    if label.startswith("cpu_"):
        return os.path.join(ROOT, "bench", "cpu_memory", label[4:] + ".json")
    return os.path.join(ROOT, "bench", "gpu", "memory", label + ".json")


def predict(binary, line, torch_version):
    device = "cpu" if line["device"] == "cpu" else "cuda"
    cmd = [binary, "bench-memory", "--predict-only", "--config", config_path(line["label"]),
           "--batch", str(line["batch"]), "--seq", str(line["seq"]), "--precision",
           line["precision"], "--for", device, "--torch", line.get("torch", torch_version),
           "--label", line["label"]]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("measured")
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "dreamer"))
    p.add_argument("--torch", default="2.11", help="release of lines that do not name one")
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args()
    lines = [json.loads(l) for l in open(a.measured) if l.strip().startswith("{")]
    rows = {}
    for line in lines:
        pred = predict(a.bin, line, a.torch)
        rows[(line["label"], line["precision"], line["batch"])] = (line, pred)
    g = 2**30
    if a.markdown:
        print("| config | precision | B | measured GiB | predicted GiB | measured/predicted |")
        print("|---|---|---|---|---|---|")
    worst = 0
    for key in sorted(rows):
        line, pred = rows[key]
        m, q = line["measured_peak_bytes"], pred["predicted_peak_bytes"]
        worst = max(worst, abs(m / q - 1))
        extra = ""
        other = rows.get((key[0], key[1], 1))
        if key[2] == 4 and other:
            ms = (m - other[0]["measured_peak_bytes"]) / 3
            ps = (q - other[1]["predicted_peak_bytes"]) / 3
            extra = f"  slope/seq {ms / 2**20:.0f}/{ps / 2**20:.0f} MiB ({ms / ps:.3f})"
        if a.markdown:
            print(f"| {key[0]} | {key[1]} | {key[2]} | {m / g:.3f} | {q / g:.3f} | {m / q:.3f} |")
        else:
            print(f"{key[0]:24s} {key[1]} B{key[2]}  measured {m / g:6.3f} GiB  predicted "
                  f"{q / g:6.3f}  ratio {m / q:.3f}{extra}")
    print(f"worst |measured/predicted - 1|: {worst:.3f} over {len(rows)} runs", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Prints the table of scripts/gpu-bench.sh from its results.jsonl: per model the project's
training step against PyTorch eager and torch.compile (tokens/s, ratios, peak memory, MFU
against the bf16 matmul peak measured in the same run), then the expert layer, the memory
model's predicted training peak against the measured one (dreamer bench-memory), cached decoding
and GSM8K eval throughput."""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    peak = next((r["bf16_matmul_tflops"] for r in rows if "bf16_matmul_tflops" in r), None)
    steps = [r for r in rows if "tokens_per_s" in r]
    labels = list(dict.fromkeys(r["label"] for r in steps))
    by = {(r["label"], r["impl"]): r for r in steps}
    print(f"matmul peak measured: {peak:.0f} TFLOP/s (bf16, 8192^3)" if peak else "matmul peak: not measured")
    head = ("model", "params", "dreamer tok/s", "eager tok/s", "compile tok/s", "x eager", "x compile",
            "mem GiB d/e/c", "MFU d")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label in labels:
        d, e, c = (by.get((label, impl)) for impl in ("dreamer", "eager", "torch.compile"))
        tok = lambda r: f"{r['tokens_per_s'] / 1e3:.1f}k" if r else "-"
        ratio = lambda r: f"{d['tokens_per_s'] / r['tokens_per_s']:.2f}" if d and r else "-"
        mem = "/".join(f"{r['peak_memory_bytes'] / 2**30:.1f}" if r else "-" for r in (d, e, c))
        mfu = "-"
        if d and peak and d.get("train_flops_per_token"):
            mfu = f"{100 * d['tokens_per_s'] * d['train_flops_per_token'] / (peak * 1e12):.1f}%"
        params = next((f"{r['params'] / 1e6:.0f}M" for r in (d, e, c) if r), "-")
        print(f"| {label} | {params} | {tok(d)} | {tok(e)} | {tok(c)} | {ratio(e)} | {ratio(c)} | {mem} | {mfu} |")
    experts = [r for r in rows if "loop_ms" in r]
    if experts:
        print("\n| expert layer (fwd+bwd, bf16) | impl | grouped ms | loop ms | loop / grouped |")
        print("|---|---|---|---|---|")
        for r in experts:
            g = r.get("grouped_ms")
            name = f"E{r['experts']} top-{r['k']} d{r['d_model']} de{r['expert_dim']} {r['tokens']} tokens"
            print(f"| {name} | {r['impl']} | {g:.2f} | {r['loop_ms']:.2f} | {r['loop_ms'] / g:.1f}x |"
                  if g else f"| {name} | {r['impl']} | - | {r['loop_ms']:.2f} | - |")
    memory = [r for r in rows if "measured_peak_bytes" in r]
    if memory:
        print("\n| family | size | precision | predicted GiB | measured GiB | measured/predicted |")
        print("|---|---|---|---|---|---|")
        for r in memory:
            size = r["label"].rsplit("_", 1)[-1]
            print(f"| {r['label'].rsplit('_', 1)[0]} ({r['family']}) | {size} (B{r['batch']} T{r['seq']}) | "
                  f"{r['precision']} | {r['predicted_peak_bytes'] / 2**30:.2f} | "
                  f"{r['measured_peak_bytes'] / 2**30:.2f} | {r['measured_over_predicted']:.3f} |")
    decode = [r for r in rows if "cached_tokens_per_s" in r]
    if decode:
        print("\n| decode (greedy) | params | batch | context | new | cached tok/s | uncached tok/s"
              " | cached / uncached | same tokens |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in decode:
            print(f"| {r['label']} | {r['params'] / 1e6:.0f}M | {r['batch']} | {r['context']} | "
                  f"{r['new_tokens']} | {r['cached_tokens_per_s']:.1f} | {r['uncached_tokens_per_s']:.1f} | "
                  f"{r['speedup']:.1f}x | {r['same_tokens']} |")
    evals = [r for r in rows if "docs_per_s" in r]
    if evals:
        equal = {r["label"]: r for r in evals if r["grouping"] == "equal"}
        print("\n| eval | task | grouping | docs | batch | seconds | docs/s | x equal-length |")
        print("|---|---|---|---|---|---|---|---|")
        for r in evals:
            base = equal.get(r["label"])
            ratio = f"{r['docs_per_s'] / base['docs_per_s']:.1f}x" if base else "-"
            print(f"| {r['label']} | {r['task']} {r['shots']}-shot | {r['grouping']} | {r['docs']} | "
                  f"{r['batch_size']} | {r['seconds']:.1f} | {r['docs_per_s']:.2f} | {ratio} |")
    failed = [r for r in rows if "error" in r]
    for r in failed:
        print(f"FAILED: {r['label']} {r['impl']}: {r['error']}")


if __name__ == "__main__":
    main(sys.argv[1])

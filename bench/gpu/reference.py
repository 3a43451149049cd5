#!/usr/bin/env python3
"""The bench/gpu models written in PyTorch's Python API, timed the way `dreamer bench-step`
times the project's training step: random tokens of one shape, bf16 autocast, AdamW
(fused), gradient clipping at 1.0, median step time over synchronised steps.

The math follows the C++ modules (models/dreamer.cpp, baselines/dense_transformer.cpp,
baselines/moe_transformer.cpp and models/blocks/*): pre-norm RMSNorm blocks computed in
float32, rotate-half RoPE (base 10000) on queries and keys, causal SDPA, SwiGLU or ReLU MLPs,
untied LM head, float32 cross-entropy. Experts are dispatched by sorting the routing slots
and running torch._grouped_mm with device-side offsets (--expert-loop: one matmul per expert).

Usage (one JSON line per run on stdout, also appended to --out):
  reference.py step --config bench/gpu/dense374.json --batch 8 --seq 2048 --steps 10 [--compile]
      [--profile FILE [--profile-steps 3]]   # then per-kernel table (kernel_table.py) + FILE.trace.json
  reference.py experts --experts 64 --k 8 --d-model 1024 --expert-dim 512 --tokens 16384
  reference.py peak   # bf16 matmul TFLOP/s measured on this GPU (the MFU reference)
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import kernel_table  # beside this file (the script's folder is on sys.path)

DEV = "cuda"


# ----------------------------------------------------------------------------- blocks

class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):  # statistics in float32, back to x's dtype (models/blocks/norm.cpp)
        return F.rms_norm(x.float(), (x.size(-1),), self.weight, self.eps).to(x.dtype)


def rope_tables(positions, head_dim, base=10000.0, device=DEV):
    inv = base ** (-2.0 * torch.arange(head_dim // 2, dtype=torch.float64, device=device) / head_dim)
    angles = positions.to(torch.float64).unsqueeze(-1) * inv
    return angles.cos(), angles.sin()


def depth_angles(depth, total, head_dim, base=10000.0, device=DEV):
    """forward_reverse depth RoPE: half the pairs turn by depth, half by total - depth, each
    with the frequency ladder of a head_dim/2 RoPE (models/blocks/rope.cpp)."""
    half = head_dim // 2
    inv = base ** (-2.0 * torch.arange(half // 2, dtype=torch.float64, device=device) / half)
    return torch.cat([depth * inv, (total - depth) * inv])  # [head_dim / 2]


def apply_rope(x, cos, sin):
    x1, x2 = x.chunk(2, -1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, self.h, self.dh).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(y.transpose(1, 2).reshape(b, t, -1))


class SwiGLU(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.gate, self.up = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Experts(nn.Module):
    """y_n = sum_j gates[n,j] * down(relu(up(x_n))) of expert ids[n,j] (models/blocks/experts.cpp)."""

    def __init__(self, n, d, de, loop=False):
        super().__init__()
        self.n, self.loop = n, loop
        self.w_up = nn.Parameter(torch.randn(n, d, de) * 0.02)
        self.w_down = nn.Parameter(torch.randn(n, de, d) * 0.02)

    def forward(self, x, ids, gates):
        n_tok, k = ids.shape
        flat = ids.reshape(-1)
        sorted_ids, order = flat.sort(stable=True)
        token = order // k
        ends = torch.searchsorted(sorted_ids, torch.arange(self.n, device=x.device), right=True)
        position = torch.empty_like(order).scatter_(0, order, torch.arange(order.numel(), device=x.device))
        dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else x.dtype
        rows = x[token].to(dtype)
        if self.loop:  # one matmul per expert that got rows (reads the counts on the host)
            bounds = [0] + ends.tolist()
            outs = [F.relu(rows[s:e] @ self.w_up[i].to(dtype)) @ self.w_down[i].to(dtype)
                    for i, (s, e) in enumerate(zip(bounds[:-1], bounds[1:])) if e > s]
            y = torch.cat(outs)
        else:
            offs = ends.to(torch.int32)
            h = F.relu(torch._grouped_mm(rows, self.w_up.to(dtype), offs=offs))
            y = torch._grouped_mm(h, self.w_down.to(dtype), offs=offs)
        y = y[position].view(n_tok, k, -1)
        return (gates.to(y.dtype).unsqueeze(1) @ y).squeeze(1)


def expert_counts(ids, n):  # on the device, no host read
    flat = ids.reshape(-1)
    return torch.zeros(n, device=ids.device).scatter_add_(0, flat, torch.ones_like(flat, dtype=torch.float32))


# ----------------------------------------------------------------------------- models

class LM(nn.Module):
    def __init__(self, vocab, d):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        self.norm_out = RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def build_rope(self, seq, head_dim):
        """cos/sin for positions 0..seq-1, computed once here (float64, stored float32), as the
        C++ side keeps one table per head dim (models/blocks/rope.h). Inside the forward they
        would be traced: torch.compile then fuses the float64 table math into every layer's
        RoPE kernel (measured on 2026-12-03: 41.8 of 125.5 ms per dense 374M step)."""
        cos, sin = rope_tables(torch.arange(seq), head_dim, device="cpu")
        self.register_buffer("rope_cos", cos.float(), persistent=False)
        self.register_buffer("rope_sin", sin.float(), persistent=False)

    def rope_rows(self, t):
        if t > self.rope_cos.size(0):
            raise SystemExit(f"reference.py: sequence {t} is longer than the RoPE table "
                             f"({self.rope_cos.size(0)} positions)")
        return self.rope_cos[:t], self.rope_sin[:t]

    def head_loss(self, h, targets):
        logits = self.lm_head(self.norm_out(h)).float()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))

    def after_step(self):
        pass


class Dense(LM):
    def __init__(self, c, seq):
        super().__init__(c["vocab_size"], c["d_model"])
        d = c["d_model"]
        self.blocks = nn.ModuleList(DenseBlock(d, c["n_heads"], c["ffn"]["hidden"]) for _ in range(c["n_layers"]))
        self.head_dim = d // c["n_heads"]
        self.build_rope(seq, self.head_dim)

    def forward(self, tokens, targets):
        cos, sin = self.rope_rows(tokens.size(1))
        h = self.embedding(tokens)
        for block in self.blocks:
            h = block(h, cos, sin)
        return self.head_loss(h, targets)


class DenseBlock(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.norm_1, self.norm_3 = RMSNorm(d), RMSNorm(d)
        self.attention, self.ffn = Attention(d, heads), SwiGLU(d, hidden)

    def forward(self, h, cos, sin):
        h = h + self.attention(self.norm_1(h), cos, sin)
        return h + self.ffn(self.norm_3(h))


class MoE(LM):
    """Switch-style softmax router (identity query: logits = x W^T), top-k, no renormalisation,
    Switch aux loss weighted aux_loss_coef / n_layers (baselines/moe_transformer.cpp)."""

    def __init__(self, c, seq, loop=False):
        super().__init__(c["vocab_size"], c["d_model"])
        m, d = c["ffn_experts"], c["d_model"]
        self.blocks = nn.ModuleList(MoEBlock(d, c["n_heads"], m, loop) for _ in range(c["n_layers"]))
        self.head_dim, self.coef = d // c["n_heads"], m["aux_loss_coef"] / c["n_layers"]
        self.build_rope(seq, self.head_dim)

    def forward(self, tokens, targets):
        cos, sin = self.rope_rows(tokens.size(1))
        h = self.embedding(tokens)
        aux = torch.zeros((), device=DEV)
        for block in self.blocks:
            h, a = block(h, cos, sin)
            aux = aux + a
        return self.head_loss(h, targets) + self.coef * aux


class MoEBlock(nn.Module):
    def __init__(self, d, heads, m, loop):
        super().__init__()
        self.norm_1, self.norm_3 = RMSNorm(d), RMSNorm(d)
        self.attention = Attention(d, heads)
        self.n, self.k = m["n_experts"], m["k"]
        self.expert_keys = nn.Parameter(torch.randn(self.n, d) / math.sqrt(d))
        self.experts = Experts(self.n, d, m["expert_dim"], loop)

    def forward(self, h, cos, sin):
        h = h + self.attention(self.norm_1(h), cos, sin)
        x = self.norm_3(h).reshape(-1, h.size(-1))
        logits = (x @ self.expert_keys.t()).float()
        scores = logits.softmax(-1)
        ids = logits.topk(self.k, -1).indices
        gates = scores.gather(1, ids)
        f = expert_counts(ids, self.n) / ids.numel()
        aux = self.n * (f * (scores / scores.sum(-1, keepdim=True)).mean(0)).sum()
        return h + self.experts(x, ids, gates).view_as(h), aux


class Dreamer(LM):
    """One pre-norm layer applied R times: sequence attention, depth attention over the same
    token's levels 0..r (level 0 = the embedding; forward_reverse depth RoPE), then either a
    SwiGLU FFN (DR) or expert attention: linear router query + learned per-depth offset,
    sigmoid gates renormalised over the top-k, selection on logits + balancing bias."""

    def __init__(self, c, seq, loop=False):
        super().__init__(c["vocab_size"], c["d_model"])
        d, preset = c["d_model"], c.get("preset", "DR+DA+EA")
        self.r = c["recurrence"]["mean"]
        self.heads, self.head_dim = c["n_heads"], d // c["n_heads"]
        self.build_rope(seq, self.head_dim)
        self.norm_sa, self.norm_ffn = RMSNorm(d), RMSNorm(d)
        self.attention = Attention(d, c["n_heads"])
        self.da = "DA" in preset
        self.ea = "EA" in preset
        if self.da:
            da = c["depth_attention"]
            self.da_heads = da["n_heads"]
            self.da_dh = da.get("head_dim", 0) or self.head_dim
            inner = self.da_heads * self.da_dh
            self.norm_da = RMSNorm(d)
            self.da_q, self.da_k, self.da_v = (nn.Linear(d, inner, bias=False) for _ in range(3))
            self.da_o = nn.Linear(inner, d, bias=False)
            nn.init.zeros_(self.da_o.weight)
            # Depth RoPE of every level, keys (reverse angle 0) and queries, built once (see
            # LM.build_rope): [R + 1, da_dh / 2].
            levels = range(self.r + 1)
            keys = torch.stack([depth_angles(l, l, self.da_dh, device="cpu") for l in levels])
            queries = torch.stack([depth_angles(l, self.r, self.da_dh, device="cpu") for l in levels])
            for name, a in (("da_key", keys), ("da_query", queries)):
                self.register_buffer(name + "_cos", a.cos().float(), persistent=False)
                self.register_buffer(name + "_sin", a.sin().float(), persistent=False)
        if self.ea:
            ea = c["ffn_experts"]
            self.n, self.k = ea["n_experts"], ea["k"]
            self.query = nn.Linear(d, d, bias=False)
            self.expert_keys = nn.Parameter(torch.randn(self.n, d) / math.sqrt(d))
            self.depth_offset = nn.Parameter(torch.zeros(c["recurrence"].get("max", 64) + 1, d))
            self.register_buffer("selection_bias", torch.zeros(self.n))
            self.register_buffer("expert_load", torch.zeros(self.n))
            self.experts = Experts(self.n, d, ea["expert_dim"], loop)
        else:
            self.ffn = SwiGLU(d, c["ffn"]["hidden"])

    def da_heads_of(self, y):
        b, t, _ = y.shape
        return y.view(b, t, self.da_heads, self.da_dh).transpose(1, 2)

    def da_write(self, keys, values, x, level):
        cos, sin = self.da_key_cos[level], self.da_key_sin[level]  # keys: reverse angle 0
        keys.append(apply_rope(self.da_heads_of(self.da_k(x)), cos, sin))
        values.append(self.da_heads_of(self.da_v(x)))

    def da_read(self, keys, values, x, level):
        cos, sin = self.da_query_cos[level], self.da_query_sin[level]
        q = apply_rope(self.da_heads_of(self.da_q(x)), cos, sin)
        kk, vv = torch.stack(keys, 3), torch.stack(values, 3)  # [B, H, T, L, Dh]
        scores = (kk @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.da_dh)
        w = scores.float().softmax(-1).to(x.dtype)
        out = (w.unsqueeze(-2) @ vv).squeeze(-2)
        b, t = x.shape[:2]
        return self.da_o(out.transpose(1, 2).reshape(b, t, -1))

    def expert_attention(self, h, depth):
        x = self.norm_ffn(h).reshape(-1, h.size(-1))
        q = self.query(x) + self.depth_offset[depth]
        logits = (q @ self.expert_keys.t()).float()
        scores = logits.sigmoid()
        with torch.no_grad():
            ids = (logits + self.selection_bias).topk(self.k, -1).indices
            self.expert_load.add_(expert_counts(ids, self.n))
        gates = scores.gather(1, ids)
        gates = gates / (gates.sum(-1, keepdim=True) + 1e-9)
        return self.experts(x, ids, gates).view_as(h)

    def forward(self, tokens, targets):
        cos, sin = self.rope_rows(tokens.size(1))
        x = self.embedding(tokens)
        h = x
        keys, values = [], []
        if self.da:
            x0 = self.norm_da(x)
            self.da_write(keys, values, x0, 0)
        for r in range(1, self.r + 1):
            h = h + self.attention(self.norm_sa(h), cos, sin)
            if self.da:
                xd = self.norm_da(h)
                self.da_write(keys, values, xd, r)
                h = h + self.da_read(keys, values, xd, r)
            h = h + (self.expert_attention(h, r) if self.ea else self.ffn(self.norm_ffn(h)))
        return self.head_loss(h, targets)

    @torch.no_grad()
    def after_step(self):  # the loss-free balancing sign rule (rate 1e-3)
        if self.ea:
            delta = 1e-3 * torch.sign(self.expert_load.mean() - self.expert_load)
            self.selection_bias.add_(delta - delta.mean())
            self.expert_load.zero_()


# Parameters init_gpt2_style leaves as built (models/roles.cpp: kNorm, kRouter), and the
# residual outputs whose std it divides by sqrt(residual writes) (kResidualOutput).
AS_BUILT = ("expert_keys", "depth_offset", "query.weight")
RESIDUAL_OUTPUTS = ("o.weight", "da_o.weight", "down.weight", "w_down")


@torch.no_grad()
def init_gpt2_style(model, std, residual_writes):
    """The C++ models' initialisation (models/lm_parts.cpp init_gpt2_style): every matrix, the
    embedding and the head included, N(0, std); residual outputs N(0, std / sqrt(writes));
    biases 0; norms and router parameters as built. PyTorch's defaults (N(0, 1) embedding,
    Kaiming-uniform linears) train a different model, so losses would not be comparable."""
    out_std = std / math.sqrt(max(residual_writes, 1))
    norms = {id(p) for m in model.modules() if isinstance(m, RMSNorm) for p in m.parameters()}
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 2)
        tail = ".".join(leaf[-2:])
        if id(p) in norms or leaf[-1] in AS_BUILT or tail in AS_BUILT:
            continue
        if p.dim() < 2:
            p.zero_()
            continue
        residual = leaf[-1] in RESIDUAL_OUTPUTS or tail in RESIDUAL_OUTPUTS
        p.normal_(0.0, out_std if residual else std)


def build(c, seq, loop=False):
    family = c["family"]
    std = c.get("init_std", 0.02)
    if family == "dense_transformer":
        model, writes = Dense(c, seq), 2 * c["n_layers"]
    elif family == "moe_transformer":
        model, writes = MoE(c, seq, loop), 2 * c["n_layers"]
    elif family == "dreamer":
        model, writes = Dreamer(c, seq, loop), 2 * c["recurrence"]["mean"]
    else:
        raise SystemExit(f"reference.py: no Python reference for family {family}")
    init_gpt2_style(model, std, writes)
    if getattr(model, "da", False) and c["depth_attention"].get("zero_init_output", True):
        with torch.no_grad():
            model.da_o.weight.zero_()
    return model


# ----------------------------------------------------------------------------- timing

def timed(fn, steps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return seconds


def run_step(a):
    c = json.load(open(a.config))
    torch.manual_seed(a.seed)
    model = build(c, a.seq).to(DEV)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    forward = torch.compile(model) if a.compile else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1,
                                  fused=True)
    tokens = torch.randint(0, c["vocab_size"], (a.batch, a.seq + 1), device=DEV)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    params = list(model.parameters())
    last = {}

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = forward(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        optimizer.step()
        model.after_step()
        last["loss"] = loss.detach()

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    seconds = timed(step, a.steps, 0)
    median = statistics.median(seconds)
    label = a.label or a.config
    result = {"label": label, "impl": "torch.compile" if a.compile else "eager",
              "family": c["family"], "params": n_params, "device": torch.cuda.get_device_name(),
              "precision": "bf16-autocast", "batch": a.batch, "seq": a.seq, "steps": a.steps,
              "median_step_s": median, "mean_step_s": statistics.mean(seconds),
              "tokens_per_s": a.batch * a.seq / median, "warmup_s": warmup_s,
              "peak_memory_bytes": torch.cuda.max_memory_allocated(),
              "final_loss": last["loss"].item(), "torch": torch.__version__}
    if a.profile:  # after the numbers above were read, as in `dreamer bench-step`
        result.update(profile_steps(step, a, label))
    return result


def profile_steps(step, a, label):
    """a.profile_steps more steps under torch.profiler (CPU + CUDA activities), after the timed
    ones: the Chrome trace to a.profile + ".trace.json", the per-kernel table to a.profile. The
    same events as `dreamer bench-step --profile` (util/profile.cpp): Kineto's CUDA-device
    events less the GPU user annotations (record_function ranges such as Optimizer.step, which
    span kernels already counted), i.e. kernels, memcpys and memsets."""
    from torch.profiler import ProfilerActivity, profile

    with open(a.profile, "w"):  # a bad path fails before the steps run
        pass
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for _ in range(a.profile_steps):
            step()
            torch.cuda.synchronize()
        wall_ms = (time.perf_counter() - t0) * 1e3 / a.profile_steps
    prof.export_chrome_trace(a.profile + ".trace.json")
    kernels = []
    cuda = torch._C._autograd.DeviceType.CUDA
    for e in prof.profiler.kineto_results.events():
        if e.device_type() != cuda:
            continue
        if hasattr(e, "is_user_annotation") and e.is_user_annotation():
            continue
        us = e.duration_ns() / 1e3 if hasattr(e, "duration_ns") else float(e.duration_us())
        kernels.append((e.name(), us))
    if not kernels:
        raise SystemExit("reference.py: --profile: torch.profiler recorded no CUDA kernels "
                         "(this PyTorch lacks Kineto with CUPTI?)")
    t = kernel_table.table(kernels, a.profile_steps, wall_ms, 40,
                           "torch.compile" if a.compile else "eager", label)
    with open(a.profile, "w") as f:
        f.write(kernel_table.format_table(t))
    return {"profile": a.profile, "profile_steps": a.profile_steps,
            "profile_wall_ms_per_step": t["wall_ms_per_step"],
            "profile_device_ms_per_step": t["device_ms_per_step"]}


def run_experts(a):
    torch.manual_seed(0)
    x = torch.randn(a.tokens, a.d_model, device=DEV, requires_grad=True)
    ids = torch.rand(a.tokens, a.experts, device=DEV).topk(a.k, 1).indices
    gates = torch.rand(a.tokens, a.k, device=DEV, requires_grad=True)
    out = {"impl": "torch", "experts": a.experts, "k": a.k, "d_model": a.d_model,
           "expert_dim": a.expert_dim, "tokens": a.tokens, "device": torch.cuda.get_device_name()}
    for name, loop in (("grouped_ms", False), ("loop_ms", True)):
        layer = Experts(a.experts, a.d_model, a.expert_dim, loop).to(DEV)

        def once():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                y = layer(x, ids, gates)
            y.float().sum().backward()

        out[name] = 1e3 * statistics.median(timed(once, a.steps, 3))
    return out


def run_peak(a):
    n = 8192
    x = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    s = statistics.median(timed(lambda: x @ y, 20, 5))
    return {"impl": "torch", "bf16_matmul_tflops": 2 * n ** 3 / s / 1e12, "n": n,
            "device": torch.cuda.get_device_name()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("step")
    s.add_argument("--config", required=True)
    s.add_argument("--batch", type=int, default=8)
    s.add_argument("--seq", type=int, default=2048)
    s.add_argument("--steps", type=int, default=10)
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--compile", action="store_true")
    s.add_argument("--label", default="")
    s.add_argument("--profile", default="", metavar="FILE",
                   help="after the timed steps, profile --profile-steps more: per-kernel table "
                        "here, Chrome trace to FILE.trace.json")
    s.add_argument("--profile-steps", type=int, default=3)
    e = sub.add_parser("experts")
    for name, default in (("experts", 64), ("k", 8), ("d-model", 1024), ("expert-dim", 512),
                          ("tokens", 16384), ("steps", 20)):
        e.add_argument("--" + name, type=int, default=default)
    sub.add_parser("peak")
    for q in (s, e):
        q.add_argument("--out", default="")
    a = p.parse_args()
    if a.cmd == "step" and a.profile_steps < 1:
        p.error("--profile-steps: expected a positive number of steps, got %d" % a.profile_steps)
    result = {"step": run_step, "experts": run_experts, "peak": run_peak}[a.cmd](a)
    line = json.dumps(result)
    print(line, flush=True)
    if getattr(a, "out", ""):
        with open(a.out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch twin of goodhart-nn's GPT, for throughput comparisons on the same machine.

It builds the same architecture (pre-LN blocks, fused QKV, exact GELU, learned positions, untied
LM head without bias), loads the weights exported by `cargo bench --bench sampling` or `cargo xtask
bench` (safetensors, PyTorch layout, the config in the file's metadata), checks that its logits
equal goodhart's on the exported reference input (and exits with an error if they do not), and
then measures what the Rust side measures (shapes: goodhart_policy::bench):

  - sampling: [bos] + an 8-token prompt, then 56 new tokens with a preallocated KV cache, at
    batch 1, 64 and 256 (multinomial sampling from the softmax, as goodhart does), in new tokens
    per second;
  - forward: a 64 x 64 batch of tokens, in tokens per second;
  - train: one step on 64 x 64 tokens (forward, cross-entropy, backward, global-norm clipping at
    1.0, AdamW), in tokens per second.

Each workload is run once to warm up, then repeated until `--budget` seconds have passed (and at
least `--min-reps` times); the median repetition is reported.

Usage:
    python3 -m pip install torch safetensors numpy
    python3 benches/torch_twin.py [--json] [--budget SECONDS] [--min-reps N] small.safetensors [more.safetensors ...]

`--bf16` times every workload (and the matrix product) under torch.autocast("cpu", bfloat16), the
like-for-like of `cargo xtask bench --precision bf16`; the parity check stays in fp32.

`--json` prints one JSON object on stdout (progress goes to stderr); without it, a readable report.
"""
import argparse
import contextlib
import copy
import json
import os
import platform
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from safetensors import safe_open
    from safetensors.torch import load_file
except ImportError as e:  # pragma: no cover
    sys.exit(f"{e}: install the twin's dependencies with `python3 -m pip install torch safetensors numpy`")

PROMPT, NEW = 8, 56


class Block(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.attn = nn.Module()
        self.attn.qkv, self.attn.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(d, f), nn.Linear(f, d)

    def forward(self, x, cache=None, pos=0):
        b, t, d = x.shape
        hd = d // self.h
        q, k, v = self.attn.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.h, hd).transpose(1, 2) for z in (q, k, v))
        if cache is not None:  # preallocated [B, H, T_max, Dh] buffers, written in place
            kc, vc = cache
            kc[:, :, pos:pos + t] = k
            vc[:, :, pos:pos + t] = v
            k, v = kc[:, :, :pos + t], vc[:, :, :pos + t]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=(t > 1))
        x = x + self.attn.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.trunk = nn.Module()
        self.trunk.tok_emb = nn.Embedding(c["vocab_size"], c["d_model"])
        self.trunk.pos_emb = nn.Embedding(c["max_seq_len"], c["d_model"])
        self.trunk.blocks = nn.ModuleList(Block(c["d_model"], c["n_heads"], c["d_ff"]) for _ in range(c["n_layers"]))
        self.trunk.ln_f = nn.LayerNorm(c["d_model"], eps=1e-5)
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)

    def forward(self, ids, caches=None, pos=0):
        t = ids.shape[1]
        x = self.trunk.tok_emb(ids) + self.trunk.pos_emb(torch.arange(pos, pos + t))
        for i, blk in enumerate(self.trunk.blocks):
            x = blk(x, None if caches is None else caches[i], pos)
        return self.lm_head(self.trunk.ln_f(x))


def load(path):
    with safe_open(path, "pt") as f:
        config = json.loads(f.metadata()["config"])
    model = Gpt(config)
    model.load_state_dict(load_file(path))
    return model.eval(), config


def parity(model, path):
    ref_path = path.replace(".safetensors", ".reference.json")
    if not os.path.exists(ref_path):
        return None
    ref = json.load(open(ref_path))
    with torch.no_grad():
        logits = model(torch.tensor([ref["tokens"]]))
    diff = (logits.flatten() - torch.tensor(ref["logits"])).abs().max().item()
    if diff > 1e-3:
        sys.exit(f"{path}: the twin's logits differ from goodhart's by {diff}: not the same model")
    return diff


@torch.inference_mode()
def sample(model, c, batch):
    ctx = 1 + PROMPT  # [bos] + prompt, as goodhart feeds it
    ids = torch.randint(3, c["vocab_size"], (batch, ctx))
    hd = c["d_model"] // c["n_heads"]
    cap = ctx + NEW - 1  # the last sampled token is never fed back
    caches = [(torch.zeros(batch, c["n_heads"], cap, hd), torch.zeros(batch, c["n_heads"], cap, hd))
              for _ in range(c["n_layers"])]
    logits = model(ids, caches, 0)[:, -1]
    pos = ctx
    for step in range(NEW):
        probs = torch.softmax(logits, dim=-1)
        nxt = torch.multinomial(probs, 1)
        logp = torch.log(probs.gather(1, nxt))  # what goodhart returns with each token
        if step + 1 == NEW:
            break
        logits = model(nxt, caches, pos)[:, -1]
        pos += 1
    return logp


def train_step(model, opt, inputs, targets):
    logits = model(inputs)
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def measure(fn, budget, min_reps):
    """Median seconds of one call: one warm-up call, then repetitions until `budget` seconds have
    passed and at least `min_reps` were made."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < budget:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    return {"median_s": median, "reps": n}


def workloads(model, c):
    """(key, label, tokens per call, function) for every workload, in the Rust side's order."""
    out = [(f"sample_b{b}", f"sample B={b}", b * NEW, lambda b=b: sample(model, c, b)) for b in (1, 64, 256)]
    ids = torch.randint(0, c["vocab_size"], (64, 65))
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()

    def forward():
        with torch.inference_mode():
            model(inputs)

    out.append(("forward_64x64", "forward 64x64", 64 * 64, forward))
    trainee = copy.deepcopy(model).train()  # the timed model's weights stay as exported
    opt = torch.optim.AdamW(trainee.parameters(), lr=1e-3, weight_decay=0.01)
    out.append(("train_64x64", "train 64x64", 64 * 64, lambda: train_step(trainee, opt, inputs, targets)))
    return out


def matmul_gflops(c, rows, budget, min_reps):
    """torch.matmul's rate on the forward pass's matrix products over `rows` tokens (per layer the
    QKV projection, attention output and the MLP's two, then the LM head), in GFLOP/s: each
    distinct shape timed, weighted by how often a forward pass runs it. The Rust bench measures
    its own matrix product on the same shapes (xtask/src/bench/roofline.rs)."""
    d, f, layers, vocab = c["d_model"], c["d_ff"], c["n_layers"], c["vocab_size"]
    shapes = {(rows, 3 * d, d): layers, (rows, d, d): layers, (rows, f, d): layers, (rows, d, f): layers}
    shapes[(rows, vocab, d)] = shapes.get((rows, vocab, d), 0) + 1
    flops = seconds = 0.0
    with torch.inference_mode():
        for (m, n, k), count in sorted(shapes.items()):
            a, b = torch.randn(m, k), torch.randn(k, n)
            t = measure(lambda: torch.matmul(a, b), budget / len(shapes), min_reps)["median_s"]
            flops += count * 2.0 * m * n * k
            seconds += count * t
    return flops / seconds / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", help="safetensors files exported by goodhart")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of repetitions per workload")
    ap.add_argument("--bf16", action="store_true", help="time under torch.autocast(cpu, bfloat16)")
    ap.add_argument("--min-reps", type=int, default=3, help="fewest timed repetitions per workload")
    args = ap.parse_args()
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else print

    torch.manual_seed(0)
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "bf16": args.bf16,
        "presets": [],
    }
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    mode = " under autocast(bfloat16)" if args.bf16 else ""
    log(f"PyTorch {torch.__version__} eager{mode}, {torch.get_num_threads()} threads, {report['machine']}")
    for path in args.paths:
        model, c = load(path)
        name = os.path.basename(path).replace(".safetensors", "")
        diff = parity(model, path)
        shown = "no reference" if diff is None else f"max |logit diff| {diff:.1e}"
        log(f"\n{name}: d_model {c['d_model']}, layers {c['n_layers']}, vocab {c['vocab_size']} ({shown})")
        entry = {"name": name, "parity_max_abs_diff": diff, "workloads": {}}
        for key, label, tokens, fn in workloads(model, c):
            with autocast():
                m = measure(fn, args.budget, args.min_reps)
            m["tok_per_s"] = tokens / m["median_s"]
            entry["workloads"][key] = m
            log(f"  {label:<14} {m['tok_per_s']:>10.0f} tok/s  (median of {m['reps']}, {m['median_s'] * 1e3:.1f} ms)")
        with autocast():
            entry["matmul_gflops"] = matmul_gflops(c, 64 * 64, args.budget, args.min_reps)
        log(f"  {'matmul':<14} {entry['matmul_gflops']:>10.1f} GFLOP/s on the model's shapes")
        report["presets"].append(entry)
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()

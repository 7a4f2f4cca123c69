#!/usr/bin/env python3
"""PyTorch twin of goodhart-nn's GPT, for throughput comparisons on the same machine.

It builds the same architecture (pre-LN blocks, fused QKV, exact GELU, learned positions, untied
LM head without bias), loads the weights exported by `cargo bench --bench sampling` (safetensors,
PyTorch layout, the config in the file's metadata), checks that its logits equal goodhart's on the
exported reference input, and then measures what the Rust benchmark measures:

  - sampling: an 8-token prompt then 56 new tokens with a preallocated KV cache, at batch 1, 64
    and 256 (multinomial sampling from the softmax, as goodhart does), in new tokens per second;
  - forward: a 64 x 64 batch of tokens, in tokens per second.

Usage:
    python3 -m pip install torch safetensors numpy
    python3 benches/torch_twin.py target/goodhart-bench/small.safetensors [more.safetensors ...]
"""
import json
import math
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
        return "no reference"
    ref = json.load(open(ref_path))
    with torch.no_grad():
        logits = model(torch.tensor([ref["tokens"]]))
    diff = (logits.flatten() - torch.tensor(ref["logits"])).abs().max().item()
    if diff > 1e-3:
        sys.exit(f"{path}: the twin's logits differ from goodhart's by {diff}: not the same model")
    return f"max |logit diff| {diff:.1e}"


@torch.inference_mode()
def sample(model, c, batch):
    ids = torch.randint(3, c["vocab_size"], (batch, PROMPT))
    hd = c["d_model"] // c["n_heads"]
    caches = [(torch.zeros(batch, c["n_heads"], PROMPT + NEW, hd), torch.zeros(batch, c["n_heads"], PROMPT + NEW, hd))
              for _ in range(c["n_layers"])]
    logits = model(ids, caches, 0)[:, -1]
    pos = PROMPT
    for step in range(NEW):
        probs = torch.softmax(logits, dim=-1)
        nxt = torch.multinomial(probs, 1)
        logp = torch.log(probs.gather(1, nxt))  # what goodhart returns with each token
        if step + 1 == NEW:
            break
        logits = model(nxt, caches, pos)[:, -1]
        pos += 1
    return logp


def timeit(fn, reps):
    fn()  # warm-up
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(paths):
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    for path in paths:
        model, c = load(path)
        name = os.path.basename(path).replace(".safetensors", "")
        print(f"\n{name}: d_model {c['d_model']}, layers {c['n_layers']}, vocab {c['vocab_size']} ({parity(model, path)})")
        for batch in (1, 64, 256):
            s = timeit(lambda: sample(model, c, batch), 3 if batch > 1 else 10)
            print(f"  sample B={batch:<3}  {batch * NEW / s:>10.0f} new tok/s  ({s * 1e3 / NEW:.2f} ms/step)")
        ids = torch.randint(0, c["vocab_size"], (64, 64))
        with torch.inference_mode():
            s = timeit(lambda: model(ids), 5)
        print(f"  forward 64x64 {64 * 64 / s:>10.0f} tok/s")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])

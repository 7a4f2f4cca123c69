"""Writes the example inputs of `cargo xtask analyze` (deterministic; numpy only).

bon_pools.csv: 100 prompts x 64 samples from some policy, each scored by a proxy and a gold RM.
A sample has a quality q (what the gold rewards) and a hack h (what the proxy also rewards, and
the gold penalises once it is large): proxy = q + h + noise, gold = q - 0.06 h^4. Best-of-n against the proxy first
raises the gold, then selects for h and lowers it: overoptimisation.

ppo_log.jsonl: two PPO runs logged every 25 steps, with KL rising like sqrt(step) and the gold
following d (alpha - beta ln d) plus noise, the paper's RL form.
"""

import json

import numpy as np

rng = np.random.default_rng(0)
with open("bon_pools.csv", "w") as f:
    f.write("prompt_id,sample_id,proxy,gold\n")
    for p in range(100):
        q = rng.normal(0.0, 1.0, 64)
        h = np.abs(rng.normal(0.0, 1.1, 64))
        proxy = q + h + rng.normal(0.0, 0.3, 64)
        gold = q - 0.06 * h**4
        for s in range(64):
            f.write(f"p{p:02d},{s},{proxy[s]:.6f},{gold[s]:.6f}\n")

with open("ppo_log.jsonl", "w") as f:
    for run, (alpha, beta, speed) in {"p3k": (1.0, 0.5, 0.25), "p30k": (1.2, 0.45, 0.3)}.items():
        for step in range(0, 1001, 25):
            kl = speed * np.sqrt(step)
            d = np.sqrt(kl)
            gold = d * (alpha - beta * np.log(d)) if d > 0 else 0.0
            proxy = d * (alpha + 0.6 * d)
            row = {
                "run": run,
                "step": step,
                "kl": round(float(kl), 6),
                "proxy": round(float(proxy + rng.normal(0.0, 0.02)), 6),
                "gold": round(float(gold + rng.normal(0.0, 0.02)), 6),
            }
            f.write(json.dumps(row) + "\n")

"""goodhart's best-of-n estimator from Python against a NumPy baseline, in one process.

The workload of the public implementation we compared with: 1,000 prompts x 12,600 samples, the
20-point log grid of n from 1 to 12,600, gold and proxy curves. The NumPy baseline sorts each
pool by proxy along axis 1, computes the weights C(i-1, n-1) / C(N, n) in log space with
scipy.special.gammaln, and does one matrix product per n. Both results are checked to agree to
1e-9 before anything is timed.

    python3 benches/python_bon.py [--prompts 1000] [--samples 12600] [--repeats 3]

Needs the goodhart wheel installed (docs/python.md), numpy and scipy. Threads: goodhart uses
rayon (RAYON_NUM_THREADS, default one per core); NumPy's BLAS its own pool (OPENBLAS_NUM_THREADS
or OMP_NUM_THREADS); both are printed.
"""

import argparse
import os
import platform
import subprocess
import time

import numpy as np
from scipy.special import gammaln

import goodhart as g


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except Exception:
        return platform.processor() or "unknown"


def blas_threads():
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info())
    except ImportError:
        env = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
        return f"threadpoolctl not installed; env {env or 'unset (BLAS default: one per core)'}"


def numpy_baseline(proxy, gold, ns):
    """Per-prompt expected proxy and gold of the best of n, shape [prompts, len(ns)]."""
    order = np.argsort(proxy, axis=1)
    p = np.take_along_axis(proxy, order, axis=1)
    gd = np.take_along_axis(gold, order, axis=1)
    big_n = proxy.shape[1]
    i = np.arange(1, big_n + 1, dtype=np.float64)
    out_p = np.empty((proxy.shape[0], len(ns)))
    out_g = np.empty((proxy.shape[0], len(ns)))
    for j, n in enumerate(ns):
        log_w = np.full(big_n, -np.inf)
        k = i >= n
        log_w[k] = (gammaln(i[k]) - gammaln(n) - gammaln(i[k] - n + 1)) - (
            gammaln(big_n + 1) - gammaln(n + 1) - gammaln(big_n - n + 1)
        )
        w = np.exp(log_w)
        out_p[:, j] = p @ w
        out_g[:, j] = gd @ w
    return out_p, out_g


def best_of(f, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=12600)
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    proxy = rng.normal(size=(args.prompts, args.samples))
    gold = 0.6 * proxy + rng.normal(size=proxy.shape)
    ns = g.log_grid(args.samples, args.points)

    print(f"cpu: {cpu_model()}, {os.cpu_count()} logical cores")
    print(f"goodhart {g.__version__}: rayon threads {os.environ.get('RAYON_NUM_THREADS', 'default (one per core)')}")
    print(f"numpy {np.__version__}: BLAS {blas_threads()}")
    print(f"workload: {args.prompts} prompts x {args.samples} samples, {len(ns)} values of n up to {ns[-1]}")

    ours = g.bon_curves(proxy, gold, ns)
    ref_p, ref_g = numpy_baseline(proxy, gold, ns)
    err = max(np.abs(ours.per_prompt_gold - ref_g).max(), np.abs(ours.per_prompt_proxy - ref_p).max())
    print(f"largest difference between the two, per prompt and n: {err:.2e}")
    assert err < 1e-9, "goodhart and the NumPy baseline disagree"

    t_ours = best_of(lambda: g.bon_curves(proxy, gold, ns), args.repeats)
    t_numpy = best_of(lambda: numpy_baseline(proxy, gold, ns), args.repeats)
    print(f"goodhart.bon_curves: {t_ours:.3f} s   numpy baseline: {t_numpy:.3f} s   (best of {args.repeats})")
    print(f"speed-up: {t_numpy / t_ours:.1f}x")


if __name__ == "__main__":
    main()

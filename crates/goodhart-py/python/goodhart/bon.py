"""Best-of-n: the unbiased estimator over sample pools, and the KL of best-of-n."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np

from goodhart import _native

Pools = Union[np.ndarray, Sequence[np.ndarray]]


@dataclass(frozen=True)
class BonCurves:
    """Best-of-n curves over prompts, one value per n of ``ns``.

    ``gold_mean[j]`` is the mean over prompts of the expected gold score of the sample with the
    highest proxy score among n drawn without replacement from the prompt's pool of N:

        E[gold of best of n] = sum_{i=n}^{N} C(i-1, n-1) / C(N, n) * gold_(i)

    with samples sorted by proxy ascending (WebGPT, appendix I; ties in the proxy share their
    gold equally, the expectation over a random tie-break). ``kl[j] = ln n - (n-1)/n`` nats;
    ``*_se`` are standard errors across prompts; ``*_lo``/``*_hi`` percentile bootstrap intervals
    over prompts when ``bootstrap > 0`` was asked; ``per_prompt_*`` are ``[prompts, len(ns)]``.
    """

    ns: np.ndarray
    kl: np.ndarray
    gold_mean: np.ndarray
    gold_se: np.ndarray
    proxy_mean: np.ndarray
    proxy_se: np.ndarray
    per_prompt_gold: np.ndarray
    per_prompt_proxy: np.ndarray
    gold_lo: Optional[np.ndarray] = None
    gold_hi: Optional[np.ndarray] = None
    proxy_lo: Optional[np.ndarray] = None
    proxy_hi: Optional[np.ndarray] = None
    extra_mean: Optional[np.ndarray] = None
    extra_se: Optional[np.ndarray] = None
    per_prompt_extra: Optional[np.ndarray] = None

    @property
    def d(self) -> np.ndarray:
        """sqrt(KL), the paper's x axis."""
        return np.sqrt(self.kl)


def _pools(x: Pools, name: str) -> List[np.ndarray]:
    """Rows of a 2-D array (views, no copy) or a list of 1-D arrays, as contiguous float64."""
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise _native.GoodhartError(
                f"{name} has {x.ndim} dimension(s): give a [prompts, samples] array or a list of 1-D arrays"
            )
        x = np.ascontiguousarray(x, dtype=np.float64)
        return list(x)
    out = []
    for i, row in enumerate(x):
        row = np.ascontiguousarray(row, dtype=np.float64)
        if row.ndim != 1:
            raise _native.GoodhartError(f"{name}[{i}] has {row.ndim} dimensions: each pool is a 1-D array")
        out.append(row)
    return out


def log_grid(max_n: int, points: int = 20) -> List[int]:
    """About ``points`` log-spaced integers from 1 to ``max_n`` inclusive, without duplicates."""
    return list(_native.bon_log_grid(int(max_n), int(points)))


def bon_curves(
    proxy: Pools,
    gold: Pools,
    ns: Optional[Sequence[int]] = None,
    *,
    extra: Optional[Pools] = None,
    bootstrap: int = 0,
    level: float = 0.9,
    seed: int = 0,
) -> BonCurves:
    """Best-of-n gold and proxy curves from pools of scored samples.

    ``proxy`` and ``gold`` are the scores of the same samples, one pool per prompt: a
    ``[prompts, samples]`` array or a list of 1-D arrays (pools may differ in size, each at least
    ``max(ns)``). ``ns`` defaults to the 20-point :func:`log_grid` up to the smallest pool.
    ``extra`` is a third score weighed like the gold (a rubric, say). ``bootstrap`` resamples of
    prompts give percentile intervals at confidence ``level``, deterministic for ``seed``.
    """
    p, g = _pools(proxy, "proxy"), _pools(gold, "gold")
    e = None if extra is None else _pools(extra, "extra")
    if ns is None:
        if not p:
            raise _native.GoodhartError("no prompts given: pass at least one pool")
        ns = log_grid(min(len(x) for x in p), 20)
    out = _native.bon_curves(p, g, [int(n) for n in ns], e, int(bootstrap), float(level), int(seed))
    return BonCurves(**out)


def bon_pool(proxy: np.ndarray, gold: np.ndarray, ns: Sequence[int]) -> "tuple[np.ndarray, np.ndarray]":
    """One pool's expected best-of-n ``(proxy, gold)`` scores, one value per n of ``ns``."""
    p = np.ascontiguousarray(proxy, dtype=np.float64)
    g = np.ascontiguousarray(gold, dtype=np.float64)
    return _native.bon_pool(p, g, [int(n) for n in ns])


def kl_bon(n: int) -> float:
    """The analytic KL of best-of-n from its base policy: ``ln n - (n - 1)/n`` nats.

    Exact for a reward without ties; an upper bound otherwise (see :func:`kl_bon_discrete`).
    """
    return _native.kl_bon(int(n))


def n_for_kl_bon(kl: float) -> float:
    """The real n at which :func:`kl_bon` reaches ``kl`` nats (its inverse)."""
    return _native.n_for_kl_bon(float(kl))


def kl_bon_discrete(probs: np.ndarray, n: int) -> float:
    """Exact KL of best-of-n from a discrete base distribution, atoms in increasing reward order.

    With ``F_j = sum_{i<=j} p_i``, best-of-n picks atom j with probability
    ``q_j = F_j^n - F_{j-1}^n`` and ``KL = sum_j q_j ln(q_j / p_j)``.
    """
    return _native.kl_bon_discrete(np.ascontiguousarray(probs, dtype=np.float64), int(n))


def kl_bon_from_pool(scores: np.ndarray, n: int) -> float:
    """Tie-aware KL of best-of-n for a pool: equal scores form one atom of their share of the pool,
    and :func:`kl_bon_discrete` is applied to that empirical distribution."""
    return _native.kl_bon_from_pool(np.ascontiguousarray(scores, dtype=np.float64), int(n))


def kl_bon_beirami(n: int, eps: float) -> float:
    """Beirami et al. (2024)'s estimate of the best-of-n KL from ``eps``, the base probability of
    the outcome best-of-n returned: ``(1 - eps)^n (ln n + (n - 1) ln(1 - eps) - (n - 1)/n)
    + (1 - (1 - eps)^n) ln((1 - (1 - eps)^n) / eps)``; between 0 and :func:`kl_bon`."""
    return _native.kl_bon_beirami(int(n), float(eps))


def kl_bon_beirami_from_pool(scores: np.ndarray, n: int) -> float:
    """:func:`kl_bon_beirami` on a pool as the base: each atom's ``eps`` its share of the pool
    (equal scores merged), averaged over the atoms best-of-n picks, weighted as it picks them."""
    return _native.kl_bon_beirami_from_pool(np.ascontiguousarray(scores, dtype=np.float64), int(n))


def kl_best_of_poisson(mu: float) -> float:
    """Exact KL of Best-of-Poisson (``n = 1 + Poisson(mu)`` draws, then best-of-n) from a
    continuous base: ``int_0^1 g ln g`` with ``g(u) = (1 + mu u) exp(mu (u - 1))``."""
    return _native.kl_best_of_poisson(float(mu))


def pool_selection(scores: np.ndarray, method: str, parameter: float) -> np.ndarray:
    """The probability that a method of the best-of-n family, run on the pool as its base (draws
    with replacement, equal scores sharing), returns each sample: ``"bon"`` (``parameter`` = n),
    ``"poisson"`` (Best-of-Poisson, mean extra draws ``mu``) or ``"soft"`` (soft best-of-n:
    the pool tilted by ``exp(score / lambda)``). The expected gold of the method on this pool is
    ``selection @ gold``."""
    return _native.pool_selection(np.ascontiguousarray(scores, dtype=np.float64), str(method), float(parameter))


def kl_from_pool_selection(q: np.ndarray) -> float:
    """``KL(q || uniform)`` over a pool: the exact KL of a method that picks sample i with
    probability ``q[i]`` (e.g. from :func:`pool_selection`)."""
    return _native.kl_from_pool_selection(np.ascontiguousarray(q, dtype=np.float64))

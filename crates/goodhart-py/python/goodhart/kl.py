"""KL(pi || pi_ref) estimators from log-probabilities of sampled tokens, and exact categorical KL.

With ``log r = log pi_ref(x) - log pi(x)`` for ``x ~ pi``:

- ``k1 = -log r``: unbiased, can be negative;
- ``k2 = (log r)^2 / 2``: biased, non-negative, low variance;
- ``k3 = r - 1 - log r``: unbiased (``E[r] = 1``) and non-negative.

A sequence's KL is the sum of its tokens' estimates over the mask; k1 and k3 stay unbiased.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from goodhart import _native


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error over ``n`` values."""

    mean: float
    se: float
    n: int


@dataclass(frozen=True)
class KlSummary:
    """The batch's sequence KL by each estimator."""

    k1: Estimate
    k2: Estimate
    k3: Estimate


def kl_token(logp_policy: np.ndarray, logp_ref: np.ndarray, estimator: str = "k3") -> np.ndarray:
    """The estimator's value for every element (token), any shape, float64."""
    p = np.asarray(logp_policy, dtype=np.float64)
    q = np.asarray(logp_ref, dtype=np.float64)
    return _native.kl_token(p, q, estimator)


def _batch(logp_policy, logp_ref, mask):
    p = np.ascontiguousarray(logp_policy, dtype=np.float32)
    q = np.ascontiguousarray(logp_ref, dtype=np.float32)
    if p.ndim != 2:
        raise _native.GoodhartError(f"logp_policy has {p.ndim} dimension(s): give a [batch, seq_len] array")
    m = np.ones(p.shape, dtype=bool) if mask is None else np.ascontiguousarray(mask, dtype=bool)
    return p, q, m


def kl_sequences(
    logp_policy: np.ndarray, logp_ref: np.ndarray, mask: Optional[np.ndarray] = None, estimator: str = "k3"
) -> np.ndarray:
    """Per-sequence KL: ``sum_t mask[b, t] * k(logp_ref[b, t] - logp_policy[b, t])``.

    Inputs are ``[batch, seq_len]`` log-probabilities of the sampled tokens (computed in float32,
    as a policy's are); ``mask`` selects response tokens (all when None).
    """
    return _native.kl_sequences(*_batch(logp_policy, logp_ref, mask), estimator)


def kl_batch(
    logp_policy: np.ndarray, logp_ref: np.ndarray, mask: Optional[np.ndarray] = None, estimator: str = "k3"
) -> Estimate:
    """Mean of :func:`kl_sequences` over the batch, with its standard error."""
    return Estimate(*_native.kl_batch(*_batch(logp_policy, logp_ref, mask), estimator))


def kl_summary(logp_policy: np.ndarray, logp_ref: np.ndarray, mask: Optional[np.ndarray] = None) -> KlSummary:
    """:func:`kl_batch` for k1, k2 and k3 at once."""
    args = _batch(logp_policy, logp_ref, mask)
    return KlSummary(*(Estimate(*_native.kl_batch(*args, k)) for k in ("k1", "k2", "k3")))


def kl_categorical(p: np.ndarray, q: np.ndarray) -> float:
    """Exact ``KL(p || q) = sum_i p_i ln(p_i / q_i)`` in nats (terms with ``p_i = 0`` are 0)."""
    return _native.kl_categorical(np.ascontiguousarray(p, dtype=np.float64), np.ascontiguousarray(q, dtype=np.float64))

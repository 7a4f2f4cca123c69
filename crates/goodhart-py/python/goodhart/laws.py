"""The functional forms of Gao, Schulman and Hilton (2022), with d = sqrt(KL):

- ``bon``: ``R(d) = d (alpha - beta d)`` (best-of-n);
- ``rl``: ``R(d) = d (alpha - beta ln d)`` (RL; R(0) = 0);
- ``rl_log1p``: ``R(d) = d (alpha - beta ln(1 + d))`` (a rejected RL alternative);
- ``bon_power``: ``R(d) = d (alpha - beta d^gamma)`` (a rejected best-of-n alternative).

Fits minimise ``sum_i w_i (R(d_i) - r_i)^2``: in closed form for the forms linear in their
parameters, by Levenberg-Marquardt from a gamma grid for ``bon_power``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from goodhart import _native

#: Every form: name -> (formula, parameter names).
FORMS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    name: (formula, tuple(params)) for name, formula, params in _native.law_forms()
}


@dataclass(frozen=True)
class Peak:
    """The maximum of a curve: where (``d``) and how high (``r``)."""

    d: float
    r: float


@dataclass(frozen=True)
class FittedLaw:
    """A form with fitted parameters (``params`` in ``param_names`` order) and its goodness of fit."""

    form: str
    params: Tuple[float, ...]
    param_names: Tuple[str, ...]
    r2: float
    rmse: float
    n_points: int
    fixed_alpha: Optional[float]
    peak: Optional[Peak]

    @property
    def alpha(self) -> float:
        return self.params[0]

    @property
    def beta(self) -> float:
        return self.params[1]

    @property
    def gamma(self) -> Optional[float]:
        return self.params[2] if len(self.params) > 2 else None

    def __call__(self, d) -> np.ndarray:
        """R(d) for an array of d."""
        return evaluate(self.form, self.params, d)


@dataclass(frozen=True)
class SharedAlphaFit:
    """One alpha shared by every curve, and each curve's law at that alpha."""

    alpha: float
    laws: List[FittedLaw]


@dataclass(frozen=True)
class Extrapolation:
    """A fit on d <= d_cut and its errors on the held-out points beyond."""

    fit: FittedLaw
    rmse_beyond: Optional[float]
    max_abs_error_beyond: Optional[float]
    n_beyond: int


@dataclass(frozen=True)
class LinearFit:
    """``coef = intercept + slope * log10(N)``."""

    intercept: float
    slope: float
    r2: float

    def predict(self, n_params) -> np.ndarray:
        return self.intercept + self.slope * np.log10(np.asarray(n_params, dtype=np.float64))


def _f64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _law(raw: dict) -> FittedLaw:
    peak = raw.pop("peak")
    raw["params"] = tuple(raw["params"])
    raw["param_names"] = tuple(raw["param_names"])
    return FittedLaw(peak=None if peak is None else Peak(*peak), **raw)


def fit(
    form: str,
    d,
    r,
    *,
    weights=None,
    fixed_alpha: Optional[float] = None,
    initial: Optional[Sequence[float]] = None,
) -> FittedLaw:
    """Fits ``form`` to points (d_i, r_i) by weighted least squares.

    ``fixed_alpha`` holds alpha and fits the rest; ``initial`` starts Levenberg-Marquardt from a
    full parameter vector. Points at d = 0 are allowed (every form is 0 there).
    """
    w = None if weights is None else _f64(weights)
    init = None if initial is None else [float(x) for x in initial]
    alpha = None if fixed_alpha is None else float(fixed_alpha)
    return _law(_native.law_fit(form, _f64(d), _f64(r), w, alpha, init))


def fit_shared_alpha(form: str, curves: Sequence[Tuple[np.ndarray, np.ndarray]]) -> SharedAlphaFit:
    """Fits several curves ``[(d, r), ...]`` with one alpha and a beta each (the paper's RL fits
    across RM sizes): one least-squares solve of ``sum over curves and points (R(d) - r)^2``."""
    alpha, laws = _native.law_fit_shared_alpha(form, [(_f64(d), _f64(r)) for d, r in curves])
    return SharedAlphaFit(alpha=alpha, laws=[_law(law) for law in laws])


def evaluate(form: str, params: Sequence[float], d) -> np.ndarray:
    """R(d) of ``form`` with ``params`` for an array of d >= 0."""
    return _native.law_eval(form, [float(p) for p in params], _f64(np.atleast_1d(d)))


def peak(form: str, params: Sequence[float], within: Optional[Tuple[float, float]] = None) -> Optional[Peak]:
    """The curve's maximum: closed form (``bon``: d* = alpha / (2 beta), R* = alpha^2 / (4 beta);
    ``rl``: d* = exp(alpha / beta - 1), R* = beta d*), or the numeric maximum over ``within``.
    None when the curve has no interior maximum."""
    found = _native.law_peak(form, [float(p) for p in params], within)
    return None if found is None else Peak(*found)


def extrapolate(form: str, d, r, d_cut: float, *, weights=None, fixed_alpha: Optional[float] = None) -> Extrapolation:
    """Fits ``form`` on the points with d <= ``d_cut`` and scores its prediction of the rest:
    RMSE and largest absolute error beyond the cut."""
    w = None if weights is None else _f64(weights)
    alpha = None if fixed_alpha is None else float(fixed_alpha)
    raw = _native.law_extrapolate(form, _f64(d), _f64(r), float(d_cut), w, alpha)
    raw["fit"] = _law(raw["fit"])
    return Extrapolation(**raw)


def log_linear_regression(params_count, coef) -> LinearFit:
    """Ordinary least squares of a coefficient on log10 of RM size (the paper's figures 3 and 4)."""
    return LinearFit(*_native.log_linear_regression(_f64(params_count), _f64(coef)))


def iterated_rl(alpha: float, beta: float, d, k: int) -> np.ndarray:
    """Iterated RLHF (section 4.3): k rounds of d/k each with a fresh RM,
    ``R_k(d) = d (alpha - beta ln d + beta ln k)``."""
    return _native.iterated_rl(float(alpha), float(beta), _f64(np.atleast_1d(d)), int(k))

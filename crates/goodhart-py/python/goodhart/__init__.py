"""goodhart: measure reward-model overoptimisation from Python.

The numbers are computed by goodhart's Rust crates (goodhart-bon, goodhart-kl, goodhart-laws,
goodhart-data, goodhart-findings); this package passes NumPy arrays to them without copying where it can.

- Best-of-n: :func:`bon_curves` (the unbiased estimator over pools, with standard errors and
  bootstrap intervals), :func:`bon_pool`, :func:`log_grid`, :func:`kl_bon`,
  :func:`n_for_kl_bon`, :func:`kl_bon_discrete`, :func:`kl_bon_from_pool`, Beirami et al.'s
  :func:`kl_bon_beirami` and :func:`kl_bon_beirami_from_pool`; the best-of-n family
  on a pool (best-of-n, Best-of-Poisson, soft best-of-n): :func:`pool_selection`,
  :func:`kl_from_pool_selection`, :func:`kl_best_of_poisson`.
- KL: :func:`kl_token`, :func:`kl_sequences`, :func:`kl_batch`, :func:`kl_summary`,
  :func:`kl_categorical`.
- Laws: :func:`fit`, :func:`fit_shared_alpha`, :func:`evaluate`, :func:`peak`,
  :func:`extrapolate`, :func:`log_linear_regression`, :func:`iterated_rl`, :data:`FORMS`.
- Your own runs: :func:`analyze` (a file or a data frame of best-of-n pools or PPO logs).
- The paper's findings checked on results: :mod:`goodhart.findings` (figure 1's checks on a
  ``fig1.json``, the gold's trusted range along every curve of a results table).

Every bad input raises :class:`GoodhartError` (a ``ValueError``) with a message that names the
argument and the fix.
"""

from goodhart._native import GoodhartError, __version__
from goodhart.bon import (
    BonCurves,
    bon_curves,
    bon_pool,
    kl_best_of_poisson,
    kl_bon,
    kl_bon_beirami,
    kl_bon_beirami_from_pool,
    kl_bon_discrete,
    kl_bon_from_pool,
    kl_from_pool_selection,
    log_grid,
    n_for_kl_bon,
    pool_selection,
)
from goodhart import findings
from goodhart.data import Analysis, analyze
from goodhart.kl import Estimate, KlSummary, kl_batch, kl_categorical, kl_sequences, kl_summary, kl_token
from goodhart.laws import (
    FORMS,
    Extrapolation,
    FittedLaw,
    LinearFit,
    Peak,
    SharedAlphaFit,
    evaluate,
    extrapolate,
    fit,
    fit_shared_alpha,
    iterated_rl,
    log_linear_regression,
    peak,
)

__all__ = [
    "GoodhartError",
    "__version__",
    "findings",
    "BonCurves",
    "bon_curves",
    "bon_pool",
    "kl_bon",
    "kl_bon_beirami",
    "kl_bon_beirami_from_pool",
    "kl_bon_discrete",
    "kl_bon_from_pool",
    "kl_best_of_poisson",
    "pool_selection",
    "kl_from_pool_selection",
    "log_grid",
    "n_for_kl_bon",
    "Estimate",
    "KlSummary",
    "kl_batch",
    "kl_categorical",
    "kl_sequences",
    "kl_summary",
    "kl_token",
    "FORMS",
    "Extrapolation",
    "FittedLaw",
    "LinearFit",
    "Peak",
    "SharedAlphaFit",
    "evaluate",
    "extrapolate",
    "fit",
    "fit_shared_alpha",
    "iterated_rl",
    "log_linear_regression",
    "peak",
    "Analysis",
    "analyze",
]

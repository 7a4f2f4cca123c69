"""The paper's findings checked on your results, by the same Rust code as ``cargo xtask verify``.

- :func:`fig1_checks`: every check of figure 1 on a ``fig1.json`` (what ``cargo xtask reproduce
  fig1`` writes), the verdicts ``cargo xtask verify fig1`` prints.
- :func:`trusted_range`: how far along one curve the gold can be trusted: up to the point before
  the first one at which gold and the true score (the rubric) moved in opposite directions from
  an earlier point, each by more than 2 standard errors.
- :func:`trusted_ranges` and :func:`check_gold_holds`: the same for every curve of a results
  table (``<target>.parquet`` or ``.csv``, a data frame or a dict of columns), a PPO cell's
  trajectories read together (:func:`over_runs`).
- :func:`check_rl_spends_more_kl`: finding 4 on a results table, as ``cargo xtask verify``.
- :func:`tail_index`: Hill's estimate of how heavy a score's right tail is.
- :func:`read_table`: a results file as columns.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from goodhart import _native

#: The columns that name a curve in a results table: its rows are one curve's points.
CURVE_COLUMNS = ("experiment", "method", "rm_size", "data_size", "policy_size", "kl_penalty", "seed")


@dataclass(frozen=True)
class Check:
    """One check: whether it ``applies`` to these results, whether it ``passed``, and the numbers
    it read (``detail``). A check that does not apply neither passes nor fails."""

    name: str
    applies: bool
    passed: bool
    detail: str

    def __str__(self) -> str:
        verdict = "N/A " if not self.applies else ("PASS" if self.passed else "FAIL")
        return f"{verdict}  {self.name}: {self.detail}"


@dataclass(frozen=True)
class TrustedRange:
    """How far along a curve the gold orders its points as the rubric does.

    ``up_to``: the largest d trusted; ``measured_to``: the largest d measured; ``worst_beyond``:
    the largest disagreement beyond ``up_to``, in standard errors (NaN when the whole curve is
    trusted); ``threshold``: the standard errors each score must move for a disagreement."""

    up_to: float
    measured_to: float
    worst_beyond: float
    threshold: float
    description: str

    @property
    def covers_curve(self) -> bool:
        return self.up_to >= self.measured_to

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class TailIndex:
    """Hill's estimate ``gamma`` of a right tail's index (larger is heavier; a Gaussian sample's
    falls towards 0 as it grows) from the ``k`` largest exceedances over the median of ``n``
    values, with its 90% interval ``[lo, hi]``."""

    gamma: float
    lo: float
    hi: float
    k: int
    n: int


def tail_index(values: Any) -> Optional[TailIndex]:
    """Hill's tail index of ``values`` (any shape, NaN ignored) from its ``round(sqrt(n))``
    largest exceedances over the median, as figure 1's reports give it for each proxy and its
    error. ``None`` with fewer than 16 finite values or a flat top."""
    flat = np.ascontiguousarray(np.asarray(values, dtype=np.float64).ravel())
    found = _native.tail_index(flat)
    return None if found is None else TailIndex(*found)


def _checks(rows: List[Tuple[str, bool, bool, str]]) -> List[Check]:
    return [Check(name, applies, passed, detail) for name, applies, passed, detail in rows]


def fig1_checks(source: Union[str, "os.PathLike[str]"]) -> List[Check]:
    """Every check of figure 1 on ``source``: a ``fig1.json``, or the results folder holding one
    (``results/fig1/laptop``, ``.../seed-1``)."""
    path = os.fspath(source)
    if os.path.isdir(path):
        path = os.path.join(path, "fig1.json")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise _native.GoodhartError(
            f"cannot read {path} ({e.strerror}): give a fig1.json or the folder "
            "`cargo xtask reproduce fig1` wrote it to"
        ) from None
    return _checks(_native.fig1_checks(text))


def _array(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise _native.GoodhartError(f"{name} must be one-dimensional, got shape {array.shape}")
    return np.ascontiguousarray(array)


def trusted_range(d: Any, gold: Any, gold_se: Any, rubric: Any, rubric_se: Any) -> Optional[TrustedRange]:
    """The gold's trusted range along one curve: ``d = sqrt(KL)`` of each point (any order), the
    gold's and the rubric's means and standard errors there. ``None`` without rubric scores
    (a NaN rubric mean)."""
    found = _native.trusted_range(
        _array(d, "d"),
        _array(gold, "gold"),
        _array(gold_se, "gold_se"),
        _array(rubric, "rubric"),
        _array(rubric_se, "rubric_se"),
    )
    return None if found is None else TrustedRange(*found)


def read_table(source: Union[str, "os.PathLike[str]", Any]) -> Dict[str, List[Any]]:
    """A results table as columns: a file (``.parquet``, ``.csv``, ``.jsonl``) read by goodhart's
    Rust reader, a polars or pandas data frame, or a dict of columns (returned as lists)."""
    if isinstance(source, (str, os.PathLike)):
        return {name: values for name, values in json.loads(_native.read_columns(os.fspath(source)))}
    if isinstance(source, dict):
        return {str(k): list(np.asarray(v).tolist()) if hasattr(v, "__array__") else list(v) for k, v in source.items()}
    if hasattr(source, "columns") and hasattr(source, "__getitem__"):
        return {str(c): list(source[c].to_list() if hasattr(source[c], "to_list") else source[c]) for c in source.columns}
    raise _native.GoodhartError(
        f"cannot read a {type(source).__name__}: give a path, a polars or pandas DataFrame, or a dict of columns"
    )


def _number(x: Any) -> float:
    return math.nan if x is None else float(x)


def over_runs(means: Any, ses: Any) -> Tuple[np.ndarray, np.ndarray]:
    """Several runs of one cell (PPO trajectories against one proxy) read as one curve:
    ``[run, point]`` means and standard errors in, the mean over runs and a standard error that
    holds the spread between them out (the between-run one, never below the within-run one), as
    every PPO verdict of ``cargo xtask verify`` reads its trajectories."""
    means = np.ascontiguousarray(np.atleast_2d(np.asarray(means, dtype=np.float64)))
    ses = np.ascontiguousarray(np.atleast_2d(np.asarray(ses, dtype=np.float64)))
    return _native.over_runs(means, ses)


def curves(table: Any) -> Dict[Tuple[Any, ...], Dict[str, np.ndarray]]:
    """The curves of a results table, one per cell: rows that agree on every column of
    :data:`CURVE_COLUMNS` but ``seed`` (in order of first appearance) are one cell, and its seeds
    are its runs (PPO's trajectories: the table holds each one's rows), read as one curve with
    :func:`over_runs`. Each curve: ``kl`` (the mean over runs), ``sqrt_kl`` (of it), ``gold``, ``gold_se``,
    ``rubric``, ``rubric_se`` and ``runs``; a null is NaN."""
    columns = read_table(table)
    wanted = ("kl", "gold", "gold_se", "rubric", "rubric_se")
    missing = [c for c in ("method", "rm_size") + wanted if c not in columns]
    if missing:
        raise _native.GoodhartError(
            f"the table has no column {', '.join(missing)}: give a `<target>.parquet` or `.csv` of `cargo xtask reproduce`"
        )
    keys = [c for c in CURVE_COLUMNS if c in columns and c != "seed"]
    seeds = columns.get("seed", [0] * len(columns["method"]))
    cells: Dict[Tuple[Any, ...], Dict[Any, List[int]]] = {}
    for i in range(len(columns["method"])):
        cell = cells.setdefault(tuple(columns[k][i] for k in keys), {})
        cell.setdefault(seeds[i], []).append(i)
    out = {}
    for key, runs in cells.items():
        lengths = {len(rows) for rows in runs.values()}
        if len(lengths) != 1:
            raise _native.GoodhartError(
                f"the runs of {dict(zip(keys, key))} have different numbers of points ({sorted(lengths)}): "
                "a cell's runs must share one schedule"
            )
        table_of = lambda c: np.array([[_number(columns[c][i]) for i in rows] for rows in runs.values()])
        kl, _ = over_runs(table_of("kl"), np.zeros_like(table_of("kl")))
        gold, gold_se = over_runs(table_of("gold"), table_of("gold_se"))
        rubric, rubric_se = over_runs(table_of("rubric"), table_of("rubric_se"))
        out[key] = {
            "kl": kl,
            "sqrt_kl": np.sqrt(np.maximum(kl, 0.0)),
            "gold": gold,
            "gold_se": gold_se,
            "rubric": rubric,
            "rubric_se": rubric_se,
            "runs": np.array([len(runs)] * len(kl)),
        }
    return out


def curves_by_size(table: Any) -> Dict[Tuple[str, str], Dict[str, np.ndarray]]:
    """:func:`curves` by ``(method, rm_size)``.

    A table with several cells of one method and size (other data sizes, policies or KL
    penalties) is refused: select one with your data frame library first."""
    found: Dict[Tuple[str, str], Dict[str, np.ndarray]] = {}
    columns = read_table(table)
    keys = [c for c in CURVE_COLUMNS if c in columns and c != "seed"]
    for key, c in curves(columns).items():
        named = dict(zip(keys, key))
        short = (str(named["method"]), str(named["rm_size"]))
        if short in found:
            raise _native.GoodhartError(
                f"the table has several {short[0]} cells against {short[1]} (see the columns "
                f"{', '.join(k for k in keys if k not in ('method', 'rm_size'))}): select one first"
            )
        found[short] = c
    return found


def trusted_ranges(table: Any) -> Dict[Tuple[str, str], Optional[TrustedRange]]:
    """:func:`trusted_range` of every curve of a results table (:func:`curves`: a PPO cell's
    trajectories read together), by ``(method, rm_size)`` (:func:`curves_by_size`)."""
    return {
        short: trusted_range(c["sqrt_kl"], c["gold"], c["gold_se"], c["rubric"], c["rubric_se"])
        for short, c in curves_by_size(table).items()
    }


def check_gold_holds(table: Any) -> List[Check]:
    """``gold holds along <method> <size>`` for every curve of a results table, as ``cargo xtask
    verify`` prints it: passed when the gold is trusted along the whole curve; not applicable
    without rubric scores."""
    out = []
    for (method, size), t in trusted_ranges(table).items():
        name = f"gold holds along {method} {size}"
        if t is None:
            out.append(Check(name, False, False, "the gold's fidelity was not measured (no rubric scores)"))
        else:
            out.append(Check(name, True, t.covers_curve, t.description))
    return out


def check_rl_spends_more_kl(table: Any) -> List[Check]:
    """Finding 4, ``F4 rl <size>: more KL than best-of-n for the same gold``, for every proxy size
    with both a best-of-n and a PPO curve in a results table (a PPO cell's trajectories read
    together, :func:`curves`), as ``cargo xtask verify`` prints it: RL needs at least twice
    best-of-n's KL to reach a gold level 80% of the way from their start to the lower of their
    peaks; not applicable where either curve leaves the gold's trusted range."""
    by = curves_by_size(table)
    out = []
    for (method, size), rl in by.items():
        bon = by.get(("bon", size))
        if method != "rl" or bon is None:
            continue
        columns_of = lambda c: tuple(np.ascontiguousarray(c[k], dtype=np.float64) for k in ("kl", "gold", "gold_se", "rubric", "rubric_se"))
        out.append(Check(*_native.kl_spent_check(size, columns_of(bon), columns_of(rl))))
    return out


__all__ = [
    "CURVE_COLUMNS",
    "Check",
    "TrustedRange",
    "check_gold_holds",
    "check_rl_spends_more_kl",
    "curves",
    "curves_by_size",
    "fig1_checks",
    "over_runs",
    "TailIndex",
    "tail_index",
    "read_table",
    "trusted_range",
    "trusted_ranges",
]

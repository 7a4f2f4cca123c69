"""Your own runs through goodhart's estimator, fits and figures: best-of-n pools or PPO logs from
a file (Parquet, CSV, JSON lines) or a data frame (polars, pandas, or a dict of columns)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from goodhart import _native
from goodhart.kl import Estimate


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyze` found.

    ``records`` and ``fits`` are columns (``dict`` of lists) in the schema of every
    ``reproduce`` target's ``<target>.parquet`` and ``<target>_fits.parquet``:
    ``polars.DataFrame(a.records)`` or ``pandas.DataFrame(a.records)`` opens them. ``report`` is
    the Markdown report. ``offsets`` is what was subtracted from each curve so that it starts at
    0: ``(curve, gold, proxy)``.
    """

    file: str
    kind: str
    prompts: int
    pool_sizes: Tuple[int, int]
    pool_kl: Optional[Estimate]
    offsets: List[Tuple[str, float, float]]
    records: Dict[str, List[Any]]
    fits: Dict[str, List[Any]]
    report: str


def _columns(rows: List[Dict[str, Any]]) -> Dict[str, List[Any]]:
    names: List[str] = []
    for row in rows:
        names.extend(k for k in row if k not in names)
    return {name: [row.get(name) for row in rows] for name in names}


def _column(values: Any) -> Any:
    """A column as float64 when it is numeric (a null becomes NaN, read as missing), else a list."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.dtype.kind in "iuf":
        return np.ascontiguousarray(array, dtype=np.float64)
    return list(values)


def _frame_columns(frame: Any) -> List[Tuple[str, Any]]:
    if isinstance(frame, dict):
        return [(str(k), _column(v)) for k, v in frame.items()]
    if hasattr(frame, "columns") and hasattr(frame, "__getitem__"):
        return [(str(c), _column(frame[c])) for c in frame.columns]
    raise _native.GoodhartError(
        f"cannot analyse a {type(frame).__name__}: give a path, a polars or pandas DataFrame, or a dict of columns"
    )


def analyze(
    source: Union[str, "os.PathLike[str]", Any],
    out: Union[str, "os.PathLike[str]", None] = None,
    *,
    grid_points: int = 12,
    max_n: Optional[int] = None,
    bootstrap: int = 200,
    seed: int = 0,
    label: str = "analyze",
) -> Analysis:
    """Analyses best-of-n pools or PPO logs as ``cargo xtask analyze`` does.

    Best-of-n pools: columns ``prompt_id, proxy, gold``, optional ``sample_id``, and
    ``logp_policy`` with ``logp_ref`` or a ``kl`` column. PPO logs: ``step, kl, proxy, gold``,
    optional ``run``. Curves by the unbiased estimator (``grid_points`` log-spaced n up to
    ``max_n``, default the smallest pool), recentred to start at 0, the paper's form fitted to each
    with ``bootstrap`` resamples for 90% intervals (of prompts for best-of-n, of logged steps for
    PPO). With ``out``, writes ``analysis.csv``, ``.parquet``, ``_fits.parquet``, ``.json``,
    ``report.md``, ``.svg`` and ``.png`` there.
    """
    out_path = None if out is None else os.fspath(out)
    opts = (int(grid_points), None if max_n is None else int(max_n), int(bootstrap), int(seed), str(label))
    if isinstance(source, (str, os.PathLike)):
        raw, report = _native.analyze_file(os.fspath(source), out_path, *opts)
    else:
        name = f"<{type(source).__name__}>"
        raw, report = _native.analyze_columns(_frame_columns(source), name, out_path, *opts)
    a = json.loads(raw)
    pool_kl = a.get("pool_kl")
    return Analysis(
        file=a["file"],
        kind=a["kind"],
        prompts=a["prompts"],
        pool_sizes=tuple(a["pool_sizes"]),
        pool_kl=None if pool_kl is None else Estimate(**pool_kl),
        offsets=[tuple(o) for o in a["offsets"]],
        records=_columns(a["records"]),
        fits=_columns(a["fits"]),
        report=report,
    )

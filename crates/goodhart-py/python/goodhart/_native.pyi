"""Type stubs of the extension module; the documented API is the Python package around it."""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class GoodhartError(ValueError): ...

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
Bool = npt.NDArray[np.bool_]
_Path = Union[str, PathLike[str]]

def bon_log_grid(max_n: int, points: int) -> List[int]: ...
def bon_curves(
    proxy: Sequence[F64],
    gold: Sequence[F64],
    ns: Sequence[int],
    extra: Optional[Sequence[F64]] = None,
    bootstrap: int = 0,
    level: float = 0.9,
    seed: int = 0,
) -> Dict[str, np.ndarray]: ...
def bon_pool(proxy: F64, gold: F64, ns: Sequence[int]) -> Tuple[F64, F64]: ...
def kl_bon(n: int) -> float: ...
def n_for_kl_bon(kl: float) -> float: ...
def kl_bon_discrete(probs: F64, n: int) -> float: ...
def kl_bon_from_pool(scores: F64, n: int) -> float: ...
def kl_token(logp_policy: np.ndarray, logp_ref: np.ndarray, estimator_name: str) -> np.ndarray: ...
def kl_sequences(logp_policy: F32, logp_ref: F32, mask: Bool, estimator_name: str) -> F64: ...
def kl_batch(logp_policy: F32, logp_ref: F32, mask: Bool, estimator_name: str) -> Tuple[float, float, int]: ...
def kl_categorical(p: F64, q: F64) -> float: ...
def law_forms() -> List[Tuple[str, str, List[str]]]: ...
def law_fit(
    form_name: str,
    d: F64,
    r: F64,
    weights: Optional[F64] = None,
    fixed_alpha: Optional[float] = None,
    initial: Optional[Sequence[float]] = None,
) -> Dict[str, Any]: ...
def law_fit_shared_alpha(form_name: str, curves: Sequence[Tuple[F64, F64]]) -> Tuple[float, List[Dict[str, Any]]]: ...
def law_eval(form_name: str, params: Sequence[float], d: F64) -> F64: ...
def law_peak(
    form_name: str, params: Sequence[float], within: Optional[Tuple[float, float]] = None
) -> Optional[Tuple[float, float]]: ...
def law_extrapolate(
    form_name: str,
    d: F64,
    r: F64,
    d_cut: float,
    weights: Optional[F64] = None,
    fixed_alpha: Optional[float] = None,
) -> Dict[str, Any]: ...
def log_linear_regression(params_count: F64, coef: F64) -> Tuple[float, float, float]: ...
def iterated_rl(alpha: float, beta: float, d: F64, k: int) -> F64: ...
def analyze_file(
    path: _Path,
    out: Optional[_Path] = None,
    grid_points: int = 12,
    max_n: Optional[int] = None,
    bootstrap: int = 200,
    seed: int = 0,
    label: str = "analyze",
) -> Tuple[str, str]: ...
def analyze_columns(
    columns: Sequence[Tuple[str, Any]],
    name: str,
    out: Optional[_Path] = None,
    grid_points: int = 12,
    max_n: Optional[int] = None,
    bootstrap: int = 200,
    seed: int = 0,
    label: str = "analyze",
) -> Tuple[str, str]: ...

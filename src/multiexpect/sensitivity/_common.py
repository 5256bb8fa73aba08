"""Checks and criterion weights shared by the sensitivity analyses."""

from __future__ import annotations

import numpy as np

from ..engine import check_weights

WEIGHT_NAMES = ("delta", "relative", "absolute")


def check_method_args(method: str, options: dict, weights, n_quantities: int):
    """Refuse ``options`` and non-default ``weights`` for a baseline method, check ``weights``.

    Returns ``weights``: a name, or the checked positive numbers.
    """
    if method != "aiscv" and options:
        raise ValueError(f"method {method!r} takes no options, got {sorted(options)}")
    if method != "aiscv" and not (isinstance(weights, str) and weights == "delta"):
        raise ValueError("'weights' applies to method 'aiscv' only")
    if isinstance(weights, str):
        if weights not in WEIGHT_NAMES:
            raise ValueError(
                f"'weights' must be 'delta', 'relative', 'absolute' or {n_quantities} "
                f"positive numbers, got {weights!r}"
            )
        return weights
    return check_weights(weights, n_quantities)


def floored_delta_weights(jac: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """``w_j = sum_k (∂S_k/∂θ_j)^2`` from the Jacobian ``jac`` ((K, J)), each at least
    ``floor * max w``; ones when that is not finite or all zero."""
    w = np.sum(jac**2, axis=0)
    if not np.all(np.isfinite(w)) or np.max(w) <= 0:
        return np.ones(jac.shape[1])
    return np.maximum(w, floor * np.max(w))

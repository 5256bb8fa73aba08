"""Criterion weights shared by the sensitivity analyses."""

from __future__ import annotations

import numpy as np


def floored_delta_weights(jac: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """``w_j = sum_k (∂S_k/∂θ_j)^2`` from the Jacobian ``jac`` ((K, J)), each at least
    ``floor * max w``; ones when that is not finite or all zero."""
    w = np.sum(jac**2, axis=0)
    if not np.all(np.isfinite(w)) or np.max(w) <= 0:
        return np.ones(jac.shape[1])
    return np.maximum(w, floor * np.max(w))

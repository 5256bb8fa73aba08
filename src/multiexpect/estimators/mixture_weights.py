"""Mixture weights ``α`` by minimising the convex weighted second moment on the simplex.

With ``β`` fixed and ``q_ij / h_i = a_ij - β_j·b_i`` (see ``control_variates``),

    V(α) = (1/n) sum_i Q_i / (α·b_i),   Q_i = sum_j w_j (a_ij - β_j·b_i)^2 ,

which is convex in ``α`` (``1/t`` is convex, ``α·b_i`` linear), with gradient

    ∂V/∂α_k = -(1/n) sum_i Q_i b_ik / (α·b_i)^2 .

A lower bound ``floor`` on some weights (the defensive component) is a box constraint.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize

__all__ = ["optimise_alpha", "second_moment"]


def second_moment(alpha: np.ndarray, q: np.ndarray, b: np.ndarray) -> float:
    """``V(α)`` as above."""
    s = b @ alpha
    return float(np.mean(q / np.maximum(s, 1e-300)))


def optimise_alpha(q: np.ndarray, b: np.ndarray, start: np.ndarray,
                   lower: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Minimise ``V(α)`` over the simplex (with optional lower bounds).

    Returns
    -------
    (alpha, success)
        The minimiser, or ``start`` when the optimiser failed or did not improve on it.
    """
    k = b.shape[1]
    lower = np.zeros(k) if lower is None else np.asarray(lower, dtype=float)
    start = np.maximum(np.asarray(start, dtype=float), lower)
    start = start / start.sum()
    if k == 1:
        return np.ones(1), True
    scale = second_moment(start, q, b)
    if not np.isfinite(scale) or scale <= 0:
        return start, False
    n = q.shape[0]

    def fun(alpha):
        s = np.maximum(b @ alpha, 1e-300)
        value = np.mean(q / s) / scale
        grad = -(b.T @ (q / s**2)) / (n * scale)
        return value, grad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(
            fun, start, jac=True, method="SLSQP",
            bounds=[(lo, 1.0) for lo in lower],
            constraints=[{"type": "eq", "fun": lambda a: np.sum(a) - 1.0,
                          "jac": lambda a: np.ones_like(a)}],
            options={"maxiter": 200, "ftol": 1e-10},
        )
    alpha = np.clip(res.x, lower, None)
    alpha = alpha / alpha.sum()
    if not res.success or not np.all(np.isfinite(alpha)):
        return start, False
    if second_moment(alpha, q, b) > second_moment(start, q, b):
        return start, False
    return alpha, True

"""Mixture weights ``α`` by minimising the convex weighted second moment on the simplex.

With ``β`` fixed and ``q_ij / h_i = a_ij - β_j·b_i``,

    V(α) = (1/n) sum_i Q_i / (α·b_i),   Q_i = sum_j w_j (a_ij - β_j·b_i)^2 ,

which is convex in ``α`` (``1/t`` is convex, ``α·b_i`` linear), to be minimised over
``α >= l``, ``sum α = 1`` (the floors ``l``, ``L = sum l < 1``).

The solver turns this into a problem with bounds only, which L-BFGS-B solves in a few dozen
evaluations of ``V`` and its gradient (two matrix-vector products each), where a first-order
scheme on the simplex needs hundreds on the flat, ill-conditioned criteria of nested
components (moments of one Gaussian):

1. ``α = l + (1 - L) p`` with ``p`` on the plain simplex, and since ``sum p = 1``,
   ``α·b_i = c_i·p`` with ``c_ik = l·b_i + (1 - L) b_ik``: no floors left;
2. ``V`` is then homogeneous of degree -1 in ``p``, so on the cone ``p >= 0``

       F(p) = V(p) + sum_k p_k

   is least at ``p* = sqrt(V(p̂)) p̂`` with ``p̂`` the simplex minimiser, and ``min F = 2
   sqrt(min V)``: minimising ``F`` over ``p >= 0`` (bounds only) and normalising gives
   ``p̂``. ``Q`` is divided by ``V`` at the start, so that ``F`` is of order one and the
   stopping tolerances are relative.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

__all__ = ["optimise_alpha", "second_moment"]


def second_moment(alpha: np.ndarray, q: np.ndarray, b: np.ndarray) -> float:
    """``V(α)`` as above."""
    s = b @ alpha
    return float(np.mean(q / np.maximum(s, 1e-300)))


def _on_floors(start: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``p`` on the simplex with ``l + (1 - L) p`` the point of the floored simplex nearest
    ``start`` (its parts above the floors, normalised; uniform if there are none)."""
    excess = np.maximum(np.asarray(start, dtype=float) - lower, 0.0)
    excess = np.where(np.isfinite(excess), excess, 0.0)
    total = excess.sum()
    return excess / total if total > 0 else np.full(excess.size, 1.0 / excess.size)


#: Rows of ``c`` per block of the objective: a block (about this many entries, 2 MB) stays in
#: cache between its two products, so ``c`` is read from memory once per evaluation.
BLOCK_ENTRIES = 1 << 18


def _objective(c: np.ndarray, q: np.ndarray):
    """``F(p) = mean_i q_i / (c_i·p) + sum p`` and its gradient ``1 - mean_i c_i q_i /
    (c_i·p)^2``: in one pass when ``c`` fits a block, else block of rows by block."""
    n, k = c.shape
    rows = max(256, BLOCK_ENTRIES // k)

    def whole(p: np.ndarray) -> tuple[float, np.ndarray]:
        s = np.maximum(c @ p, 1e-300)
        r = q / s
        return float(r.mean() + p.sum()), 1.0 - (c.T @ (r / s)) / n

    def blocked(p: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(k)
        for lo in range(0, n, rows):
            block = c[lo:lo + rows]
            s = np.maximum(block @ p, 1e-300)
            r = q[lo:lo + rows] / s
            total += r.sum()
            grad += block.T @ (r / s)
        return float(total / n + p.sum()), 1.0 - grad / n

    return whole if n <= rows else blocked


def optimise_alpha(q: np.ndarray, b: np.ndarray, start: np.ndarray,
                   lower: np.ndarray | None = None, *, max_iter: int = 500,
                   tol: float = 1e-10) -> tuple[np.ndarray, bool]:
    """Minimise ``V(α)`` over the simplex with lower bounds ``lower`` (module docstring).

    ``tol``: L-BFGS-B stops when an iteration lowers ``F`` (of order one) by less than
    ``tol`` relative, or its projected gradient is below ``1e-5``.

    Returns
    -------
    (alpha, success)
        The minimiser and whether L-BFGS-B converged. When the result is not better than
        ``start`` (or not finite), ``start`` (on the floors) is returned with
        ``success=False``.
    """
    k = b.shape[1]
    lower = np.zeros(k) if lower is None else np.asarray(lower, dtype=float)
    floors = float(lower.sum())
    if floors >= 1.0:
        bound = np.maximum(lower, 0.0)
        return bound / bound.sum(), k == 1
    start = lower + (1.0 - floors) * _on_floors(start, lower)
    if k == 1:
        return np.ones(1), True
    start_value = second_moment(start, q, b)
    if not np.isfinite(start_value) or start_value <= 0:
        return start, False
    c = (1.0 - floors) * b  # α·b_i = c_i·p when sum p = 1: c_i = l·b_i + (1 - L) b_i
    c += (b @ lower)[:, None]
    objective = _objective(c, q / start_value)
    res = minimize(objective, _on_floors(start, lower), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None)] * k,
                   options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-5})
    p = res.x
    alpha = lower + (1.0 - floors) * p / p.sum() if p.sum() > 0 else start
    if not np.all(np.isfinite(alpha)) or second_moment(alpha, q, b) > start_value:
        return start, False
    return alpha, bool(res.success)

"""Mixture weights ``α`` by minimising the convex weighted second moment on the simplex.

With ``β`` fixed and ``q_ij / h_i = a_ij - β_j·b_i``,

    V(α) = (1/n) sum_i Q_i / (α·b_i),   Q_i = sum_j w_j (a_ij - β_j·b_i)^2 ,

which is convex in ``α`` (``1/t`` is convex, ``α·b_i`` linear), with gradient

    G_k = -∂V/∂α_k = (1/n) sum_i Q_i b_ik / (α·b_i)^2 ,   sum_k α_k G_k = V .

At the minimum on the simplex, ``G_k = V`` wherever ``α_k`` is free (KKT). The solver is the
multiplicative (exponentiated-gradient) fixed point ``α_k ← α_k (G_k / V)^{1/2}``, projected
onto the lower bounds and renormalised: each step is two matrix-vector products, so ``K`` in
the hundreds stays cheap (a general constrained solver is far slower, docs/method.md).
"""

from __future__ import annotations

import numpy as np

__all__ = ["optimise_alpha", "second_moment"]


def second_moment(alpha: np.ndarray, q: np.ndarray, b: np.ndarray) -> float:
    """``V(α)`` as above."""
    s = b @ alpha
    return float(np.mean(q / np.maximum(s, 1e-300)))


def _project(alpha: np.ndarray, lower: np.ndarray, positive=None) -> np.ndarray:
    """Closest point (in the multiplicative sense) with ``α >= lower`` and ``sum α = 1``:
    ``α_k = max(lower_k, c y_k)`` with ``c`` such that the sum is one."""
    y = alpha / alpha.sum()
    if positive is None:
        positive = lower > 0
    key = np.divide(y, lower, out=np.full(y.shape, np.inf), where=positive)
    order = np.argsort(key)  # the coordinates clamped first: smallest y / lower
    low, ys = lower[order], y[order]
    fixed = np.concatenate([[0.0], np.cumsum(low)])[:-1]
    rest = np.cumsum(ys[::-1])[::-1]
    c = (1.0 - fixed) / rest  # c if the first m (in order) are clamped
    clamped_ok = c * ys >= low
    m = int(np.argmax(clamped_ok)) if clamped_ok.any() else y.size
    if m >= y.size or fixed[m] >= 1.0:
        bound = np.maximum(lower, 0)
        return bound / bound.sum()
    out = np.maximum(lower, c[m] * y)
    return out / out.sum()


def optimise_alpha(q: np.ndarray, b: np.ndarray, start: np.ndarray,
                   lower: np.ndarray | None = None, *, max_iter: int = 150,
                   tol: float = 1e-4) -> tuple[np.ndarray, bool]:
    """Minimise ``V(α)`` over the simplex with lower bounds ``lower``.

    Returns
    -------
    (alpha, success)
        The minimiser and whether it converged (KKT gap below ``tol``, relative, or no
        further decrease of ``V``). When the
        iterate is not better than ``start`` (or not finite), ``start`` is returned with
        ``success=False``.
    """
    k = b.shape[1]
    lower = np.zeros(k) if lower is None else np.asarray(lower, dtype=float)
    start = _project(np.maximum(np.asarray(start, dtype=float), 1e-300), lower)
    if k == 1:
        return np.ones(1), True
    start_value = second_moment(start, q, b)
    if not np.isfinite(start_value) or start_value <= 0:
        return start, False
    n = q.shape[0]
    alpha = start
    converged = False
    previous = np.inf
    threshold, positive = lower * (1 + 1e-9), lower > 0
    for _ in range(max_iter):
        s = np.maximum(b @ alpha, 1e-300)
        value = np.mean(q / s)
        if value > previous * (1 - 1e-10):
            converged = True  # no further decrease: the fixed point is reached
            break
        previous = value
        grad = (b.T @ (q / s**2)) / n
        free = alpha > threshold
        excess = grad / value - 1.0
        gap = np.abs(excess[free]).max() if free.any() else 0.0
        # bounded coordinates only need a gradient no larger than V
        gap = max(gap, float(excess[~free].max(initial=0.0)))
        if gap < tol:
            converged = True
            break
        alpha = _project(alpha * np.sqrt(np.maximum(grad, 0.0) / value) + 1e-300, lower,
                         positive)
    if not np.all(np.isfinite(alpha)) or second_moment(alpha, q, b) > start_value:
        return start, False
    return alpha, converged or gap < 1e-2

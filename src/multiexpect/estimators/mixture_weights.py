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


#: ``ndarray.sum`` without its Python wrapper (the same pairwise sum).
_add = np.add.reduce

#: Rows of ``c`` per block of the objective: a block (about this many entries, 2 MB) stays in
#: cache between its two products, so ``c`` is read from memory once per evaluation.
BLOCK_ENTRIES = 1 << 18


def _objective(c: np.ndarray, q: np.ndarray):
    """``F(p) = mean_i q_i / (c_i·p) + sum p`` and its gradient ``1 - mean_i c_i q_i /
    (c_i·p)^2``: in one pass when ``c`` fits a block, else block of rows by block."""
    n, k = c.shape
    rows = max(256, BLOCK_ENTRIES // k)

    def whole(p: np.ndarray) -> tuple[float, np.ndarray]:
        # the arithmetic of ``max(c p, tiny)``, ``r = q / s``, ``r.sum() / n`` (what
        # ``r.mean()`` computes) and ``1 - c^T (r / s) / n``, each written over its argument
        s = c @ p
        np.maximum(s, 1e-300, out=s)
        r = np.divide(q, s)
        value = float(_add(r) / n + _add(p))
        grad = c.T @ np.divide(r, s, out=r)
        grad /= n
        return value, np.subtract(1.0, grad, out=grad)

    def blocked(p: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(k)
        for lo in range(0, n, rows):
            block = c[lo:lo + rows]
            s = np.maximum(block @ p, 1e-300)
            r = q[lo:lo + rows] / s
            total += r.sum()
            grad += block.T @ (r / s)
        return float(total / n + p.sum()), 1.0 - grad / n

    chosen = whole if n <= rows else blocked

    def quiet(p: np.ndarray) -> tuple[float, np.ndarray]:
        # where c.p reaches its floor, F and its gradient overflow to inf: the solver steps
        # back, and optimise_alpha keeps the start unless the end is finite and better, so
        # the overflow is expected and not a warning for the user
        with np.errstate(over="ignore", invalid="ignore"):
            return chosen(p)

    return quiet


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
    p, success = _lbfgsb_nonnegative(objective, _on_floors(start, lower), max_iter, tol, GTOL)
    alpha = lower + (1.0 - floors) * p / p.sum() if p.sum() > 0 else start
    if not np.all(np.isfinite(alpha)) or second_moment(alpha, q, b) > start_value:
        return start, False
    return alpha, success


#: L-BFGS-B's bound on the projected gradient (its ``gtol``).
GTOL = 1e-5
#: L-BFGS-B's defaults, as :func:`scipy.optimize.minimize` passes them: corrections kept,
#: line-search steps, evaluations.
_MAXCOR, _MAXLS, _MAXFUN = 10, 20, 15000


def _lbfgsb_nonnegative(objective, x0: np.ndarray, max_iter: int, ftol: float, gtol: float
                        ) -> tuple[np.ndarray, bool]:
    """``argmin F(p)`` over ``p >= 0`` by L-BFGS-B (``objective(p) -> (F, grad)``) and
    whether it converged: SciPy's ``minimize(method="L-BFGS-B", jac=True, bounds=[(0,
    None)] * k)`` with these options, driving SciPy's own ``setulb`` step by step as that
    wrapper does (the same points, values and result), without the wrapper's per-step
    bookkeeping, which costs more than ``F`` on small problems. Through ``minimize`` itself
    when SciPy's ``setulb`` is not the one this was written for."""
    if _setulb is None:
        return _lbfgsb_minimize(objective, x0, max_iter, ftol, gtol)
    try:
        return _lbfgsb_steps(objective, x0, max_iter, ftol, gtol)
    except TypeError:  # another setulb than SciPy 1.15-1.17's: the wrapper itself
        return _lbfgsb_minimize(objective, x0, max_iter, ftol, gtol)


def _lbfgsb_steps(objective, x0, max_iter, ftol, gtol) -> tuple[np.ndarray, bool]:
    """:func:`_lbfgsb_nonnegative` by ``setulb`` step by step."""
    n = x0.size
    x = np.clip(np.asarray(x0, dtype=np.float64).ravel(), 0.0, np.inf)
    last = x.copy()
    value, grad = objective(last.copy())  # as the wrapper's ScalarFunction, at the start
    nfev = 1
    f, g = np.array(0.0), np.zeros(n)
    nbd = np.ones(n, np.int32)  # a lower bound only
    low, up = np.zeros(n), np.zeros(n)
    m = _MAXCOR
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m)
    iwa = np.zeros(3 * n, dtype=np.int32)
    task, ln_task = np.zeros(2, dtype=np.int32), np.zeros(2, dtype=np.int32)
    lsave, isave = np.zeros(4, dtype=np.int32), np.zeros(44, dtype=np.int32)
    dsave = np.zeros(29)
    factr = ftol / np.finfo(float).eps
    iterations = 0
    while True:
        g = g.astype(np.float64)
        _setulb(m, x, low, up, nbd, f, g, factr, gtol, wa, iwa, task, lsave, isave, dsave,
                _MAXLS, ln_task)
        if task[0] == 3:  # F and its gradient at x (kept while x does not move)
            # the lists compare as np.array_equal does (0.0 == -0.0, NaN != NaN), cheaper
            if x.tolist() != last.tolist():
                last = x.copy()
                value, grad = objective(last)  # which reads p, never writes it
                nfev += 1
            f, g = value, grad
        elif task[0] == 1:  # a new iteration
            iterations += 1
            if iterations >= max_iter:
                task[0], task[1] = 5, 504
            elif nfev > _MAXFUN:
                task[0], task[1] = 5, 502
        else:
            break
    return x, bool(task[0] == 4)


def _lbfgsb_minimize(objective, x0, max_iter, ftol, gtol) -> tuple[np.ndarray, bool]:
    """:func:`_lbfgsb_nonnegative` through :func:`scipy.optimize.minimize`."""
    res = minimize(objective, x0, jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None)] * x0.size,
                   options={"maxiter": max_iter, "ftol": ftol, "gtol": gtol})
    return res.x, bool(res.success)


def _find_setulb():
    """SciPy's compiled L-BFGS-B step on the SciPy versions whose ``setulb`` this driver was
    checked against (1.15-1.17, the C port: ``setulb(m, x, l, u, nbd, f, g, factr, pgtol,
    wa, iwa, task, lsave, isave, dsave, maxls, ln_task)``), else None: a private routine
    may change its meaning without changing its signature, so a later SciPy goes through
    :func:`scipy.optimize.minimize` until it is checked (``tests/unit/test_estimators.py``
    compares the two)."""
    try:
        import scipy
        from scipy.optimize import _lbfgsb
        from scipy.optimize._lbfgsb_py import _minimize_lbfgsb  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    major, minor = (int(v) for v in scipy.__version__.split(".")[:2])
    return _lbfgsb.setulb if (1, 15) <= (major, minor) < (1, 18) else None


_setulb = _find_setulb()

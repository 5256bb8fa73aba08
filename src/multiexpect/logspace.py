"""Row-wise log-sum-exp, the mixtures' and recycled sample's workhorse, without overhead.

``log sum_k exp(a_ik) = m_i + log sum_k exp(a_ik - m_i)`` with ``m_i = max_k a_ik`` (``m_i``
read as 0 where it is not finite: a row of ``-inf`` gives ``-inf``, one with ``+inf`` gives
``+inf``): four passes over the array, in blocks of rows that stay in cache. SciPy's
:func:`scipy.special.logsumexp` counts the maximum's ties and adds ``log1p`` of the rest, in
about ten passes; the two agree to rounding (``1e-15`` relative on ``exp`` of the result).
A mixture's log-density and its components' ratios to it (the control variates) come from
the same exponentials (:func:`mixture_and_ratios`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["exp_inplace", "logsumexp_rows", "mixture_and_ratios", "row_max"]

#: Below this, ``exp`` is 0 in float64 (half the least subnormal is ``exp(-745.13)``).
_EXP_ZERO = -746.0


def exp_inplace(x: np.ndarray) -> np.ndarray:
    """``exp(x)`` written over ``x`` (a float64 array), the same bits as ``np.exp``: the
    arguments below -746, whose exponential is 0, are set to ``-inf`` first, which numpy's
    vectorised ``exp`` takes on its fast path (finite arguments below -708 fall to a scalar
    path about three times slower, and log-density ratios of far components are mostly
    there)."""
    np.copyto(x, -np.inf, where=x < _EXP_ZERO)
    return np.exp(x, out=x)


#: Rows of at most this many columns are reduced column by column (:func:`row_max`).
SHORT_ROWS = 16


def row_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=1)`` of a real (n, K) array, ``K >= 1``; for short rows (``K <=
    SHORT_ROWS``) column by column, as numpy's reduction along short rows costs several times
    more than ``K - 1`` elementwise maxima. The same maxima (NaN propagates); only the sign
    of a zero maximum may differ, which no caller here can see (``x - m`` and ``log s + m``
    are the same for ``m = ±0``)."""
    if a.shape[1] > SHORT_ROWS:
        return a.max(axis=1)
    top = a[:, 0].copy()
    for k in range(1, a.shape[1]):
        np.maximum(top, a[:, k], out=top)
    return top


#: Rows per block hold about this many entries: a block's temporaries stay in cache.
_BLOCK_ENTRIES = 1 << 16


def logsumexp_rows(a: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
    """``log sum_k exp(a[i, k] + shift[k])`` for each row of a real (n, K) array ((n,);
    ``shift`` 0 by default), in blocks of rows (each row's result is the same whatever the
    block; ``a + shift`` formed block by block, not as a whole (n, K) array)."""
    a = np.asarray(a, dtype=float)
    n, k = a.shape
    rows = max(256, _BLOCK_ENTRIES // max(k, 1))
    out = np.empty(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if k == 1:  # log(exp(a + s - m)) + m with m = a + s: a + s itself, to the bit
            return a[:, 0] + (0.0 if shift is None else shift[0])
        for lo in range(0, n, rows):
            block = a[lo:lo + rows] if shift is None else a[lo:lo + rows] + shift
            top = row_max(block) if k else np.zeros(block.shape[0])
            top[~np.isfinite(top)] = 0.0
            # a + shift is this block's own array: the differences are written over it
            centred = (np.subtract(block, top[:, None], out=block) if shift is not None
                       else block - top[:, None])
            sums = exp_inplace(centred).sum(axis=1)
            out[lo:lo + rows] = np.log(sums) + top
    return out


#: A row whose weighted sum ``s_i`` is below this or not finite takes the two-step path in
#: :func:`mixture_and_ratios` (above it, a ratio ``e_ik / s_i`` whose ``e_ik`` underflowed is
#: off by less than ``1e-200``).
_SUM_TINY = 1e-100


def mixture_and_ratios(a: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log g_i = log sum_k w_k exp(a_ik)`` and the ratios ``exp(a_ik - log g_i)``
    ((n,), (n, K)) from one exponential per entry: with ``m_i = max_k a_ik`` and ``e_ik =
    exp(a_ik - m_i)``, ``s_i = sum_k w_k e_ik``, ``log g_i = m_i + log s_i`` and the ratio
    is ``e_ik / s_i`` (the two-step path's to rounding). Rows with ``s_i`` not in
    ``[_SUM_TINY, inf)`` (no finite maximum, or the weighty terms far below it) take the
    two-step path: :func:`logsumexp_rows` of ``a + log w``, then ``exp(a - log g)`` with
    ``-inf - (-inf)`` read as 0."""
    a = np.asarray(a, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n, k = a.shape
    rows = max(256, _BLOCK_ENTRIES // max(k, 1))
    log_g, ratios = np.empty(n), np.empty((n, k))
    bad = np.zeros(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for lo in range(0, n, rows):
            block, out = a[lo:lo + rows], ratios[lo:lo + rows]
            top = row_max(block) if k else np.zeros(block.shape[0])
            top[~np.isfinite(top)] = 0.0
            exp_inplace(np.subtract(block, top[:, None], out=out))
            sums = out @ weights
            out /= sums[:, None]
            log_g[lo:lo + rows] = np.log(sums) + top
            bad[lo:lo + rows] = ~((sums >= _SUM_TINY) & (sums < np.inf))
        if bad.any():
            log_g[bad] = logsumexp_rows(a[bad] + np.log(weights))
            two_step = exp_inplace(a[bad] - log_g[bad][:, None])
            two_step[np.isnan(two_step) & np.isneginf(a[bad])] = 0.0
            ratios[bad] = two_step
    return log_g, ratios

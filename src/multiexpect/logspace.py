"""Row-wise log-sum-exp, the mixtures' and recycled sample's workhorse, without overhead.

``log sum_k exp(a_ik)`` computed as SciPy's :func:`scipy.special.logsumexp` does (the same
operations in the same order, so the same bits): with ``m_i = max_k a_ik`` attained ``c_i``
times and ``s_i = sum_{k: a_ik < m_i} exp(a_ik - m_i)``,

    log sum_k exp(a_ik) = log1p(s_i / c_i) + log(c_i) + m_i ,

and ``log sum_k exp(a_ik)`` taken directly on the rows where that is not finite (every term
``-inf``, or an infinite one). It skips SciPy's generic array-API dispatch and the direct
sum it computes for every row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["logsumexp_rows"]


#: Rows per block hold about this many entries: a block's temporaries stay in cache.
_BLOCK_ENTRIES = 1 << 17


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """``log sum_k exp(a[i, k])`` for each row of a real (n, K) array ((n,)), in blocks of
    rows (each row's result is the same whatever the block)."""
    a = np.asarray(a, dtype=float)
    rows = max(256, _BLOCK_ENTRIES // max(a.shape[1], 1))
    if a.shape[0] <= rows:
        return _logsumexp_block(a)
    return np.concatenate([_logsumexp_block(a[i:i + rows]) for i in range(0, a.shape[0], rows)])


def _logsumexp_block(a: np.ndarray) -> np.ndarray:
    """:func:`logsumexp_rows` of one block."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        top = a.max(axis=1, keepdims=True)
        at_top = a == top
        count = at_top.sum(axis=1, keepdims=True, dtype=float)
        rest = np.exp(np.where(at_top, -np.inf, a) - top).sum(axis=1, keepdims=True)
        rest = np.where(rest == 0, rest, rest / count)
        out = (np.log1p(rest) + np.log(count) + top)[:, 0]
        bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = np.log(np.exp(a[bad]).sum(axis=1))
    return out

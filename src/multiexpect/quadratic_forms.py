"""Many quadratic forms at the same points by one matrix product.

``a_k + s_k δ_ik`` with ``δ_ik = (z_i - μ_k)^T P_k (z_i - μ_k)`` (a Gaussian's log-density:
``s_k = -1/2``), for ``K`` forms at once: with ``y = z - c`` (``c`` minimises
``sum_k |μ_k - c|^2_{P_k}``, which keeps the terms small) and ``m_k = μ_k - c``,

    δ_ik = y_i^T P_k y_i - 2 y_i^T P_k m_k + m_k^T P_k m_k
         = [y_ia y_ib (a <= b), y_i, 1] · [P_k,ab (2 if a < b), -2 P_k m_k, m_k^T P_k m_k] ,

an ``(n, d(d+1)/2 + d + 1) x (., K)`` product: about half the arithmetic of whitening the
points by each form, and no ``(n, K d)`` intermediate. The points go in chunks of rows whose
features stay in cache. ``δ`` is exact up to rounding of relative order
``eps |z_i - c|^2_{P_k} / δ_ik``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["QuadraticForms"]

#: A chunk of rows holds about this many features and results (they stay in cache).
CACHE_ELEMENTS = 1 << 17


class QuadraticForms:
    """``a_k + s_k δ_ik`` for centres ``means`` ((K, d)) and ``precisions`` ((K, d, d),
    symmetric); ``shift`` ``a`` (0) and ``scale`` ``s`` (1) per form."""

    def __init__(self, means: np.ndarray, precisions: np.ndarray, shift=None, scale=None):
        means = np.asarray(means, dtype=float)
        precisions = np.asarray(precisions, dtype=float)
        n_forms, d = means.shape
        self.centre = np.linalg.solve(precisions.sum(axis=0),
                                      np.einsum("kab,kb->a", precisions, means))
        upper = np.triu_indices(d)
        twice = np.where(upper[0] == upper[1], 1.0, 2.0)
        offsets = means - self.centre
        p_offsets = np.einsum("kab,kb->ka", precisions, offsets)
        quad = precisions[:, upper[0], upper[1]] * twice  # (K, d(d+1)/2)
        const = np.einsum("ka,ka->k", offsets, p_offsets)
        scale = np.ones(n_forms) if scale is None else np.asarray(scale, dtype=float)
        shift = np.zeros(n_forms) if shift is None else np.asarray(shift, dtype=float)
        self.coefficients = np.vstack([quad.T * scale, -2.0 * p_offsets.T * scale,
                                       (const * scale + shift)[None, :]])  # (F, K)

    def __call__(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The (n, K) values at the rows of ``z`` (in ``out`` when given)."""
        n, d = z.shape
        n_features, n_forms = self.coefficients.shape
        if out is None:
            out = np.empty((n, n_forms))
        rows = max(64, CACHE_ELEMENTS // (n_features + n_forms) // 64 * 64)
        features = np.empty((min(rows, n), n_features))
        features[:, -1] = 1.0
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            feat = features[:hi - lo]
            y = z[lo:hi] - self.centre
            col = 0
            for a in range(d):  # the products y_a y_b, b >= a, in triu order
                np.multiply(y[:, a:a + 1], y[:, a:], out=feat[:, col:col + d - a])
                col += d - a
            feat[:, col:col + d] = y
            np.matmul(feat, self.coefficients, out=out[lo:hi])
        return out

"""Log-densities of many components at the same points, the elliptical ones in one product.

For Gaussian and Student t components the squared Mahalanobis distances of every point to
every component come from one matrix product of the points' quadratic features by the
components' coefficients: with ``P_k = Σ_k^{-1}``, ``y = z - c`` (``c`` minimises
``sum_k |μ_k - c|^2_{P_k}``, which keeps the terms small) and ``m_k = μ_k - c``,

    δ_ik = y_i^T P_k y_i - 2 y_i^T P_k m_k + m_k^T P_k m_k
         = [y_ia y_ib (a <= b), y_i, 1] · [P_k,ab (2 if a < b), -2 P_k m_k, m_k^T P_k m_k] ,

an ``(n, d(d+1)/2 + d + 1) x (., K)`` product, about half the arithmetic of whitening the
points by each component and no ``(n, K d)`` intermediate; a Gaussian's ``log g_k = c_k -
δ_ik / 2`` is folded into its coefficients, so the product gives it directly. The points go
in chunks of rows whose features stay in cache. The result equals the per-component one up
to rounding: relative ``eps |μ_k - c|^2_{P_k}`` on ``δ``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .gaussian import Gaussian, LocationScale

__all__ = ["QuadraticForms", "component_logpdfs"]

#: A chunk of rows holds about this many features and results (they stay in cache).
CACHE_ELEMENTS = 1 << 17


class QuadraticForms:
    """``a_k + s_k δ_ik`` for location-scale components (``δ``: squared Mahalanobis
    distances, see the module docstring; ``a = 0, s = 1`` by default) as one product."""

    def __init__(self, components: Sequence[LocationScale], shift=None, scale=None):
        means = np.stack([c.mean for c in components])  # (K, d)
        d = means.shape[1]
        precisions = [c.whitening.T @ c.whitening for c in components]
        # the centre minimising sum_k |μ_k - c|^2_{P_k}, the rounding's scale
        self.centre = np.linalg.solve(sum(precisions),
                                      sum(p @ m for p, m in zip(precisions, means)))
        self.upper = np.triu_indices(d)
        twice = np.where(self.upper[0] == self.upper[1], 1.0, 2.0)
        quad, lin, const = [], [], []
        for precision, mean in zip(precisions, means):
            offset = mean - self.centre
            p_offset = precision @ offset
            quad.append(precision[self.upper] * twice)
            lin.append(-2.0 * p_offset)
            const.append(offset @ p_offset)
        scale = np.ones(len(components)) if scale is None else np.asarray(scale, dtype=float)
        shift = np.zeros(len(components)) if shift is None else np.asarray(shift, dtype=float)
        self.coefficients = np.vstack([np.array(quad).T * scale, np.array(lin).T * scale,
                                       (np.array(const) * scale + shift)[None, :]])  # (F, K)

    def __call__(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The (n, K) values at the rows of ``z`` (in ``out`` when given)."""
        n, d = z.shape
        n_features, n_comp = self.coefficients.shape
        if out is None:
            out = np.empty((n, n_comp))
        rows = max(64, CACHE_ELEMENTS // (n_features + n_comp) // 64 * 64)
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


def component_logpdfs(components: Sequence, z: np.ndarray,
                      out: np.ndarray | None = None) -> np.ndarray:
    """``log g_k(z_i)`` as an (n, K) array (written in the first ``K`` columns of ``out``
    when given)."""
    z = np.asarray(z, dtype=float)
    if out is None:
        out = np.empty((z.shape[0], len(components)))
    elliptical = []
    for k, comp in enumerate(components):
        if isinstance(comp, LocationScale) and hasattr(comp, "logpdf_from_mahalanobis"):
            elliptical.append(k)
        else:
            out[:, k] = comp.logpdf(z)
    if not elliptical:
        return out
    gaussian = np.array([type(components[k]) is Gaussian for k in elliptical])
    # a Gaussian's log-density c - δ/2 straight from the product, the others' δ
    shift = [components[k].log_normaliser if g else 0.0 for k, g in zip(elliptical, gaussian)]
    forms = QuadraticForms([components[k] for k in elliptical], shift,
                           np.where(gaussian, -0.5, 1.0))
    if len(elliptical) == len(components) and gaussian.all():
        forms(z, out[:, :len(components)])
        return out
    values = forms(z)
    for i, k in enumerate(elliptical):
        out[:, k] = values[:, i] if gaussian[i] else components[k].logpdf_from_mahalanobis(
            np.maximum(values[:, i], 0.0))
    return out

"""Log-densities of many components at the same points, the elliptical ones in one product.

The squared Mahalanobis distances ``δ_ik`` of every point to every Gaussian and Student t
component come from one product of the points' quadratic features
(:class:`~multiexpect.quadratic_forms.QuadraticForms`); a Gaussian's ``log g_k = c_k -
δ_ik / 2`` is folded into its coefficients, so the product gives it directly. The result
equals the per-component one up to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..quadratic_forms import QuadraticForms
from .gaussian import Gaussian, LocationScale

__all__ = ["component_logpdfs"]


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
    comps = [components[k] for k in elliptical]
    gaussian = np.array([type(c) is Gaussian for c in comps])
    whitening = np.stack([c.whitening for c in comps])
    # a Gaussian's log-density c - δ/2 straight from the product, the others' δ
    forms = QuadraticForms(np.stack([c.mean for c in comps]),
                           np.matmul(whitening.transpose(0, 2, 1), whitening),
                           [c.log_normaliser if g else 0.0 for c, g in zip(comps, gaussian)],
                           np.where(gaussian, -0.5, 1.0))
    if len(elliptical) == len(components) and gaussian.all():
        forms(z, out[:, :len(components)])
        return out
    values = forms(z)
    for i, k in enumerate(elliptical):
        out[:, k] = values[:, i] if gaussian[i] else components[k].logpdf_from_mahalanobis(
            np.maximum(values[:, i], 0.0))
    return out

"""Log-densities of many components at the same points, the elliptical ones in one product.

The squared Mahalanobis distances ``δ_ik`` of every point to every Gaussian and Student t
component come from one product of the points' quadratic features
(:class:`~multiexpect.quadratic_forms.QuadraticForms`); a Gaussian's ``log g_k = c_k -
δ_ik / 2`` is folded into its coefficients, so the product gives it directly. The result
equals the per-component one up to rounding.
"""

from __future__ import annotations

import functools
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
    elliptical, gaussian, forms = _forms_of(components)
    if len(elliptical) < len(components):
        for k in sorted(set(range(len(components))) - set(elliptical)):
            out[:, k] = components[k].logpdf(z)
    if not elliptical:
        return out
    if len(elliptical) == len(components) and gaussian.all():
        forms(z, out[:, :len(components)])
        return out
    values = forms(z)
    for i, k in enumerate(elliptical):
        out[:, k] = values[:, i] if gaussian[i] else components[k].logpdf_from_mahalanobis(
            np.maximum(values[:, i], 0.0))
    return out


#: The quadratic forms of the last few component lists are kept (:func:`_forms_of`): a
#: stage's components are evaluated at several sets of points (their fit points, their
#: batch, the later batches, the final chunks), and setting the forms up costs more than a
#: small product.
FORMS_KEPT = 8


def _forms_of(components: Sequence) -> tuple[list[int], np.ndarray, QuadraticForms | None]:
    """The elliptical components' indices, which of them are Gaussians, and their
    :class:`~multiexpect.quadratic_forms.QuadraticForms` (None if there are none)."""
    return _kept_forms(tuple(components))


@functools.lru_cache(maxsize=FORMS_KEPT)
def _kept_forms(components: tuple) -> tuple[list[int], np.ndarray, QuadraticForms | None]:
    """:func:`_forms_of` of a tuple of components, kept for the last ``FORMS_KEPT`` tuples (a
    component is not changed after it is made and compares by identity; the cache holds
    it, so no identity is reused while it is kept)."""
    elliptical = [k for k, comp in enumerate(components)
                  if isinstance(comp, LocationScale) and hasattr(comp, "logpdf_from_mahalanobis")]
    comps = [components[k] for k in elliptical]
    gaussian = np.array([type(c) is Gaussian for c in comps], dtype=bool)
    forms = None
    if comps:
        whitening = np.stack([c.whitening for c in comps])
        # a Gaussian's log-density c - δ/2 straight from the product, the others' δ
        forms = QuadraticForms(np.stack([c.mean for c in comps]),
                               np.matmul(whitening.transpose(0, 2, 1), whitening),
                               [c.log_normaliser if g else 0.0 for c, g in zip(comps, gaussian)],
                               np.where(gaussian, -0.5, 1.0))
    return elliptical, gaussian, forms

"""Log-densities of many components at the same points, the elliptical ones in blocks.

For Gaussian and Student t components the squared Mahalanobis distances of every point to a
block of ``b`` components come from one matrix product,

    δ_ik = |W_k z_i - W_k μ_k|^2,    [W_1 z_i, ..., W_b z_i] = z_i [W_1; ...; W_b]^T ,

with ``W_k = L_k^{-1}`` (``(n, d) x (d, b d)``), instead of ``b`` products of ``(n, d)`` by
``(d, d)``: in low dimension the per-component products are too small for BLAS to be
efficient. The blocks hold at most ``block_elements`` whitened coordinates (memory bound).
The result equals the per-component one up to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .gaussian import LocationScale

__all__ = ["component_logpdfs"]


def component_logpdfs(components: Sequence, z: np.ndarray,
                      block_elements: int = 1 << 21) -> np.ndarray:
    """``log g_k(z_i)`` as an (n, K) array."""
    z = np.asarray(z, dtype=float)
    n, d = z.shape
    out = np.empty((n, len(components)))
    elliptical = []
    for k, comp in enumerate(components):
        if isinstance(comp, LocationScale) and hasattr(comp, "logpdf_from_mahalanobis"):
            elliptical.append(k)
        else:
            out[:, k] = comp.logpdf(z)
    block = max(1, block_elements // max(n * d, 1))
    for start in range(0, len(elliptical), block):
        ks = elliptical[start:start + block]
        whitening = np.stack([components[k].whitening for k in ks])  # (b, d, d)
        means = np.stack([components[k].mean for k in ks])
        offsets = np.einsum("bij,bj->bi", whitening, means)
        white = (z @ whitening.reshape(-1, d).T).reshape(n, len(ks), d) - offsets
        delta = np.einsum("nbi,nbi->nb", white, white)
        for i, k in enumerate(ks):
            out[:, k] = components[k].logpdf_from_mahalanobis(delta[:, i])
    return out

"""Log-densities of many components at the same points, the elliptical ones in blocks.

For Gaussian and Student t components the squared Mahalanobis distances of every point to a
block of ``b`` components come from one matrix product,

    δ_ik = |W_k z_i - W_k μ_k|^2,    [W_1 z_i, ..., W_b z_i] = z_i [W_1; ...; W_b]^T ,

with ``W_k = L_k^{-1}`` (``(n, d) x (d, b d)``), instead of ``b`` products of ``(n, d)`` by
``(d, d)``: in low dimension the per-component products are too small for BLAS to be
efficient. The points go in blocks of rows whose whitened coordinates (about
``block_elements`` of them) stay in cache. The result equals the per-component one up to
rounding.
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
        delta = _block_mahalanobis(z, whitening.reshape(-1, d).T, offsets)
        for i, k in enumerate(ks):
            out[:, k] = components[k].logpdf_from_mahalanobis(delta[:, i])
    return out


#: Rows of a block of components go through the product this many whitened coordinates at a
#: time (so that they stay in cache).
CACHE_ELEMENTS = 1 << 17
#: Row chunks are multiples of this: the matrix product's kernels tile rows by a few, and
#: chunks aligned on the tiles give every row the same arithmetic as one product of all rows.
_ROW_TILE = 64


def _block_mahalanobis(z: np.ndarray, stacked: np.ndarray, offsets: np.ndarray
                       ) -> np.ndarray:
    """``δ_ik = |z_i W_k^T - o_k|^2`` ((n, b)) for ``stacked = [W_1; ...; W_b]^T`` and
    ``offsets`` ``o_k = W_k μ_k``, by chunks of rows (the remainder joins the last chunk)."""
    n, d = z.shape
    b = offsets.shape[0]
    rows = max(_ROW_TILE, CACHE_ELEMENTS // (b * d) // _ROW_TILE * _ROW_TILE)
    starts = list(range(0, n, rows)) or [0]
    if len(starts) > 1 and n - starts[-1] < _ROW_TILE:
        starts.pop()
    delta = np.empty((n, b))
    for lo, hi in zip(starts, [*starts[1:], n]):
        white = (z[lo:hi] @ stacked).reshape(hi - lo, b, d) - offsets
        delta[lo:hi] = np.einsum("nbi,nbi->nb", white, white)
    return delta

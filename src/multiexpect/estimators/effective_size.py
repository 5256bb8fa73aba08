"""Kish's effective sample size of each quantity's importance-sampling responses.

For quantity ``j`` the final stage's responses are ``y_ij = phi_j(x_i) f(x_i) / g(x_i)``
(the weights ``w_i = f / g`` that carry quantity ``j``, times ``|phi_j|``). Their effective
sample size

    ESS_j = (sum_i |y_ij|)^2 / sum_i y_ij^2

is the number of equally weighted points that would carry the same estimate: ``n`` when
every point weighs the same (``g`` proportional to ``|phi_j| f``, the zero-variance proposal
of a quantity of one sign), the number of hits for an event sampled in proportion to the
law on the event, and near 1 when one point dominates (a heavy integrand, a proposal that
misses where ``|phi_j| f`` lives). It is Kish's ``(sum w)^2 / sum w^2`` of the weights
``w_i |phi_j(x_i)|``. The sums are accumulated chunk by chunk, divided by the largest
``|y|`` seen so far, so neither overflows whatever the magnitude of the outputs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KishSize", "kish_size"]


class KishSize:
    """Running ``(sum |y_j|)^2 / sum y_j^2`` of the rows of ``(n, J)`` chunks."""

    def __init__(self, width: int):
        self._peak = np.zeros(width)
        self._abs = np.zeros(width)      # sum |y| / peak
        self._square = np.zeros(width)   # sum (y / peak)^2

    def update(self, values: np.ndarray) -> None:
        """Add the rows of ``values`` ((n, J)); non-finite entries count as 0."""
        if values.shape[0] == 0:
            return
        a = np.abs(values)  # one (n, J) array, worked on in place
        finite = np.isfinite(a)
        if not finite.all():
            a[~finite] = 0.0
        peak = np.maximum(self._peak, a.max(axis=0))
        seen = peak > 0
        safe = np.where(seen, peak, 1.0)
        shrink = np.where(seen, self._peak / safe, 0.0)
        scaled = np.divide(a, safe, out=a)
        self._abs = self._abs * shrink + scaled.sum(axis=0)
        self._square = self._square * shrink**2 + np.square(scaled, out=scaled).sum(axis=0)
        self._peak = peak

    @property
    def value(self) -> np.ndarray:
        """``ESS_j`` per column (0 for a column that is 0 at every row)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self._square > 0,
                            self._abs**2 / np.where(self._square > 0, self._square, 1.0), 0.0)


def kish_size(values: np.ndarray) -> np.ndarray:
    """``ESS_j`` of the rows of ``values`` ((n, J)) at once."""
    size = KishSize(values.shape[1])
    size.update(values)
    return size.value

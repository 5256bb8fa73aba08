"""Importance-sampling summands with control variates, and streaming moments.

With ``X_i ~ g_α`` and components ``g_k`` (each a density, so ``E_{g_α}[g_k/g_α] = 1``), the
ISCV summand of quantity ``j`` is

    s_j(x) = phi_j(x) f_j(x) / g_α(x)  -  sum_k β_jk ( g_k(x) / g_α(x) - 1 ) ,

whose mean under ``g_α`` is ``I_j`` for any fixed ``β``. Every ratio is formed in log space,
``exp(log f - log g)``, so nothing underflows in high dimension. ``β = 0`` is plain IS.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StreamingMoments", "iscv_summands", "log_ratio_exp"]


def log_ratio_exp(log_num: np.ndarray, log_den: np.ndarray) -> np.ndarray:
    """``exp(log_num - log_den)`` with ``-inf - (-inf)`` read as 0 (no mass anywhere)."""
    with np.errstate(invalid="ignore"):
        diff = np.subtract(log_num, log_den)
    np.copyto(diff, -np.inf, where=np.isneginf(log_num))
    return np.exp(diff, out=diff)


def iscv_summands(phi: np.ndarray, log_f: np.ndarray, log_components: np.ndarray | None,
                  log_g: np.ndarray, beta: np.ndarray | None) -> np.ndarray:
    """The per-point ISCV summands ``s_ij`` ((n, J)).

    Parameters
    ----------
    phi : (n, J) array
        Quantity values ``phi_j(x_i)``.
    log_f : (n, J) array
        ``log f_j(x_i)`` (the law of each quantity, in the working space).
    log_components : (n, K) array or None
        ``log g_k(x_i)``; ``None`` when there are no control variates.
    log_g : (n,) array
        ``log g_α(x_i)``, the density the points were drawn from.
    beta : (J, K) array or None
        Control coefficients; ``None`` for plain importance sampling.
    """
    weights = log_ratio_exp(log_f, log_g[:, None])
    # phi * 0 where the law has no mass, even if the model was not run there (phi = 0 then)
    out = np.multiply(phi, weights)
    np.copyto(out, 0.0, where=~(weights > 0))
    if beta is not None and log_components is not None and beta.size:
        controls = log_ratio_exp(log_components, log_g[:, None])
        controls -= 1.0
        out -= controls @ beta.T
    return out


class StreamingMoments:
    """Running mean and variance of rows, chunk by chunk (Chan et al. pairwise update).

    Keeps the final stage's memory bounded whatever the budget.
    """

    def __init__(self, width: int, covariance: bool = False):
        self.n = 0
        self.mean = np.zeros(width)
        self._m2 = np.zeros(width)
        self._cross = np.zeros((width, width)) if covariance else None

    def update(self, values: np.ndarray) -> None:
        """Add the rows of ``values`` ((n, width))."""
        m = values.shape[0]
        if m == 0:
            return
        chunk_mean = values.mean(axis=0)
        centred = values - chunk_mean
        chunk_m2 = (centred**2).sum(axis=0)
        total = self.n + m
        delta = chunk_mean - self.mean
        if self._cross is not None:
            self._cross += centred.T @ centred + np.outer(delta, delta) * (self.n * m / total)
        self.mean = self.mean + delta * (m / total)
        self._m2 = self._m2 + chunk_m2 + delta**2 * (self.n * m / total)
        self.n = total

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased covariance matrix of the rows (``covariance=True`` only)."""
        if self._cross is None:
            raise RuntimeError("StreamingMoments(covariance=True) is needed for covariance")
        if self.n < 2:
            return np.full_like(self._cross, np.inf)
        return self._cross / (self.n - 1)

    @property
    def variance(self) -> np.ndarray:
        """Unbiased per-row variance (``ddof=1``)."""
        if self.n < 2:
            return np.full_like(self.mean, np.inf)
        return self._m2 / (self.n - 1)

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of the mean."""
        return np.sqrt(self.variance / max(self.n, 1))

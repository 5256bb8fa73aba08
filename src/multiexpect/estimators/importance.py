"""Importance-sampling summands with control variates, and streaming moments.

With ``X_i ~ g_α`` and components ``g_k`` (each a density, so ``E_{g_α}[g_k/g_α] = 1``), the
ISCV summand of quantity ``j`` is

    s_j(x) = phi_j(x) f_j(x) / g_α(x)  -  sum_k β_jk ( g_k(x) / g_α(x) - 1 ) ,

whose mean under ``g_α`` is ``I_j`` for any fixed ``β``. Every ratio is formed in log space,
``exp(log f - log g)``, so nothing underflows in high dimension. ``β = 0`` is plain IS.
"""

from __future__ import annotations

import numpy as np

from ..logspace import exp_inplace

__all__ = ["StreamingMoments", "is_responses", "iscv_summands", "law_columns", "law_ratios",
           "log_ratio_exp", "subtract_controls", "subtract_ratio_controls", "times_fresh"]


def log_ratio_exp(log_num: np.ndarray, log_den: np.ndarray, order: str = "K") -> np.ndarray:
    """``exp(log_num - log_den)`` with ``-inf - (-inf)`` read as 0 (no mass anywhere), in
    the memory ``order`` asked for (numpy's: ``"K"`` follows the arguments)."""
    with np.errstate(invalid="ignore"):
        out = exp_inplace(np.subtract(log_num, log_den, order=order))
    # only -inf - (-inf) gives NaN where the numerator is -inf (else exp(-inf) = 0 already)
    nan = np.isnan(out)
    if nan.any():
        np.copyto(out, 0.0, where=nan & np.isneginf(log_num))
    return out


def law_columns(log_laws: np.ndarray, law_index: np.ndarray) -> np.ndarray:
    """``log f_j`` of each quantity ((n, J)) from the laws' columns ((n, L)): with one law a
    read-only broadcast of its column (no (n, J) copy), else the columns picked (a
    column-major copy, the layout of the quantity values ``phi`` they are read beside)."""
    if log_laws.shape[1] == 1:
        return np.broadcast_to(log_laws, (log_laws.shape[0], len(law_index)))
    return log_laws[:, law_index]


def _every_law_once(law_index: np.ndarray, n_laws: int) -> bool:
    """Whether quantity ``j`` has law ``j``, for each of the ``n_laws`` laws."""
    return len(law_index) == n_laws and np.array_equal(law_index, np.arange(n_laws))


def law_ratios(log_f: np.ndarray, log_g: np.ndarray, law_index: np.ndarray | None = None
               ) -> np.ndarray:
    """``f_j / g`` ((n, J)) from ``log f`` ((n, J), or the laws' (n, L) columns picked by
    ``law_index``) and ``log g`` ((n,)): one exponential per law and point; with one law,
    its (n, 1) column, which broadcasts against (n, J) without a copy per quantity. Picked
    columns are column-major (numpy's fancy indexing); when quantity ``j`` has law ``j``
    for every law the ratios are formed column-major, with no copy."""
    if law_index is None or log_f.shape[1] == 1:
        return log_ratio_exp(log_f, log_g[:, None])
    if _every_law_once(law_index, log_f.shape[1]):
        return log_ratio_exp(log_f, log_g[:, None], order="F")
    return log_ratio_exp(log_f, log_g[:, None])[:, law_index]


def iscv_summands(phi: np.ndarray, log_f: np.ndarray, log_components: np.ndarray | None,
                  log_g: np.ndarray, beta: np.ndarray | None,
                  law_index: np.ndarray | None = None) -> np.ndarray:
    """The per-point ISCV summands ``s_ij`` ((n, J)).

    Parameters
    ----------
    phi : (n, J) array
        Quantity values ``phi_j(x_i)``.
    log_f : (n, J) array, or (n, L) with ``law_index``
        ``log f_j(x_i)`` (the law of each quantity, in the working space), or the laws'
        ``log f_l(x_i)`` with ``law_index`` the law of each quantity.
    log_components : (n, K) array or None
        ``log g_k(x_i)``; ``None`` when there are no control variates.
    log_g : (n,) array
        ``log g_α(x_i)``, the density the points were drawn from.
    beta : (J, K) array or None
        Control coefficients; ``None`` for plain importance sampling.
    law_index : (J,) int array, optional
        The law of each quantity, when ``log_f`` holds the laws' columns.
    """
    out = is_responses(phi, log_f, log_g, law_index)
    if beta is not None and log_components is not None and beta.size:
        subtract_controls(out, log_components, log_g, beta)
    return out


def is_responses(phi: np.ndarray, log_f: np.ndarray, log_g: np.ndarray,
                 law_index: np.ndarray | None = None, fresh: bool = False) -> np.ndarray:
    """The plain importance-sampling responses ``phi_j f_j / g_α`` ((n, J)): the summands
    with ``β = 0``; with ``law_index``, ``log_f`` holds the laws' columns and each ratio
    ``f_l / g_α`` is formed once per law (many quantities share a law). ``fresh``: ``phi``
    is the caller's to overwrite (it reads it no more), and the responses are written over
    it."""
    several = law_index is not None and log_f.shape[1] > 1
    # the picked columns are column-major (numpy's fancy indexing), and so are the
    # responses, whose sums the moments take: column-major too when no column is picked
    once = several and _every_law_once(law_index, log_f.shape[1])
    ratios = log_ratio_exp(log_f, log_g[:, None], order="F" if once else "K")
    massless = ~(ratios > 0)
    if several and not once:
        ratios, massless = ratios[:, law_index], massless[:, law_index]
    # one law: its (n, 1) column broadcast, the same products without a copy per quantity
    if fresh and phi.flags.writeable and np.broadcast_shapes(ratios.shape, phi.shape) == phi.shape:
        out = np.multiply(phi, ratios, out=phi)
    else:
        out = times_fresh(phi, ratios)
    # phi * 0 where the law has no mass, even if the model was not run there (phi = 0 then)
    if massless.any():
        np.copyto(out, 0.0, where=massless)
    return out


def times_fresh(values: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """``values * fresh``, written over ``fresh`` (an array the caller owns and reads no
    more) when the two have one shape and one memory layout: the product numpy would
    return, in that layout, without a new array."""
    same = (fresh.shape == values.shape and fresh.flags.writeable
            and fresh.flags.c_contiguous == values.flags.c_contiguous
            and fresh.flags.f_contiguous == values.flags.f_contiguous)
    return np.multiply(values, fresh, out=fresh if same else None)


def subtract_controls(out: np.ndarray, log_components: np.ndarray, log_g: np.ndarray,
                      beta: np.ndarray) -> np.ndarray:
    """``out -= (g_k / g_α - 1) β^T`` in place (responses to summands), and ``out``."""
    return subtract_ratio_controls(out, log_ratio_exp(log_components, log_g[:, None]), beta)


def subtract_ratio_controls(out: np.ndarray, ratios: np.ndarray, beta: np.ndarray
                            ) -> np.ndarray:
    """:func:`subtract_controls` from the ratios ``g_k / g_α`` ((n, K), overwritten by the
    controls ``g_k / g_α - 1``)."""
    ratios -= 1.0
    out -= ratios @ beta.T
    return out


#: Beyond this magnitude (or below its inverse) a column's squares would leave float64's
#: range (overflow to inf past 1e154, underflow to 0 below 1e-154), so StreamingMoments
#: works on it scaled by a power of two.
_SAFE_MAGNITUDE = 2.0**400


class StreamingMoments:
    """Running mean and variance of rows, chunk by chunk (Chan et al. pairwise update).

    Keeps the final stage's memory bounded whatever the budget. A column whose first
    non-zero values lie beyond ``2^±400`` is accumulated as ``v 2^-e`` (``e`` its binary
    exponent), and the moments are scaled back on reading: multiplying by a power of two is
    exact, so every other column gives the same bits as unscaled arithmetic, while outputs
    of magnitude ``1e160`` or ``1e-200`` keep a finite, non-zero standard error (their
    squares would overflow or underflow).
    """

    def __init__(self, width: int, covariance: bool = False):
        self.n = 0
        self._mean = np.zeros(width)
        self._m2 = np.zeros(width)
        self._cross = np.zeros((width, width)) if covariance else None
        self._exponent = np.zeros(width, dtype=int)   # column j is stored times 2^-e_j
        self._decided = np.zeros(width, dtype=bool)   # e_j fixed (a non-zero value seen)

    def _choose_exponents(self, values: np.ndarray) -> None:
        """Fix ``e_j`` of the columns that see their first non-zero finite value."""
        if self._decided.all():
            return
        # max |v| = max(max v, -min v): two reductions, no (n, width) temporary; with a
        # non-finite value in a column (NaN or inf) its finite values are masked instead
        peak = np.maximum(values.max(axis=0), -values.min(axis=0))
        if not np.all(np.isfinite(peak)):
            with np.errstate(invalid="ignore"):
                peak = np.max(np.where(np.isfinite(values), np.abs(values), 0.0), axis=0)
        newly = ~self._decided & (peak > 0)
        outside = (peak > _SAFE_MAGNITUDE) | (peak < 1.0 / _SAFE_MAGNITUDE)
        _, exponent = np.frexp(peak)
        self._exponent = np.where(newly & outside, exponent, self._exponent)
        self._decided |= newly

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        if not self._exponent.any():
            return values
        return values * np.ldexp(1.0, -self._exponent)

    def _unscale(self, values: np.ndarray, power: int = 1) -> np.ndarray:
        if not self._exponent.any():
            return values
        return values * np.ldexp(1.0, power * self._exponent)

    def update(self, values: np.ndarray) -> None:
        """Add the rows of ``values`` ((n, width))."""
        m = values.shape[0]
        if m == 0:
            return
        self._choose_exponents(values)
        values = self._scaled(values)
        chunk_mean = values.mean(axis=0)
        centred = values - chunk_mean
        cross = None if self._cross is None else centred.T @ centred
        chunk_m2 = np.square(centred, out=centred).sum(axis=0)  # centred is not read again
        total = self.n + m
        delta = chunk_mean - self._mean
        if self._cross is not None:
            self._cross += cross + np.outer(delta, delta) * (self.n * m / total)
        self._mean = self._mean + delta * (m / total)
        self._m2 = self._m2 + chunk_m2 + delta**2 * (self.n * m / total)
        self.n = total

    @property
    def scale(self) -> np.ndarray:
        """The power of two ``2^e_j`` each column is accumulated divided by (1 for columns
        within ``2^±400``): a caller combining covariances of extreme columns can work in
        these units, where squares neither overflow nor underflow."""
        return np.ldexp(1.0, self._exponent)

    @property
    def mean(self) -> np.ndarray:
        """Mean of the rows."""
        return self._unscale(self._mean)

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased covariance matrix of the rows (``covariance=True`` only)."""
        if self._cross is None:
            raise RuntimeError("StreamingMoments(covariance=True) is needed for covariance")
        if self.n < 2:
            return np.full_like(self._cross, np.inf)
        cov = self._cross / (self.n - 1)
        if not self._exponent.any():
            return cov
        scale = np.ldexp(1.0, self._exponent)
        with np.errstate(over="ignore", invalid="ignore"):
            cov = cov * scale[:, None] * scale[None, :]
        # beyond float64 the covariance is unknown: NaN, as unscaled arithmetic gives
        return np.where(np.isfinite(cov), cov, np.nan)

    @property
    def variance(self) -> np.ndarray:
        """Unbiased per-row variance (``ddof=1``; ``inf`` where it exceeds float64)."""
        if self.n < 2:
            return np.full_like(self._mean, np.inf)
        with np.errstate(over="ignore"):
            return self._unscale(self._m2 / (self.n - 1), power=2)

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of the mean."""
        if self.n < 2:
            return np.full_like(self._mean, np.inf)
        return self._unscale(np.sqrt(self._m2 / (self.n - 1) / max(self.n, 1)))

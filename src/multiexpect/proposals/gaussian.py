"""Gaussian proposals (full or diagonal covariance), fitted by weighted maximum likelihood.

The cross-entropy fit of a Gaussian to the weighted points ``(z_i, ω_i)`` is the weighted
mean and covariance. With few effective points the covariance is shrunk toward a reference
(the law's covariance in the working space):

    Σ = (n_eff S_ω + κ Σ_ref) / (n_eff + κ),   κ = max(d, d^2 / 2) ,

so a component with ``n_eff`` below ``d`` stays non-singular and no narrower than the data
allow, and one with many effective points is its plain maximum-likelihood fit. The ``d^2``
term: a covariance estimated from ``n`` points is off by about ``d^2 / n`` in squared
Frobenius norm, which costs about ``d^2 / (4n)`` in Kullback-Leibler divergence, so in high
dimension the estimate must lean on the reference until ``n`` is of order ``d^2``
(measured in ``docs/method.md``).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, solve_triangular
from scipy.linalg.lapack import dtrtrs

from ..logspace import exp_inplace
from .base import weights_and_ess

__all__ = ["SCALE_Z", "Gaussian", "fit_gaussian", "fit_gaussians", "fit_widened_law",
           "regularise_covariance",
           "scaled_reference", "shrink_mean"]

#: Standard errors by which the points' spread must depart from the law's to scale the
#: reference (:func:`scaled_reference`).
SCALE_Z = 4.0

_LOG_2PI = np.log(2.0 * np.pi)


class LocationScale:
    """What the elliptical families share: ``mean``, scale matrix ``cov = L L^T`` and the
    squared Mahalanobis distance ``δ(z) = |L^{-1} (z - mean)|^2``.

    Parameters
    ----------
    mean : (d,) array_like
    cov : (d, d) array_like
        Symmetric positive definite.
    chol : (d, d) array, optional
        ``cov``'s Cholesky factor, when already computed (:func:`fit_gaussians` factors
        many at once).
    """

    def __init__(self, mean, cov, chol: np.ndarray | None = None):
        self.mean = np.asarray(mean, dtype=float).copy()
        self.cov = np.asarray(cov, dtype=float).copy()
        self.dim = self.mean.shape[0]
        self._chol = np.linalg.cholesky(self.cov) if chol is None else chol
        # the inverse factor turns whitening into one matrix product over all points
        self._chol_inv = lower_inverse(self._chol)
        self._half_logdet = float(np.sum(np.log(np.diag(self._chol))))

    @property
    def cholesky(self) -> np.ndarray:
        """``L``, the lower Cholesky factor of ``cov``: points ``mean + L z`` (the sampler's
        and the RQMC draw's)."""
        return self._chol

    @property
    def whitening(self) -> np.ndarray:
        """``L^{-1}``, so that ``δ(z) = |L^{-1} (z - mean)|^2``."""
        return self._chol_inv

    def mahalanobis(self, z: np.ndarray) -> np.ndarray:
        """``δ = (z - mean)^T cov^{-1} (z - mean)`` for each row of ``z``."""
        white = (np.asarray(z, dtype=float) - self.mean) @ self._chol_inv.T
        return np.einsum("ij,ij->i", white, white)


def lower_inverse(chol: np.ndarray) -> np.ndarray:
    """``L^{-1}`` of a lower-triangular ``L``: :func:`solve_lower` on the identity."""
    return solve_lower(chol, np.eye(chol.shape[0]))


def solve_lower(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``L^{-1} b`` for a lower-triangular ``L`` by LAPACK's ``trtrs``, as
    :func:`scipy.linalg.solve_triangular` calls it (the same bits, without its wrapper's
    checks, which cost more than the solve at small ``d``)."""
    if not (np.all(np.isfinite(chol)) and np.all(np.isfinite(rhs))):
        raise ValueError("array must not contain infs or NaNs")
    if chol.flags.f_contiguous:
        out, info = dtrtrs(chol, rhs, lower=1)
    else:  # the transposed system, as solve_triangular solves a C-ordered factor
        out, info = dtrtrs(chol.T, rhs, lower=0, trans=1)
    if info > 0:
        raise LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
    return out


class Gaussian(LocationScale):
    """Multivariate normal ``N(mean, cov)`` with log-density and sampling."""

    def __init__(self, mean, cov, chol: np.ndarray | None = None):
        super().__init__(mean, cov, chol)
        self._log_norm = -self._half_logdet - 0.5 * self.dim * _LOG_2PI

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """``log N(z; mean, cov)`` at the rows of ``z``."""
        return self.logpdf_from_mahalanobis(self.mahalanobis(z))

    @property
    def log_normaliser(self) -> float:
        """``c = -log det(L) - d/2 log(2π)``, so that ``log N = c - δ / 2``."""
        return self._log_norm

    def logpdf_from_mahalanobis(self, delta: np.ndarray) -> np.ndarray:
        """``log N`` from the squared Mahalanobis distances ``δ``: ``c - δ / 2``."""
        return self._log_norm - 0.5 * delta

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points ``mean + L e`` with ``e ~ N(0, I)``."""
        return self.mean + rng.standard_normal((n, self.dim)) @ self._chol.T

    def describe(self) -> dict:
        """JSON-able parameters."""
        return {"family": "gaussian", "mean": self.mean.tolist(), "cov": self.cov.tolist()}


def regularise_covariance(cov: np.ndarray, n_eff, reference: np.ndarray) -> np.ndarray:
    """``(n_eff S + κ Σ_ref) / (n_eff + κ)``, ``κ = max(d, d^2/2)``, symmetrised and floored
    at ``1e-10 tr(Σ_ref)/d`` (see the module docstring): well conditioned at any ``n_eff``.
    ``cov`` may hold a stack ((P, d, d)) with ``n_eff`` one per matrix ((P,))."""
    d = cov.shape[-1]
    kappa = max(float(d), d * d / 2.0)
    n_eff = np.asarray(n_eff, dtype=float)[..., None, None]
    out = (n_eff * cov + kappa * reference) / (n_eff + kappa)
    out = 0.5 * (out + np.swapaxes(out, -1, -2))
    # a floor relative to the reference scale keeps the Cholesky factor well conditioned
    out += 1e-10 * np.trace(reference) / d * np.eye(d)
    return out


def scaled_reference(points: np.ndarray, log_weights: np.ndarray, reference: np.ndarray,
                     centre: np.ndarray, root: np.ndarray | None = None) -> np.ndarray:
    """The reference ``Σ_ref`` scaled by ``s`` across the points' offset from the centre:
    in the reference's whitened frame (``Σ_ref = L L^T``), with ``u`` the direction of the
    weighted mean's offset from the centre ``c`` and ``W`` the points' weighted covariance,

        s = (tr W - u^T W u) / (d - 1),     target = L (s (I - u u^T) + u u^T) L^T ,

    a one-parameter target for the shrinkage of :func:`regularise_covariance`, estimated
    from all ``n_eff (d - 1)`` coordinates across ``u``: elite points that spread less than
    the law in every direction across their offset (a failure domain bounded by a radius in
    many dimensions) pull the fit's scale with them even where ``n_eff`` is far below
    ``d^2``; along the offset (the failure direction, where the elite points are
    truncated) the target stays the law's. ``reference`` itself when ``d = 1``, and while
    ``|s - 1| <= SCALE_Z sqrt(2 / (n_eff (d - 1)))`` (``s`` within ``SCALE_Z`` of its
    standard errors of the law's scale: in low dimension a few points' ``s`` is mostly
    noise, and a scale below 1 across the failure direction lightens the tails there).
    ``root``: ``L`` when the caller has it (an EM fit asks for many targets of one
    reference)."""
    d = points.shape[1]
    if d < 2:
        return reference
    w, n_eff = weights_and_ess(log_weights)
    mean = w @ points
    root = np.linalg.cholesky(reference) if root is None else root
    white = solve_lower(root, (points - mean).T)  # (d, n)
    offset = solve_lower(root, mean - centre)
    norm = float(np.linalg.norm(offset))
    total = float(np.sum(w * np.sum(white**2, axis=0)))
    u = offset / norm if norm > 0 else np.zeros(d)
    along = float(np.sum(w * (u @ white) ** 2))
    across = d - 1 if norm > 0 else d
    scale = (total - along) / across
    # the law's scale unless the spread departs from it beyond 4 standard errors of s
    if not np.isfinite(scale) or scale <= 0 \
            or abs(scale - 1.0) <= SCALE_Z * np.sqrt(2.0 / (n_eff * across)):
        return reference
    target = scale * np.eye(d) + (1.0 - scale) * np.outer(u, u)
    out = root @ target @ root.T
    return 0.5 * (out + out.T)


def shrink_mean(mean: np.ndarray, n_eff: float, reference_mean) -> np.ndarray:
    """A mean fitted on few effective points, pulled toward the law's centre ``c``:

        μ = c + n_eff (m - c) / (n_eff + d) .

    The weighted mean ``m`` of ``n_eff`` effective points is off by noise of energy about
    ``tr(Σ) / n_eff`` (``d / n_eff`` in standard space), and a Gaussian proposal whose mean
    is off by ``ν`` multiplies the importance-sampling variance by up to ``exp(|ν|^2)``;
    pulled, the noise energy is at most ``n_eff d / (n_eff + d)^2 <= 1/4``. No pull when
    ``reference_mean`` is None.
    """
    if reference_mean is None:
        return mean
    return reference_mean + n_eff * (mean - reference_mean) / (n_eff + mean.shape[0])


def fit_gaussian(points: np.ndarray, log_weights: np.ndarray, *, reference_cov: np.ndarray,
                 diagonal: bool = False, reference_mean=None) -> tuple[Gaussian, float]:
    """Weighted maximum-likelihood Gaussian (the cross-entropy update).

    Parameters
    ----------
    points : (n, d) array
    log_weights : (n,) array
        ``log ω_i``; ``-inf`` for points that carry no weight.
    reference_cov : (d, d) array
        Covariance the fit is shrunk toward when the effective sample size is small.
    diagonal : bool
        Keep only the diagonal of the covariance.
    reference_mean : (d,) array or None
        The law's centre: the mean is pulled toward it (:func:`shrink_mean`), and the
        covariance is taken about the pulled mean.

    Returns
    -------
    (Gaussian, float)
        The fitted component and the effective sample size of the weights.
    """
    w, n_eff = weights_and_ess(log_weights)
    mean = shrink_mean(w @ points, n_eff, reference_mean)
    diff = points - mean
    cov = (diff * w[:, None]).T @ diff
    if diagonal:
        cov = np.diag(np.diag(cov))
        reference_cov = np.diag(np.diag(reference_cov))
    return Gaussian(mean, regularise_covariance(cov, n_eff, reference_cov)), n_eff


def fit_gaussians(points: np.ndarray, log_weights: np.ndarray, *, reference_cov: np.ndarray,
                  diagonal: bool = False, reference_mean=None) -> list[tuple[Gaussian, float]]:
    """:func:`fit_gaussian` for each row of ``log_weights`` ((P, n)), the weighted moments
    of every row by matrix products: with ``y = z - z̄`` (``z̄`` the points' mean), each
    row's weighted mean ``m`` and second moment ``sum_i ω_i y_i y_i^T`` (from the points'
    quadratic features), the covariance about the fit's mean ``μ`` is ``S - m m^T + (m -
    μ)(m - μ)^T``: :func:`fit_gaussian`'s to rounding (``eps |m|^2`` against its spread).
    The ``P`` covariances are regularised and factored as one stack.
    """
    w, n_eff = _normalised_rows(log_weights)
    origin = points.mean(axis=0)
    y = points - origin
    means = w @ y
    second = _weighted_second_moments(y, w)
    n_parts, d = means.shape
    upper = np.triu_indices(d)
    mean = means + origin
    if reference_mean is not None:  # shrink_mean, row by row
        mean = reference_mean + n_eff[:, None] * (mean - reference_mean) / (n_eff[:, None] + d)
    offset = means - (mean - origin)
    cov = np.empty((n_parts, d, d))
    cov[:, upper[0], upper[1]] = second
    cov[:, upper[1], upper[0]] = second
    cov += offset[:, :, None] * offset[:, None, :] - means[:, :, None] * means[:, None, :]
    ref = reference_cov
    if diagonal:
        eye = np.eye(d, dtype=bool)
        cov, ref = np.where(eye, cov, 0.0), np.diag(np.diag(reference_cov))
    cov = regularise_covariance(cov, n_eff, ref)
    chol = np.linalg.cholesky(cov)
    return [(Gaussian(mean[p], cov[p], chol[p]), n_eff[p]) for p in range(n_parts)]


def _normalised_rows(log_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``log_weights`` as weights summing to one, and its effective size."""
    lw = np.asarray(log_weights, dtype=float)
    top = lw.max(axis=1)
    if not np.all(np.isfinite(top)):
        raise ValueError("every weight is zero: nothing to fit the proposal on")
    w = exp_inplace(lw - top[:, None])
    w /= w.sum(axis=1)[:, None]
    return w, 1.0 / np.einsum("pi,pi->p", w, w)


def _weighted_second_moments(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_i w_pi y_ia y_ib`` (a <= b, triu order) for each row ``p`` of ``w``: ((P,
    d(d+1)/2)), the features built in blocks of rows that stay in cache."""
    n, d = y.shape
    upper = np.triu_indices(d)
    out = np.zeros((w.shape[0], upper[0].size))
    rows = max(256, (1 << 16) // upper[0].size)
    for lo in range(0, n, rows):
        block = y[lo:lo + rows]
        out += w[:, lo:lo + rows] @ (block[:, upper[0]] * block[:, upper[1]])
    return out


def fit_widened_law(points: np.ndarray, log_weights: np.ndarray, *, centre: np.ndarray,
                    reference_cov: np.ndarray) -> tuple[Gaussian, float]:
    """The law widened to the spread of the weighted points: ``N(c, S)`` centred on the law.

    ``M = sum_i ω_i (z_i - c)(z_i - c)^T`` (normalised weights) is the second moment of the
    points about the law's centre ``c``, shrunk toward ``Σ_ref`` as in :func:`fit_gaussian`;
    in the reference's whitened frame its eigenvalues are floored at 1:

        S = R^{1/2} V max(Λ, 1) V^T R^{1/2},   R^{-1/2} M R^{-1/2} = V Λ V^T .

    So ``S ⪰ Σ_ref``, and in standard space (``f = N(0, I)``, ``c = 0``, ``R = I``) the
    likelihood ratio is bounded: ``f / N(0, S) <= det(S)^{1/2}``. Being symmetric about the
    centre, it samples every region at the radius of the points in the directions they
    span, the regions the points never reached included (both tails of a two-sided event
    seen on one side only).

    Returns
    -------
    (Gaussian, float)
        The component and the effective sample size of the weights.
    """
    w, n_eff = weights_and_ess(log_weights)
    diff = points - centre
    moment = regularise_covariance((diff * w[:, None]).T @ diff, n_eff, reference_cov)
    root = np.linalg.cholesky(reference_cov)
    root_inv = solve_triangular(root, np.eye(root.shape[0]), lower=True)
    values, vectors = np.linalg.eigh(root_inv @ moment @ root_inv.T)
    whitened = (vectors * np.maximum(values, 1.0)) @ vectors.T
    cov = root @ whitened @ root.T
    return Gaussian(centre, 0.5 * (cov + cov.T)), n_eff

"""Multivariate Student t proposals, fitted by weighted EM (heavier tails than Gaussians).

``t_ν(μ, Σ)`` has density

    Γ((ν+d)/2) / (Γ(ν/2) (νπ)^{d/2} |Σ|^{1/2}) · (1 + δ/ν)^{-(ν+d)/2},  δ = (z-μ)^T Σ^{-1} (z-μ).

With the degrees of freedom ``ν`` fixed, the weighted maximum-likelihood fit is the EM
fixed point (Liu & Rubin 1995) ``u_i = (ν+d)/(ν+δ_i)``,
``μ = sum ω_i u_i z_i / sum ω_i u_i``, ``Σ = sum ω_i u_i (z_i-μ)(z_i-μ)^T / sum ω_i``.
Its polynomial tails keep ``phi f / g`` bounded where a Gaussian fit would be too narrow.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .base import weights_and_ess
from .gaussian import LocationScale, regularise_covariance, shrink_mean

__all__ = ["StudentT", "fit_student"]


class StudentT(LocationScale):
    """Multivariate Student t with location ``mean``, scale matrix ``cov``, ``dof`` ν."""

    def __init__(self, mean, cov, dof: float):
        super().__init__(mean, cov)
        self.dof = float(dof)
        d, nu = self.dim, self.dof
        self._log_norm = (gammaln((nu + d) / 2) - gammaln(nu / 2) - 0.5 * d * np.log(nu * np.pi)
                          - self._half_logdet)

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """Log-density at the rows of ``z``."""
        return self.logpdf_from_mahalanobis(self.mahalanobis(z))

    def logpdf_from_mahalanobis(self, delta: np.ndarray) -> np.ndarray:
        """Log-density from the squared Mahalanobis distances ``δ``:
        ``c - (ν + d)/2 log(1 + δ/ν)``."""
        return self._log_norm - 0.5 * (self.dof + self.dim) * np.log1p(delta / self.dof)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``μ + L e / sqrt(g / ν)``, ``e ~ N(0, I)``, ``g ~ χ²_ν``."""
        e = rng.standard_normal((n, self.dim)) @ self._chol.T
        g = rng.chisquare(self.dof, size=n)
        return self.mean + e / np.sqrt(g / self.dof)[:, None]

    def describe(self) -> dict:
        """JSON-able parameters."""
        return {"family": "student", "mean": self.mean.tolist(), "cov": self.cov.tolist(),
                "dof": self.dof}


def fit_student(points: np.ndarray, log_weights: np.ndarray, *, reference_cov: np.ndarray,
                dof: float = 5.0, max_iter: int = 30, tol: float = 1e-6,
                reference_mean=None) -> tuple[StudentT, float]:
    """Weighted EM fit of a Student t with fixed degrees of freedom ``dof``.

    The scale matrix is shrunk toward ``reference_cov`` like the Gaussian fit's (see
    ``gaussian.py``), so a component with few effective points stays well conditioned.
    With ``reference_mean`` (the law's centre) the fitted location is pulled toward it
    (:func:`~multiexpect.proposals.shrink_mean`) after the EM; the scale matrix stays the
    one fitted about the unpulled location.
    """
    w, n_eff = weights_and_ess(log_weights)
    keep = w > 0
    pts, w = points[keep], w[keep]
    d = points.shape[1]
    mean = w @ pts
    diff = pts - mean
    cov = regularise_covariance((diff * w[:, None]).T @ diff, n_eff, reference_cov)
    for _ in range(max_iter):
        model = StudentT(mean, cov, dof)
        u = (dof + d) / (dof + model.mahalanobis(pts))
        wu = w * u
        new_mean = wu @ pts / wu.sum()
        diff = pts - new_mean
        new_cov = regularise_covariance((diff * wu[:, None]).T @ diff, n_eff, reference_cov)
        shift = np.max(np.abs(new_mean - mean)) + np.max(np.abs(new_cov - cov))
        mean, cov = new_mean, new_cov
        if shift < tol * (1.0 + np.max(np.abs(cov))):
            break
    return StudentT(shrink_mean(mean, n_eff, reference_mean), cov, dof), n_eff

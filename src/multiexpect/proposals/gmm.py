"""Gaussian-mixture proposals fitted by weighted expectation-maximisation.

Beware (measured, ``docs/method.md``): narrow mixture components have lighter tails than
integrands such as ``x^(2j) φ(x)``; keep a defensive component in the final mixture.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .base import effective_sample_size, normalised_weights
from .gaussian import Gaussian, _regularise, fit_gaussian

__all__ = ["GaussianMixture", "fit_gmm"]


class GaussianMixture:
    """``sum_m π_m N(μ_m, Σ_m)``, evaluated by log-sum-exp."""

    def __init__(self, components: list[Gaussian], weights):
        self.components = list(components)
        self.weights = np.asarray(weights, dtype=float)
        self.dim = self.components[0].dim
        with np.errstate(divide="ignore"):
            self._log_weights = np.log(self.weights)

    def component_logpdfs(self, z: np.ndarray) -> np.ndarray:
        """``log π_m + log N(z; μ_m, Σ_m)`` as an (n, M) array."""
        return np.column_stack(
            [lw + c.logpdf(z) for lw, c in zip(self._log_weights, self.components)]
        )

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """Mixture log-density."""
        return logsumexp(self.component_logpdfs(z), axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw component counts from the multinomial, then each component's points."""
        counts = rng.multinomial(n, self.weights)
        parts = [c.sample(k, rng) for c, k in zip(self.components, counts) if k]
        out = np.concatenate(parts, axis=0) if parts else np.empty((0, self.dim))
        return out[rng.permutation(n)]

    def describe(self) -> dict:
        """JSON-able parameters."""
        return {"family": "gmm", "weights": self.weights.tolist(),
                "components": [c.describe() for c in self.components]}


def fit_gmm(points: np.ndarray, log_weights: np.ndarray, *, reference_cov: np.ndarray,
            n_components: int = 2, rng: np.random.Generator, max_iter: int = 100,
            tol: float = 1e-6) -> tuple[GaussianMixture | Gaussian, float]:
    """Weighted EM for a Gaussian mixture (the cross-entropy update of a GMM family).

    Responsibilities ``r_im ∝ π_m N(z_i; μ_m, Σ_m)``; the M-step is the weighted fit of each
    component with weights ``ω_i r_im``. Initial means are drawn by weighted k-means++
    seeding with ``rng``. Falls back to one Gaussian when the effective sample size is below
    ``n_components (d + 1)``.
    """
    d = points.shape[1]
    w = normalised_weights(log_weights)
    n_eff = effective_sample_size(log_weights)
    if n_components <= 1 or n_eff < n_components * (d + 1):
        return fit_gaussian(points, log_weights, reference_cov=reference_cov)
    support = np.flatnonzero(w > 0)
    pts, ww = points[support], w[support] / w[support].sum()
    # weighted k-means++ seeding
    centres = [pts[rng.choice(len(pts), p=ww)]]
    for _ in range(1, n_components):
        d2 = np.min([np.sum((pts - c) ** 2, axis=1) for c in centres], axis=0)
        p = ww * d2
        if p.sum() <= 0:
            break
        centres.append(pts[rng.choice(len(pts), p=p / p.sum())])
    global_cov = _regularise((pts - ww @ pts).T @ ((pts - ww @ pts) * ww[:, None]), n_eff,
                             reference_cov)
    comps = [Gaussian(c, global_cov) for c in centres]
    mix = np.full(len(comps), 1.0 / len(comps))
    previous = -np.inf
    for _ in range(max_iter):
        model = GaussianMixture(comps, mix)
        log_resp = model.component_logpdfs(pts)
        log_total = logsumexp(log_resp, axis=1)
        log_lik = float(ww @ log_total)
        resp = np.exp(log_resp - log_total[:, None])
        new_comps, new_mix = [], []
        for m in range(len(comps)):
            wm = ww * resp[:, m]
            mass = wm.sum()
            if mass <= 1e-12:
                continue
            with np.errstate(divide="ignore"):
                comp, _ = fit_gaussian(pts, np.log(wm), reference_cov=reference_cov)
            # shrink with the component's share of the effective sample size
            ess_m = n_eff * mass
            diff = pts - comp.mean
            cov = (diff * (wm / mass)[:, None]).T @ diff
            new_comps.append(Gaussian(comp.mean, _regularise(cov, ess_m, reference_cov)))
            new_mix.append(mass)
        comps, mix = new_comps, np.asarray(new_mix) / np.sum(new_mix)
        if abs(log_lik - previous) < tol * (1.0 + abs(log_lik)):
            break
        previous = log_lik
    if len(comps) == 1:
        return comps[0], n_eff
    return GaussianMixture(comps, mix), n_eff

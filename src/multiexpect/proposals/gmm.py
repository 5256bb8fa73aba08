"""Mixtures of Gaussians or of Student t's, fitted by weighted expectation-maximisation.

Beware (measured, ``docs/method.md``): narrow Gaussian components have lighter tails than
integrands such as ``x^(2j) φ(x)``; keep a defensive component in the final mixture.
"""

from __future__ import annotations

import numpy as np

from ..logspace import logsumexp_rows
from .base import weights_and_ess
from .gaussian import Gaussian, fit_gaussian, regularise_covariance
from .student import StudentT, fit_student

__all__ = ["REGION_SEEDINGS", "GaussianMixture", "fit_gmm", "fit_regions",
           "fit_student_mixture"]

#: k-means++ seedings tried for each number of regions (:func:`fit_regions`).
REGION_SEEDINGS = 4


class GaussianMixture:
    """``sum_m π_m g_m`` with Gaussian (``N(μ_m, Σ_m)``) or Student t (``t_ν(μ_m, Σ_m)``)
    components, evaluated by log-sum-exp."""

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
        return logsumexp_rows(self.component_logpdfs(z))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw component counts from the multinomial, then each component's points."""
        counts = rng.multinomial(n, self.weights)
        parts = [c.sample(k, rng) for c, k in zip(self.components, counts) if k]
        out = np.concatenate(parts, axis=0) if parts else np.empty((0, self.dim))
        return out[rng.permutation(n)]

    def describe(self) -> dict:
        """JSON-able parameters."""
        family = ("student-mixture" if isinstance(self.components[0], StudentT) else "gmm")
        return {"family": family, "weights": self.weights.tolist(),
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
    return _fit_mixture(points, log_weights, reference_cov, n_components, rng, max_iter, tol,
                        dof=None)


def fit_regions(points: np.ndarray, log_weights: np.ndarray, *, reference_cov: np.ndarray,
                max_components: int, rng: np.random.Generator, max_iter: int = 20,
                target=None, seedings: int = REGION_SEEDINGS
                ) -> tuple[list[Gaussian], np.ndarray, float]:
    """Gaussians, one per region of the weighted points: of the mixtures of ``K = 1, 2, ...,
    max_components`` Gaussians (:func:`fit_gmm`; ``K > 1`` needs ``n_eff >= K (d + 1)``), the
    one with the smallest Bayesian information criterion

        BIC_K = -2 n_eff sum_i ω_i log g_K(z_i) + (K (d + d (d + 1) / 2) + K - 1) log n_eff

    (normalised weights ``ω``, effective sample size ``n_eff``): a failure domain made of
    separate regions gets a component in each, which one Gaussian spread over all of them
    would sample mostly between them; one region gets one Gaussian. Every ``K`` allowed is
    tried, each from ``seedings`` k-means++ seedings (the one of highest likelihood kept):
    a small region (a branch with a few per cent of the points) is seeded by one draw in
    a few, and a ``K`` whose EM merged it with another scores no better than ``K - 1``.
    ``target(points, log_weights)`` (optional) gives each component's shrinkage target
    from its own weighted points (``log ω_i + log r_im``), else ``reference_cov``. At most
    ``max_iter`` EM iterations per fit. Returns the components, their weights and
    ``n_eff``.
    """
    d = points.shape[1]
    w, n_eff = weights_and_ess(log_weights)
    best, best_bic = None, np.inf
    for k in range(1, max(1, int(max_components)) + 1):
        if k > 1 and n_eff < k * (d + 1):
            break
        for seeding in range(1 if k == 1 else max(1, int(seedings))):
            fitted, _ = _fit_mixture(points, log_weights, reference_cov, k, rng, max_iter,
                                     1e-5, dof=None, target=target, greedy=seeding == 0)
            comps, mix = ((fitted.components, fitted.weights)
                          if isinstance(fitted, GaussianMixture) else ([fitted], np.ones(1)))
            log_g = GaussianMixture(comps, mix).logpdf(points[w > 0])
            n_params = len(comps) * (d + d * (d + 1) / 2) + len(comps) - 1
            bic = (-2.0 * n_eff * float(w[w > 0] @ log_g)
                   + n_params * np.log(max(n_eff, 2.0)))
            if bic < best_bic:
                best, best_bic = (list(comps), np.asarray(mix, dtype=float)), bic
    return best[0], best[1], n_eff


def fit_student_mixture(points: np.ndarray, log_weights: np.ndarray, *,
                        reference_cov: np.ndarray, n_components: int = 2,
                        rng: np.random.Generator, dof: float = 5.0, max_iter: int = 100,
                        tol: float = 1e-6) -> tuple[GaussianMixture | StudentT, float]:
    """Weighted EM for a mixture of Student t's with ``dof`` degrees of freedom.

    Responsibilities ``r_im ∝ π_m t_ν(z_i; μ_m, Σ_m)``; the M-step fits each t to the
    weights ``ω_i r_im`` by its own EM fixed point (:func:`~.student.fit_student`), an
    expectation-conditional-maximisation scheme (Peel & McLachlan 2000, with ν fixed). Same
    seeding and fall-back to one t as :func:`fit_gmm`.
    """
    return _fit_mixture(points, log_weights, reference_cov, n_components, rng, max_iter, tol,
                        dof=float(dof))


def _fit_component(points, log_weights, reference_cov, dof, target=None):
    if target is not None:
        reference_cov = target(points, log_weights)
    if dof is None:
        return fit_gaussian(points, log_weights, reference_cov=reference_cov)
    return fit_student(points, log_weights, reference_cov=reference_cov, dof=dof)


def _fit_mixture(points, log_weights, reference_cov, n_components, rng, max_iter, tol, dof,
                 target=None, greedy=False):
    d = points.shape[1]
    w, n_eff = weights_and_ess(log_weights)
    if n_components <= 1 or n_eff < n_components * (d + 1):
        return _fit_component(points, log_weights, reference_cov, dof, target)
    support = np.flatnonzero(w > 0)
    pts, ww = points[support], w[support] / w[support].sum()
    # weighted k-means++ seeding (greedy: the heaviest point, then each time the point of
    # largest weight times squared distance to the centres so far)
    centres = [pts[np.argmax(ww)] if greedy else pts[rng.choice(len(pts), p=ww)]]
    for _ in range(1, n_components):
        d2 = np.min([np.sum((pts - c) ** 2, axis=1) for c in centres], axis=0)
        p = ww * d2
        if p.sum() <= 0:
            break
        centres.append(pts[np.argmax(p)] if greedy else pts[rng.choice(len(pts), p=p / p.sum())])
    global_cov = regularise_covariance(
        (pts - ww @ pts).T @ ((pts - ww @ pts) * ww[:, None]), n_eff, reference_cov)
    comps = [Gaussian(c, global_cov) if dof is None else StudentT(c, global_cov, dof)
             for c in centres]
    mix = np.full(len(comps), 1.0 / len(comps))
    previous = -np.inf
    for _ in range(max_iter):
        model = GaussianMixture(comps, mix)
        log_resp = model.component_logpdfs(pts)
        log_total = logsumexp_rows(log_resp)
        log_lik = float(ww @ log_total)
        resp = np.exp(log_resp - log_total[:, None])
        new_comps, new_mix = [], []
        for m in range(len(comps)):
            wm = ww * resp[:, m]
            mass = wm.sum()
            if mass <= 1e-12:
                continue
            with np.errstate(divide="ignore"):
                log_wm = np.log(wm)
            # the component's own shrinkage target, from its own weighted points
            ref_m = reference_cov if target is None else target(pts, log_wm)
            if dof is None:
                # the weighted mean of fit_gaussian, its covariance shrunk with the
                # component's share of the effective sample size (a t keeps the shrinkage
                # of its own fit, by the effective size of the weights ω r_m)
                mean = weights_and_ess(log_wm)[0] @ pts
                diff = pts - mean
                cov = (diff * (wm / mass)[:, None]).T @ diff
                comp = Gaussian(mean, regularise_covariance(cov, n_eff * mass, ref_m))
            else:
                comp, _ = _fit_component(pts, log_wm, ref_m, dof)
            new_comps.append(comp)
            new_mix.append(mass)
        comps, mix = new_comps, np.asarray(new_mix) / np.sum(new_mix)
        if abs(log_lik - previous) < tol * (1.0 + abs(log_lik)):
            break
        previous = log_lik
    if len(comps) == 1:
        return comps[0], n_eff
    return GaussianMixture(comps, mix), n_eff

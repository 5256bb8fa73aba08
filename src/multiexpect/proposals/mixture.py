"""The mixture ``g_α = sum_k α_k g_k`` that aISCV samples from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..logspace import logsumexp_rows, mixture_and_ratios

__all__ = ["Mixture"]


class Mixture:
    """A finite mixture of proposals with weights ``alpha`` on the simplex.

    Parameters
    ----------
    components : sequence of proposals
        Each has ``logpdf(z)`` and ``sample(n, rng)``.
    alpha : (K,) array_like
        Non-negative weights summing to one.
    """

    def __init__(self, components: Sequence, alpha):
        self.components = list(components)
        self.alpha = np.asarray(alpha, dtype=float)
        if self.alpha.shape != (len(self.components),):
            raise ValueError("'alpha' must have one weight per component")
        self.dim = self.components[0].dim
        with np.errstate(divide="ignore"):
            self._log_alpha = np.log(self.alpha)

    def component_logpdfs(self, z: np.ndarray) -> np.ndarray:
        """``log g_k(z)`` as an (n, K) array."""
        return np.column_stack([c.logpdf(z) for c in self.components])

    def logpdf_from_components(self, comp_logpdfs: np.ndarray) -> np.ndarray:
        """``log g_α`` from the (n, K) component log-densities."""
        return logsumexp_rows(comp_logpdfs, self._log_alpha)

    def logpdf_and_ratios(self, comp_logpdfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log g_α`` and the ratios ``g_k / g_α`` ((n,), (n, K)) from the (n, K) component
        log-densities, by one exponential per entry (equal to :meth:`logpdf_from_components`
        and ``exp(log g_k - log g_α)`` to rounding)."""
        return mixture_and_ratios(comp_logpdfs, self.alpha)

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """``log g_α(z)``."""
        return self.logpdf_from_components(self.component_logpdfs(z))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Multinomial component counts, then each component's points, in random order."""
        counts = rng.multinomial(n, self.alpha)
        parts = [c.sample(int(k), rng) for c, k in zip(self.components, counts) if k]
        out = np.concatenate(parts, axis=0) if parts else np.empty((0, self.dim))
        return out[rng.permutation(n)]

"""What a proposal is, and the weighted-sample helpers every family's fit uses."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Proposal", "effective_sample_size", "normalised_weights", "weights_and_ess"]


@runtime_checkable
class Proposal(Protocol):
    """A density on ``R^d`` that can be evaluated (in log space) and sampled."""

    dim: int

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """Log-density at the rows of ``z`` ((n, d) -> (n,))."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. points ((n, d))."""


def normalised_weights(log_weights: np.ndarray) -> np.ndarray:
    """Weights ``exp(lw - max lw)`` summing to one; zeros where ``lw = -inf``.

    Raises
    ------
    ValueError
        If every log-weight is ``-inf`` (nothing to fit on).
    """
    lw = np.asarray(log_weights, dtype=float)
    top = np.max(lw) if lw.size else -np.inf
    if not np.isfinite(top):
        raise ValueError("every weight is zero: nothing to fit the proposal on")
    w = np.exp(lw - top)
    return w / w.sum()


def effective_sample_size(log_weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of log-weights."""
    lw = np.asarray(log_weights, dtype=float)
    if lw.size == 0 or not np.isfinite(np.max(lw)):
        return 0.0
    return weights_and_ess(lw)[1]


def weights_and_ess(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """:func:`normalised_weights` and, from the same weights, the effective sample size
    ``1 / sum w^2`` (what a fit needs, without exponentiating twice)."""
    w = normalised_weights(log_weights)
    return w, float(1.0 / np.sum(w * w))

"""The criterion's weights ``w_j`` in ``sum_j w_j Var(Î_j)``: names, checks, resolution."""

from __future__ import annotations

import numpy as np

from ..vocabulary import ENGINE_WEIGHTS

__all__ = ["WEIGHT_NAMES", "check_weights", "resolve_weights"]

#: The named weights: ``1 / I_j^2`` from the pilot, or ones (:mod:`multiexpect.vocabulary`).
WEIGHT_NAMES = ENGINE_WEIGHTS


def resolve_weights(spec, estimate: np.ndarray, stderr: np.ndarray,
                    spread: np.ndarray | None = None) -> np.ndarray:
    """The criterion's weights ``w_j`` from the user's ``weights`` and the pilot estimate.

    ``"relative"`` gives ``1 / max(Î_j^2, se_j^2, m_j^2)``: the pilot's standard error
    guards a quantity near 0, and so does ``m_j = mean |phi_j f_j / g_0|`` (``spread``;
    0 where not given), the size of a signed quantity's parts: a quantity whose parts
    cancel is measured against them, not against the pilot's noise, which would otherwise
    give it a weight growing with the pilot size (for a positive quantity ``m_j = Î_j``
    and the pilot passes 0). A quantity identically 0 on the pilot gets the largest other
    weight.
    A callable is called with the pilot estimate ``Î`` and returns the ``J`` weights (the
    sensitivity analyses pass their delta-method weights this way).
    """
    j = estimate.shape[0]
    if callable(spec):  # weights that depend on the quantities, e.g. delta-method ones
        return check_weights(spec(estimate), j)
    if isinstance(spec, str):
        if spec == "absolute":
            return np.ones(j)
        if spec not in WEIGHT_NAMES:
            raise ValueError(
                f"'weights' must be 'relative', 'absolute' or {j} positive numbers, got {spec!r}"
            )
        denom = np.maximum(estimate**2, np.where(np.isfinite(stderr), stderr**2, 0.0))
        if spread is not None:
            denom = np.maximum(denom, np.where(np.isfinite(spread), spread**2, 0.0))
        with np.errstate(divide="ignore"):
            w = np.where(denom > 0, 1.0 / denom, np.nan)
        if np.all(np.isnan(w)):
            return np.ones(j)
        return np.where(np.isnan(w), np.nanmax(w), w)
    return check_weights(spec, j)


def check_weights(spec, j: int) -> np.ndarray:
    """Validate explicit weights: ``j`` finite positive numbers."""
    w = np.asarray(spec, dtype=float).reshape(-1)
    if w.shape != (j,):
        raise ValueError(f"'weights' must have {j} entries (one per quantity), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"'weights' must be finite and positive, got {w.tolist()}")
    return w

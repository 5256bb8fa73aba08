"""What one engine run returns: the estimate and everything a caller reports about it."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..problem import Problem
from .state import Candidate, Stage

__all__ = ["EngineResult", "with_surrogate"]


@dataclass(frozen=True)
class EngineResult:
    """The final estimate of one engine run and its record.

    Attributes
    ----------
    estimate, stderr : (J,) arrays
        ``Î_j`` (final stage, pooled with earlier stages where the rule allows) and its
        standard error.
    covariance : (J, J) array
        Covariance of the estimate (not of the summands).
    n_final : int
        Points of the final sample (the pilot's included when the law was kept).
    n_pooled : int
        Points of the earlier stages that joined the estimate of some quantity.
    pooled_stages : list of int
        Stages whose plain IS means were offered to the pooling.
    pooled_lambdas : list of lists
        Their weights per quantity, the final stage's last (empty when nothing was pooled).
    chosen_stage : int
        The stage whose proposal served the final stage (0: the law).
    predicted_error : float
        That proposal's predicted final error ``E_t``.
    problem : Problem
    weights : (J,) array
        The criterion's weights ``w_j``.
    history : tuple of Stage
    runs_used : int
        Model runs in all.
    pilot_estimate : (J,) array
    selection_scores : list of float or None
        Every candidate's score (``keep="best"`` with adaptive stages).
    chosen : Candidate
        The kept proposal and its control coefficients.
    final_sample : dict or None
        With ``keep_sample``: the final sample's ``z``, ``x``, ``outputs``, ``log_g`` and
        ``summands``.
    rqmc : dict or None
        With an RQMC final stage: ``sampling``, ``interval``, ``dof``, ``replicates``,
        ``points_per_replicate`` and the ``allocation`` of each replicate's points to the
        proposal's atoms (joins the diagnostics); the law route of ``sampling="auto"``
        likewise, without ``allocation``.
    route : dict or None
        With ``sampling="auto"``: which route the pilot chose and why
        (:meth:`~.law_first.Route.record`; joins the diagnostics).
    points_not_run : int
        Points drawn but not run, their integrand 0: where no law has mass, or where the
        law has no practical mass (:mod:`.practical`).
    effective_points : (J,) array or None
        Kish's effective sample size of each quantity's final-stage IS responses
        ``phi_j f / g`` (:mod:`~multiexpect.estimators.effective_size`).
    """

    estimate: np.ndarray
    stderr: np.ndarray
    covariance: np.ndarray
    n_final: int
    n_pooled: int
    pooled_stages: list
    pooled_lambdas: list
    chosen_stage: int
    predicted_error: float
    problem: Problem
    weights: np.ndarray
    history: tuple[Stage, ...]
    runs_used: int
    pilot_estimate: np.ndarray
    selection_scores: list | None
    chosen: Candidate
    final_sample: dict | None = None
    rqmc: dict | None = None
    route: dict | None = None
    points_not_run: int = 0
    effective_points: np.ndarray | None = None

    def diagnostics(self) -> dict:
        """The JSON-able diagnostics of an :class:`~multiexpect.ExpectationResult`."""
        return {"chosen_stage": self.chosen_stage, "n_final": self.n_final,
                "n_pooled": self.n_pooled, "pooled_stages": self.pooled_stages,
                "pooled_lambdas": self.pooled_lambdas,
                "predicted_error": self.predicted_error, "space": self.problem.space,
                "selection_scores": self.selection_scores,
                "pilot_estimate": self.pilot_estimate.tolist(),
                "points_not_run": self.points_not_run} | (self.rqmc or {}) | (self.route or {}) | (
            {} if self.effective_points is None
            else {"effective_points": [float(v) for v in self.effective_points]})

    def history_records(self) -> tuple[dict, ...]:
        """Every stage as a JSON-able record."""
        return tuple(s.as_dict() for s in self.history)


def with_surrogate(result: EngineResult, record: dict, floor: np.ndarray,
                   cross: np.ndarray | None = None) -> EngineResult:
    """``result`` with a chaos control's ``record``, its replicates' standard errors widened
    by ``cross`` ((J,): the covariance of two cross-fitted nets that their spread misses,
    :mod:`.law_pairs`; the variance of the mean gains ``max(cross, 0)``, the covariance
    matrix keeps its correlations, and each quantity's factor is listed in
    ``cross_fit_scale`` for the subset-means interval), and each controlled quantity's
    standard error kept at least its ``floor`` (:data:`~multiexpect.polychaos.RESOLUTION`
    times its values' root mean square; 0 where plain); a quantity whose floor binds is
    listed in ``resolution_floor``, and its interval is Student's t on that standard error
    (:meth:`~multiexpect.results.ExpectationResult.confidence_interval`)."""
    rqmc = {**result.rqmc, "surrogate": record}
    stderr = np.asarray(result.stderr, dtype=float)
    covariance = np.array(result.covariance, dtype=float)
    extra = np.zeros_like(stderr) if cross is None else np.maximum(cross, 0.0)
    if np.any(extra > 0):
        widened = np.sqrt(stderr**2 + extra)
        scale = np.divide(widened, stderr, out=np.ones_like(widened), where=stderr > 0)
        covariance *= np.outer(scale, scale)
        covariance[np.diag_indices_from(covariance)] = np.maximum(np.diag(covariance),
                                                                  widened**2)
        stderr = widened
        rqmc["cross_fit_scale"] = scale.tolist()
    floored = stderr < floor
    if np.any(floored):
        stderr = np.maximum(stderr, floor)
        covariance[np.diag_indices_from(covariance)] = np.maximum(np.diag(covariance),
                                                                  stderr**2)
        rqmc["resolution_floor"] = np.flatnonzero(floored).tolist()
    return replace(result, stderr=stderr, covariance=covariance, rqmc=rqmc)

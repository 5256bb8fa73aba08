r"""The adaptive stages beside an RQMC final stage: cross-fitted control variates, pooled.

With ``sampling="rqmc"`` the final stage is ``R`` replicates of the frozen proposal
(:mod:`.rqmc_final`), its estimate ``Î_F`` with the replicates' variance ``v_F = se_F^2``
(``R - 1`` degrees of freedom). The adaptive batches, drawn i.i.d. from proposals fixed
before them, give estimates too; their plain importance-sampling means are far less precise
than the final stage's ISCV mean (on the 100-law beam 50x in variance per point), so they
carry control variates here, fitted without looking at the points they correct:

* **Cross-fitted ISCV of a stage.** Stage ``s`` (proposal ``g_s = sum_k α_k g_k``, its
  controls ``c_k = g_k / g_s - 1``) is cut into its even and odd rows ``A`` and ``B``;
  ``β_A`` is the least-squares slope of the responses ``r = phi f / g_s`` on the controls
  over ``A`` (:func:`~multiexpect.estimators.control_variates.regress_controls`, the
  controls the stage's own ``β`` used), ``β_B`` over ``B``, and

      Î_s = (n_A mean_A(r - c β_B^T) + n_B mean_B(r - c β_A^T)) / n_s .

  Given the past, ``A`` and ``B`` are independent samples of ``g_s`` and every control has
  mean 0, so ``E[Î_s | past] = I`` **exactly** (a coefficient fitted on the points it
  corrects would leave a bias of order ``1/n_s``). The pilot (the law, no control) keeps
  its plain mean.
* **Their variances**, ``V_s = Var_{g_s}(r - c β̄_s^T)`` per point (``β̄_s`` the mean of
  ``β_A``, ``β_B``), are estimated on the final sample by reweighting,
  ``E_{g_s}[e e^T] = E_ḡ[e e^T g_s / ḡ]`` (every final point is marginally from the
  realised mixture ``ḡ``, net or not), never on the stage's own points
  (:mod:`~multiexpect.estimators.pooling` says why).
* **Which stages** (:func:`~.final.pooling_rule`, as with ``sampling="mc"``): the
  quantities the rule pools, a stage where ``V_s <= tie V_F^{iid}`` (``V_F^{iid}`` the
  final summands' variance per point).
* **The combination**, per quantity: ``Î = λ_F Î_F + sum_s λ_s Î_s`` with
  ``λ ∝ 1/v`` (``v_s = V_s / n_s``), its variance ``sum λ^2 v`` (covariances likewise),
  and the interval Student's t on the Welch–Satterthwaite degrees of freedom
  ``(sum λ^2 v)^2 / (λ_F^4 v_F^2 / (R - 1) + sum_s λ_s^4 v_s^2 / (n_F - 1))``, the
  smallest over the quantities (one ``dof`` for the result: at least ``R - 1``, the
  replicates'). The weights depend on ``se_F`` and the final sample, so the estimate is
  unbiased up to the small terms of any estimated inverse-variance combination (measured
  over repetitions: tests and docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np

from ..estimators.control_variates import regress_controls
from ..estimators.importance import is_responses, log_ratio_exp
from .sample import component_logpdfs
from .state import EngineState

__all__ = ["RqmcStagePooling", "cross_fitted_stage"]


def _controls(state: EngineState, stage: int, z: np.ndarray, log_law_mix: np.ndarray):
    """``log g_s`` and the controls ``g_k / g_s - 1`` ((n, K), None for the law) of stage
    ``stage``'s proposal at working points ``z``."""
    if stage == 0:
        return log_law_mix, None
    cand = state.candidates[stage]
    log_comp = component_logpdfs(cand.proposal.components[:-1], z, log_law_mix)
    log_g = cand.proposal.logpdf_from_components(log_comp)
    if cand.beta is None or not cand.beta.size:
        return log_g, None
    return log_g, log_ratio_exp(log_comp, log_g[:, None]) - 1.0


def cross_fitted_stage(state: EngineState, stage: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Stage ``stage``'s cross-fitted ISCV mean ((J,)) and ``β̄_s`` ((J, K), None for a
    stage without controls: its plain mean)."""
    sample, problem = state.sample, state.problem
    rows = sample.stage_rows(stage)
    log_laws = sample.log_laws[rows]
    log_law_mix = state.setup.initial.logpdf_from_laws(log_laws)
    log_g, controls = _controls(state, stage, sample.z[rows], log_law_mix)
    responses = is_responses(sample.phi[rows], log_laws[:, problem.law_index], log_g)
    if controls is None:
        return responses.mean(axis=0), None
    mask = np.asarray(state.candidates[stage].beta) != 0
    halves = (slice(0, None, 2), slice(1, None, 2))
    betas = [regress_controls(responses[h], controls[h], mask)[0] for h in halves]
    total = np.zeros(problem.n_quantities)
    for h, beta in zip(halves, reversed(betas)):  # each half corrected by the other's β
        total += np.sum(responses[h] - controls[h] @ beta.T, axis=0)
    return total / responses.shape[0], 0.5 * (betas[0] + betas[1])


class RqmcStagePooling:
    """Accumulate, over the final replicates' points, each pooled stage's reweighted second
    moments and the final summands' per-point variance; then combine (module docstring).

    Parameters
    ----------
    state : EngineState
        The state after adaptation.
    stages : list of int
        The stages offered to the pooling.
    """

    def __init__(self, state: EngineState, stages: list[int]):
        self.state = state
        self.stages = list(stages)
        fitted = [cross_fitted_stage(state, s) for s in self.stages]
        self.means = np.array([m for m, _ in fitted]).reshape(len(self.stages), -1)
        self.betas = [b for _, b in fitted]
        self.sizes = np.array([state.sample.counts[s] for s in self.stages], dtype=float)
        width = state.problem.n_quantities
        self._second = np.zeros((len(self.stages), width, width))
        self._finite = np.ones(len(self.stages), dtype=bool)
        self._sum = np.zeros(width)
        self._sum2 = np.zeros(width)
        self.n = 0

    def update(self, z: np.ndarray, phi: np.ndarray, log_laws: np.ndarray,
               log_g: np.ndarray, summands: np.ndarray) -> None:
        """Add one replicate's points: working points ``z``, quantity values ``phi``, law
        log-densities, ``log ḡ`` (the realised mixture they follow) and the final summands."""
        problem = self.state.problem
        log_law_mix = self.state.setup.initial.logpdf_from_laws(log_laws)
        log_f = log_laws[:, problem.law_index]
        for i, (s, beta) in enumerate(zip(self.stages, self.betas)):
            log_gs, controls = _controls(self.state, s, z, log_law_mix)
            resid = is_responses(phi, log_f, log_gs)
            if beta is not None:
                resid -= controls @ beta.T
            with np.errstate(over="ignore"):
                ratio = np.exp(log_gs - log_g)  # g_s / ḡ
            ok = np.isfinite(ratio)
            self._finite[i] &= bool(np.all(ok)) and bool(np.all(np.isfinite(resid)))
            ratio = np.where(ok, ratio, 0.0)
            resid = np.where(np.isfinite(resid), resid, 0.0)
            self._second[i] += (resid * ratio[:, None]).T @ resid
        self._sum += summands.sum(axis=0)
        self._sum2 += np.sum(summands**2, axis=0)
        self.n += summands.shape[0]

    def combine(self, final_values: np.ndarray, tie: float,
                quantities: np.ndarray | None) -> dict:
        """The pooled estimate from the final replicates' estimates ``final_values``
        ((R, J)): ``estimate``, ``covariance``, ``dof`` (scalar), ``lambdas`` ((S + 1, J),
        the final stage's last)."""
        reps = final_values.shape[0]
        mean_f = final_values.mean(axis=0)
        cov_f = np.atleast_2d(np.cov(final_values, rowvar=False)) / reps
        v_f = np.diag(cov_f)
        n = max(self.n, 1)
        per_point_f = np.maximum(self._sum2 / n - (self._sum / n) ** 2, 0.0)
        stage_cov = self._second / n - np.outer(mean_f, mean_f)[None]
        stage_var = np.diagonal(stage_cov, axis1=1, axis2=2)  # (S, J) per point
        usable = (self._finite[:, None] & np.isfinite(self.means) & (stage_var > 0)
                  & (stage_var <= tie * np.where(per_point_f > 0, per_point_f, np.inf)))
        if quantities is not None:
            usable &= np.asarray(quantities, dtype=bool)[None, :]
        usable &= (v_f > 0)[None, :]
        v_s = np.where(usable, stage_var, 1.0) / self.sizes[:, None]
        precision = np.vstack([np.where(usable, 1.0 / v_s, 0.0),
                               np.where(v_f > 0, 1.0 / np.where(v_f > 0, v_f, 1.0), 1.0)])
        lambdas = precision / precision.sum(axis=0)
        estimate = lambdas[-1] * mean_f + np.sum(lambdas[:-1] * np.where(
            usable, self.means, 0.0), axis=0)
        covs = np.where(usable[:, :, None] & usable[:, None, :],
                        stage_cov / self.sizes[:, None, None], 0.0)
        covariance = (np.einsum("sj,sk,sjk->jk", lambdas[:-1], lambdas[:-1], covs)
                      + np.outer(lambdas[-1], lambdas[-1]) * cov_f)
        var = np.diag(covariance)
        parts_f = (lambdas[-1] ** 2 * v_f) ** 2 / max(reps - 1, 1)
        parts_s = np.sum(np.where(usable, (lambdas[:-1] ** 2 * v_s) ** 2, 0.0), axis=0) \
            / max(n - 1, 1)
        denom = parts_f + parts_s
        with np.errstate(divide="ignore", invalid="ignore"):
            dofs = np.where(denom > 0, var**2 / denom, np.inf)
        dof = float(max(reps - 1, np.min(dofs))) if dofs.size else float(reps - 1)
        return {"estimate": estimate, "covariance": covariance, "dof": dof,
                "lambdas": lambdas, "usable": usable}

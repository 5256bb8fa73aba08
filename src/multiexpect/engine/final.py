"""The final stage (steps 6-7 of ``docs/method.md``): the rest of the budget, frozen proposal.

The kept proposal ``g_F`` and its ``β`` are fixed before the final points are drawn, so the
final sample is fresh: its ISCV mean is unbiased and its standard error honest, after any
number of adaptive steps. The plain IS means of earlier stages may join it, each quantity
weighing each stage by that stage's variance for it, measured on the final sample (its first
``REWEIGHT_POINTS``), :class:`~multiexpect.estimators.pooling.StagePooling`, under
:func:`pooling_rule`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import batch_keys
from ..estimators.effective_size import KishSize
from ..estimators.importance import (
    StreamingMoments,
    is_responses,
    iscv_summands,
)
from ..estimators.pooling import StagePooling
from ..sampling.rqmc import INTERVAL_NET_BLOCKS, INTERVAL_POOLED, ONE_NET
from .pilot import run_model
from .result import EngineResult, with_surrogate
from .rqmc_final import ONE_NET_NETS, RqmcFinal, final_one_net, final_replicates
from .rqmc_pooling import RqmcStagePooling
from .sample import component_logpdfs
from .select import select
from .state import EngineState, Selection
from .surrogate import ChaosForm, fit_surrogate

__all__ = ["POOL_TIE", "REWEIGHT_POINTS", "PoolingRule", "final", "pooled_stages", "pooling_rule"]

#: A stage is pooled for a quantity where its variance is within this factor of the final's.
POOL_TIE = 2.0
#: The stages' variances are reweighted from the final sample's first chunks up to this many
#: points (their densities at every final point would cost more than the rest of the stage).
REWEIGHT_POINTS = 100_000
_SAMPLE_KEYS = ("z", "x", "outputs", "log_g", "summands")


@dataclass(frozen=True)
class PoolingRule:
    """Which quantities pool the earlier stages (None: all), and the factor ``tie`` a
    stage's variance must be within (:meth:`StagePooling.combine`)."""

    tie: float
    quantities: np.ndarray | None


def pooling_rule(state: EngineState, selection: Selection) -> PoolingRule:
    """At a near tie with the law (the law kept, or its score within ``POOL_TIE`` of the
    kept proposal's): every quantity, every stage. Otherwise the quantities whose fits rest
    on at least ``d`` effective points, a stage only within ``POOL_TIE`` of the final
    stage: where adaptation wins big the stages' plain estimates are far less precise and
    their variances, estimated on the final sample, too noisy to weigh them safely; and a fit
    on a few hits follows them, so pooling such a quantity correlates the stages' estimates
    with their weights (a bias, measured in ``docs/method.md``)."""
    best, scores = selection.candidate, selection.scores
    if best.stage == 0 or (scores is not None and scores[0] <= POOL_TIE * scores[best.stage]):
        return PoolingRule(np.inf, None)
    return PoolingRule(POOL_TIE, np.asarray(best.fit_ess) >= state.reference_cov.shape[0])


def pooled_stages(state: EngineState, selection: Selection, rule: PoolingRule) -> list[int]:
    """Earlier stages whose plain IS means may join the final estimate: every stage (the
    law's pilot only when it was not judged on), none when no quantity pools (which spares
    the final stage the stages' densities)."""
    quantities = rule.quantities
    if not state.setup.options.pool_adaptive or (
            quantities is not None and not np.any(quantities)):
        return []
    first = 1 if selection.candidate.stage == 0 else 0  # the law's pilot: pooled or judged
    return list(range(first, state.sample.n_stages))


def final(state: EngineState, keep_sample: bool = False,
          replicates: int | None = None, blocks: int | None = None,
          pool: bool = True, surrogate: ChaosForm | None = None) -> EngineResult:
    """Spend the rest of the budget on the kept proposal and return the estimate.

    ``replicates`` (an int ``R >= 2``): the final stage is ``R`` RQMC replicates
    (:mod:`.rqmc_final`), pooled with the adaptive stages (:mod:`.rqmc_pooling`);
    ``replicates=1`` with ``blocks``: the one-net form
    (:func:`~.rqmc_final.final_one_net`); ``keep_sample`` is then refused. ``pool=False``
    keeps the adaptive stages out of an RQMC final stage (as option ``pool_adaptive=False``).
    ``surrogate`` (a :class:`~.surrogate.ChaosForm`): an RQMC final stage with the chaos
    control of that form fitted on the earlier runs (:mod:`.surrogate`), the adaptive
    stages kept out of the quantities it controls (their plain estimates are far less
    precise than the controlled final stage's); the i.i.d. final stage ignores it.

    Raises
    ------
    ValueError
        When fewer than 2 runs are left for the final stage.
    """
    selection = select(state)
    best = selection.candidate
    n_final = state.setup.budget - state.runs_used
    if n_final < 2:
        raise ValueError(
            f"'budget' ({state.setup.budget}) leaves {n_final} runs for the final stage; "
            "lower 'adaptation_cap' or raise 'budget'"
        )
    if replicates is not None:
        if keep_sample:
            raise ValueError("'keep_sample' needs sampling 'mc' (the final sample of RQMC "
                             "replicates is not an i.i.d. sample to reanalyse)")
        rule = pooling_rule(state, selection)
        fitted = (fit_surrogate(state, best, blocks or replicates, surrogate)
                  if surrogate is not None else None)
        control = fitted if fitted is not None and fitted.used.any() else None
        if control is not None:  # the quantities it controls keep the adaptive stages out
            pools = np.ones(len(control.used), dtype=bool) if rule.quantities is None \
                else rule.quantities
            rule = replace(rule, quantities=pools & ~control.used)
        stages = pooled_stages(state, selection, rule) if pool else []
        pooling = RqmcStagePooling(state, stages) if stages else None
        out = (final_one_net(state, best, n_final, blocks, pooling, control)
               if blocks is not None
               else final_replicates(state, best, n_final, replicates, pooling, control))
        result = _rqmc_result(state, selection, out, rule, pooling)
        if fitted is not None:
            result = with_surrogate(result, fitted.record(), fitted.floor)
        return replace(result,
                       points_not_run=_not_run(
                           state, out.values.shape[0] * out.points_per_replicate - out.runs),
                       effective_points=out.effective_points)
    rule = pooling_rule(state, selection)
    stages = pooled_stages(state, selection, rule)
    pooling = _stage_pooling(state, stages) if stages else None
    moments = (pooling.final if pooling is not None
               else StreamingMoments(state.problem.n_quantities, covariance=True))
    kish = KishSize(state.problem.n_quantities)
    if best.stage == 0 and selection.pool_pilot:
        # the law was chosen without looking at the pilot, which is a sample of it with
        # nothing fitted: it joins the final sample (unless an event had few pilot hits,
        # select.few_pilot_hits: the choice then follows the pilot)
        summands = state.pilot_summands
        kish.update(summands)  # the law's responses: no control to subtract
        if pooling is None:
            moments.update(summands)
        else:
            rows = state.sample.stage_rows(0)
            log_g0 = state.sample.log_props[0][rows]
            _pool_final(state, pooling, stages, summands, summands, state.sample.z[rows],
                        log_g0, log_g0)
    kept, runs = _final_chunks(state, best, n_final, pooling, stages, moments, keep_sample,
                               kish)
    result = _result(state, selection, rule, pooling, stages, moments, runs,
                     {k: np.concatenate([part[i] for part in kept])
                      for i, k in enumerate(_SAMPLE_KEYS)} if keep_sample else None)
    return replace(result, points_not_run=_not_run(state, n_final - runs),
                   effective_points=kish.value)


def _not_run(state: EngineState, final: int) -> int:
    """Points drawn but not run: the stages' and ``final`` of the final stage's."""
    return int(sum(s.n_points - s.n_runs for s in state.history) + final)


def _final_chunks(state, best, n_final, pooling, stages, moments, keep_sample, kish):
    """Draw, run and accumulate the final sample chunk by chunk (keys
    :func:`~multiexpect.batch_keys.final_chunk`), the plain IS responses into ``kish``
    (:class:`~multiexpect.estimators.effective_size.KishSize`); the kept parts and the runs
    spent."""
    setup = state.setup
    kept, runs, left, chunk = [], 0, n_final, 0
    proposal = best.proposal if best.stage else None
    # the frozen proposal's tail mass outside the practical box, asked once for every chunk
    droppable = (None if proposal is None or setup.practical is None
                 else setup.practical.droppable(proposal))
    while left > 0:
        n = min(left, setup.options.chunk_size)
        key = batch_keys.final_chunk(state.sample.n_stages, chunk)
        z = best.proposal.sample(n, batch_keys.generator(setup.seed, key))
        outputs, log_laws, spent = run_model(setup, z, key, proposal, droppable)
        runs += spent
        log_g, summands = _final_chunk(state, best, pooling, stages, moments, kish, z,
                                       outputs if keep_sample else _Handed(outputs),
                                       log_laws)
        if keep_sample:
            kept.append((z, state.problem.to_inputs(z), outputs, log_g, summands))
        left -= n
        chunk += 1
    return kept, runs


class _Handed:
    """An array handed over: its holder lets it go once read (:meth:`take`)."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def take(self) -> np.ndarray:
        array, self.array = self.array, None
        return array


def _final_chunk(state, best, pooling, stages, moments, kish, z, outputs, log_laws):
    """One final chunk's ``log g_F`` and summands, added to the moments (or the pooling)
    and the responses to ``kish``. Its large arrays live no longer than they are read
    (``outputs`` may be :class:`_Handed` over): on this many points each fresh array costs
    its pages' first touch."""
    problem = state.problem
    log_law_mix = state.setup.initial.logpdf_from_laws(log_laws)
    if best.stage == 0:
        log_g, controls = log_law_mix, None
    else:
        log_g, controls = _controls_term(best, z, log_law_mix)
    raw = outputs.take() if isinstance(outputs, _Handed) else outputs
    phi = problem.quantity_values(raw)
    # phi is a copy (the quantities' columns picked): the responses are written over it
    fresh = not np.may_share_memory(phi, raw)
    del raw
    responses = is_responses(phi, log_laws, log_g, problem.law_index, fresh=fresh)
    del phi
    if controls is None:
        summands = responses
    else:  # the responses' layout: the moments sum in the same order
        summands = np.subtract(responses, controls, out=np.empty_like(responses))
        del controls
    kish.update(responses)
    if pooling is None:
        moments.update(summands)
    else:  # the stages' variances are reweighted from the plain IS responses
        _pool_final(state, pooling, stages, summands, responses, z, log_g, log_law_mix,
                    best.stage)
    return log_g, summands


def _controls_term(best, z, log_law_mix):
    """``log g_F`` and ``(g_k / g_F - 1) β^T`` ((n, J); None without controls) at a final
    chunk's points: what the summands subtract from the responses."""
    log_g, ratios = best.proposal.logpdf_and_ratios(
        component_logpdfs(best.proposal.components[:-1], z, log_law_mix))
    if best.beta is None or not best.beta.size:
        return log_g, None
    ratios -= 1.0
    return log_g, ratios @ best.beta.T


def _stage_pooling(state: EngineState, stages: list[int]) -> StagePooling:
    """Stage means ``Î_s = mean(phi f / g_s)`` over each pooled stage's own points (kept by
    its candidate when it was drawn, else computed)."""
    sample, law_index = state.sample, state.problem.law_index
    known = {c.stage: c.response_mean for c in state.candidates}
    means = []
    for t in stages:
        if known.get(t) is not None:
            means.append(known[t])
            continue
        rows = sample.stage_rows(t)
        means.append(iscv_summands(sample.phi[rows], sample.log_laws[rows], None,
                                   sample.log_props[t][rows], None, law_index).mean(axis=0))
    return StagePooling(np.array(means), np.asarray([sample.counts[t] for t in stages]))


def _pool_final(state, pooling, stages, summands, responses, z, log_g, log_law_mix,
                kept: int = 0) -> None:
    """Add final-stage rows to the pooling: its moments and, until ``REWEIGHT_POINTS`` rows
    have been reweighted (whole chunks), ``log g_F / g_s`` per stage (the law component's
    density is ``log_law_mix``; the kept stage's is ``log_g`` itself)."""
    if pooling.n_reweighted >= REWEIGHT_POINTS:
        pooling.final.update(summands)
        return
    proposals = state.sample.proposals
    log_stage = [log_law_mix if t == 0 else log_g if t == kept else
                 proposals[t].logpdf_from_components(
                     component_logpdfs(proposals[t].components[:-1], z, log_law_mix))
                 for t in stages]
    log_ratio = np.column_stack(log_stage)  # its own array: log g_F - log g_s written over it
    pooling.update(summands, responses, np.subtract(log_g[:, None], log_ratio, out=log_ratio))


def _result(state, selection, rule, pooling, stages, moments, runs, final_sample
            ) -> EngineResult:
    """The :class:`EngineResult`: the final moments, or the pooled estimate."""
    best = selection.candidate
    out = {"estimate": moments.mean, "stderr": moments.stderr,
           "covariance": moments.covariance / max(moments.n, 1), "n_pooled": 0,
           "pooled_stages": [], "pooled_lambdas": []}
    if pooling is not None:
        pooled = pooling.combine(tie=rule.tie, quantities=rule.quantities)
        lambdas = pooled["lambdas"]
        sizes = np.asarray([state.sample.counts[t] for t in stages])
        out.update(estimate=pooled["estimate"], covariance=pooled["covariance"],
                   stderr=np.sqrt(np.clip(np.diag(pooled["covariance"]), 0.0, None)),
                   n_pooled=int(sizes[np.any(lambdas[:-1] > 0, axis=1)].sum()),
                   pooled_stages=list(stages), pooled_lambdas=lambdas.tolist())
    return EngineResult(
        **out, n_final=moments.n, chosen_stage=best.stage,
        predicted_error=best.predicted_error, problem=state.problem, weights=state.weights,
        history=state.history, runs_used=state.runs_used + runs,
        pilot_estimate=state.pilot_estimate,
        selection_scores=None if selection.scores is None else list(selection.scores),
        chosen=best, final_sample=final_sample)


def _rqmc_result(state: EngineState, selection: Selection, out: RqmcFinal,
                 rule: PoolingRule, pooling: RqmcStagePooling | None) -> EngineResult:
    """The :class:`EngineResult` of an RQMC final stage: the replicates' mean and spread,
    pooled with the adaptive stages when ``pooling`` is given (:mod:`.rqmc_pooling`)."""
    best = selection.candidate
    est = out.estimate()
    reps = out.values.shape[0]
    pooled = {"estimate": est.estimate, "stderr": est.stderr,
              "covariance": out.covariance(), "n_pooled": 0, "pooled_stages": [],
              "pooled_lambdas": []}
    record = est.record()  # the replicates' interval, its inputs
    layout = {"replicates": reps, "points_per_replicate": out.points_per_replicate}
    if out.blocks is not None:  # the one-net form: the blocks' spread, Student's t
        record.update(interval=INTERVAL_NET_BLOCKS, replicate_values=None)
        layout = {"replicates": ONE_NET, "blocks": out.blocks, "nets": ONE_NET_NETS,
                  "points_per_block": out.points_per_replicate}
    if pooling is not None:
        comb = pooling.combine(out.values, rule.tie, rule.quantities)
        joined = np.any(comb["lambdas"][:-1] > 0, axis=1)
        pooled.update(estimate=comb["estimate"], covariance=comb["covariance"],
                      stderr=np.sqrt(np.clip(np.diag(comb["covariance"]), 0.0, None)),
                      n_pooled=int(pooling.sizes[joined].sum()),
                      pooled_stages=list(pooling.stages),
                      pooled_lambdas=comb["lambdas"].tolist())
        if np.any(joined):  # no mean of replicates: Student's t on Welch's dof
            record.update(interval=INTERVAL_POOLED, dof=comb["dof"], replicate_values=None,
                          tied_replicates=[])
    return EngineResult(
        **pooled,
        n_final=reps * out.points_per_replicate, chosen_stage=best.stage,
        predicted_error=best.predicted_error, problem=state.problem, weights=state.weights,
        history=state.history, runs_used=state.runs_used + out.runs,
        pilot_estimate=state.pilot_estimate,
        selection_scores=None if selection.scores is None else list(selection.scores),
        chosen=best, final_sample=None,
        rqmc={"sampling": "rqmc", **record, **layout, "allocation": out.allocation})

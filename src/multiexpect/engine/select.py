"""Which proposal serves the final stage (step 5 of ``docs/method.md``).

``keep="best"``: each candidate ``t`` (the law included) is scored by the weighted variance
``sum_j w_j Var(s_j)`` of its summands, measured on every point drawn *after* it was fitted
(stages ``>= t``) by self-normalised importance reweighting from ``h_{>=t}``, the mixture of
those stages; so earlier candidates are judged on more points than their own batch, whose
variance heavy tails easily flatter. A candidate whose reweighting has too few effective
points keeps its own batch's score. ``"last"``: the paper's choice. ``"best-on-own-batch"``:
the smallest ``E_t`` measured on each candidate's own batch.
"""

from __future__ import annotations

import numpy as np

from ..estimators.importance import iscv_summands, subtract_controls
from .ladder import eligible
from .sample import component_logpdfs
from .state import Candidate, EngineState, Selection

__all__ = ["few_pilot_hits", "min_ess", "select"]


def select(state: EngineState) -> Selection:
    """The kept candidate, its selection scores (``keep="best"``) and whether the pilot
    joins the final sample (the law kept, having been judged without its pilot)."""
    keep = state.setup.options.keep
    candidates = state.candidates
    allowed = eligible(candidates)  # not a stage fitted below an exceedance's real level
    if keep == "last" or len(candidates) == 1:
        return Selection(candidates[-1])
    if keep == "best-on-own-batch":
        return Selection(min((c for c, ok in zip(candidates, allowed) if ok),
                             key=lambda c: (c.predicted_error, c.stage)))
    batch_of = state.sample.batch_of()
    scores, pool_pilot, log_hs = [], False, {}
    for cand in candidates:
        # the law is judged on the adaptive batches, so that choosing it does not depend
        # on the pilot, which is then pooled with the final sample
        score, ess = reweighted_score(state, cand, batch_of, max(cand.stage, 1), log_hs)
        if cand.stage == 0:
            pool_pilot = ess >= min_ess(batch_of, 1)
            if not pool_pilot:  # reweighting is degenerate: judge it on its pilot
                score = cand.own_score
        elif ess < min_ess(batch_of, cand.stage):
            score = cand.own_score
        scores.append(score)
    scores = np.where(allowed, scores, np.inf).tolist()
    best = int(np.argmin(scores))
    # the law judged without its pilot, which then joins the final sample, unless an event
    # had few pilot hits (few_pilot_hits)
    pool = pool_pilot and best == 0 and not few_pilot_hits(state)
    return Selection(candidates[best], tuple(scores), bool(pool))


def few_pilot_hits(state: EngineState) -> bool:
    """Whether an event quantity has fewer than ``pilot_hits`` hits on the pilot: the
    adaptation then follows those few hits, so keeping the law correlates with the pilot's
    estimate, and the pilot does not join the final sample (docs/method.md, the final
    stage: a rare event's estimate 32% low over the seeds that kept the law)."""
    hits = np.sum(state.pilot_summands[:, state.events] > 0, axis=0)
    return bool(np.any(hits < state.setup.options.pilot_hits))


def min_ess(batch_of: np.ndarray, first: int) -> float:
    """Smallest effective sample size at which a reweighted score is trusted."""
    return max(30.0, 0.1 * float(np.sum(batch_of >= first)))


def reweighted_score(state: EngineState, cand: Candidate, batch_of: np.ndarray,
                     first: int, log_hs: dict | None = None) -> tuple[float, float]:
    """Weighted variance of ``cand``'s summands on stages ``>= first``, by self-normalised
    importance reweighting, and the effective sample size of that reweighting
    (``log_hs``: ``log h_{>=first}`` on those rows by ``first``, filled as they come, for
    candidates judged on the same stages)."""
    sample = state.sample
    if first >= sample.n_stages:
        return cand.own_score, 0.0
    rows = batch_of >= first
    log_hs = {} if log_hs is None else log_hs
    if first not in log_hs:
        log_hs[first] = sample.log_h(first, rows)
    log_h = log_hs[first]
    log_g = sample.log_props[cand.stage][rows]
    # the candidate's own batch (the first rows) has its summands from the adaptive step
    known = cand.batch_summands if cand.stage == first else None
    later = rows if known is None else batch_of > first
    if cand.stage == 0:
        log_comp = None
    else:
        log_comp = component_logpdfs(cand.proposal.components[:-1], sample.z[later],
                                     sample.law_component(later))
    log_g_later = sample.log_props[cand.stage][later]
    summands = _reweighted_responses(state, cand.stage, batch_of, later)
    if summands is None:
        summands = iscv_summands(sample.phi[later], sample.log_laws[later], log_comp,
                                 log_g_later, cand.beta, state.problem.law_index)
    elif cand.beta is not None and log_comp is not None and cand.beta.size:
        subtract_controls(summands, log_comp, log_g_later, cand.beta)
    if known is not None:
        summands = np.concatenate([known, summands])
    log_ratio = log_g - log_h
    ratio = np.exp(log_ratio - np.max(log_ratio))
    ess = float(ratio.sum() ** 2 / np.sum(ratio**2))
    ratio /= ratio.sum()
    mean = ratio @ summands
    variance = np.maximum(ratio @ summands**2 - mean**2, 0.0)
    return float(state.weights @ variance), ess


def _reweighted_responses(state: EngineState, stage: int, batch_of: np.ndarray,
                          later: np.ndarray) -> np.ndarray | None:
    """Candidate ``stage``'s plain IS responses ``phi f / g_t`` on the ``later`` rows (each an
    adaptive batch ``s``), from batch ``s``'s own ``phi f / g_s`` times ``g_s / g_t``: one
    exponential per point rather than one per law and point (equal to rounding). None
    (compute them afresh) when a batch's responses are not kept or a factor ``g_s / g_t`` is
    not finite and positive (a density that underflowed)."""
    sample = state.sample
    by_stage = {c.stage: c for c in state.candidates}
    parts = []
    for s in np.unique(batch_of[later]).tolist():
        known = by_stage[s].batch_responses if s in by_stage else None
        if known is None:
            return None
        rows = sample.stage_rows(s)
        with np.errstate(over="ignore"):  # an overflow is caught just below
            factor = np.exp(sample.log_props[s][rows] - sample.log_props[stage][rows])
        if not np.all(np.isfinite(factor) & (factor > 0)):
            return None
        parts.append(known * factor[:, None])
    return np.concatenate(parts) if parts else None

"""The level ladder: rare exceedances reached through intermediate levels (cross-entropy).

An exceedance ``phi_j = 1{s_j > 0}`` declared with its score ``s_j`` (``y - t``, see
:mod:`multiexpect.quantities`) that has fewer than ``n_ρ`` (below) hits on the recycled
sample is fitted, at the next adaptive step, to the intermediate event ``1{s_j > γ_j}``
instead: ``γ_j`` is the score of the ``k_j``-th highest point of the recycled sample,
``k_j = max(pilot_hits, ⌈n_ρ a_j⌉)``, ``n_ρ = max(pilot_hits, ⌈ρ · batch_size⌉)``,
``ρ = RHO``, ``a_j`` the share of quantity ``j``'s components in the last batch's mixture
(the ``(1 - ρ)`` quantile of the points drawn for it, as the usual cross-entropy method
takes it on a batch drawn for one event). The component is fitted with the recycled
weights ``1{s_j > γ_j} f_j / h``, the density ``f_j(· | s_j > γ_j)``; its batch pushes the
scores up, and the level rises stage after stage until the event itself has ``n_ρ`` hits.
Every batch is still drawn from a proposal fixed before it, so every stage is an unbiased
estimate and the final stage is too. The other quantities are fitted as usual.

While some exceedance climbs, the stopping rule waits (budget permitting), and only
candidates fitted at the real levels compete for the final stage. The first of them rests on
the few hits of the last ladder batch (drawn for a level below the event): in dimension
``d`` a mean fitted on ``n_eff`` effective points is off by noise of energy ``d / n_eff``,
which multiplies the importance-sampling variance by up to ``exp(d / n_eff)``, so the
adaptation goes on (within the climb's share of the budget) until ``SETTLE`` stages have
been fitted at the real levels: the second is fitted on a batch drawn for the event itself.

With ``EngineSetup.ladder_aside`` (the split route's adaptive part), a batch fitted while
some exceedance climbs is drawn for the climb: the exceedances already fitted at their real
level step aside (:func:`stepped_aside`).
"""

from __future__ import annotations

import math

import numpy as np

from .state import EngineState, Stage

__all__ = [
    "CLIMB_SHARE",
    "RHO",
    "SETTLE",
    "climb_cap",
    "climbed",
    "climbing",
    "eligible",
    "extended",
    "fitted_on_ladder",
    "ladder_levels",
    "ladder_note",
    "ladder_phi",
    "ladder_quantities",
    "post_ladder_history",
    "scored_columns",
    "split_scored",
    "stepped_aside",
]

#: Share of elite points per level (the cross-entropy method's ``ρ``).
RHO = 0.1
#: Share of the budget the adaptation may spend while an exceedance climbs.
CLIMB_SHARE = 0.7
#: Stages fitted at the real levels before the stopping rule may end a climb's adaptation.
SETTLE = 2


def split_scored(scored: bool, outputs: np.ndarray, support: np.ndarray):
    """``(phi, scores)`` from the side-by-side columns of a scored ``evaluate`` (``scores``
    None when not scored); points the model did not run (outside ``support``) get score
    ``-inf``."""
    if not scored:
        return outputs, None
    m = outputs.shape[1] // 2
    values, scores = outputs[:, :m], outputs[:, m:].copy()
    scores[~support] = -np.inf
    return values, scores


def scored_columns(scores: np.ndarray | None, problem) -> np.ndarray:
    """Which quantities are exceedances with a score ((J,) bool)."""
    if scores is None:
        return np.zeros(problem.n_quantities, dtype=bool)
    return np.any(np.isfinite(scores[:, problem.column]), axis=0)


def elite_count(opts) -> int:
    """``n_ρ = max(pilot_hits, ⌈ρ · batch_size⌉)``: points above each level."""
    return max(int(opts.pilot_hits), math.ceil(RHO * int(opts.batch_size)))


def ladder_levels(state: EngineState) -> np.ndarray:
    """``γ_j < 0`` for each exceedance with fewer than ``n_ρ`` hits on the recycled sample,
    NaN elsewhere."""
    problem, sample, opts = state.problem, state.sample, state.setup.options
    levels = np.full(problem.n_quantities, np.nan)
    if sample.scores is None:
        return levels
    inside = np.isfinite(sample.log_laws[:, problem.law_index])
    hits = np.sum((sample.phi > 0) & inside, axis=0)
    n_elite = elite_count(opts)
    need = scored_columns(sample.scores, problem) & (hits < n_elite)
    for j in np.flatnonzero(need):
        s = sample.scores[:, problem.column[j]]
        s = np.sort(s[inside[:, j] & np.isfinite(s)])[::-1]
        k = max(int(opts.pilot_hits), math.ceil(n_elite * _last_share(state, j)))
        if s.size > k and s[k - 1] < 0:
            levels[j] = s[k - 1]
    return levels


def _last_share(state: EngineState, j: int) -> float:
    """Share ``sum α_k`` of quantity ``j``'s components in the last batch's mixture (1 after
    the pilot): each level keeps the top ``ρ`` of the points drawn *for* the quantity."""
    stage = state.history[-1]
    if not stage.components:
        return 1.0
    name = state.problem.names[j]
    return float(sum(a for a, label in zip(stage.alpha, stage.components)
                     if label == name or label[:-1] == name))


def climb_cap(setup) -> int:
    """Runs the adaptation may use while an exceedance climbs: ``CLIMB_SHARE`` of the budget
    (at least the adaptation cap)."""
    return max(int(setup.options.adaptation_cap), int(CLIMB_SHARE * setup.budget))


def climbing(state: EngineState) -> bool:
    """Whether some exceedance is still below its real level."""
    return bool(np.any(np.isfinite(ladder_levels(state))))


def extended(state: EngineState) -> bool:
    """Whether the adaptation may run to :func:`climb_cap` rather than the adaptation cap:
    while some exceedance climbs, and after a climb until ``SETTLE`` stages have been fitted
    at the real levels (the first rests on the last ladder batch's few hits)."""
    if climbing(state):
        return True
    return (_last_ladder(state.candidates) is not None
            and len(post_ladder_history(state)) < SETTLE)


def ladder_quantities(state: EngineState, levels: np.ndarray) -> np.ndarray:
    """The exceedances on the ladder, or reached by it (no pilot hit) ((J,) bool): fitted to
    their scaled column, their means not pulled toward the law's centre (the elite points
    sit far from it by construction, and a pull by ``n_eff / (n_eff + d)`` stalls the
    climb in high dimension)."""
    return np.isfinite(levels) | (scored_columns(state.sample.scores, state.problem)
                                  & (state.pilot_estimate == 0))


def climbed(state: EngineState) -> np.ndarray:
    """The exceedances that needed the ladder ((J,) bool): fewer than ``n_ρ`` hits in the
    pilot. They keep the ladder's fit at their real level too (:func:`fitted_on_ladder`)."""
    scored = scored_columns(state.sample.scores, state.problem)
    if not np.any(scored):
        return scored
    rows = state.sample.stage_rows(0)
    hits = np.sum(state.sample.phi[rows] > 0, axis=0)
    return scored & (hits < elite_count(state.setup.options))


def fitted_on_ladder(state: EngineState, levels: np.ndarray) -> np.ndarray:
    """The quantities fitted as on the ladder ((J,) bool): Gaussians, one per region of the
    weighted points, their means not pulled (:func:`ladder_quantities`), for every
    exceedance that climbed, at its real level too: a t fitted to the hits of separate
    regions spreads between them."""
    return ladder_quantities(state, levels) | climbed(state)


def stepped_aside(state: EngineState, levels: np.ndarray) -> np.ndarray:
    """The exceedances with no component in this batch ((J,) bool): with
    ``setup.ladder_aside``, while some exceedance climbs (``levels`` finite), those not
    climbing that an earlier stage already fitted at their real level. A batch fitted
    below an exceedance's real level never serves the final stage (:func:`eligible`), so
    its mixture need not serve them: it is drawn for the climb, whose levels and fits then
    rest on the whole batch rather than on a share of it, and their fits resume at the
    first stage after the climb on every point so far."""
    aside = np.zeros(state.problem.n_quantities, dtype=bool)
    climbing_now = np.isfinite(levels)
    if not state.setup.ladder_aside or not np.any(climbing_now):
        return aside
    for cand in state.candidates:
        if cand.at_level is not None:
            aside |= cand.at_level
    return aside & ~climbing_now & scored_columns(state.sample.scores, state.problem)


def ladder_phi(state: EngineState, idx, phi: np.ndarray, levels: np.ndarray,
               log_fq: np.ndarray, log_h: np.ndarray) -> np.ndarray:
    """``phi`` at the fit rows ``idx`` with each climbing exceedance's column replaced by
    its intermediate event ``1{s_j > γ_j} / (p̂_j sqrt(w_j))``: scaled by its recycled
    estimate ``p̂_j = mean(1{s_j > γ_j} f_j / h)`` so that the criterion weighs it by its
    relative variance, as the other quantities (a level far below the event's probability
    weighted as the event would get no share of ``α``). An exceedance without a hit in the
    pilot keeps this scaling at its real level: the pilot gave it no weight of its own."""
    rescale = ladder_quantities(state, levels)
    if not np.any(rescale):
        return phi
    phi = phi.copy()
    for j in np.flatnonzero(rescale):
        s = state.sample.scores[idx, state.problem.column[j]]
        above = s > levels[j] if np.isfinite(levels[j]) else phi[:, j] > 0
        ratio = np.exp(np.where(above, log_fq[:, j] - log_h, -np.inf))
        p_hat = float(np.mean(ratio))
        scale = 1.0 / (p_hat * np.sqrt(state.weights[j])) if p_hat > 0 else 1.0
        phi[:, j] = above * scale
    return phi


def ladder_note(levels: np.ndarray, names) -> str:
    """``"ladder: P(y1 > 5) at score > -1.2"``, or empty."""
    parts = [f"{names[j]} at score > {levels[j]:.4g}" for j in np.flatnonzero(np.isfinite(levels))]
    return "ladder: " + ", ".join(parts) if parts else ""


def _last_ladder(candidates) -> int | None:
    marks = [k for k, c in enumerate(candidates) if c.on_ladder]
    return marks[-1] if marks else None


def post_ladder_history(state: EngineState) -> tuple[Stage, ...]:
    """The stages the stopping rule compares: all of them, or only those after the last
    stage fitted on the ladder (earlier ones saw too few hits to predict an error)."""
    last = _last_ladder(state.candidates)
    return state.history if last is None else state.history[last + 1:]


def eligible(candidates) -> np.ndarray:
    """Which candidates may serve the final stage ((K,) bool): all, or those after the last
    one fitted on the ladder (that one alone when none is)."""
    mask = np.ones(len(candidates), dtype=bool)
    last = _last_ladder(candidates)
    if last is not None:
        mask[:last] = False
        mask[last] = last == len(candidates) - 1
    return mask

"""The first step: the pilot from the law (extended while an event has few hits).

``n_0`` points from ``g_0`` (the law ``f``, or ``f̄ = (1/L) sum_l f_l`` for several laws)
give the quantities (from the model's output width), a plain importance-sampling estimate
``Î_j = mean(phi_j f_j / g_0)``, the criterion's weights and the first candidate: the law
itself, so that adaptation that does not pay falls back to crude (or mixture) MC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import batch_keys
from ..estimators.importance import StreamingMoments, iscv_summands
from ..problem import Problem, reference_covariance
from .ladder import scored_columns, split_scored
from .practical import practical_support
from .sample import RecycledSample
from .state import Candidate, EngineSetup, EngineState, Stage
from .weights import resolve_weights

__all__ = ["PilotDraw", "event_quantities", "init", "run_model", "run_model_scored"]


def run_model(setup: EngineSetup, z: np.ndarray, key: int, proposal=None,
              droppable: bool | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Model outputs and law log-densities at working points ``z``, and the runs spent:
    points where no law has mass are not run (their outputs are 0), nor, for a batch of an
    adaptive ``proposal`` (a mixture), its points where the law has no practical mass
    (:mod:`.practical`; ``droppable``: whether they may be dropped, when known). A point
    exactly on a bound of a law's support (a quantile rounded onto it) has no mass
    (:meth:`~multiexpect.problem.Problem.has_mass`)."""
    outputs, _, log_laws, runs = run_model_scored(setup, z, key, proposal, droppable)
    return outputs, log_laws, runs


def run_model_scored(setup: EngineSetup, z: np.ndarray, key: int, proposal=None,
                     droppable: bool | None = None):
    """:func:`run_model` with the exceedances' scores apart (None unless ``setup.scored``:
    the evaluate callable then returns ``phi`` and the scores side by side)."""
    problem = setup.sampling
    x = problem.to_inputs(z)
    log_laws = problem.law_logpdfs(z, x)
    support = problem.has_mass(x, log_laws)
    support = practical_support(setup.practical, proposal, x, support, droppable)
    if np.all(support):
        outputs = setup.evaluate(x, key)
    else:
        inner = setup.evaluate(x[support], key)
        outputs = np.zeros((z.shape[0], inner.shape[1] if inner.ndim == 2 else 1))
        outputs[support] = inner.reshape(int(support.sum()), -1)
    values, scores = split_scored(setup.scored, outputs, support)
    return values, scores, log_laws, int(support.sum())


def event_quantities(phi: np.ndarray, events: bool = True) -> np.ndarray:
    """The quantities that are 0/1 at every point so far: event probabilities (none when
    ``events`` is False: :class:`~.state.EngineSetup`'s ``events``)."""
    if not events:
        return np.zeros(phi.shape[1], dtype=bool)
    return np.all((phi == 0.0) | (phi == 1.0), axis=0)


@dataclass(frozen=True)
class PilotDraw:
    """A pilot drawn elsewhere (the law-first nets, :mod:`.law_first`): working points of
    ``g_0`` each marginally, and what :func:`run_model_scored` returned for them."""

    z: np.ndarray
    outputs: np.ndarray
    scores: np.ndarray | None
    log_laws: np.ndarray
    runs: int


def init(setup: EngineSetup, first: PilotDraw | None = None) -> EngineState:
    """Run the pilot (batch :func:`~multiexpect.batch_keys.pilot`; or take ``first``, points
    of ``g_0`` already run) and its extension; the state's history holds the pilot's
    :class:`Stage`."""
    opts = setup.options
    if first is None:
        key = batch_keys.pilot()
        z = setup.initial.sample(opts.pilot_size, batch_keys.generator(setup.seed, key))
        outputs, scores, log_laws, runs = run_model_scored(setup, z, key)
    else:
        z, outputs, scores, log_laws, runs = (first.z, first.outputs, first.scores,
                                              first.log_laws, first.runs)
    problem = Problem.build(list(setup.laws), outputs.shape[1], opts.space, setup.names)
    phi = problem.quantity_values(outputs)
    z, phi, scores, log_laws, more, chunks = _extend(setup, problem, z, phi, scores, log_laws)
    runs += more
    log_g0 = setup.initial.logpdf_from_laws(log_laws)
    summands = iscv_summands(phi, log_laws, None, log_g0, None, problem.law_index)
    moments = StreamingMoments(problem.n_quantities)
    moments.update(summands)
    # the size of each signed quantity's parts (0 for a quantity of one sign: unchanged)
    spread = np.where(np.any(summands < 0, axis=0), np.mean(np.abs(summands), axis=0), 0.0)
    weights = resolve_weights(setup.weight_spec, moments.mean, moments.stderr, spread)
    # the law's centre in the working space, for the widened-law event components (in input
    # space the mean of the pilot's first chunk: the extension's size depends on its hits)
    centre = (np.zeros(problem.dim) if problem.space == "standard"
              else np.mean(z[: opts.pilot_size], axis=0))
    state = EngineState(
        setup=setup, problem=problem, weights=weights,
        sample=RecycledSample.first(setup.initial, z, phi, log_laws, log_g0, scores),
        candidates=(), history=(), runs_used=runs, pilot_estimate=moments.mean,
        pilot_summands=summands, events=event_quantities(phi, setup.events),
        reference_cov=reference_covariance(problem), centre=centre)
    error0 = state.predicted_error(moments.variance)
    law = Candidate(0, setup.initial, None, error0,
                    own_score=float(weights @ moments.variance),
                    response_mean=summands.mean(axis=0))
    note = ("pilot" if chunks == 1 else
            f"pilot ({chunks} chunks: an event had < {opts.pilot_hits} hits)")
    stage = Stage(0, z.shape[0], runs, runs, error0, stage_estimate=moments.mean.tolist(),
                  stage_stderr=moments.stderr.tolist(), note=note)
    return state.evolve(candidates=(law,), history=(stage,))


def _extend(setup: EngineSetup, problem: Problem, z, phi, scores, log_laws):
    """Extend the pilot with law points while an event quantity has too few hits.

    While some quantity that is 0/1 on the pilot has fewer than ``pilot_hits`` points with
    ``phi_j = 1`` (inside law ``j``'s support), ``pilot_size`` more points are drawn from
    ``g_0`` (keys :func:`~multiexpect.batch_keys.pilot_extension`), up to ``pilot_max``
    points in all. With ``k`` hits spread over two equally likely regions, the pilot misses
    one with probability ``2^(1-k)``; a missed region is then sampled only by the defensive
    component, at ``1/δ`` times crude MC's variance.

    An exceedance with a score is not extended for: the level ladder
    (:mod:`.ladder`) reaches it.

    Returns the extended ``z``, ``phi``, scores, law log-densities, the runs spent and the
    chunks.
    """
    opts = setup.options
    scored = scored_columns(scores, problem)
    chunk, runs = 0, 0
    while opts.pilot_hits > 0 and z.shape[0] + opts.pilot_size <= opts.pilot_max:
        inside = np.isfinite(log_laws[:, problem.law_index])
        hits = np.sum((phi == 1.0) & inside, axis=0)
        if not np.any(event_quantities(phi, setup.events) & (hits < opts.pilot_hits)
                      & ~scored):
            break
        chunk += 1
        z_new = setup.initial.sample(
            opts.pilot_size, batch_keys.pilot_extension_generator(setup.seed, chunk))
        outputs, new_scores, log_new, spent = run_model_scored(
            setup, z_new, batch_keys.pilot_extension(chunk))
        runs += spent
        z = np.concatenate([z, z_new])
        phi = np.concatenate([phi, problem.quantity_values(outputs)])
        scores = None if scores is None else np.concatenate([scores, new_scores])
        log_laws = np.concatenate([log_laws, log_new])
    return z, phi, scores, log_laws, runs, chunk + 1

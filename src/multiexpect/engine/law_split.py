r"""``sampling="auto"``, the split route: light quantities on nets of the law, events adapt.

When the law-first pilot (:mod:`.law_first`) sends a study to adaptation because an event
has too few hits on it, the quantities that are no event and have a light tail on the
pilot (a stricter form of the nets' guard, read per quantity) are served best
by what already served them on the pilot: RQMC of the law. Adaptation would estimate them
with i.i.d. importance sampling on a mixture whose share for them it must take from the
events (a moment of a smooth output: 34x plain RQMC's error in the mixed study of
``docs/benchmarks.md``). The split:

* **The law quantities** ``L``: not 0/1 on the pilot, ``variance_uncertainty`` of their
  own pilot summands at most :data:`SPLIT_TAIL_GUARD`, half the law route's
  ``TAIL_GUARD``: a law quantity's interval is read from the spread of ``R_L`` nets,
  fewer than the law route's ``R``, and a tail the pilot barely sees (a kurtosis that is
  infinite but reads 30-50 on two nets) makes that spread too small and the mean of few
  nets skewed low (docs/benchmarks.md, "The split's guard"). The pilot grows to ``R_L``
  nets of the law of the plan's size ``n`` (the nets beyond the first ``R_0`` keyed
  :func:`~multiexpect.batch_keys.pilot_replicate`), ``R_L = max(R_0 + 1,
  floor(R N / (J_a N + R n)))`` for the budget ``N`` and ``J_a = J - |L|`` quantities
  left to adapt: the count at which the two groups stand equally far from their
  specialists given the whole budget, if every error fell as one over the square root of
  the runs spent on it. The nets serve every law quantity at once, so each stands at
  ``sqrt(R / R_L)`` of plain RQMC on the plan's ``R`` nets whatever their number; the
  ``N - R_L n`` runs left are shared by the ``J_a`` others, each at ``sqrt(J_a N / (N -
  R_L n))`` of the whole budget spent on it alone; equating the two gives ``R_L``.
  They are estimated from these nets alone: the
  mean of the net means, its standard error their spread over ``sqrt(R_L)``, Student's t
  on ``R_L - 1`` degrees of freedom (``diagnostics["dof"]``, which applies to the
  quantities of ``diagnostics["law_quantities"]`` only): plain RQMC of the law on ``R_L``
  nets, bit for bit.
* **The others** adapt as with ``sampling="mc"`` from the state of that pilot (the law
  points of every net recycled), with weight 0 in the criterion for ``L`` (no component is
  fitted for them and ``α`` serves the rest) and adaptive batches of a tenth of the runs
  left after the nets, ``(N - R_L n) / 10``, when the batch size is the default (a tenth
  of the budget: the events' part is an engine run of that budget whose pilot is the
  nets). While an exceedance climbs its level ladder, an exceedance already fitted at its
  real level steps aside (``EngineSetup.ladder_aside``, :func:`~.ladder.stepped_aside`).
  Their estimates, standard errors and intervals are the adaptive route's.

With ``sampling="auto"``'s edge probe (``expectations`` of one law), the law quantities are
probed when the split is chosen (:func:`~.edge_probe.check_split_edges`): a quantity that
grows like ``u^-a`` at an edge of the law (``a >= SINGULAR_EXPONENT``, the probe's rule)
leaves the nets, whose spread cannot be trusted there, for the adaptive final stage, its
weight still 0.

The two groups' estimates share the pilot nets only through the adaptive route's pooling
of its stages (its final sample is fresh), so the covariance between them is taken as 0.
With no law quantity, no quantity left to adapt, a pilot that was extended, or too little
budget for two adaptive batches after the nets, the split is not taken.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..estimators.effective_size import kish_size
from ..estimators.monte_carlo import net_means, summand_ranges
from ..sampling.rqmc import replicate_estimate
from .law_first import (
    TAIL_GUARD,
    LawPlan,
    Route,
    law_nets,
    uncounted_nets,
    variance_uncertainty,
)
from .options import MAX_DEFAULT_BATCH
from .pilot import PilotDraw
from .result import EngineResult
from .state import EngineSetup, EngineState

__all__ = ["SPLIT_ROUTE", "SPLIT_TAIL_GUARD", "law_quantities", "split_pilot",
           "split_replicates", "split_result", "split_setup", "split_state"]

#: The value of ``diagnostics["route"]`` for the split route.
SPLIT_ROUTE = "split"
#: The largest ``variance_uncertainty`` of a law quantity's pilot summands,
#: ``sqrt((κ - 1) / n)``: half the law route's guard (module docstring).
SPLIT_TAIL_GUARD = TAIL_GUARD / 2


def law_quantities(state: EngineState, plan: LawPlan, route: Route) -> np.ndarray | None:
    """The split's law quantities, or None when the split is not taken (module docstring)."""
    if not route.event_guard:
        return None
    summands = state.pilot_summands
    if summands.shape[0] != plan.pilot_replicates * plan.points:  # the pilot was extended
        return None
    light = np.array([variance_uncertainty(summands[:, [j]]) <= SPLIT_TAIL_GUARD
                      for j in range(summands.shape[1])])
    law = ~state.events & light
    if not np.any(law) or np.all(law):
        return None
    left = state.setup.budget - split_replicates(plan, law, state.setup.budget) * plan.points
    if left < 2 * _batch_size(state.setup, left):
        return None
    return law


def split_replicates(plan: LawPlan, law: np.ndarray, budget: int) -> int:
    """``R_L = max(R_0 + 1, floor(R N / (J_a N + R n)))`` (module docstring)."""
    adaptive = int(law.size - law.sum())
    balanced = plan.replicates * budget // (adaptive * budget + plan.replicates * plan.points)
    return max(plan.pilot_replicates + 1, int(balanced))


def _batch_size(setup: EngineSetup, left: int) -> int:
    """The adaptive batch: a tenth of ``left`` when the option is the default, else the
    option's."""
    opts = setup.options
    if opts.batch_size != min(setup.budget // 10, MAX_DEFAULT_BATCH):
        return int(opts.batch_size)
    return max(2, min(left // 10, MAX_DEFAULT_BATCH))


def split_pilot(setup: EngineSetup, plan: LawPlan, first: PilotDraw,
                law: np.ndarray) -> PilotDraw:
    """The pilot ``first`` (``R_0`` nets) with nets ``R_0 .. R_L - 1`` of the law run after
    it, rows in net order."""
    return law_nets(setup, plan.points,
                    range(plan.pilot_replicates, split_replicates(plan, law, setup.budget)),
                    first)


def split_setup(setup: EngineSetup, plan: LawPlan, law: np.ndarray) -> EngineSetup:
    """The setup of the adaptive part: batches of :func:`_batch_size` of the runs left after
    the nets, its adaptation cap raised by the nets beyond the first ``R_0`` (they are the
    law quantities' runs, not the adaptation's), the exceedances fitted at their real level
    stepping aside while another climbs."""
    reps = split_replicates(plan, law, setup.budget)
    left = setup.budget - reps * plan.points
    raised = uncounted_nets(setup, plan, reps)
    options = replace(raised.options, batch_size=_batch_size(setup, left))
    return replace(raised, options=options, ladder_aside=True)


def split_state(state: EngineState, law: np.ndarray) -> EngineState:
    """The pilot state (of every net) the adaptive part goes on from, the law quantities at
    weight 0 (no component, no share of ``α``); the law candidate's predicted error and
    score under those weights."""
    weights = np.where(law, 0.0, state.weights)
    moved = state.evolve(weights=weights)
    variance = state.pilot_summands.var(axis=0, ddof=1)
    law_candidate = replace(state.candidates[0],
                            predicted_error=moved.predicted_error(variance),
                            own_score=float(weights @ variance))
    return moved.evolve(candidates=(law_candidate, *state.candidates[1:]))


def split_result(adaptive: EngineResult, pilot: EngineState, plan: LawPlan, route: Route,
                 law: np.ndarray) -> EngineResult:
    """The adaptive route's result with the law quantities' estimates, standard errors,
    covariance block and effective points from the nets of ``pilot`` (cross-covariances
    0)."""
    reps = split_replicates(plan, law, pilot.setup.budget)
    summands = pilot.pilot_summands[:, law]
    values = net_means(summands, plan.points)
    # one law: unweighted summands, so a tie is bounded by a lattice step of their range
    ranges = summand_ranges(summands) if len(pilot.setup.laws) == 1 else None
    est = replicate_estimate(values, net_means(summands**2, plan.points), plan.points, ranges)
    estimate = np.array(adaptive.estimate, dtype=float)
    stderr = np.array(adaptive.stderr, dtype=float)
    estimate[law], stderr[law] = est.estimate, est.stderr
    cov = np.array(adaptive.covariance, dtype=float)
    cov[law, :] = 0.0
    cov[:, law] = 0.0
    cov[np.ix_(law, law)] = est.covariance(values)
    points = np.array(adaptive.effective_points, dtype=float)
    points[law] = kish_size(summands)
    record = route.record() | {
        "route": SPLIT_ROUTE,
        "route_reason": route.reason + "; the quantities that are no event and light on "
                        "the pilot on nets of the law",
        "law_quantities": [int(j) for j in np.flatnonzero(law)]}
    return replace(adaptive, estimate=estimate, stderr=stderr, covariance=cov,
                   effective_points=points, route=record,
                   rqmc={"sampling": "auto", "replicates": reps,
                         "points_per_replicate": plan.points, **est.record(),
                         "tied_replicates": np.flatnonzero(law)[est.tied_quantities()]
                         .tolist()})

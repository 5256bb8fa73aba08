r"""``sampling="auto"``: decide on the pilot whether adaptation can pay; if not, RQMC of the law.

On a smooth integrand of a law that is already the right proposal, a scrambled Sobol' net
of the law beats every i.i.d. estimator, adaptive or not; elsewhere (heavy tails, rare
events, many laws) importance sampling wins. The pilot measures both:

* **The plan.** ``(R, n)``: ``R`` replicates of a net of ``n = 2^m`` points, as plain RQMC
  of the law would spend the budget (:func:`~multiexpect.sampling.rqmc.replicate_plan`,
  ``R >= replicates``). The pilot is the first ``R_0`` of them (:data:`PILOT_REPLICATES`),
  each one batch (:func:`~multiexpect.batch_keys.pilot_replicate`), drawn from ``g_0``: the
  law's net mapped by ``from_standard``; for ``L`` laws a net of ``d + 1`` dimensions whose
  last coordinate picks the law, ``l = floor(L u_{d+1})``, so each point follows
  ``f̄ = (1/L) sum_l f_l`` exactly and the pilot is a sample of ``g_0`` like the i.i.d. one.
* **The law route's error.** The replicates' plain estimates ``Î_r = mean phi f / g_0``
  have a spread ``s_j^2`` (``R_0 - 1`` degrees of freedom); RQMC of the law over the whole
  budget would have the weighted error ``E_law = sum_j w_j s_j^2 / R``, unbiased, counted
  :data:`LAW_MARGIN` times against the adaptive prediction, which is biased low.
* **The adaptive route's error.** The next stage's mixture fitted on the pilot
  (:func:`~.adapt.propose`) has the in-sample criterion ``V(α)`` (the weighted variance
  per point of its summands with the zero-variance ``β``), so ``E_ad = V(α) / (N - N_0)``,
  optimistic (fitted on those points, the adaptation's runs ignored).
* **The i.i.d. error of the law.** ``E_iid = sum_j w_j σ_j^2 / (R n)``, ``σ_j^2`` the
  variance of the pilot's ``R_0 n`` summands: what i.i.d. points of the law would reach
  over the whole budget, known to ``R_0 n - 1`` degrees of freedom where ``E_law`` has
  ``R_0 - 1`` per quantity. A scrambled net does not do worse than i.i.d. points on the
  integrands the tail guard lets through, so adaptation must promise more than the
  optimism of ``E_ad`` over ``E_iid``: a gain of :data:`ADAPTIVE_GAIN`.
* **The rule.** The law route when ``LAW_MARGIN E_law <= E_ad`` (``RQMC_FINAL_LAW_MARGIN
  E_law <= E_ad`` when the adaptive route would end on RQMC replicates) or
  ``E_iid <= ADAPTIVE_GAIN E_ad``, unless an event quantity has fewer than ``pilot_hits``
  hits on the pilot (the pilot is then extended as usual, and an event needs importance
  sampling), or the pilot's weighted variance has a relative standard error above
  :data:`TAIL_GUARD` (:func:`variance_uncertainty`: a heavy tail), or no adaptive batch
  fits in the budget.
  The second test catches a pilot whose two nets differ by chance (``E_law`` on one
  degree of freedom is above 4 times its mean one time in 22 for one quantity) where
  adaptation has little to gain.
* **The grown pilot.** ``E_law`` on two nets has one degree of freedom per quantity: over
  the seeds of one case ``E_ad / E_law`` spans three decades, so a margin large enough
  where adaptation wins sends seeds of a case the law wins to adaptation. So when the
  adaptive route would end on RQMC replicates and adaptation does not lead by
  :data:`PILOT_GROWTH_LOW` on the two nets, the pilot grows to
  :data:`GROWN_PILOT_REPLICATES` nets (the law route's next nets, pilot keys) and the rule
  is read again on them (:func:`grows`). A grown pilot that takes the law route costs
  nothing (the same nets, plain RQMC bit for bit); one that adapts has its adaptation cap
  raised by the extra nets' runs, so it keeps its adaptive batches and loses final points.
  The pilot grows too when the tail guard fires on a statistic at most
  :data:`MARGINAL_TAIL` times :data:`TAIL_GUARD` while adaptation promises little
  (``E_iid <= ADAPTIVE_GAIN E_ad``, the fit made to judge then kept for the first step):
  the statistic, itself noisy on two nets, is read again on twice the points, for every
  kind of study (the measurements: docs/benchmarks.md, "A grown pilot").

The law route spends the rest of the budget on replicates ``R_0 .. R - 1`` of the same net
size (:func:`~multiexpect.batch_keys.law_replicate`): the estimate is the mean of all ``R``
replicate estimates (the pilot's included), its standard error their spread over
``sqrt(R)``, its interval the replicates' (Hartigan's subset means,
:func:`~multiexpect.intervals.subset_mean_interval`; Student's t on ``R - 1`` degrees of
freedom outside 6-16 replicates): exactly plain RQMC of the law. For one law it is
``method="mc", sampling="rqmc"`` bit for bit: every net is
:func:`~multiexpect.estimators.monte_carlo.law_net`'s, the nets separate RQMC draws from
the same seed, and each net's mean is :func:`~multiexpect.estimators.monte_carlo.net_means`'.
By default (``surrogate`` not None) a quantity of one law takes the nets' chaos control
where it pays (:mod:`.law_chaos`: each net corrected by a chaos fitted on the others,
kept where the nets spread :data:`~.law_chaos.KEEP_GAIN` times less); the others stay
plain RQMC to the bit.
The pilot's replicates are reused after a decision taken on their spread; the
bias and coverage this leaves are measured over repetitions (tests and
``docs/benchmarks.md``). A standard error from the fresh replicates alone, independent of
the decision, was measured and dropped: RQMC errors are heavy-tailed over scramblings, and
a pilot net with a large error then moves the mean without widening the interval (the
oscillating case's ``cos^2(25 x)``: coverage 0.87 against 0.99 from all ``R`` on the same
nets, 400 repetitions).

The adaptive route goes on as ``sampling="mc"`` from the pilot state (the nets' points
are law points: fits, weights, selection and pooling read them as the i.i.d. pilot; a
net's variance is no larger than i.i.d. points' on the integrands where it matters, so
their i.i.d. standard errors are conservative). For expectations without an event
quantity its final stage is ``replicates`` RQMC replicates of the kept proposal, the
adaptive stages not pooled (:func:`~multiexpect.engine.run.adaptive_replicates`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import batch_keys
from ..estimators.effective_size import KishSize
from ..estimators.importance import iscv_summands
from ..estimators.monte_carlo import SummandRange, law_net, net_means
from ..laws import closed_form_kinds, correlated_scores, inputs_of_laws
from ..sampling.rqmc import (
    normal_from_uniform,
    replicate_estimate,
    replicate_plan,
)
from .adapt import Proposal, adaptation_done, propose
from .law_chaos import net_control
from .pilot import PilotDraw, run_model, run_model_scored
from .result import EngineResult, with_surrogate
from .state import EngineSetup, EngineState

__all__ = ["ADAPTIVE_GAIN", "ADAPTIVE_ROUTE", "COMMON_ROUTE", "GROWN_PILOT_REPLICATES",
           "LAW_MARGIN", "LAW_ROUTE", "MARGINAL_TAIL", "PILOT_GROWTH_LOW", "PILOT_REPLICATES",
           "RQMC_FINAL_LAW_MARGIN", "TAIL_GUARD", "LawPlan", "Route", "check_law_first",
           "choose_route", "draw_law_pilot", "grow_pilot", "grows", "law_nets", "law_plan",
           "law_points", "law_result", "law_working", "nets_result", "through_laws",
           "uncounted_nets",
           "variance_uncertainty"]

#: Nets of the law in the pilot.
PILOT_REPLICATES = 2
#: The law route's predicted error is counted this many times against adaptation's: the
#: in-sample ``V(α)`` is biased low (fitted on the pilot, the adaptation's runs ignored),
#: the nets' spread is not (only skewed).
LAW_MARGIN = 0.5
#: ... and this many times when the adaptive route would end on RQMC replicates
#: (:func:`~multiexpect.engine.run.adaptive_replicates`, asked of the pilot's state: a
#: final stage that adaptation leaves too small for them ends i.i.d.): ``E_ad`` is an i.i.d.
#: prediction of an RQMC final stage, which does far better on smooth residuals; the law
#: must be predicted 10 times better than it (the largest margin that kept the one
#: smooth case where the law wins on the law route; docs/benchmarks.md).
RQMC_FINAL_LAW_MARGIN = 10.0
#: Nets of the law in a grown pilot (:func:`grows`): ``E_law`` then rests on 3 degrees of
#: freedom per quantity, not 1, so ``E_ad / E_law`` no longer spans three decades over the
#: seeds of one case (docs/benchmarks.md, "A grown pilot").
GROWN_PILOT_REPLICATES = 4
#: The pilot grows unless adaptation leads by this factor on the first nets
#: (``E_ad < PILOT_GROWTH_LOW E_law``): a grown pilot that then takes the law route costs
#: nothing (its nets are the law route's), one that adapts loses their runs.
PILOT_GROWTH_LOW = 3.0
#: A tail statistic above :data:`TAIL_GUARD` but at most this many times it is read again on
#: a grown pilot when adaptation promises little (``E_iid <= ADAPTIVE_GAIN E_ad``).
MARGINAL_TAIL = 1.5
#: Adaptation must predict an error this many times below the i.i.d. error of the law's
#: points (``E_iid``), or the law route is taken: ``E_ad`` is optimistic by a factor of
#: up to 3 (module docstring), and the nets do no worse than i.i.d. points.
ADAPTIVE_GAIN = 4.0
#: The law route needs every quantity's pilot variance known to this relative standard
#: error (:func:`variance_uncertainty`): a heavier tail makes the nets' spread meaningless.
TAIL_GUARD = 0.3
#: The values of ``diagnostics["route"]``.
LAW_ROUTE = "law-rqmc"
ADAPTIVE_ROUTE = "adaptive"
#: ... and of the laws' common nets (:mod:`.common_nets`, perturbed-law indices).
COMMON_ROUTE = "common-nets"


@dataclass(frozen=True)
class LawPlan:
    """``replicates`` nets of ``points`` points for RQMC of the law, the first
    ``pilot_replicates`` of them the pilot."""

    replicates: int
    points: int
    pilot_replicates: int


def law_plan(budget: int, replicates: int, laws: int = 1) -> LawPlan:
    """The plan of :func:`~multiexpect.sampling.rqmc.replicate_plan` for ``budget`` (for
    ``budget // laws`` when ``laws`` share each net, :data:`COMMON_ROUTE`: a net of ``n``
    points is then ``laws n`` runs, the plan's ``points``), or a ValueError naming
    ``budget`` when it leaves fewer than 2 points per net or no net after the pilot's
    (naming ``replicates`` when no budget can: a plan has fewer than ``2 replicates``
    nets)."""
    least = PILOT_REPLICATES + 2
    if 2 * replicates - 1 < least:
        raise ValueError(
            f"'replicates' ({replicates}) is too small for sampling 'auto': it needs "
            f"{PILOT_REPLICATES} pilot nets and at least 2 more, and a plan has fewer than "
            f"2 x 'replicates' nets; use 'replicates' >= {(least + 2) // 2}")
    reps, n = replicate_plan(budget // laws, replicates)
    if n < 2 or reps < PILOT_REPLICATES + 2:
        raise ValueError(
            f"'budget' ({budget}) is too small for sampling 'auto' with 'replicates' "
            f"{replicates}: it needs {PILOT_REPLICATES} pilot nets and at least 2 more, "
            f"each of at least 2 points")
    return LawPlan(reps, n * laws, PILOT_REPLICATES)


def check_law_first(budget: int, replicates: int | None) -> None:
    """Before any run: the budget gives a law plan (:func:`law_plan`; the laws' common nets,
    :mod:`.common_nets`, are tried only where their plan fits besides)."""
    if replicates is not None:
        law_plan(budget, replicates)


def law_points(setup: EngineSetup, n: int, replicate: int) -> np.ndarray:
    """``n`` working-space points of ``g_0`` on net ``replicate`` of the law
    (:func:`~multiexpect.estimators.monte_carlo.law_net`, separate RQMC's nets: for one law
    the same points); for ``L`` laws the net has ``d + 1`` coordinates and the last picks the
    law: each point follows ``f̄`` exactly (the laws' common nets:
    :func:`~.common_nets.common_points`)."""
    problem, laws = setup.sampling, setup.laws
    d = problem.dim
    if len(laws) == 1:
        return law_working(setup, normal_from_uniform(law_net(setup.seed, replicate, n, d)))
    u = law_net(setup.seed, replicate, n, d + 1)
    normal = normal_from_uniform(u[:, :d])
    pick = np.minimum((u[:, d] * len(laws)).astype(int), len(laws) - 1)
    if closed_form_kinds(laws):  # each law's correlation product, then one marginal map
        scores = np.empty_like(normal)
        for law in np.unique(pick):
            rows = pick == law
            scores[rows] = correlated_scores(laws[law], normal[rows])
        return problem.to_working(inputs_of_laws(laws, pick, scores))
    x = np.empty((n, laws[0].dim))
    for law in np.unique(pick):
        rows = pick == law
        x[rows] = laws[law].from_standard(normal[rows])
    return problem.to_working(x)


def law_working(setup: EngineSetup, normal: np.ndarray) -> np.ndarray:
    """Working-space points of the one law from its standard normal coordinates ``normal``
    ((n, d)): themselves in the standard space, else ``from_standard`` mapped."""
    problem = setup.sampling
    if problem.space == "standard":
        return normal
    return problem.to_working(setup.laws[0].from_standard(normal))


def through_laws(problem, normal: np.ndarray, laws=None) -> np.ndarray:
    """The working points of the standard normal points ``normal`` ((m, d)) mapped through
    each of ``problem``'s laws in turn (or of the law indices ``laws``), stacked law by law
    ((L m, d)): all at once where the laws are of :func:`~multiexpect.laws.closed_form_kinds`
    (the same bits as law by law), else by each law's ``from_standard``. The laws' common
    nets (:func:`~.common_nets.common_points`) and the chaos's integration nets
    (:meth:`~.surrogate.FinalSurrogate.law_means`) are such points."""
    laws = range(len(problem.laws)) if laws is None else laws
    if closed_form_kinds(problem.laws):
        scores = np.concatenate([correlated_scores(problem.laws[law], normal) for law in laws])
        row_law = np.repeat(np.asarray(list(laws)), normal.shape[0])
        return problem.to_working(inputs_of_laws(problem.laws, row_law, scores))
    return problem.to_working(np.concatenate([problem.laws[law].from_standard(normal)
                                              for law in laws]))


def draw_law_pilot(setup: EngineSetup, plan: LawPlan) -> PilotDraw:
    """The pilot: ``R_0`` nets of ``n`` points, net ``r`` batch
    :func:`~multiexpect.batch_keys.pilot_replicate` ``(r)``, rows in net order."""
    return law_nets(setup, plan.points, range(plan.pilot_replicates))


def law_nets(setup: EngineSetup, n: int, replicates: range,
             before: PilotDraw | None = None) -> PilotDraw:
    """The nets ``replicates`` of the law, ``n`` points each, run after ``before`` (a pilot
    of the nets before them) and joined to it (a grown pilot, the split route's law nets):
    net ``r`` is batch :func:`~multiexpect.batch_keys.pilot_replicate` ``(r)``, rows in net
    order."""
    parts = [] if before is None else [before]
    for r in replicates:
        z = law_points(setup, n, r)
        parts.append(PilotDraw(z, *run_model_scored(setup, z, batch_keys.pilot_replicate(r))))
    scores = None if parts[0].scores is None else np.concatenate([p.scores for p in parts])
    return PilotDraw(np.concatenate([p.z for p in parts]),
                     np.concatenate([p.outputs for p in parts]), scores,
                     np.concatenate([p.log_laws for p in parts]), sum(p.runs for p in parts))


def grows(route: Route, plan: LawPlan, rqmc_final: bool) -> bool:
    """Whether the pilot grows to :data:`GROWN_PILOT_REPLICATES` nets before the route is
    decided again: either the margin test was reached on the first ``R_0`` nets, the
    adaptive route would end on RQMC replicates and adaptation does not lead by
    :data:`PILOT_GROWTH_LOW` (``E_ad >= PILOT_GROWTH_LOW E_law``), or the tail guard fired
    on a marginal statistic where adaptation promises little (``route.marginal_tail``);
    and the plan has nets left after the grown pilot."""
    close = (rqmc_final and np.isfinite(route.adaptive_error)
             and route.adaptive_error >= PILOT_GROWTH_LOW * route.law_error)
    return ((close or route.marginal_tail)
            and plan.pilot_replicates < GROWN_PILOT_REPLICATES < plan.replicates)


def uncounted_nets(setup: EngineSetup, plan: LawPlan, nets: int) -> EngineSetup:
    """``setup`` with its adaptation cap raised by the runs of the law's nets after the
    plan's first ``plan.pilot_replicates``, up to ``nets``: they are the law route's runs
    (a grown pilot's, the split route's law quantities'), not the adaptation's, so the
    adaptive route keeps the batches the cap gave it."""
    extra = (nets - plan.pilot_replicates) * plan.points
    return replace(setup, options=replace(setup.options,
                                          adaptation_cap=setup.options.adaptation_cap + extra))


def grow_pilot(setup: EngineSetup, plan: LawPlan, first: PilotDraw
               ) -> tuple[EngineSetup, LawPlan, PilotDraw]:
    """The pilot ``first`` grown to :data:`GROWN_PILOT_REPLICATES` nets (:func:`grows`):
    the setup with those nets outside the cap (:func:`uncounted_nets`), the plan counting
    them as the pilot's, and the grown pilot."""
    grown = law_nets(setup, plan.points,
                     range(plan.pilot_replicates, GROWN_PILOT_REPLICATES), first)
    return (uncounted_nets(setup, plan, GROWN_PILOT_REPLICATES),
            replace(plan, pilot_replicates=GROWN_PILOT_REPLICATES), grown)


@dataclass(frozen=True)
class Route:
    """The pilot's decision: the law route or not, why, the errors compared, the pilot
    nets' estimates ((R_0, J)), the adaptive route's first fit (when made) and the law
    route's edge probe's record (:mod:`.edge_probe`, when run)."""

    law: bool
    reason: str
    law_error: float
    adaptive_error: float
    iid_error: float
    pilot_values: np.ndarray
    proposal: Proposal | None = None
    event_guard: bool = False
    marginal_tail: bool = False
    common: bool = False
    tail: float = np.nan
    edges: dict | None = None

    def record(self) -> dict:
        """JSON-able diagnostics: ``sampling``, ``route``, ``route_reason``, the predicted
        weighted errors of both routes and of i.i.d. points of the law, and the pilot's tail
        statistic (NaN where no route rule read it)."""
        name = COMMON_ROUTE if self.common else LAW_ROUTE if self.law else ADAPTIVE_ROUTE
        return {"sampling": "auto", "route": name,
                "route_reason": self.reason, "law_rqmc_error": self.law_error,
                "adaptive_error": self.adaptive_error, "law_iid_error": self.iid_error,
                "pilot_replicates": int(self.pilot_values.shape[0]),
                "pilot_tail_statistic": self.tail,
                **({} if self.edges is None else {"edge_probe": self.edges})}


def variance_uncertainty(summands: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The relative standard error of the pilot's weighted variance ``sum_j w_j s_j^2``,
    ``sd(y) / (sqrt(n) mean(y))`` with ``y_i = sum_j w_j (s_ij - mean_j)^2`` (weights 1 by
    default): for one quantity ``sqrt((κ - 1) / n)``, ``κ`` its summands' kurtosis, near
    ``sqrt(2 / n)`` for a light tail and ``sqrt(share of the largest term)`` when one point
    dominates the variance (a heavy tail, which the nets' spread understates). Weighted, a
    quantity that weighs little in the criterion (a pick-freeze product of an input with
    no effect) does not decide alone."""
    centred = summands - summands.mean(axis=0)
    w = np.ones(summands.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    y = centred**2 @ w
    mean = float(np.mean(y))
    if mean <= 0:
        return 0.0
    return float(np.std(y) / (np.sqrt(y.shape[0]) * mean))


def choose_route(state: EngineState, plan: LawPlan, rqmc_final: bool = False) -> Route:
    """The rule of the module docstring on the pilot state ``state``; ``rqmc_final``: the
    adaptive route would end on RQMC replicates (the law counted
    :data:`RQMC_FINAL_LAW_MARGIN` times, not :data:`LAW_MARGIN`). The route records the
    pilot's tail statistic (:func:`variance_uncertainty`), which the results' trust notes
    read."""
    tail = variance_uncertainty(state.pilot_summands, state.weights)
    return replace(_route(state, plan, rqmc_final, tail), tail=tail)


def _route(state: EngineState, plan: LawPlan, rqmc_final: bool, tail: float) -> Route:
    """:func:`choose_route`'s rule, the pilot's tail statistic ``tail`` given."""
    n, r0 = plan.points, plan.pilot_replicates
    summands = state.pilot_summands
    values = net_means(summands[: r0 * n], n)
    w = state.weights
    law_error = float(w @ values.var(axis=0, ddof=1)) / plan.replicates
    iid_error = float(w @ summands.var(axis=0, ddof=1)) / (plan.replicates * n)
    hits_needed = state.setup.options.pilot_hits
    phi = state.sample.phi
    hits = np.sum(phi == 1.0, axis=0)
    if summands.shape[0] > r0 * n or np.any(state.events & (hits < hits_needed)):
        return Route(False, f"an event has fewer than {hits_needed} hits on the pilot",
                     law_error, np.nan, iid_error, values, event_guard=True)
    if tail > TAIL_GUARD:
        reason = (f"a heavy tail: the pilot's weighted variance is known to {tail:.2g} "
                  f"(relative s.e., > {TAIL_GUARD:g})")
        if tail <= MARGINAL_TAIL * TAIL_GUARD and not adaptation_done(state):
            proposal = propose(state)  # kept for the adaptive route's first step
            adaptive_error = proposal.criterion / (state.setup.budget - state.runs_used)
            # little to gain: the statistic is read again on a grown pilot (grows)
            return Route(False, reason, law_error, np.nan, iid_error, values, proposal,
                         marginal_tail=iid_error <= ADAPTIVE_GAIN * adaptive_error)
        return Route(False, reason, law_error, np.nan, iid_error, values)
    if adaptation_done(state):
        return Route(True, "no adaptive batch fits in the budget", law_error, np.nan,
                     iid_error, values)
    proposal = propose(state)
    adaptive_error = proposal.criterion / (state.setup.budget - state.runs_used)
    margin = RQMC_FINAL_LAW_MARGIN if rqmc_final else LAW_MARGIN
    law = margin * law_error <= adaptive_error
    reason = (f"RQMC of the law predicted {law_error:.3g} (counted x{margin:g}) "
              f"{'<=' if law else '>'} adaptation's {adaptive_error:.3g}")
    if not law and iid_error <= ADAPTIVE_GAIN * adaptive_error:
        law = True
        reason += (f", but adaptation's gain over i.i.d. points of the law ({iid_error:.3g}) "
                   f"is {iid_error / adaptive_error:.2g} <= {ADAPTIVE_GAIN:g}")
    return Route(law, reason, law_error, adaptive_error, iid_error, values, proposal)


def law_result(state: EngineState, plan: LawPlan, route: Route,
               control: bool = False) -> EngineResult:
    """The law route: replicates ``R_0 .. R - 1`` of the law's nets, the estimate the mean of
    all ``R`` replicate estimates and its standard error their spread over ``sqrt(R)``
    (the replicates' interval, ``replicate_values`` in the diagnostics): plain RQMC of the
    law; with ``control`` and one law, each net's values with the chaos control of
    :mod:`.law_chaos` where it pays (plain RQMC bit for bit where it does not)."""
    setup, problem = state.setup, state.problem
    values, squares, runs = list(route.pilot_values), [], 0
    kish = KishSize(problem.n_quantities)  # the law's responses: the summands, no control
    pilot = state.pilot_summands[: plan.pilot_replicates * plan.points]
    kish.update(pilot)
    span = SummandRange(problem.n_quantities)  # the range over every net, for a tie
    span.update(pilot)
    control = control and len(setup.laws) == 1
    every = [pilot]  # every net's summands, for the control
    for r in range(plan.pilot_replicates, plan.replicates):
        key = batch_keys.law_replicate(r, plan.pilot_replicates)
        z = law_points(setup, plan.points, r)
        outputs, log_laws, spent = run_model(setup, z, key)
        runs += spent
        summands = iscv_summands(problem.quantity_values(outputs), log_laws, None,
                                 setup.initial.logpdf_from_laws(log_laws), None,
                                 problem.law_index)
        values.append(net_means(summands, plan.points)[0])
        squares.append(net_means(summands**2, plan.points)[0])
        span.update(summands)
        kish.update(summands)
        if control:
            every.append(summands)
    values = np.array(values)
    squares = np.array(squares) if squares else None
    # tied replicates: bounded by the points' variance, read on the route's own nets, and
    # for one law (unweighted summands) by a lattice step of the range over every net
    ranges = span.span if len(setup.laws) == 1 else None
    fitted = None
    if control:
        normal = np.concatenate([normal_from_uniform(law_net(setup.seed, r, plan.points,
                                                             problem.dim))
                                 for r in range(plan.replicates)])
        fitted = net_control(normal, np.concatenate(every), plan.points, ~state.events)
    if fitted is not None and np.any(fitted.floor > 0):  # some quantity took the control
        values, squares = fitted.values, fitted.squares[plan.pilot_replicates:]
    est = replicate_estimate(values, squares, plan.points, ranges)
    result = nets_result(state, plan, route, est, values, runs, plan.points, kish.value)
    return result if fitted is None else with_surrogate(result, fitted.record,
                                                        fitted.floor, fitted.cross)


def nets_result(state: EngineState, plan: LawPlan, route: Route, est, values: np.ndarray,
                runs: int, points: int, effective_points: np.ndarray) -> EngineResult:
    """The result of a route that spends the plan on nets (the law route, the laws' common
    nets): ``est`` (:func:`~multiexpect.sampling.rqmc.replicate_estimate` of the
    replicates ``values``), ``runs`` beyond the state's, ``points`` a net of each law."""
    return EngineResult(
        estimate=est.estimate, stderr=est.stderr, covariance=est.covariance(values),
        n_final=plan.replicates * plan.points, n_pooled=0, pooled_stages=[],
        pooled_lambdas=[], chosen_stage=0, predicted_error=route.law_error,
        problem=state.problem, weights=state.weights, history=state.history,
        runs_used=state.runs_used + runs, pilot_estimate=state.pilot_estimate,
        selection_scores=None, chosen=state.candidates[0], final_sample=None,
        rqmc={"sampling": "auto", "replicates": plan.replicates,
              "points_per_replicate": points, **est.record()},
        route=route.record(), effective_points=effective_points)

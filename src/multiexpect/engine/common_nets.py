r"""``sampling="auto"`` for indices of several laws: the laws' common nets first.

Perturbed-law indices compare ``K + 1`` expectations ``Q_l`` of one model under nearby
laws, ``S_k = Q_k / Q_0 - 1``. Evaluating every law on the same scrambled nets (common
random numbers: the net ``u`` mapped through each law's ``from_standard``) makes ``Q̂_k``
and ``Q̂_0`` nearly equal errors where the model is smooth, so they cancel in ``S_k``:
``method="mc", sampling="rqmc"`` does it, and an importance-sampling estimate of each
``Q_l`` from one shared sample does not (its errors differ law by law through ``f_l /
g``). The engine's criterion ``sum_j w_j Var(Q̂_j)`` cannot see that gain, which lies in
the covariance, so the common nets are judged on the indices' error itself:

* **The probe** (:func:`common_probe`): the first ``R_0`` nets of separate RQMC's plan
  (``law_plan`` on ``budget // L``: ``R`` nets of ``n`` points, each through every law, ``n
  L`` runs a net, one batch, :func:`~multiexpect.batch_keys.common_net`); not run where
  the budget gives no such plan (:func:`probe_plan`).
* **The indices' errors.** For replicates of covariance ``Σ`` ((J, J)), ``E = tr(G Σ G^T)
  / R`` (:func:`index_error`), ``G = ∂S/∂Q`` at the probe's estimate
  (``setup.index_jacobian``). ``E_common``: the probe nets' per-law means' spread.
  ``E_iid``: the probe's points read as an i.i.d. sample of the laws' mixture ``f̄``, the
  summands ``phi f_j / f̄`` of their covariance ``C``, ``tr(G C G^T) / N`` over the whole
  budget: what mixture importance sampling of i.i.d. points would reach.
* **The rule.** The common nets when ``COMMON_GAIN E_common <= E_iid``
  (:data:`COMMON_GAIN`) and no quantity is 0/1 on the probe (an indicator's per-net counts
  tie on few nets: a spread of 0). The mixture's nets gain about 10x on i.i.d. points on
  these integrands and adaptation no more, so the common nets must promise more;
  ``E_common`` rests on ``R_0 - 1`` degrees of freedom and spans two decades over the seeds
  of one case, hence the margin. No tail guard: read on the common nets' own summands, it
  refused them where they are far better and did not restore the coverage it was for
  (docs/benchmarks.md, "Perturbed-law indices on the laws' common nets").
* **The grown probe.** Where the common nets pass the rule by less than
  :data:`GROWN_BAND`, the probe grows to :data:`GROWN_NETS` nets (the plan's next ones) and
  the rule is read again on three degrees of freedom.
* **Taken** (:func:`common_result`): the plan's other nets through every law; the estimate
  is separate RQMC's, ``method="mc", sampling="rqmc"`` bit for bit (the same nets, per-law
  means in the same order, the replicates' interval, the probe's nets kept as the law
  route keeps its pilot's).
* **Not taken**: the study goes on as ``sampling="auto"`` for one mixture
  (:mod:`.law_first`) with the budget the probe left and a seed of its own
  (:func:`~multiexpect.batch_keys.after_common_probe_seed`: its nets independent of the
  probe, whose outcome chose them). The probe's runs are stored and counted, not used in
  the estimate: a net of every law's points is a poor sample of the mixture (its law
  blocks are shifted copies of one net, positively correlated, which mixture importance
  sampling integrates worse than the mixture's own nets). That is the rule's cost where
  the common nets do not pay: ``R_0 / R`` of the budget.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import batch_keys
from ..estimators.monte_carlo import SummandRange, law_net, net_means
from ..sampling.rqmc import normal_from_uniform, replicate_estimate, replicate_plan
from .law_first import (
    PILOT_REPLICATES,
    LawPlan,
    Route,
    law_plan,
    law_result,
    nets_result,
    through_laws,
)
from .pilot import PilotDraw, init, run_model, run_model_scored
from .result import EngineResult
from .state import EngineSetup, EngineState

__all__ = [
    "COMMON_GAIN",
    "COMMON_MIN_POINTS",
    "GROWN_BAND",
    "GROWN_NETS",
    "SEPARATE_GAIN",
    "SEPARATE_PROBE_NETS",
    "common_means",
    "common_points",
    "common_probe",
    "common_result",
    "each_law_points",
    "index_error",
    "probe_plan",
    "separate_result",
    "with_probe",
]


def common_means(phi: np.ndarray, n: int, law_index: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per net of ``n L`` rows of ``phi`` ((R n L, J), law by law within a net): each
    quantity's mean and mean square over its own law's ``n`` rows ((R, J) twice), and
    those rows' values per law (for their range)."""
    n_laws = int(law_index.max()) + 1
    nets = phi.shape[0] // (n * n_laws)
    means = np.zeros((nets, phi.shape[1]))
    squares = np.zeros_like(means)
    blocks = []
    for r in range(nets):
        for law in range(n_laws):
            rows = law_index == law
            start = (r * n_laws + law) * n
            block = phi[start:start + n][:, rows]
            means[r, rows] = net_means(block, n)[0]
            squares[r, rows] = net_means(block**2, n)[0]
            blocks.append(block)
    return means, squares, blocks


def index_error(jacobian: np.ndarray, covariance: np.ndarray) -> float:
    """``tr(G Σ G^T)``: the summed variance of the indices ``S = G Q`` (linearised)."""
    return float(np.sum((jacobian @ covariance) * jacobian))


#: The common nets are taken when their predicted index error is this many times below
#: that of i.i.d. points of the laws' mixture (module docstring).
COMMON_GAIN = 20.0


#: Fewest points of each law in a net for the common nets to be tried (the probe's spread
#: of per-law means then rests on nets of at least this size).
COMMON_MIN_POINTS = 4


def probe_plan(budget: int, replicates: int, laws: int) -> LawPlan | None:
    """The common nets' plan (:func:`~.law_first.law_plan` on ``budget // laws``), or None
    where the budget gives no net of :data:`COMMON_MIN_POINTS` points of each law or leaves
    too little after the probe for the study without it: the common nets are then not
    tried, and the study's smallest budget is the one of a single mixture."""
    try:
        plan = law_plan(budget, replicates, laws)
        law_plan(budget - plan.pilot_replicates * plan.points, replicates)
    except ValueError:
        return None
    return plan if plan.points // laws >= COMMON_MIN_POINTS else None


#: A probe whose common nets pass the rule by less than this factor (``E_iid`` under
#: ``GROWN_BAND COMMON_GAIN E_common``) grows to :data:`GROWN_NETS` nets and decides again
#: on three degrees of freedom: on one, ``E_common`` falls below a fifth of its mean one
#: time in three (a chi-square on one degree of freedom), too often to trust near the rule.
GROWN_BAND = 10.0
#: Nets of a grown probe (the common nets' next ones: kept where they are taken).
GROWN_NETS = 4


def common_probe(setup: EngineSetup, replicates: int
                 ) -> tuple[LawPlan, EngineState, Route] | None:
    """Run the probe's ``R_0`` common nets and decide (module docstring), growing it to
    :data:`GROWN_NETS` nets where the rule passes by less than :data:`GROWN_BAND`: the
    plan (its ``pilot_replicates`` the probe's nets), the probe's state and the decision
    (``route.common``), its errors and reason; None where :func:`probe_plan` gives no plan
    (no run made)."""
    plan = probe_plan(setup.budget, replicates, setup.common_nets)
    if plan is None:
        return None
    parts = [_probe_net(setup, plan, r) for r in range(plan.pilot_replicates)]
    state, route, margin = _decide(setup, plan, parts)
    if route.common and margin < GROWN_BAND and _can_grow(plan, setup.budget, replicates):
        parts += [_probe_net(setup, plan, r) for r in range(plan.pilot_replicates, GROWN_NETS)]
        plan = replace(plan, pilot_replicates=GROWN_NETS)
        state, route, _ = _decide(setup, plan, parts)
        route = replace(route, reason=f"{route.reason} (the probe grown to {GROWN_NETS} "
                        f"nets: on {PILOT_REPLICATES} it passed by {margin:.2g}x)")
    return plan, state, route


def common_points(setup: EngineSetup, plan: LawPlan, replicate: int) -> np.ndarray:
    """The working points of common net ``replicate`` of ``plan``: :func:`each_law_points`
    of ``n = plan.points / L`` points a law."""
    return each_law_points(setup, plan.points // setup.common_nets, replicate)


def each_law_points(setup: EngineSetup, n: int, replicate: int) -> np.ndarray:
    """Separate RQMC's net ``replicate`` of ``n`` points
    (:func:`~multiexpect.estimators.monte_carlo.law_net`) mapped through every law in
    turn, law by law: ``n`` points of each law, a stratified sample of ``f̄``."""
    normal = normal_from_uniform(law_net(setup.seed, replicate, n, setup.sampling.dim))
    return through_laws(setup.sampling, normal)


def _probe_net(setup: EngineSetup, plan: LawPlan, replicate: int) -> PilotDraw:
    """Common net ``replicate`` through every law, run (batch
    :func:`~multiexpect.batch_keys.common_net`)."""
    z = common_points(setup, plan, replicate)
    return PilotDraw(z, *run_model_scored(setup, z, batch_keys.common_net(replicate)))


def _can_grow(plan: LawPlan, budget: int, replicates: int) -> bool:
    """Whether the plan has nets after a grown probe, and the study without it a plan."""
    if plan.replicates <= GROWN_NETS:
        return False
    try:
        law_plan(budget - GROWN_NETS * plan.points, replicates)
    except ValueError:
        return False
    return True


def _decide(setup: EngineSetup, plan: LawPlan, parts: list[PilotDraw]
            ) -> tuple[EngineState, Route, float]:
    """The rule (module docstring) on the probe nets ``parts``: the probe's state, the
    decision and the factor by which the common nets pass it (``E_iid / (COMMON_GAIN
    E_common)``)."""
    first = PilotDraw(np.concatenate([p.z for p in parts]),
                      np.concatenate([p.outputs for p in parts]), None,
                      np.concatenate([p.log_laws for p in parts]), sum(p.runs for p in parts))
    state = init(setup, first)
    n = plan.points // setup.common_nets
    phi = state.sample.phi[: plan.pilot_replicates * plan.points]
    values = common_means(phi, n, state.problem.law_index)[0]
    with np.errstate(all="ignore"):
        jac = np.asarray(setup.index_jacobian(values.mean(axis=0)), dtype=float)
        common = index_error(jac, np.atleast_2d(np.cov(values, rowvar=False))) / plan.replicates
        iid = index_error(jac, np.atleast_2d(np.cov(state.pilot_summands, rowvar=False))
                          ) / setup.budget
        margin = iid / (COMMON_GAIN * common) if common > 0 else np.inf
    take = bool(np.isfinite(common) and np.isfinite(iid) and COMMON_GAIN * common <= iid
                and not np.any(state.events))
    reason = (f"the laws' common nets predicted an index error {common:.3g} (counted "
              f"x{COMMON_GAIN:g}) {'<=' if take else 'against'} i.i.d. points of the "
              f"mixture's {iid:.3g}")
    return state, Route(take, reason, common, np.nan, iid, values, common=take), margin


def with_probe(result: EngineResult, probe: Route, runs: int) -> EngineResult:
    """``result`` of the study after a probe not taken, its runs and route counting the
    probe's (``diagnostics["common_nets"]``: the probe's errors and runs)."""
    route = dict(result.route or {})
    route["route_reason"] = f"{probe.reason}: not taken; {route.get('route_reason', '')}"
    route["common_nets"] = {"index_error": probe.law_error, "iid_index_error": probe.iid_error,
                            "runs": int(runs)}
    return replace(result, runs_used=result.runs_used + int(runs), route=route)


def common_result(state: EngineState, plan: LawPlan, route: Route) -> EngineResult:
    """The common-nets route: nets ``R_0 .. R - 1`` through every law, each quantity the
    mean of its law's per-net means over all ``R`` nets, its standard error their spread
    over ``sqrt(R)`` (the replicates' interval; a tie bounded by the lattice step of each
    law's range): separate RQMC of the laws."""
    setup, problem = state.setup, state.problem
    n = plan.points // setup.common_nets
    phi, runs = _run_nets(state, n, range(plan.pilot_replicates, plan.replicates))
    phi = [state.sample.phi[: plan.pilot_replicates * plan.points], *phi]
    est, means = _nets_of_each_law(np.concatenate(phi), n, problem.law_index)
    return nets_result(state, plan, route, est, means, runs, n,
                       np.full(problem.n_quantities, float(plan.replicates * n)))


def _run_nets(state: EngineState, n: int, which: range) -> tuple[list[np.ndarray], int]:
    """Runs separate RQMC's nets ``which`` of ``n`` points through every law
    (:func:`each_law_points`, batch :func:`~multiexpect.batch_keys.common_net`): their
    quantity values, net by net, and the runs spent."""
    phi, runs = [], 0
    for r in which:
        outputs, _, spent = run_model(state.setup, each_law_points(state.setup, n, r),
                                      batch_keys.common_net(r))
        runs += spent
        phi.append(state.problem.quantity_values(outputs))
    return phi, runs


def _nets_of_each_law(phi: np.ndarray, n: int, law_index: np.ndarray):
    """The replicates' estimate (:func:`~multiexpect.sampling.rqmc.replicate_estimate`) of
    nets of ``n`` points of each law (``phi`` as :func:`common_means` reads it) and the
    per-net means ((R, J)): a tie bounded by the lattice step of each law's range."""
    means, squares, blocks = common_means(phi, n, law_index)
    n_laws = int(law_index.max()) + 1
    span = SummandRange(law_index.size)
    for index, block in enumerate(blocks):
        span.update(block, law_index == index % n_laws)
    return replicate_estimate(means, squares, n, span.span), means


#: Nets of each law run to judge them against the mixture's (:func:`separate_result`).
SEPARATE_PROBE_NETS = 2
#: Nets of each law are taken when their predicted error is this many times below the
#: mixture's nets' (both on few degrees of freedom: the margin keeps a close call on the
#: mixture, whose nets share each law's points with the others).
SEPARATE_GAIN = 4.0


def separate_result(state: EngineState, plan: LawPlan, route: Route, replicates: int
                    ) -> EngineResult:
    """The law route of several laws whose supports differ: nets of each law (separate
    RQMC) where they beat the mixture's, else the mixture's law route. The mixture's
    summands ``phi f_l / f̄`` jump where a law's support ends, which can cost its nets
    their rate on smooth models; but the mixture's nets share each law's points with the
    other laws, which wins on rough models of close laws (measured in docs/benchmarks.md,
    "Studies of several laws with bounded supports").

    * **The probe.** The budget left after the pilot buys ``R`` nets of ``n`` points a law
      (:func:`~multiexpect.sampling.rqmc.replicate_plan` of its ``1/L`` share); the first
      :data:`SEPARATE_PROBE_NETS` are run: net ``R_0 + r`` (after the pilot's) of separate
      RQMC through every law, batch :func:`~multiexpect.batch_keys.common_net`.
    * **The rule.** Their per-law means' spread predicts ``E_sep = sum_j w_j s_j^2 / R``,
      against the pilot's ``E_law`` for the mixture's nets: the nets of each law are taken
      when ``SEPARATE_GAIN E_sep <= E_law``. Then the plan's other ``R - 2`` nets are run
      and each quantity is the mean of its law's net means over them, its standard error
      their spread over ``sqrt(R - 2)`` (as :func:`common_result`); the pilot's and the
      probe's runs, spent deciding, are not in the estimate (the probe's nets, chosen on
      their small spread, would narrow it).
      Else the mixture's law route goes on with the nets the budget has left, the probe's
      runs spent.
    * Neither where the budget left gives no :data:`SEPARATE_PROBE_NETS` + 2 nets of two
      points a law: the mixture's law route."""
    setup, problem = state.setup, state.problem
    n_laws, first = len(setup.laws), int(route.pilot_values.shape[0])
    try:
        reps, n = replicate_plan((setup.budget - state.runs_used) // n_laws, replicates)
    except ValueError:
        reps, n = 0, 0
    if n < 2 or reps < SEPARATE_PROBE_NETS + 2:
        return law_result(state, plan, route)

    phi, runs = _run_nets(state, n, range(first, first + SEPARATE_PROBE_NETS))
    probe = common_means(np.concatenate(phi), n, problem.law_index)[0]
    predicted = float(state.weights @ probe.var(axis=0, ddof=1)) / reps
    if SEPARATE_GAIN * predicted > route.law_error:
        state = replace(state, runs_used=state.runs_used + runs)
        left = (setup.budget - state.runs_used) // plan.points
        reason = (f"{route.reason}; the laws' supports differ, but their own nets predicted "
                  f"{predicted:.3g} (counted x{SEPARATE_GAIN:g}) > the mixture's nets': "
                  f"{runs} runs spent")
        fewer = replace(plan, replicates=plan.pilot_replicates + left)
        return law_result(state, fewer, replace(route, reason=reason))
    more, spent = _run_nets(state, n, range(first + SEPARATE_PROBE_NETS, first + reps))
    est, means = _nets_of_each_law(np.concatenate(more), n, problem.law_index)
    kept = reps - SEPARATE_PROBE_NETS
    reason = (f"{route.reason}; the laws' supports differ: their own nets predicted "
              f"{predicted:.3g} (counted x{SEPARATE_GAIN:g}) <= the mixture's nets' "
              f"(separate RQMC, {kept} nets of {n} points a law; the pilot's and the "
              f"probe's runs not in the estimate)")
    return nets_result(state, LawPlan(kept, n * n_laws, 0),
                       replace(route, reason=reason, common=True), est, means, runs + spent,
                       n, np.full(problem.n_quantities, float(kept * n)))

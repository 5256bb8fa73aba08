r"""``sampling="auto"`` for indices of several laws: the common-nets route.

Perturbed-law indices compare ``K + 1`` expectations ``Q_l`` of one model under nearby
laws, ``S_k = Q_k / Q_0 - 1``. Evaluating every law on the same scrambled nets (common
random numbers: the net ``u`` mapped through each law's ``from_standard``) makes ``Q̂_k``
and ``Q̂_0`` nearly equal errors where the model is smooth, so they cancel in ``S_k``:
``method="mc", sampling="rqmc"`` does it, and an importance-sampling estimate of each
``Q_l`` from a shared sample does not (its errors differ law by law through ``f_l / g``).
The engine's criterion ``sum_j w_j Var(Q̂_j)`` cannot see that gain, which lies in the
covariance, so the route is chosen on the indices' error itself:

* **The pilot** (:func:`~.law_first.law_points` with ``setup.common_nets``): each of the
  ``R_0`` nets has ``n`` points mapped through each of the ``L`` laws, ``n L`` runs, the
  first nets of separate RQMC (``law_plan`` on ``budget // L``). Its points are ``n`` of
  each law, a stratified sample of ``f̄``: the mixture estimate and adaptation read them as
  they read the mixture's nets.
* **The indices' error** of an estimator whose replicates have covariance ``Σ``
  ((J, J)) over ``R`` replicates: ``E = tr(G Σ G^T) / R``, ``G = ∂S/∂Q`` at the pilot's
  common-net estimate (``setup.index_jacobian``). ``E_common`` from the nets' plain
  per-law means (:func:`common_means`), ``E_mixture`` from the same nets' mixture
  importance-sampling means (the law route's estimate, ``route.pilot_values``): both
  unbiased spreads of the same nets. Adaptation's prediction ``E_ad`` is in the criterion's
  ``sum_j w_j Var`` form; it is carried to the indices' by the ratio ``ρ`` of the two forms
  on the pilot's mixture summands read as i.i.d. (``tr(G C G^T) / sum_j w_j C_jj``, ``C``
  their covariance: the share of the criterion the shared sample's correlation leaves).
* **The rule.** No event quantity (perturbed-law indices of an exceedance do not ask for
  common nets at all: an indicator's differences do not cancel, and its per-net counts tie
  on few nets, a spread of 0 that would claim the common nets exact; separate RQMC of
  ``P(x1 + x2 > 2.5)`` under mean shifts loses 25x to the default, docs/benchmarks.md),
  and after :func:`~.law_first.choose_route`'s guards (a heavy tail), the common nets when
  ``E_common <= E_mixture`` and, where that rule
  chose adaptation, ``LAW_MARGIN E_common <= ρ E_ad`` (adaptation's prediction is
  optimistic, the nets' spread is not: :data:`~.law_first.LAW_MARGIN`).
* **The route** (:func:`common_result`) runs the plan's other nets through every law: the
  estimate is separate RQMC's, ``method="mc", sampling="rqmc"`` bit for bit (the same nets,
  per-law means in the same order, the replicates' interval, the pilot's nets kept as on
  the law route).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import batch_keys
from ..estimators.monte_carlo import SummandRange, net_means
from ..sampling.rqmc import replicate_estimate
from .law_first import LAW_MARGIN, LawPlan, Route, law_points
from .pilot import run_model
from .result import EngineResult
from .state import EngineState

__all__ = ["common_means", "common_result", "common_route", "index_error"]


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


def common_route(state: EngineState, plan: LawPlan, route: Route) -> Route:
    """``route`` (:func:`~.law_first.choose_route`'s) turned to the common nets where the
    module docstring's rule says so; unchanged where a guard decided it."""
    if np.any(state.events) or not (route.law or np.isfinite(route.adaptive_error)):
        return route
    setup = state.setup
    law_index = state.problem.law_index
    n = plan.points // setup.common_nets
    phi = state.sample.phi[: plan.pilot_replicates * plan.points]
    values = common_means(phi, n, law_index)[0]
    jac = np.asarray(setup.index_jacobian(values.mean(axis=0)), dtype=float)
    common = index_error(jac, np.atleast_2d(np.cov(values, rowvar=False))) / plan.replicates
    mixture = index_error(jac, np.atleast_2d(np.cov(route.pilot_values, rowvar=False))
                          ) / plan.replicates
    text = f"common nets' index error {common:.3g} against the mixture's {mixture:.3g}"
    take = bool(np.isfinite(common) and common <= mixture)
    if take and not route.law:
        summands = np.atleast_2d(np.cov(state.pilot_summands, rowvar=False))
        diagonal = float(state.weights @ np.diag(summands))
        share = index_error(jac, summands) / diagonal if diagonal > 0 else np.inf
        adaptive = route.adaptive_error * share
        take = bool(np.isfinite(adaptive) and LAW_MARGIN * common <= adaptive)
        text += f" and adaptation's {adaptive:.3g} (counted x{1 / LAW_MARGIN:g})"
    if not take:
        return replace(route, reason=f"{route.reason}; {text}: not taken")
    return replace(route, law=True, common=True, reason=f"{text}: taken ({route.reason})")


def common_result(state: EngineState, plan: LawPlan, route: Route) -> EngineResult:
    """The common-nets route: nets ``R_0 .. R - 1`` through every law, each quantity the
    mean of its law's per-net means over all ``R`` nets, its standard error their spread
    over ``sqrt(R)`` (the replicates' interval; a tie bounded by the lattice step of each
    law's range): separate RQMC of the laws."""
    setup, problem = state.setup, state.problem
    n = plan.points // setup.common_nets
    phi = [state.sample.phi[: plan.pilot_replicates * plan.points]]
    runs = 0
    for r in range(plan.pilot_replicates, plan.replicates):
        outputs, _, spent = run_model(setup, law_points(setup, plan.points, r),
                                      batch_keys.law_replicate(r, plan.pilot_replicates))
        runs += spent
        phi.append(problem.quantity_values(outputs))
    means, squares, blocks = common_means(np.concatenate(phi), n, problem.law_index)
    span = SummandRange(problem.n_quantities)
    for index, block in enumerate(blocks):
        span.update(block, problem.law_index == index % setup.common_nets)
    est = replicate_estimate(means, squares, n, span.span)
    return EngineResult(
        estimate=est.estimate, stderr=est.stderr, covariance=est.covariance(means),
        n_final=plan.replicates * plan.points, n_pooled=0, pooled_stages=[],
        pooled_lambdas=[], chosen_stage=0, predicted_error=route.law_error,
        problem=problem, weights=state.weights, history=state.history,
        runs_used=state.runs_used + runs, pilot_estimate=state.pilot_estimate,
        selection_scores=None, chosen=state.candidates[0], final_sample=None,
        rqmc={"sampling": "auto", "replicates": plan.replicates, "points_per_replicate": n,
              **est.record()},
        route=route.record(),
        effective_points=np.full(problem.n_quantities, float(plan.replicates * n)))

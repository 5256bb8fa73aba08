r"""``sampling="auto"``'s law route, checked at the edges of the law's unit cube.

A scrambled net of ``n`` points puts exactly one point in each coordinate's edge cells
``[0, 1/n)`` and ``[1 - 1/n, 1)``; elsewhere the net's strata balance its errors, but a
quantity unbounded at an edge like ``b + c u^-a`` gives that one point a contribution
``c (U/n)^-a / n``, ``U`` uniform, whose tail falls like ``t^(-1/a)``: for ``a >= 1/4``
its fourth moment is infinite. The replicates are then skewed, and the pilot's nets agree
most when they all missed the edge, which is when the law route is taken: the estimate
of such a route is biased low and its interval too short (measured in docs/benchmarks.md,
"The law route's edge probe"). The pilot's points cannot see it (their tails are the
nets'), so the law route, once chosen, looks:

* **The probe.** From the pilot's first point ``u_0``, each coordinate ``k`` in turn is
  moved to ``u = c / n`` and ``1 - c / n`` for ``c`` in :data:`EDGE_LEVELS` (the middle of
  the edge cell, then a tenth and a hundredth of that): ``6 d`` runs, batch
  :func:`~multiexpect.batch_keys.edge_probe`, spent from the budget the plan's nets leave
  and at most :data:`PROBE_SHARE` of the budget (:func:`probe_plan`; where the nets fill the
  budget, as a power of 2 does, their last net makes room): the probe's price where
  nothing is singular. The pilot's sample does not hold them.
* **The exponent.** For each quantity and edge, the values ``f_1, f_2, f_3`` at the three
  levels give ``D_1 = f_2 - f_1``, ``D_2 = f_3 - f_2`` and ``a = log10(D_2 / D_1)``,
  exactly ``a`` for ``b + c u^-a`` (``-1`` for a linear edge, near 0 for ``log u`` or a lognormal's
  ``exp(σ z)``, whose growth is slower than any power).
* **The rule.** A quantity is *singular* when, on some edge, ``a >= SINGULAR_EXPONENT``,
  the deepest probe moves a net's mean, ``|f_3 - f_1| / n``, by more than the pilot's
  nets disagree (their standard deviation), and ``f_3`` lies beyond every value the
  pilot saw (a bounded oscillation such as ``cos(2 z)`` can read a steep ``a`` from three
  points, never a value beyond its range); or when a probe's output is not finite.
  Event quantities (0/1 on the pilot) are not read: their own guard decides. A
  singular quantity with a weight sends the study to adaptation, whose importance
  sampling weighs the edge down; a route decided because no adaptive batch fits stays.

For ``L`` laws the nets are the mixture's (:func:`~.law_first.law_points`: ``d + 1``
coordinates, the last picking the law) and a net's edge point follows any of the laws, so
the probe's points go through every law (``6 d L`` runs) and are read as the nets' points
are, the summands ``phi f_j / f̄``; a quantity is singular when it is on some law's edge.
Only where the runs fit (a study of many inputs or many laws on a small budget is not
probed); else the route stands and the diagnostics say the probe was skipped. The split
route's law quantities (:mod:`.law_split`), estimated on nets of the law likewise, are
probed the same way when the split is chosen (:func:`check_split_edges`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import batch_keys
from ..estimators.importance import iscv_summands
from ..estimators.monte_carlo import law_net
from ..sampling.rqmc import normal_from_uniform
from .adapt import adaptation_done
from .law_first import LawPlan, Route, law_working, through_laws
from .pilot import run_model
from .state import EngineState

__all__ = ["EDGE_LEVELS", "PROBE_SHARE", "SINGULAR_EXPONENT", "check_edges",
           "check_split_edges", "edge_exponents", "probe_plan", "singular_quantities"]

#: The probe's levels ``c``: points at ``u = c / n`` and ``1 - c / n`` of each coordinate.
EDGE_LEVELS = (0.5, 0.05, 0.005)
#: The probe's largest share of the budget.
PROBE_SHARE = 0.01
#: The exponent at which an edge's one net point has an infinite fourth moment (``1/4``),
#: less the three-point estimate's error on a pure power (``u^-1/4 + b`` reads 0.2499).
SINGULAR_EXPONENT = 0.24


def probe_plan(state: EngineState, plan: LawPlan, pilot_nets: int) -> LawPlan | None:
    """The law route's plan with room for the probe's ``6 d`` runs, or None when they exceed
    :data:`PROBE_SHARE` of the budget: ``plan`` where they fit in the budget its nets
    leave, else ``plan`` less its last net (a budget the nets fill, such as a power of 2),
    if one net at least is left after the ``pilot_nets`` run and it makes room."""
    setup = state.setup
    runs = probe_size(setup)
    if not _affordable(setup):
        return None
    if runs <= setup.budget - max(state.runs_used, plan.replicates * plan.points):
        return plan
    fewer = replace(plan, replicates=plan.replicates - 1)
    if fewer.replicates <= pilot_nets or \
            runs > setup.budget - max(state.runs_used, fewer.replicates * fewer.points):
        return None
    return fewer


def probe_size(setup) -> int:
    """Runs of the probe: both edges of each of the ``d`` coordinates at every level, through
    each of the ``L`` laws."""
    return 2 * setup.sampling.dim * len(EDGE_LEVELS) * len(setup.laws)


def probe_uniforms(base: np.ndarray, n: int) -> np.ndarray:
    """The probe's points in the unit cube ((2 d, 3, d)): ``base`` ((d,)) with coordinate
    ``k`` moved to ``u = c / n`` (rows ``k``) and ``1 - c / n`` (rows ``d + k``), ``c`` in
    :data:`EDGE_LEVELS` (axis 1)."""
    d = base.size
    low = np.asarray(EDGE_LEVELS) / n
    points = np.broadcast_to(base, (2 * d, len(EDGE_LEVELS), d)).copy()
    for k in range(d):
        points[k, :, k] = low
        points[d + k, :, k] = 1.0 - low
    return points


def edge_exponents(values: np.ndarray) -> np.ndarray:
    """``a = log10(D_2 / D_1)`` ((E, J)) of the values ((E, 3, J)) on ``E`` edges (``2 d`` a
    law) at the three depths;
    ``inf`` where ``D_1 = 0 != D_2``, NaN where the differences change sign or both vanish."""
    d1 = values[:, 1] - values[:, 0]
    d2 = values[:, 2] - values[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log10(d2 / d1)
    return np.where((d1 == 0) & (d2 != 0), np.inf, a)


def singular_quantities(values: np.ndarray, net_sd: np.ndarray, n: int,
                        seen: np.ndarray, exponents: np.ndarray | None = None) -> np.ndarray:
    """The singular quantities ((J,) bool) of the module's rule, from the probe's values
    ((E, 3, J) on ``E`` edges), the pilot nets' standard deviation ``net_sd`` ((J,)) and
    the range of the pilot's values ``seen`` ((2, J): lowest, highest); ``exponents``:
    their :func:`edge_exponents`, when already computed."""
    finite = np.all(np.isfinite(values), axis=(0, 1))
    deepest = values[:, 2]
    if exponents is None:
        exponents = edge_exponents(values)
    with np.errstate(invalid="ignore"):
        moves = np.abs(deepest - values[:, 0]) / n > net_sd
        steep = exponents >= SINGULAR_EXPONENT
        beyond = (deepest < seen[0]) | (deepest > seen[1])
    return ~finite | np.any(steep & moves & beyond, axis=0)


def check_edges(state: EngineState, plan: LawPlan, route: Route
                ) -> tuple[EngineState, LawPlan, Route]:
    """The law route ``route`` checked by the probe: the state with its runs counted, the
    plan that makes room for them (:func:`probe_plan`) and the route, turned adaptive when
    a weighted quantity is singular (the module's rule); any other route, or a law route
    that could not adapt (no proposal), unchanged. The probe's record goes into the
    route's diagnostics (``edge_probe``)."""
    setup = state.setup
    if not route.law or route.proposal is None:
        return state, plan, route  # (no proposal: no adaptive batch fits, the law stays)
    roomy = probe_plan(state, plan, route.pilot_values.shape[0])
    if roomy is None:
        return state, plan, replace(route, edges=_skipped(setup))
    state, singular, record = _probe(state, plan, route, ~state.events & (state.weights > 0))
    if roomy.replicates < plan.replicates:
        record["net_dropped"] = True  # the plan's last net made room for the probe
    if not np.any(singular) or adaptation_done(state):
        return state, roomy, replace(route, edges=record)
    names = ", ".join(str(j) for j in record["singular"])
    reason = (f"{route.reason}; but quantities {names} grow at an edge of the law like "
              f"u^-a, a >= {SINGULAR_EXPONENT:g} (the edge probe): the nets' spread "
              f"cannot be trusted there")
    return state, plan, replace(route, law=False, reason=reason, edges=record)


def check_split_edges(state: EngineState, plan: LawPlan, route: Route, law: np.ndarray
                      ) -> tuple[EngineState, Route, np.ndarray]:
    """The split route's law quantities ``law`` (:mod:`.law_split`), whose nets' spread is
    trusted as the law route's is, checked by the probe: the state with the probe's runs
    counted, the route with its record, and the law quantities the nets may estimate,
    ``law`` less the singular ones. A singular one keeps weight 0 in the adaptation, as
    every law quantity (the nets and ``α`` as without the probe), and is estimated by the
    adaptive final stage, whose defensive law component bounds its variance by
    ``E_f[phi^2] / (α_0 n)``. At most :data:`PROBE_SHARE` of the budget, spent from the
    adaptive part's runs; else ``law`` unchanged, and said."""
    setup = state.setup
    if not _affordable(setup):
        return state, replace(route, edges=_skipped(setup)), law
    state, singular, record = _probe(state, plan, route, law)
    if not np.any(singular):
        return state, replace(route, edges=record), law
    names = ", ".join(str(j) for j in record["singular"])
    reason = (f"{route.reason}; quantities {names} grow at an edge of the law like u^-a, "
              f"a >= {SINGULAR_EXPONENT:g} (the edge probe): the adaptive final stage "
              f"estimates them")
    return state, replace(route, reason=reason, edges=record), law & ~singular


def _affordable(setup) -> bool:
    """Whether the probe's runs are at most :data:`PROBE_SHARE` of the budget."""
    return probe_size(setup) <= PROBE_SHARE * setup.budget


def _skipped(setup) -> dict:
    """The record of a probe that does not fit."""
    return {"skipped": f"its {probe_size(setup)} runs do not fit in the budget"}


def _probe(state: EngineState, plan: LawPlan, route: Route, read: np.ndarray
           ) -> tuple[EngineState, np.ndarray, dict]:
    """Run the probe from the pilot's first point and read the quantities ``read`` ((J,)
    bool): the state with its runs counted, the singular quantities ((J,) bool) and the
    record (runs, singular, the largest exponent of each quantity)."""
    setup, problem = state.setup, state.problem
    d, n, laws = setup.sampling.dim, plan.points, len(setup.laws)
    base = law_net(setup.seed, 0, n, d + (laws > 1))[0, :d]  # the pilot's first point
    normals = normal_from_uniform(probe_uniforms(base, n).reshape(-1, d))
    if laws == 1:  # the law's values: the one law is the pilot's g_0
        outputs, _, runs = run_model(setup, law_working(setup, normals),
                                     batch_keys.edge_probe())
        values = problem.quantity_values(outputs)
    else:  # through every law (stacked law by law), read as the mixture's nets' summands
        outputs, log_laws, runs = run_model(setup, through_laws(setup.sampling, normals),
                                            batch_keys.edge_probe())
        values = iscv_summands(problem.quantity_values(outputs), log_laws, None,
                               setup.initial.logpdf_from_laws(log_laws), None,
                               problem.law_index)
    values = values.reshape(laws * 2 * d, len(EDGE_LEVELS), -1)  # (law, edge) rows
    net_sd = route.pilot_values.std(axis=0, ddof=1)
    pilot = state.pilot_summands
    seen = np.vstack([pilot.min(axis=0), pilot.max(axis=0)])
    exponents = edge_exponents(values)
    singular = singular_quantities(values, net_sd, n, seen, exponents) & read
    exponents = np.max(np.where(np.isnan(exponents), -np.inf, exponents), axis=0)
    record = {"runs": runs, "singular": np.flatnonzero(singular).tolist(),
              "exponent": [float(a) if np.isfinite(a) else None for a in exponents]}
    return replace(state, runs_used=state.runs_used + runs), singular, record

"""A whole engine run: the steps in order, each stage shown to an optional observer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from .. import batch_keys
from .adapt import Proposal, adapt, adaptation_done
from .common_nets import common_probe, common_result, separate_result, with_probe
from .edge_probe import check_edges, check_split_edges
from .final import final
from .law_first import (
    GROWN_PILOT_REPLICATES,
    choose_route,
    draw_law_pilot,
    grow_pilot,
    grows,
    law_plan,
    law_result,
)
from .law_split import law_quantities, split_pilot, split_result, split_setup, split_state
from .options import AiscvOptions
from .pilot import init
from .result import EngineResult
from .state import EngineSetup, EngineState, Stage
from .surrogate import ChaosForm

__all__ = ["ADAPTIVE_FINAL_MIN_POINTS", "adaptive_replicates", "run_engine", "stages"]

#: ``sampling="auto"``'s adaptive route ends on RQMC replicates only when each gets at least
#: this many points (a net of 2^5): a replicate of a few weighted points is too skewed for
#: the replicates' interval.
ADAPTIVE_FINAL_MIN_POINTS = 32


def stages(setup: EngineSetup, state: EngineState | None = None,
           proposed: Proposal | None = None) -> Iterator[tuple[EngineState, Stage]]:
    """The pilot (unless ``state`` is given), then each adaptive step until the stopping
    rule: ``(state, stage)`` after each. Any state it yields can go to :func:`final`.
    ``proposed``: the first step's :func:`~.adapt.propose` of ``state``, already fitted."""
    if state is None:
        state = init(setup)
        yield state, state.history[-1]
    while not adaptation_done(state):
        state, stage = adapt(state, proposed)
        proposed = None
        yield state, stage


def run_engine(laws, evaluate: Callable, *, budget: int, seed: int, weights="relative",
               options: AiscvOptions | None = None, names=None, keep_sample: bool = False,
               observe: Callable[[Stage], None] | None = None,
               scored: bool = False, replicates: int | None = None,
               law_first: bool = False, blocks: int | None = None,
               adaptive_rqmc_final: bool = False, surrogate: ChaosForm | None = None,
               events: bool = True, index_jacobian: Callable | None = None,
               edge_probe: bool = False, separate_nets: bool = False,
               law_control: bool = False) -> EngineResult:
    """Run the adaptive estimator to the end on ``evaluate(x, key) -> outputs``.

    ``observe(stage)`` is called after the pilot and after each adaptive batch (a progress
    display, a store's record). ``keep_sample`` keeps the final sample in the result.
    ``scored``: ``evaluate`` returns ``phi`` and the exceedances' scores side by side.
    ``replicates`` (an int): the final stage on that many RQMC replicates
    (:mod:`multiexpect.engine.rqmc_final`); with ``law_first`` (``sampling="auto"``) the
    pilot is drawn on nets of the law and decides whether adaptation can pay, else the
    budget is spent on ``replicates`` or more nets of the law (:mod:`.law_first`).
    ``blocks`` (with ``replicates=1``): the final stage's one-net form.
    ``adaptive_rqmc_final`` (with ``law_first``): the adaptive route's final stage on
    ``replicates`` RQMC replicates where :func:`adaptive_replicates` allows it.
    ``surrogate`` (a :class:`~.surrogate.ChaosForm`): an RQMC final stage after adaptation
    has the chaos control of that form (:mod:`.surrogate`). ``events=False``: no quantity
    is treated as an event probability (:meth:`EngineSetup.build`). ``index_jacobian``
    (perturbed-law indices, with ``law_first``): the laws' common nets are probed first
    and may be taken (:mod:`.common_nets`). ``edge_probe`` (with ``law_first``,
    expectations of the model's quantities): a law route is checked at the law's edges
    first (:mod:`.edge_probe`). ``separate_nets`` (with ``law_first``, expectations): the
    law route of several laws whose supports differ goes on nets of each law
    (:func:`~.common_nets.separate_result`), unless a quantity is an event.
    ``law_control`` (with ``law_first``): the law route of one law takes the nets' chaos
    control where it pays (:mod:`.law_chaos`).
    """
    setup = EngineSetup.build(laws, evaluate, budget=budget, seed=seed, weights=weights,
                              options=options, names=names, scored=scored, events=events,
                              index_jacobian=index_jacobian)
    if law_first and setup.common_nets > 1:  # indices of several laws (.common_nets)
        def after_probe(runs: int) -> EngineSetup:  # the study without its probe, if any
            return EngineSetup.build(
                laws, evaluate, budget=setup.budget - runs,
                seed=batch_keys.after_common_probe_seed(seed) if runs else seed,
                weights=weights, options=options, names=names, scored=scored,
                events=events)
        return _common_first(setup, after_probe, replicates, observe, keep_sample,
                             adaptive_rqmc_final, surrogate)
    if law_first:
        return _law_first(setup, replicates, observe, keep_sample, adaptive_rqmc_final,
                          surrogate, edge_probe, separate_nets, law_control)
    last = None
    for last, stage in stages(setup):  # noqa: B007 (the last state goes to final)
        if observe is not None:
            observe(stage)
    return final(last, keep_sample=keep_sample, replicates=replicates, blocks=blocks,
                 surrogate=surrogate)


def adaptive_replicates(state: EngineState, replicates: int, asked: bool) -> int | None:
    """The RQMC replicates of the final stage of ``sampling="auto"``'s adaptive route:
    ``replicates`` when the caller ``asked`` for them (expectations: measured there, not on
    the pick-freeze or perturbed-law quantities, docs/benchmarks.md), no quantity is an
    event (the spread of a weighted 0/1 column over a few replicates is skewed, small more
    often than not: its intervals under-cover) and each replicate gets
    :data:`ADAPTIVE_FINAL_MIN_POINTS` points; else ``None``, the i.i.d. final."""
    n_final = state.setup.budget - state.runs_used
    if (not asked or bool(np.any(state.events))
            or n_final < ADAPTIVE_FINAL_MIN_POINTS * replicates):
        return None
    return replicates


def _common_first(setup: EngineSetup, after_probe: Callable[[int], EngineSetup],
                  replicates: int, observe, keep_sample: bool, adaptive_rqmc_final: bool,
                  surrogate: ChaosForm | None) -> EngineResult:
    """``sampling="auto"`` for indices of several laws: the laws' common nets' probe, then
    their route, or the study ``after_probe(runs)`` on the budget left (:mod:`.common_nets`)."""
    probed = common_probe(setup, replicates)
    if probed is None:  # no net of every law fits: as for one mixture, the whole budget
        return _law_first(after_probe(0), replicates, observe, keep_sample,
                          adaptive_rqmc_final, surrogate)
    plan, probed, probe = probed
    if observe is not None:
        observe(probed.history[-1])
    if probe.common:
        return common_result(probed, plan, probe)
    result = _law_first(after_probe(probed.runs_used), replicates, observe, keep_sample,
                        adaptive_rqmc_final, surrogate)
    return with_probe(result, probe, probed.runs_used)


def _law_first(setup: EngineSetup, replicates: int, observe, keep_sample: bool,
               adaptive_rqmc_final: bool, surrogate: ChaosForm | None = None,
               edge_probe: bool = False, separate_nets: bool = False,
               law_control: bool = False) -> EngineResult:
    """``sampling="auto"``: the pilot on nets of the law, then the route it chooses
    (a law route checked at the edges first with ``edge_probe``; on nets of each law with
    ``separate_nets`` where the laws' supports differ and no quantity is an event; with the
    nets' chaos control with ``law_control``)."""
    plan = law_plan(setup.budget, replicates)
    first = draw_law_pilot(setup, plan)
    state = init(setup, first)
    if observe is not None:
        observe(state.history[-1])
    rqmc_final = adaptive_replicates(state, replicates, adaptive_rqmc_final) is not None
    route = choose_route(state, plan, rqmc_final=rqmc_final)
    if grows(route, plan, rqmc_final):  # E_law on more nets before deciding (.law_first)
        before = route
        setup, plan, first = grow_pilot(setup, plan, first)
        state = init(setup, first)
        route = choose_route(state, plan, rqmc_final=adaptive_replicates(
            state, replicates, adaptive_rqmc_final) is not None)
        route = replace(route, reason=f"{route.reason} (the pilot grown to "
                        f"{GROWN_PILOT_REPLICATES} nets; on {before.pilot_values.shape[0]}: "
                        f"{before.reason})")
    if edge_probe:  # a law route checked at the law's edges (.edge_probe)
        state, plan, route = check_edges(state, plan, route)
    if route.law:
        if separate_nets and setup.sampling.supports_differ and not np.any(state.events):
            return separate_result(state, plan, route, replicates)  # (.common_nets)
        return law_result(state, plan, route, control=law_control)
    law = law_quantities(state, plan, route)
    on_nets, before_probe = law, state.runs_used  # on_nets: the quantities the nets estimate
    if edge_probe and law is not None:  # the split's law quantities checked likewise
        state, route, on_nets = check_split_edges(state, plan, route, law)
        law = law if on_nets.any() else None  # none left: the adaptive route
    probed = state.runs_used - before_probe  # the edge probe's runs, if it ran
    proposed = route.proposal
    if law is not None:  # the split route (.law_split): the pilot grows to the law's nets
        setup = split_setup(setup, plan, law)
        state = split_state(init(setup, split_pilot(setup, plan, first, law)), law)
        state = replace(state, runs_used=state.runs_used + probed)
        proposed = None
    del first  # the pilot nets' raw outputs: not read again (the state has what it needs)
    pilot = state
    last = state
    for last, stage in stages(setup, state, proposed):  # noqa: B007
        if observe is not None:
            observe(stage)
    if law is not None:  # the split route keeps the i.i.d. final (its law quantities
        # are estimated on nets of the law, apart; those singular at an edge, by the final)
        return split_result(final(last, keep_sample=keep_sample), pilot, plan, route,
                            on_nets)
    # the adaptive route's RQMC final keeps the stages apart: pooling them would reweigh
    # every stage at every final point, the engine's cost (docs/benchmarks.md)
    result = final(last, keep_sample=keep_sample, pool=False,
                   replicates=adaptive_replicates(last, replicates, adaptive_rqmc_final),
                   surrogate=surrogate)
    return replace(result, route=route.record())

"""A whole engine run: the steps in order, each stage shown to an optional observer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from .adapt import Proposal, adapt, adaptation_done
from .final import final
from .law_first import choose_route, draw_law_pilot, law_plan, law_result
from .law_split import law_quantities, split_pilot, split_result, split_setup, split_state
from .options import AiscvOptions
from .pilot import init
from .result import EngineResult
from .state import EngineSetup, EngineState, Stage

__all__ = ["run_engine", "stages"]


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
               law_first: bool = False, blocks: int | None = None) -> EngineResult:
    """Run the adaptive estimator to the end on ``evaluate(x, key) -> outputs``.

    ``observe(stage)`` is called after the pilot and after each adaptive batch (a progress
    display, a store's record). ``keep_sample`` keeps the final sample in the result.
    ``scored``: ``evaluate`` returns ``phi`` and the exceedances' scores side by side.
    ``replicates`` (an int): the final stage on that many RQMC replicates
    (:mod:`multiexpect.engine.rqmc_final`); with ``law_first`` (``sampling="auto"``) the
    pilot is drawn on nets of the law and decides whether adaptation can pay, else the
    budget is spent on ``replicates`` or more nets of the law (:mod:`.law_first`).
    ``blocks`` (with ``replicates=1``): the final stage's one-net form.
    """
    setup = EngineSetup.build(laws, evaluate, budget=budget, seed=seed, weights=weights,
                              options=options, names=names, scored=scored)
    if law_first:
        return _law_first(setup, replicates, observe, keep_sample)
    last = None
    for last, stage in stages(setup):  # noqa: B007 (the last state goes to final)
        if observe is not None:
            observe(stage)
    return final(last, keep_sample=keep_sample, replicates=replicates, blocks=blocks)


def _law_first(setup: EngineSetup, replicates: int, observe, keep_sample: bool
               ) -> EngineResult:
    """``sampling="auto"``: the pilot on nets of the law, then the route it chooses."""
    plan = law_plan(setup.budget, replicates)
    first = draw_law_pilot(setup, plan)
    state = init(setup, first)
    if observe is not None:
        observe(state.history[-1])
    route = choose_route(state, plan)
    if route.law:
        return law_result(state, plan, route)
    law = law_quantities(state, plan, route)
    proposed = route.proposal
    if law is not None:  # the split route (.law_split): the pilot grows to the law's nets
        setup = split_setup(setup, plan, law)
        state = split_state(init(setup, split_pilot(setup, plan, first, law)), law)
        proposed = None
    del first  # the pilot nets' raw outputs: not read again (the state has what it needs)
    pilot = state
    last = state
    for last, stage in stages(setup, state, proposed):  # noqa: B007
        if observe is not None:
            observe(stage)
    result = final(last, keep_sample=keep_sample)
    if law is not None:
        return split_result(result, pilot, plan, route, law)
    return replace(result, route=route.record())

"""A whole engine run: the steps in order, each stage shown to an optional observer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .adapt import adapt, adaptation_done
from .final import final
from .options import AiscvOptions
from .pilot import init
from .result import EngineResult
from .state import EngineSetup, EngineState, Stage

__all__ = ["run_engine", "stages"]


def stages(setup: EngineSetup, state: EngineState | None = None
           ) -> Iterator[tuple[EngineState, Stage]]:
    """The pilot (unless ``state`` is given), then each adaptive step until the stopping
    rule: ``(state, stage)`` after each. Any state it yields can go to :func:`final`."""
    if state is None:
        state = init(setup)
        yield state, state.history[-1]
    while not adaptation_done(state):
        state, stage = adapt(state)
        yield state, stage


def run_engine(laws, evaluate: Callable, *, budget: int, seed: int, weights="relative",
               options: AiscvOptions | None = None, names=None, keep_sample: bool = False,
               observe: Callable[[Stage], None] | None = None,
               scored: bool = False, replicates: int | None = None) -> EngineResult:
    """Run the adaptive estimator to the end on ``evaluate(x, key) -> outputs``.

    ``observe(stage)`` is called after the pilot and after each adaptive batch (a progress
    display, a store's record). ``keep_sample`` keeps the final sample in the result.
    ``scored``: ``evaluate`` returns ``phi`` and the exceedances' scores side by side.
    ``replicates`` (an int): the final stage on that many RQMC replicates
    (:mod:`multiexpect.engine.rqmc_final`).
    """
    setup = EngineSetup.build(laws, evaluate, budget=budget, seed=seed, weights=weights,
                              options=options, names=names, scored=scored)
    last = None
    for last, stage in stages(setup):  # noqa: B007 (the last state goes to final)
        if observe is not None:
            observe(stage)
    return final(last, keep_sample=keep_sample, replicates=replicates)

"""The adaptive engine (aISCV) as an explicit state and plain steps.

Demange-Chryst, Bachoc & Morio, "Efficient estimation of multiple expectations with the same
sample by adaptive importance sampling and control variates", Statistics and Computing 33
(2023), doi:10.1007/s11222-023-10270-2, with the extensions of ``docs/method.md``:

    setup = EngineSetup.build(laws, evaluate, budget=..., seed=...)
    state = init(setup)                       # pilot (+ extension): the law is candidate 0
    while not adaptation_done(state):
        state, stage = adapt(state)           # fit, α, batch, β, E_t: one more candidate
    selection = select(state)                 # the proposal kept (read by final)
    result = final(state)                     # fresh final sample, pooled stages -> EngineResult

:func:`run_engine` does all of it; :class:`multiexpect.AISCV` is the same as an object with
``steps()`` and ``finish()``. Any state may go to :func:`final`: its sample is fresh.
"""

from .adapt import MIN_CONTROL_ALPHA, adapt, adaptation_done
from .final import POOL_TIE, PoolingRule, final, pooled_stages, pooling_rule
from .options import (
    CONTROLS,
    FAMILY_NAMES,
    KEEPS,
    OPTION_NAMES,
    AiscvOptions,
    options_for_budget,
)
from .pilot import init
from .result import EngineResult
from .run import run_engine, stages
from .sample import RecycledSample
from .select import select
from .state import Candidate, EngineSetup, EngineState, Selection, Stage
from .weights import WEIGHT_NAMES, check_weights, resolve_weights

__all__ = [
    "CONTROLS",
    "FAMILY_NAMES",
    "KEEPS",
    "MIN_CONTROL_ALPHA",
    "OPTION_NAMES",
    "POOL_TIE",
    "WEIGHT_NAMES",
    "AiscvOptions",
    "Candidate",
    "EngineResult",
    "EngineSetup",
    "EngineState",
    "PoolingRule",
    "RecycledSample",
    "Selection",
    "Stage",
    "adapt",
    "adaptation_done",
    "check_weights",
    "final",
    "init",
    "options_for_budget",
    "pooled_stages",
    "pooling_rule",
    "resolve_weights",
    "run_engine",
    "select",
    "stages",
]

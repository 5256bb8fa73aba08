"""The adaptive engine as an object: watch or stop the adaptation, then finish.

A thin facade over :mod:`multiexpect.engine` (explicit state, plain steps): :meth:`AISCV.steps`
yields a :class:`Stage` after the pilot and after each adaptive batch, and the caller may
stop whenever it likes; :meth:`AISCV.finish` spends the rest of the budget on a fresh final
sample from the proposal kept so far, so the estimate is unbiased after any number of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .engine import (
    OPTION_NAMES,
    AiscvOptions,
    EngineResult,
    EngineSetup,
    EngineState,
    Stage,
    check_weights,
    final,
    options_for_budget,
    resolve_weights,
    stages,
)

__all__ = ["AISCV", "OPTION_NAMES", "AiscvOptions", "Stage", "check_weights",
           "options_for_budget", "resolve_weights"]


class AISCV:
    """The adaptive estimator of many expectations from one sample.

    Parameters
    ----------
    laws : Law or sequence of Law
        One law for every quantity, or one per quantity.
    evaluate : callable
        ``evaluate(x, batch) -> outputs`` ((n, d) -> (n, m)); ``batch`` is the batch key
        (:mod:`multiexpect.batch_keys`).
    budget : int
        Model runs in all.
    seed : int
        Root seed of every batch's generator.
    weights : "relative", "absolute", (J,) array or callable
        Weights of the criterion ``sum_j w_j Var(Î_j)``; a callable gets the pilot estimate.
    options : AiscvOptions
    names : sequence of str, optional
        Quantity names.

    Notes
    -----
    Iterate :meth:`steps` to watch the adaptation one stage at a time (and stop whenever),
    then call :meth:`finish`; :meth:`run` does both. ``state`` is the engine's state after
    the last step, ``result`` the :class:`~multiexpect.engine.EngineResult` once finished.
    """

    def __init__(self, laws, evaluate: Callable, *, budget: int, seed: int,
                 weights="relative", options: AiscvOptions | None = None, names=None):
        self.setup = EngineSetup.build(laws, evaluate, budget=budget, seed=seed,
                                       weights=weights, options=options, names=names)
        self.state: EngineState | None = None
        self.result: EngineResult | None = None

    @property
    def options(self) -> AiscvOptions:
        """The resolved options."""
        return self.setup.options

    @property
    def history(self) -> tuple[Stage, ...]:
        """The stages so far."""
        return () if self.state is None else self.state.history

    @property
    def runs_used(self) -> int:
        """Model runs so far."""
        if self.result is not None:
            return self.result.runs_used
        return 0 if self.state is None else self.state.runs_used

    def steps(self) -> Iterator[Stage]:
        """Run the pilot (first call) and the adaptive batches, yielding a :class:`Stage`
        after each; a later call continues where the last one stopped."""
        if self.result is not None:
            raise RuntimeError("finish() was already called")
        for state, stage in stages(self.setup, self.state):
            self.state = state
            yield stage

    def finish(self, keep_sample: bool = False, replicates: int | None = None
               ) -> EngineResult:
        """Spend the rest of the budget on the kept proposal and return the estimate (all
        steps first when :meth:`steps` was never iterated). ``keep_sample`` keeps the final
        sample (working points ``z``, inputs ``x``, outputs, ``log g``, summands) in
        ``result.final_sample`` for reanalysis without new runs. ``replicates`` (an int
        ``R >= 2``): the final stage on ``R`` RQMC replicates
        (:mod:`multiexpect.engine.rqmc_final`)."""
        if self.result is not None:
            raise RuntimeError("finish() was already called")
        if self.state is None:
            for _ in self.steps():
                pass
        self.result = final(self.state, keep_sample=keep_sample, replicates=replicates)
        return self.result

    def run(self, keep_sample: bool = False) -> EngineResult:
        """All stages and the final stage."""
        for _ in self.steps():
            pass
        return self.finish(keep_sample=keep_sample)

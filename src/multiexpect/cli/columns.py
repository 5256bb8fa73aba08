"""From the model's raw outputs to the quantities the library estimates, and from estimates
to rows: shared by the analysis kinds.

The store keeps the model's raw outputs. The statistics of an analysis are the library's
declared quantities (:func:`declared_quantities`: ``me.Moment``, ``me.Exceedance`` on the
output column ``Y``), so an exceedance keeps its continuous output and the adaptive method
can reach a rare one through its level ladder. :class:`OutputColumns` passes the raw
outputs through and watches the column ``Y``: a moment whose values cannot have a variance
in float64 is refused, a tail too heavy for a moment is reported
(:func:`hill_tail_index`), a constant output is named.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..quantities import Exceedance, Moment
from ..quantities import exceedance_label as exceedance_name
from ..quantities import moment_label as moment_name

__all__ = ["HeavyTailWarning", "OneColumn", "OutputColumns", "declared_quantities",
           "exceedance_name", "hill_tail_index", "make_rows", "moment_name",
           "statistic_label", "unused_model"]


class HeavyTailWarning(UserWarning):
    """The outputs of a study look too heavy-tailed for one of its moments."""


def unused_model(x):  # pragma: no cover - never called: ``evaluate`` replaces it
    raise RuntimeError("the model is run through 'evaluate'")


def declared_quantities(output: int, moments=(), thresholds=()) -> list:
    """``E[Y^k]`` for each moment ``k``, then ``P(Y > t)`` for each threshold ``t``, as the
    library's declared quantities on output column ``output``."""
    return ([Moment(int(output), int(k)) for k in moments]
            + [Exceedance(int(output), float(t)) for t in thresholds])


def statistic_label(spec: dict, y: str = "Y") -> str:
    """``E[Y^k]`` or ``P(Y > t)``: the statistic of a ``laws`` analysis."""
    if spec.get("exceedance") is not None:
        return exceedance_name(y, spec["exceedance"])
    return moment_name(y, spec.get("moment", 1))


#: The largest |Y^k| whose square float64 holds: past it, E[Y^k] can have no standard error
_MAX_SQUARABLE = float(np.sqrt(np.finfo(float).max))
#: Share of the largest runs whose |Y| give the Hill estimate of the output's tail index
_TAIL_SHARE = 0.05
#: E[Y^k] is flagged when the Hill tail index of |Y| is below this factor times k
_TAIL_FACTOR = 1.25


def hill_tail_index(y: np.ndarray, share: float = _TAIL_SHARE) -> float:
    """Hill's estimate of the tail index ``a`` of ``|Y|`` (``P(|Y| > t) ~ t^-a``) from the
    largest ``share`` of the values (10 at least); ``inf`` when they are too few or equal.

    ``E[|Y|^k]`` is finite only when ``k < a``, and a normal interval for it needs
    ``2k < a``: the estimate is a diagnostic (biased for lognormal-like tails), not a test.
    """
    a = np.sort(np.abs(y[np.isfinite(y)]))[::-1]
    k = max(int(share * a.size), 10)
    if a.size <= k or a[k] <= 0:
        return float("inf")
    logs = np.log(a[:k] / a[k])
    mean = float(np.mean(logs))
    return float("inf") if mean <= 0 else 1.0 / mean


class OutputColumns:
    """``evaluate`` of the raw outputs ``(n, m)``, passed through, watching column ``output``.

    Forwards ``observe`` (the progress bar's predicted error) to the wrapped callable. Keeps
    the column's values, for :meth:`heavy_tail_warnings`; refuses a moment of ``moments``
    that overflows (the library computes the quantities from the raw outputs).
    """

    def __init__(self, evaluate: Callable, output: int, moments=()):
        self.evaluate = evaluate
        self.output = int(output)
        self.moments = np.asarray(list(moments), dtype=float)
        self.seen: list[np.ndarray] = []

    def heavy_tail_warnings(self, y_name: str = "Y") -> list[str]:
        """One message per moment ``E[Y^k]`` whose outputs look too heavy-tailed for it."""
        if not self.moments.size or not self.seen:
            return []
        tail = hill_tail_index(np.concatenate(self.seen))
        return [f"{moment_name(y_name, int(k))}: the outputs' tail looks heavy (Hill tail "
                f"index {tail:.2g} from the largest {_TAIL_SHARE:.0%} of |{y_name}|, below "
                f"{_TAIL_FACTOR:g} x {int(k)}): this moment may not exist, and its interval "
                f"then means nothing" for k in self.moments if tail < _TAIL_FACTOR * k]

    def outputs(self, x, batch) -> np.ndarray:
        """The raw outputs as an ``(n, m)`` array, with column ``output`` checked."""
        out = np.asarray(self.evaluate(x, batch), dtype=float)
        if out.ndim == 1:
            out = out[:, None]
        if self.output >= out.shape[1]:
            raise ValueError(f"model.output is {self.output} but the model returned "
                             f"{out.shape[1]} column(s)")
        return out

    def column(self, x, batch):
        return self.outputs(x, batch)[:, self.output]

    def __call__(self, x, batch=0):
        out = self.outputs(x, batch)
        y = out[:, self.output]
        self.seen.append(y)
        with np.errstate(over="ignore", invalid="ignore"):
            powers = y[:, None] ** self.moments[None, :]
        with np.errstate(invalid="ignore"):
            overflow = ~(np.abs(powers) <= _MAX_SQUARABLE) & np.isfinite(y)[:, None]
        if overflow.any():
            j = int(np.flatnonzero(overflow.any(axis=0))[0])
            i = int(np.flatnonzero(overflow[:, j])[0])
            raise ValueError(f"moments: Y^{int(self.moments[j])} = {powers[i, j]:.3g} at the "
                             f"model output Y = {y[i]:.4g}: beyond {_MAX_SQUARABLE:.3g} its "
                             f"variance overflows float64 and it can have no interval; ask "
                             f"for a lower moment or rescale the output")
        return out

    def observe(self, stage) -> None:
        getattr(self.evaluate, "observe", lambda s: None)(stage)


class OneColumn(OutputColumns):
    """``evaluate`` returning the raw output column ``Y`` alone (Sobol', perturbed laws)."""

    def __call__(self, x, batch=0):
        y = self.column(x, batch)
        self.seen.append(y)
        return y[:, None]

    def check_not_constant(self) -> None:
        """Raise when every output seen is the same number: its variance is zero, so
        variance-based indices are undefined."""
        y = np.concatenate(self.seen) if self.seen else np.empty(0)
        if y.size >= 2 and np.all(y == y[0]):
            raise ValueError(f"sobol: the model's output is {y[0]:.6g} at every one of the "
                             f"{y.size} runs: its variance is zero and Sobol' indices are "
                             f"undefined (is model.output the right column?)")


def make_rows(names, estimates, stderrs, lows, highs) -> list[dict]:
    return [{"name": n, "estimate": float(e), "stderr": float(s), "low": float(lo),
             "high": float(hi)}
            for n, e, s, lo, hi in zip(names, estimates, stderrs, lows, highs)]

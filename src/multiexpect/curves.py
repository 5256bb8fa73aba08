"""Exceedance curves ``t -> P(Y > t)`` and quantiles of one output, from one budget.

:func:`exceedance_curve` declares one :class:`~multiexpect.quantities.Exceedance` per
threshold and calls :func:`~multiexpect.expectations`: the thresholds share the budget and
the rare ones climb the level ladder (``docs/method.md``). Each point has its interval
(:meth:`~multiexpect.ExpectationResult.confidence_interval`: inside [0, 1], an upper bound
without hit). A quantile ``q_a`` (``P(Y > q_a) = a``) is read off the curve, log-linearly
between grid points, with the interval obtained by inversion: ``{t : low(t) <= a <=
high(t)}``, from where the intervals' lower bound crosses ``a`` to where their upper bound
does.

The result keeps what the curve needs (``settings["quantities"]``: the thresholds;
``settings["curve"]``: the side and the quantile levels), so that
:meth:`ExceedanceCurve.from_result` rebuilds the curve from it, also once read back from
JSON (the command's report draws it from its results file).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .api import expectations
from .intervals import FLAG_FEW_HITS, FLAG_NO_HIT, check_level
from .quantities import SIDES, Exceedance
from .results import ExpectationResult

__all__ = ["CURVE_SETTINGS", "ExceedanceCurve", "exceedance_curve"]

#: the key of ``result.settings`` where :func:`exceedance_curve` records its side and levels
CURVE_SETTINGS = "curve"


@dataclass(frozen=True)
class ExceedanceCurve:
    """``P(Y side t_k)`` over the grid, pointwise intervals, and quantiles by inversion.

    ``quantiles`` maps each level ``a`` to ``(q̂, low, high)`` (NaN where the curve or a
    bound does not cross ``a`` inside the grid); ``result`` is the underlying
    :class:`~multiexpect.ExpectationResult`.
    """

    thresholds: np.ndarray
    probability: np.ndarray
    stderr: np.ndarray
    low: np.ndarray
    high: np.ndarray
    quantiles: dict
    result: ExpectationResult

    @classmethod
    def from_result(cls, result: ExpectationResult, level: float = 0.95) -> ExceedanceCurve:
        """The curve of a result of :func:`exceedance_curve` (or its JSON read back), with
        intervals at ``level``: thresholds from its declared exceedances, quantile levels
        from ``settings["curve"]``."""
        declared = result.settings.get("quantities") or []
        if not declared or any(q.get("kind") != "exceedance" for q in declared):
            raise ValueError("'result' must come from exceedance_curve (one declared "
                             "exceedance per threshold)")
        recorded = result.settings.get(CURVE_SETTINGS) or {}
        t = np.array([float(q["threshold"]) for q in declared])
        return _curve(t, tuple(float(a) for a in recorded.get("levels", ())), level, result)

    def summary(self) -> str:
        """One line per threshold (``!`` after a probability on fewer than
        ``intervals.FEW_HITS`` effective hits, ``no hit`` after an upper bound:
        ``result.trust``), then one per quantile."""
        marks = {FLAG_FEW_HITS: " !", FLAG_NO_HIT: " no hit"}
        lines = [f"{'t':>12} {'P':>11} {'s.e.':>10} {'low':>10} {'high':>10}"]
        for row, flag in zip(zip(self.thresholds, self.probability, self.stderr, self.low,
                                 self.high), self.result.trust):
            lines.append(" ".join(f"{v:>{w}.4g}" for v, w in zip(row, (12, 11, 10, 10, 10)))
                         + marks.get(flag, ""))
        for a, (q, lo, hi) in self.quantiles.items():
            lines.append(f"quantile at level {a:g}: {q:.5g} [{lo:.5g}, {hi:.5g}]")
        return "\n".join(lines)


def _check_grid(thresholds, levels, side: str) -> tuple[np.ndarray, tuple]:
    t = np.asarray(thresholds, dtype=float).reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("'thresholds' must be finite and strictly increasing (one at "
                         f"least), got {thresholds!r}")
    if side not in SIDES:
        raise ValueError(f"'side' must be one of {', '.join(SIDES)}, got {side!r}")
    levels = tuple(float(a) for a in levels)
    if any(not (0.0 < a < 1.0) for a in levels):
        raise ValueError(f"'levels' must lie in (0, 1), got {list(levels)!r}")
    return t, levels


def crossing(t: np.ndarray, p: np.ndarray, a: float) -> float:
    """Where the curve ``p`` over ``t`` crosses ``a``, log-linearly between grid points
    (``p`` made non-increasing first); NaN when it does not cross inside the grid."""
    p = np.minimum.accumulate(np.asarray(p, dtype=float))
    above = np.flatnonzero(p >= a)
    if above.size == 0 or above[-1] == t.size - 1:
        return math.nan
    k = above[-1]
    lo, hi = p[k], p[k + 1]
    if hi <= 0:
        return float(t[k + 1])
    w = (math.log(lo) - math.log(a)) / (math.log(lo) - math.log(hi)) if lo > hi else 0.0
    return float(t[k] + w * (t[k + 1] - t[k]))


def exceedance_curve(model: Callable, law, thresholds: Sequence[float], *, budget: int,
                     output: int = 0, side: str = ">", levels: Sequence[float] = (),
                     level: float = 0.95, rng=None, **kwargs) -> ExceedanceCurve:
    """``P(y_output side t)`` at every threshold from one budget, with intervals at
    ``level``, and the quantiles at ``levels`` (``P(Y > q) = a``; ``side`` ``">"`` or
    ``">="`` for quantiles). ``kwargs`` go to :func:`~multiexpect.expectations`."""
    t, levels = _check_grid(thresholds, levels, side)
    check_level(level)  # before any run
    if levels and side not in (">", ">="):
        raise ValueError(f"'levels' needs side '>' or '>=' (an upper tail), got {side!r}")
    quantities = [Exceedance(output, float(v), side) for v in t]
    res = expectations(model, law, budget=budget, rng=rng, quantities=quantities, **kwargs)
    res = dataclasses.replace(res, settings=res.settings | {
        CURVE_SETTINGS: {"output": int(output), "side": side, "levels": list(levels)}})
    return _curve(t, levels, level, res)


def _curve(t: np.ndarray, levels: tuple, level: float,
           res: ExpectationResult) -> ExceedanceCurve:
    """The curve over ``t`` from ``res``, intervals at ``level``, quantiles at ``levels``."""
    low, high = res.confidence_interval(level)
    quantiles = {a: (crossing(t, res.estimate, a), crossing(t, low, a), crossing(t, high, a))
                 for a in levels}
    return ExceedanceCurve(t, np.asarray(res.estimate), np.asarray(res.stderr),
                           np.asarray(low), np.asarray(high), quantiles, res)

"""``[exceedance_curve]``: ``P(Y > t)`` over a grid of thresholds from one budget, with
pointwise intervals, and the quantiles ``q(a)`` (``P(Y > q(a)) = a``) read off the curve
(:func:`multiexpect.exceedance_curve`: one declared ``me.Exceedance`` per threshold, the
rare ones climbing the level ladder)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from ...api import METHODS
from ...curves import ExceedanceCurve
from ...problem import MAX_QUANTITIES
from ...vocabulary import (
    AUTO_EXPECTATION_METHODS,
    ENGINE_WEIGHTS,
    RQMC_EXPECTATION_METHODS,
)
from ..analysis import (
    COMMON_KEYS,
    Analysis,
    AnalysisKind,
    StudyInputs,
    no_repeats,
    parse_common,
    parse_sampling,
    parse_weights,
    sampling_of,
)
from ..columns import OutputColumns, exceedance_name, make_rows, unused_model
from ..fields import StudyError, check_keys, get_float, get_int, get_list, number
from ..figures import curve_figure, esc, img, num
from .expectations import expectation_rows

__all__ = ["KIND", "grid", "quantile_name"]

NAME = "exceedance_curve"
_GRID_KEYS = ("from", "to", "points")
#: not ``separate-is``: it would split the budget into one study per threshold, each
#: threshold getting a ``1/J`` share of the runs the curve shares
CURVE_METHODS = tuple(m for m in METHODS if m != "separate-is")


def quantile_name(a: float) -> str:
    """``q(a)``: the threshold exceeded with probability ``a``."""
    return f"q({a:g})"


def grid(table: dict, kind: str = NAME) -> list[float]:
    """The thresholds: ``thresholds = [...]``, or ``from``, ``to`` and ``points`` (evenly
    spaced, both ends included, to 12 significant digits); strictly increasing."""
    given = [k for k in _GRID_KEYS if k in table]
    if "thresholds" in table:
        if given:
            raise StudyError(kind, f"give 'thresholds' or '{given[0]}'/... (from, to, points),"
                             f" not both")
        values = [number(t, f"{kind}.thresholds[{i}]")
                  for i, t in enumerate(get_list(table, "thresholds", kind))]
        if any(b <= a for a, b in pairwise(values)):
            raise StudyError(f"{kind}.thresholds", "must be strictly increasing")
        return values
    if len(given) != len(_GRID_KEYS):
        missing = [k for k in _GRID_KEYS if k not in table]
        raise StudyError(kind, f"give 'thresholds', or all of 'from', 'to' and 'points' "
                         f"(missing {', '.join(repr(k) for k in missing)})")
    start, stop = get_float(table, "from", kind), get_float(table, "to", kind)
    points = get_int(table, "points", kind, minimum=2)
    if points > MAX_QUANTITIES:
        raise StudyError(f"{kind}.points", f"at most {MAX_QUANTITIES} (one quantity a "
                         f"threshold), got {points}")
    if stop <= start:
        raise StudyError(f"{kind}.to", f"must be above 'from' ({start:g}), got {stop:g}")
    # 12 significant digits: a decimal grid keeps decimal thresholds (0.08, not
    # 0.07999999999999999), hence short names
    values = [float(f"{v:.12g}") for v in np.linspace(start, stop, points)]
    if any(b <= a for a, b in pairwise(values)):  # pragma: no cover - float limits
        raise StudyError(kind, "the grid's thresholds are not distinct in float64")
    return values


def parse(table: dict, inputs: list[dict]) -> Analysis:
    """Validate an ``[exceedance_curve]`` table."""
    kind = NAME
    check_keys(table, kind, COMMON_KEYS | {"thresholds", "quantiles", *_GRID_KEYS},
               ("budget",))
    budget, method, baseline, options = parse_common(table, kind, CURVE_METHODS)
    thresholds = grid(table, kind)
    levels = [number(a, f"{kind}.quantiles[{i}]")
              for i, a in enumerate(get_list(table, "quantiles", kind, default=[]))]
    for i, a in enumerate(levels):
        if not 0.0 < a < 1.0:
            raise StudyError(f"{kind}.quantiles[{i}]", f"must lie in (0, 1) (a probability "
                             f"of exceedance), got {a:g}")
    no_repeats(levels, f"{kind}.quantiles")
    spec = {"thresholds": thresholds, "quantiles": levels,
            "weights": parse_weights(table, kind, ENGINE_WEIGHTS, len(thresholds)),
            **parse_sampling(table, kind, method, baseline,
                             RQMC_EXPECTATION_METHODS,
                             AUTO_EXPECTATION_METHODS)}
    return Analysis(kind, budget, method, baseline, options, spec, KIND.title)


def call(study: StudyInputs, analysis: Analysis, method: str, evaluate):
    """:func:`multiexpect.exceedance_curve` of the output column; its result (which keeps
    the thresholds and the quantile levels, :meth:`ExceedanceCurve.from_result`)."""
    import multiexpect as me

    spec = analysis.spec
    primary = method == analysis.method
    options = dict(analysis.options) if primary else {}
    weights = spec.get("weights") if primary else None
    output, y = study.model["output"], study.model["output_name"]
    curve = me.exceedance_curve(
        unused_model, study.law, spec["thresholds"], budget=analysis.budget, output=output,
        levels=spec["quantiles"], rng=study.seed, method=method,
        names=[exceedance_name(y, t) for t in spec["thresholds"]],
        weights=weights or "relative", evaluate=OutputColumns(evaluate, output),
        sampling=sampling_of(spec, primary), **options)
    return curve.result


def rows(result, level: float) -> list[dict]:
    """One row per threshold, then one per quantile ``q(a)`` (its interval by inversion,
    no standard error; NaN where the curve or a bound does not cross ``a`` in the grid)."""
    curve = ExceedanceCurve.from_result(result, level)
    quantiles = list(curve.quantiles.items())
    return expectation_rows(result, level) + make_rows(
        [quantile_name(a) for a, _ in quantiles], [q for _, (q, _, _) in quantiles],
        [np.nan] * len(quantiles), [lo for _, (_, lo, _) in quantiles],
        [hi for _, (_, _, hi) in quantiles])


def notes(result) -> list[str]:
    """The grid, and how the quantiles are read."""
    declared = result.settings.get("quantities") or []
    t = [float(q["threshold"]) for q in declared]
    text = (f"{len(t)} thresholds from {num(t[0])} to {num(t[-1])}, one budget; each "
            f"probability has its own pointwise interval.") if t else ""
    levels = (result.settings.get("curve") or {}).get("levels") or []
    if levels:
        shown = esc(", ".join(f"{a:g}" for a in levels))
        text += (f" q(a) is the threshold exceeded with probability a ({shown}), read off "
                 "the curve log-linearly between thresholds; its interval is the set of "
                 "thresholds whose interval holds a (– where that set leaves the grid).")
    return [f'<p class="note">{text}</p>'] if text else []


def figure(result, baseline, main: dict, base: dict | None, level: float) -> str:
    """``P(Y > t)`` on a log scale with its pointwise intervals (and the baseline's)."""
    return ("<h3>P(Y &gt; t) on a log scale</h3>"
            + img(curve_figure(result, baseline, level), "exceedance curve"))


KIND = AnalysisKind(name=NAME, title="Exceedance curve", methods=CURVE_METHODS,
                    result_type="ExpectationResult", parse=parse, call=call, rows=rows,
                    notes=notes, figure=figure)

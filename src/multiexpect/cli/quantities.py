"""From a study's analyses to calls of the library, and from results to table rows.

Each analysis is one call of the public API with an ``evaluate(x, batch)`` callable
(built by :mod:`multiexpect.cli.runner`, with the store and the executor): the model's raw
output column ``Y`` is kept in the store, and the statistics are computed here from it:

* ``[expectations]``: ``E[Y^k]`` for each order ``k`` and ``P(Y > t) = E[1{Y > t}]`` for
  each threshold ``t``, under the input law (:func:`multiexpect.expectations`);
* ``[laws]``: one statistic (``E[Y^k]`` or ``P(Y > t)``) under the input law and each
  alternative law (:func:`multiexpect.expectations` with several laws);
* ``[sobol]``: :func:`multiexpect.sobol_indices`;
* ``[perturbed]``: :func:`multiexpect.perturbed_law_indices` with
  :func:`multiexpect.mean_shift_perturbations`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .study import Analysis, Study, build_law

__all__ = ["HeavyTailWarning", "analysis_rows", "call_analysis", "hill_tail_index",
           "quantity_names", "result_from_dict"]


class HeavyTailWarning(UserWarning):
    """The outputs of a study look too heavy-tailed for one of its moments."""


def _unused_model(x):  # pragma: no cover - never called: ``evaluate`` replaces it
    raise RuntimeError("the model is run through 'evaluate'")


def _moment_name(y: str, k: int) -> str:
    return f"E[{y}]" if k == 1 else f"E[{y if y.isidentifier() else f'({y})'}^{k}]"


def _exceedance_name(y: str, t: float) -> str:
    """``P(Y > t)`` with ``t`` in the fewest significant digits (6 at least) that give it
    back exactly, so that distinct thresholds have distinct names."""
    for digits in range(6, 18):
        text = f"{t:.{digits}g}"
        if float(text) == t:
            break
    return f"P({y} > {text})"


def quantity_names(analysis: Analysis, y: str = "Y") -> list[str]:
    """Readable names of the quantities of an ``expectations`` or ``laws`` analysis
    (``y``: the output's name)."""
    spec = analysis.spec
    if analysis.kind == "expectations":
        return ([_moment_name(y, k) for k in spec["moments"]]
                + [_exceedance_name(y, t) for t in spec["exceedance"]])
    if analysis.kind == "laws":
        return ["nominal", *(alt["name"] for alt in spec["alternatives"])]
    raise ValueError(analysis.kind)


def statistic_label(spec: dict, y: str = "Y") -> str:
    """``E[Y^k]`` or ``P(Y > t)``: the statistic of a ``laws`` analysis."""
    if spec.get("exceedance") is not None:
        return _exceedance_name(y, spec["exceedance"])
    return _moment_name(y, spec.get("moment", 1))


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
    """``evaluate`` of the statistics: raw output column ``output`` -> statistic columns.

    Forwards ``observe`` (the progress bar's predicted error) to the wrapped callable. Keeps
    the outputs seen, for :meth:`heavy_tail_warnings`; refuses a moment that overflows.
    """

    def __init__(self, evaluate: Callable, output: int, moments=(), thresholds=()):
        self.evaluate = evaluate
        self.output = int(output)
        self.moments = np.asarray(list(moments), dtype=float)
        self.thresholds = np.asarray(list(thresholds), dtype=float)
        self.seen: list[np.ndarray] = []

    def heavy_tail_warnings(self, y_name: str = "Y") -> list[str]:
        """One message per moment ``E[Y^k]`` whose outputs look too heavy-tailed for it."""
        if not self.moments.size or not self.seen:
            return []
        tail = hill_tail_index(np.concatenate(self.seen))
        return [f"{_moment_name(y_name, int(k))}: the outputs' tail looks heavy (Hill tail "
                f"index {tail:.2g} from the largest {_TAIL_SHARE:.0%} of |{y_name}|, below "
                f"{_TAIL_FACTOR:g} x {int(k)}): this moment may not exist, and its interval "
                f"then means nothing" for k in self.moments if tail < _TAIL_FACTOR * k]

    def column(self, x, batch):
        out = np.asarray(self.evaluate(x, batch), dtype=float)
        if out.ndim == 1:
            out = out[:, None]
        if self.output >= out.shape[1]:
            raise ValueError(f"model.output is {self.output} but the model returned "
                             f"{out.shape[1]} column(s)")
        return out[:, self.output]

    def __call__(self, x, batch=0):
        y = self.column(x, batch)
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
        cols = [powers, (y[:, None] > self.thresholds[None, :]).astype(float)]
        return np.concatenate(cols, axis=1)

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


def alternative_laws(study: Study, analysis: Analysis) -> list:
    """The input law followed by the alternative laws of a ``laws`` analysis."""
    laws = [study.law]
    for i, alt in enumerate(analysis.spec["alternatives"]):
        correlation = alt["correlation"] if alt["correlation"] is not None \
            else study.correlation
        laws.append(build_law(study.inputs, correlation,
                              f"laws.alternative[{i}].correlation", alt["inputs"]))
    return laws


def call_analysis(study: Study, analysis: Analysis, method: str, evaluate: Callable):
    """Run one analysis with ``method`` through ``evaluate`` (the raw model outputs)."""
    import multiexpect as me

    spec = analysis.spec
    primary = method == analysis.method
    options = dict(analysis.options) if primary else {}
    weights = spec.get("weights") if primary else None
    output = study.model["output"]
    common = {"budget": analysis.budget, "method": method, "rng": study.seed}
    if analysis.kind in ("expectations", "laws"):
        if analysis.kind == "expectations":
            laws, moments, thresholds = study.law, spec["moments"], spec["exceedance"]
        else:
            laws = alternative_laws(study, analysis)
            exceedance = spec.get("exceedance")
            moments = () if exceedance is not None else [spec["moment"]]
            thresholds = [exceedance] if exceedance is not None else ()
        columns = OutputColumns(evaluate, output, moments, thresholds)
        result = me.expectations(_unused_model, laws,
                                 names=quantity_names(analysis, study.model["output_name"]),
                                 weights=weights or "relative", evaluate=columns,
                                 **common, **options)
        for message in columns.heavy_tail_warnings(study.model["output_name"]):
            warnings.warn(f"{analysis.kind} by {method}: {message}", HeavyTailWarning,
                          stacklevel=2)
        return result
    wrapped = OneColumn(evaluate, output)
    if weights is not None:
        common["weights"] = weights
    if analysis.kind == "sobol":
        try:
            result = me.sobol_indices(_unused_model, study.law, orders=spec["orders"],
                                      evaluate=wrapped, **common, **options)
        except (ValueError, ArithmeticError) as exc:
            wrapped.check_not_constant()
            raise exc
        wrapped.check_not_constant()
        return result
    if analysis.kind == "perturbed":
        perturbations = me.mean_shift_perturbations(study.law, spec["delta"], spec["inputs"])
        quantity = "mean" if spec["exceedance"] is None else ("exceedance", spec["exceedance"])
        return me.perturbed_law_indices(_unused_model, study.law, perturbations,
                                        quantity=quantity, form=spec["form"],
                                        evaluate=wrapped, **common, **options)
    raise ValueError(f"unknown analysis {analysis.kind!r}")  # pragma: no cover


# ---------------------------------------------------------------------- results
def result_from_dict(data: dict):
    """Rebuild a result object from its ``to_dict()`` (by its ``type``)."""
    from ..results import ExpectationResult
    from ..sensitivity.results import PerturbedLawResult, SobolResult

    kinds = {"ExpectationResult": ExpectationResult, "SobolResult": SobolResult,
             "PerturbedLawResult": PerturbedLawResult}
    cls = kinds.get(data.get("type"))
    if cls is None:
        raise ValueError(f"unknown result type {data.get('type')!r}")
    return cls.from_dict(data)


def analysis_rows(result, level: float) -> list[dict]:
    """One row per estimate: ``name``, ``estimate``, ``stderr``, ``low``, ``high``."""
    from ..sensitivity.results import PerturbedLawResult, SobolResult

    if isinstance(result, SobolResult):
        intervals = result.confidence_interval(level)
        rows = []
        for order in result.orders:
            tag = "S1" if order == "first" else "ST"
            rows += _rows([f"{tag} {n}" for n in result.names], *result.indices(order),
                          *intervals[order])
        return rows
    if isinstance(result, PerturbedLawResult):
        return _rows([f"S {n}" for n in result.names], result.indices, result.stderr,
                     *result.confidence_interval(level))
    return _rows(result.names, result.estimate, result.stderr,
                 *result.confidence_interval(level))


def _rows(names, estimates, stderrs, lows, highs) -> list[dict]:
    return [{"name": n, "estimate": float(e), "stderr": float(s), "low": float(lo),
             "high": float(hi)}
            for n, e, s, lo, hi in zip(names, estimates, stderrs, lows, highs)]

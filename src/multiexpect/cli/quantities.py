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

from collections.abc import Callable

import numpy as np

from .study import Analysis, Study, build_law

__all__ = ["analysis_rows", "call_analysis", "quantity_names", "result_from_dict"]


def _unused_model(x):  # pragma: no cover - never called: ``evaluate`` replaces it
    raise RuntimeError("the model is run through 'evaluate'")


def _moment_name(y: str, k: int) -> str:
    return f"E[{y}]" if k == 1 else f"E[{y if y.isidentifier() else f'({y})'}^{k}]"


def _exceedance_name(y: str, t: float) -> str:
    return f"P({y} > {t:g})"


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


class OutputColumns:
    """``evaluate`` of the statistics: raw output column ``output`` -> statistic columns.

    Forwards ``observe`` (the progress bar's predicted error) to the wrapped callable.
    """

    def __init__(self, evaluate: Callable, output: int, moments=(), thresholds=()):
        self.evaluate = evaluate
        self.output = int(output)
        self.moments = np.asarray(list(moments), dtype=float)
        self.thresholds = np.asarray(list(thresholds), dtype=float)

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
        cols = [y[:, None] ** self.moments[None, :],
                (y[:, None] > self.thresholds[None, :]).astype(float)]
        return np.concatenate(cols, axis=1)

    def observe(self, stage) -> None:
        getattr(self.evaluate, "observe", lambda s: None)(stage)


class OneColumn(OutputColumns):
    """``evaluate`` returning the raw output column ``Y`` alone (Sobol', perturbed laws)."""

    def __call__(self, x, batch=0):
        return self.column(x, batch)[:, None]


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
        return me.expectations(_unused_model, laws,
                               names=quantity_names(analysis, study.model["output_name"]),
                               weights=weights or "relative",
                               evaluate=OutputColumns(evaluate, output, moments, thresholds),
                               **common, **options)
    wrapped = OneColumn(evaluate, output)
    if weights is not None:
        common["weights"] = weights
    if analysis.kind == "sobol":
        return me.sobol_indices(_unused_model, study.law, orders=spec["orders"],
                                evaluate=wrapped, **common, **options)
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

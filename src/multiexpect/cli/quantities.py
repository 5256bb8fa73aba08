"""From a study's analyses to calls of the library, and from results to table rows: each
analysis goes to its kind in the registry (:mod:`multiexpect.cli.kinds`).

Each analysis is one call of the public API with an ``evaluate(x, batch)`` callable (built
by :mod:`multiexpect.cli.runner`, with the store and the executor): the model's raw output
column ``Y`` is kept in the store, and the statistics are computed from it by the kind.
"""

from __future__ import annotations

from collections.abc import Callable

from .columns import HeavyTailWarning, hill_tail_index, statistic_label
from .kinds import KINDS, kind_of_result

__all__ = ["HeavyTailWarning", "analysis_rows", "call_analysis", "hill_tail_index",
           "result_from_dict", "statistic_label"]


def call_analysis(study, analysis, method: str, evaluate: Callable):
    """Run one analysis with ``method`` through ``evaluate`` (the raw model outputs)."""
    return KINDS[analysis.kind].call(study, analysis, method, evaluate)


def result_from_dict(data: dict):
    """Rebuild a result object from its ``to_dict()`` (by its ``type``)."""
    from ..results import ExpectationResult
    from ..sensitivity.results import PerturbedLawResult, SobolResult

    classes = {"ExpectationResult": ExpectationResult, "SobolResult": SobolResult,
               "PerturbedLawResult": PerturbedLawResult}
    cls = classes.get(data.get("type"))
    if cls is None:
        raise ValueError(f"unknown result type {data.get('type')!r}")
    return cls.from_dict(data)


def analysis_rows(result, level: float, kind: str | None = None) -> list[dict]:
    """One row per estimate: ``name``, ``estimate``, ``stderr``, ``low``, ``high`` (by the
    analysis ``kind`` when given, else by the first kind returning such a result)."""
    return (KINDS[kind] if kind is not None else kind_of_result(result)).rows(result, level)

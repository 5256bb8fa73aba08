"""``[expectations]``: ``E[Y^k]`` for each order ``k`` and ``P(Y > t) = E[1{Y > t}]`` for
each threshold ``t`` under the input law (:func:`multiexpect.expectations` with the
declared quantities ``me.Moment`` and ``me.Exceedance``: a rare exceedance climbs the
level ladder)."""

from __future__ import annotations

import warnings

from ...api import METHODS
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
from ..columns import (
    HeavyTailWarning,
    OutputColumns,
    declared_quantities,
    exceedance_name,
    make_rows,
    moment_name,
    unused_model,
)
from ..fields import StudyError, check_keys, get_list, number
from ..figures import estimates_figure, img

__all__ = ["KIND", "call_expectations", "estimates_notes", "estimates_report_figure",
           "expectation_rows"]

NAME = "expectations"


def parse(table: dict, inputs: list[dict]) -> Analysis:
    """Validate an ``[expectations]`` table."""
    kind = NAME
    check_keys(table, kind, COMMON_KEYS | {"moments", "exceedance"}, ("budget",))
    budget, method, baseline, options = parse_common(table, kind, METHODS)
    moments = get_list(table, "moments", kind, default=[])
    for i, k in enumerate(moments):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise StudyError(f"{kind}.moments[{i}]", f"must be an integer >= 1, got {k!r}")
    thresholds = [number(t, f"{kind}.exceedance[{i}]")
                  for i, t in enumerate(get_list(table, "exceedance", kind, default=[]))]
    if not moments and not thresholds:
        raise StudyError(kind, "give 'moments' and/or 'exceedance' (nothing to estimate)")
    no_repeats(moments, f"{kind}.moments")
    no_repeats(thresholds, f"{kind}.exceedance")
    spec = {"moments": list(moments), "exceedance": thresholds,
            "weights": parse_weights(table, kind, ENGINE_WEIGHTS,
                                     len(moments) + len(thresholds)),
            **parse_sampling(table, kind, method, baseline,
                             RQMC_EXPECTATION_METHODS,
                             AUTO_EXPECTATION_METHODS)}
    return Analysis(kind, budget, method, baseline, options, spec, KIND.title)


def quantity_names(analysis: Analysis, y: str = "Y") -> list[str]:
    """``E[Y^k]`` for each moment, then ``P(Y > t)`` for each threshold."""
    return ([moment_name(y, k) for k in analysis.spec["moments"]]
            + [exceedance_name(y, t) for t in analysis.spec["exceedance"]])


def call_expectations(study: StudyInputs, analysis: Analysis, method: str, evaluate, laws,
                      moments, thresholds, names: list[str]):
    """:func:`multiexpect.expectations` of the statistics of ``Y`` under ``laws``, declared
    as ``me.Moment`` and ``me.Exceedance`` on the raw output column; a moment whose outputs
    look too heavy-tailed is reported as a :class:`HeavyTailWarning`."""
    import multiexpect as me

    primary = method == analysis.method
    options = dict(analysis.options) if primary else {}
    weights = analysis.spec.get("weights") if primary else None
    output = study.model["output"]
    columns = OutputColumns(evaluate, output, moments)
    result = me.expectations(unused_model, laws, names=names,
                             quantities=declared_quantities(output, moments, thresholds),
                             weights=weights or "relative", evaluate=columns,
                             budget=analysis.budget, method=method, rng=study.seed,
                             sampling=sampling_of(analysis.spec, primary), **options)
    for message in columns.heavy_tail_warnings(study.model["output_name"]):
        warnings.warn(f"{analysis.kind} by {method}: {message}", HeavyTailWarning,
                      stacklevel=2)
    return result


def call(study: StudyInputs, analysis: Analysis, method: str, evaluate):
    """The moments and exceedance probabilities of ``Y`` under the input law."""
    spec = analysis.spec
    return call_expectations(study, analysis, method, evaluate, study.law, spec["moments"],
                             spec["exceedance"],
                             quantity_names(analysis, study.model["output_name"]))


def expectation_rows(result, level: float) -> list[dict]:
    """One row per quantity of an :class:`~multiexpect.ExpectationResult`."""
    return make_rows(result.names, result.estimate, result.stderr,
                     *result.confidence_interval(level))


def estimates_notes(result) -> list[str]:
    """No note before the table."""
    return []


def estimates_report_figure(result, baseline, main: dict, base: dict | None,
                            level: float) -> str:
    """Each estimate with its interval (and the baseline's)."""
    return ("<h3>Estimates with intervals</h3>"
            + img(estimates_figure(main, base, level), "estimates with intervals"))


KIND = AnalysisKind(name=NAME, title="Moments and exceedance probabilities", methods=METHODS,
                    result_type="ExpectationResult", parse=parse, call=call,
                    rows=expectation_rows, notes=estimates_notes,
                    figure=estimates_report_figure)

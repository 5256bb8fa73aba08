"""``[sobol]``: first- and total-order Sobol' indices of ``Y``
(:func:`multiexpect.sobol_indices`)."""

from __future__ import annotations

import html

from ...sensitivity.sobol import METHODS
from ...vocabulary import AUTO_SOBOL_METHODS, RQMC_SOBOL_METHODS, SENSITIVITY_WEIGHTS
from ..analysis import (
    COMMON_KEYS,
    Analysis,
    AnalysisKind,
    StudyInputs,
    parse_common,
    parse_sampling,
    parse_weights,
    sampling_of,
)
from ..columns import OneColumn, make_rows, unused_model
from ..fields import StudyError, check_keys, get_list
from ..figures import img, num, sobol_figure

__all__ = ["KIND"]

NAME = "sobol"


def parse(table: dict, inputs: list[dict]) -> Analysis:
    """Validate a ``[sobol]`` table."""
    kind = NAME
    check_keys(table, kind, COMMON_KEYS | {"orders"}, ("budget",))
    budget, method, baseline, options = parse_common(table, kind, METHODS)
    orders = get_list(table, "orders", kind, default=["first", "total"])
    for i, o in enumerate(orders):
        if o not in ("first", "total"):
            raise StudyError(f"{kind}.orders[{i}]", f"must be 'first' or 'total', got {o!r}")
    if len(set(orders)) != len(orders):
        raise StudyError(f"{kind}.orders", f"has repeats: {orders}")
    spec = {"orders": list(orders),
            "weights": parse_weights(table, kind, SENSITIVITY_WEIGHTS),
            **parse_sampling(table, kind, method, baseline, RQMC_SOBOL_METHODS,
                             AUTO_SOBOL_METHODS)}
    return Analysis(kind, budget, method, baseline, options, spec, KIND.title)


def call(study: StudyInputs, analysis: Analysis, method: str, evaluate):
    """:func:`multiexpect.sobol_indices`; a constant output is named (zero variance)."""
    import multiexpect as me

    primary = method == analysis.method
    options = dict(analysis.options) if primary else {}
    weights = analysis.spec.get("weights") if primary else None
    wrapped = OneColumn(evaluate, study.model["output"])
    common = {"budget": analysis.budget, "method": method, "rng": study.seed,
              "sampling": sampling_of(analysis.spec, primary)}
    if weights is not None:
        common["weights"] = weights
    try:
        result = me.sobol_indices(unused_model, study.law, orders=analysis.spec["orders"],
                                  evaluate=wrapped, **common, **options)
    except (ValueError, ArithmeticError) as exc:
        wrapped.check_not_constant()
        raise exc
    wrapped.check_not_constant()
    return result


def rows(result, level: float) -> list[dict]:
    """``S1 x`` and ``ST x`` per input, for the orders computed."""
    intervals = result.confidence_interval(level)
    out = []
    for order in result.orders:
        tag = "S1" if order == "first" else "ST"
        out += make_rows([f"{tag} {n}" for n in result.names], *result.indices(order),
                         *intervals[order])
    return out


def notes(result) -> list[str]:
    """The output's mean and variance, then what the indices rest on
    (:meth:`~multiexpect.SobolResult.trust_notes`)."""
    return [f'<p class="note">Output mean {num(result.mean)} (s.e. '
            f'{num(result.mean_stderr, 2)}), variance {num(result.variance)} (s.e. '
            f'{num(result.variance_stderr, 2)}).</p>',
            *(f'<p class="note">{html.escape(note)}</p>' for note in result.trust_notes())]


def figure(result, baseline, main: dict, base: dict | None, level: float) -> str:
    """First- and total-order bars with intervals."""
    return ("<h3>First- and total-order indices</h3>"
            + img(sobol_figure(result, baseline, level), "Sobol' indices bar chart"))


KIND = AnalysisKind(name=NAME, title="Sobol' indices", methods=METHODS,
                    result_type="SobolResult", parse=parse, call=call, rows=rows,
                    notes=notes, figure=figure)

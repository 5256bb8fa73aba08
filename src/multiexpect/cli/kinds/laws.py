"""``[laws]``: one statistic (``E[Y^k]`` or ``P(Y > t)``) under the input law and each
alternative law (:func:`multiexpect.expectations` with several laws)."""

from __future__ import annotations

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
    parse_common,
    parse_sampling,
    parse_statistic,
    parse_weights,
)
from ..fields import (
    StudyError,
    build_law,
    check_keys,
    describe_marginal,
    get_list,
    get_str,
    get_table,
    make_marginal,
    parse_correlation,
    type_name,
)
from .expectations import (
    call_expectations,
    estimates_notes,
    estimates_report_figure,
    expectation_rows,
)

__all__ = ["KIND", "alternative_laws"]

NAME = "laws"


def parse(table: dict, inputs: list[dict]) -> Analysis:
    """Validate a ``[laws]`` table (each alternative changes marginals and/or the copula)."""
    kind = NAME
    check_keys(table, kind, COMMON_KEYS | {"moment", "exceedance", "alternative"},
               ("budget", "alternative"))
    budget, method, baseline, options = parse_common(table, kind, METHODS)
    statistic = parse_statistic(table, kind)
    names = {s["name"] for s in inputs}
    alternatives, seen = [], {"nominal"}
    nominal = {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in inputs}
    for i, alt in enumerate(get_list(table, "alternative", kind, required=True)):
        path = f"{kind}.alternative[{i}]"
        if not isinstance(alt, dict):
            raise StudyError(path, f"must be a table, got {type_name(alt)}")
        check_keys(alt, path, {"name", "inputs", "correlation"}, ("name",))
        name = get_str(alt, "name", path, required=True)
        if name in seen:
            raise StudyError(f"{path}.name", f"duplicate law name {name!r} ('nominal' is the "
                             f"input law)")
        seen.add(name)
        changes = get_table(alt, "inputs", path) or {}
        marginals = {}
        for key, spec in changes.items():
            where = f"{path}.inputs.{key}"
            if key not in names:
                raise StudyError(where, f"unknown input {key!r}; inputs: "
                                 f"{', '.join(s['name'] for s in inputs)}")
            if not isinstance(spec, dict):
                raise StudyError(where, f"must be a table, got {type_name(spec)}")
            check_keys(spec, where, {"dist", "params", "args"}, ("dist",))
            make_marginal(spec, where)
            marginals[key] = describe_marginal(spec)
        correlation = None
        if "correlation" in alt:
            correlation = parse_correlation({"correlation": alt["correlation"]}, path,
                                            len(inputs))
        if correlation is None and all(m == nominal[k] for k, m in marginals.items()):
            raise StudyError(path, "changes nothing: give 'inputs' and/or 'correlation' that "
                             "differ from the input law")
        alternatives.append({"name": name, "inputs": marginals, "correlation": correlation})
    spec = {**statistic, "alternatives": alternatives,
            "weights": parse_weights(table, kind, ENGINE_WEIGHTS,
                                     1 + len(alternatives)),
            **parse_sampling(table, kind, method, baseline,
                             RQMC_EXPECTATION_METHODS,
                             AUTO_EXPECTATION_METHODS)}
    return Analysis(kind, budget, method, baseline, options, spec, KIND.title)


def alternative_laws(study: StudyInputs, analysis: Analysis) -> list:
    """The input law followed by the alternative laws of a ``laws`` analysis."""
    laws = [study.law]
    for i, alt in enumerate(analysis.spec["alternatives"]):
        correlation = alt["correlation"] if alt["correlation"] is not None \
            else study.correlation
        laws.append(build_law(study.inputs, correlation,
                              f"laws.alternative[{i}].correlation", alt["inputs"]))
    return laws


def call(study: StudyInputs, analysis: Analysis, method: str, evaluate):
    """The statistic under the input law (``nominal``) and each alternative law."""
    spec = analysis.spec
    exceedance = spec.get("exceedance")
    moments = () if exceedance is not None else [spec["moment"]]
    thresholds = [exceedance] if exceedance is not None else ()
    names = ["nominal", *(alt["name"] for alt in spec["alternatives"])]
    return call_expectations(study, analysis, method, evaluate,
                             alternative_laws(study, analysis), moments, thresholds, names)


KIND = AnalysisKind(name=NAME, title="Expectations under alternative laws", methods=METHODS,
                    result_type="ExpectationResult", parse=parse, call=call,
                    rows=expectation_rows, notes=estimates_notes,
                    figure=estimates_report_figure)

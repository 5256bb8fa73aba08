"""``[perturbed]``: perturbed-law indices of the mean of ``Y`` or of ``P(Y > t)`` under
mean-shift perturbations of the inputs (:func:`multiexpect.perturbed_law_indices`)."""

from __future__ import annotations

import math

import numpy as np

from ...sensitivity.perturbed_laws import METHODS
from ...vocabulary import (
    AUTO_PERTURBED_LAW_METHODS,
    RQMC_PERTURBED_LAW_METHODS,
    SENSITIVITY_WEIGHTS,
)
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
from ..fields import (
    StudyError,
    check_keys,
    get_float,
    get_list,
    get_str,
    make_marginal,
    number,
)
from ..figures import esc, img, num, pli_figure

__all__ = ["KIND"]

NAME = "perturbed"


def parse(table: dict, inputs: list[dict]) -> Analysis:
    """Validate a ``[perturbed]`` table; every perturbed input needs a finite mean and
    standard deviation (a mean shift is counted in standard deviations)."""
    kind = NAME
    check_keys(table, kind, COMMON_KEYS | {"exceedance", "delta", "inputs", "form"},
               ("budget",))
    budget, method, baseline, options = parse_common(table, kind, METHODS)
    threshold = get_float(table, "exceedance", kind)
    delta = table.get("delta", 1.0)
    deltas = delta if isinstance(delta, list) else [delta]
    deltas = [number(v, f"{kind}.delta") for v in deltas]
    if not deltas or any(v <= 0 for v in deltas):
        raise StudyError(f"{kind}.delta", f"must be a positive number or an array of them, "
                         f"got {delta!r}")
    names = [s["name"] for s in inputs]
    which = get_list(table, "inputs", kind, default=None)
    if which is not None:
        for i, n in enumerate(which):
            if n not in names:
                raise StudyError(f"{kind}.inputs[{i}]", f"unknown input {n!r}; inputs: "
                                 f"{', '.join(names)}")
    for i, spec in enumerate(inputs):
        if which is not None and spec["name"] not in which:
            continue
        marginal = make_marginal(spec, f"inputs[{i}]")
        with np.errstate(all="ignore"):
            mean, std = float(marginal.mean()), float(marginal.std())
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise StudyError(f"{kind}.inputs", f"input {spec['name']!r} (scipy.stats."
                             f"{spec['dist']}) has no finite mean and standard deviation, "
                             f"which mean-shift perturbations need; list the other inputs in "
                             f"'{kind}.inputs'")
    spec = {"exceedance": threshold, "delta": deltas, "inputs": which,
            "form": get_str(table, "form", kind, default="ratio", choices=("ratio", "signed")),
            "weights": parse_weights(table, kind, SENSITIVITY_WEIGHTS),
            **parse_sampling(table, kind, method, baseline,
                             RQMC_PERTURBED_LAW_METHODS, AUTO_PERTURBED_LAW_METHODS)}
    return Analysis(kind, budget, method, baseline, options, spec, KIND.title)


def call(study: StudyInputs, analysis: Analysis, method: str, evaluate):
    """:func:`multiexpect.perturbed_law_indices` with
    :func:`multiexpect.mean_shift_perturbations`."""
    import multiexpect as me

    spec = analysis.spec
    primary = method == analysis.method
    options = dict(analysis.options) if primary else {}
    weights = spec.get("weights") if primary else None
    common = {"budget": analysis.budget, "method": method, "rng": study.seed,
              "sampling": sampling_of(spec, primary)}
    if weights is not None:
        common["weights"] = weights
    perturbations = me.mean_shift_perturbations(study.law, spec["delta"], spec["inputs"])
    quantity = "mean" if spec["exceedance"] is None else ("exceedance", spec["exceedance"])
    return me.perturbed_law_indices(unused_model, study.law, perturbations,
                                    quantity=quantity, form=spec["form"],
                                    evaluate=OneColumn(evaluate, study.model["output"]),
                                    **common, **options)


def rows(result, level: float) -> list[dict]:
    """``S <perturbation>`` per perturbed law."""
    return make_rows([f"S {n}" for n in result.names], result.indices, result.stderr,
                     *result.confidence_interval(level))


def notes(result) -> list[str]:
    """The quantity and its nominal value, then what the indices rest on
    (:meth:`~multiexpect.PerturbedLawResult.trust_notes`)."""
    return [f'<p class="note">Quantity {esc(result.quantity)}: nominal value '
            f'{num(result.quantities[0])} (s.e. {num(result.quantities_stderr[0], 2)})'
            f'; index form {esc(result.form)}.</p>',
            *(f'<p class="note">{esc(note)}</p>' for note in result.trust_notes())]


def figure(result, baseline, main: dict, base: dict | None, level: float) -> str:
    """Index bars with intervals."""
    return ("<h3>Perturbed-law indices</h3>"
            + img(pli_figure(result, baseline, level), "perturbed-law indices"))


KIND = AnalysisKind(name=NAME, title="Perturbed-law indices", methods=METHODS,
                    result_type="PerturbedLawResult", parse=parse, call=call, rows=rows,
                    notes=notes, figure=figure)

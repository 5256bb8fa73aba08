"""An analysis of a study file, the contract of an analysis kind, and the keys every kind
shares (``budget``, ``method``, ``baseline``, ``options``, ``weights``, ``sampling``).

An analysis kind (:class:`AnalysisKind`) is one module of :mod:`multiexpect.cli.kinds`: how
its table is read, which library function it calls, its rows of estimates and its part of
the report. Adding a kind is writing that module and listing it in the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..sampling.rqmc import SAMPLINGS, default_sampling
from .fields import (
    StudyError,
    get_float,
    get_int,
    get_list,
    get_str,
    get_table,
    number,
    type_name,
)

__all__ = ["COMMON_KEYS", "Analysis", "AnalysisKind", "StudyInputs", "check_option_types",
           "no_repeats", "parse_common", "parse_sampling", "parse_statistic", "parse_weights",
           "sampling_of"]


class StudyInputs(Protocol):
    """What an analysis kind reads of a study (:class:`multiexpect.cli.study.Study` has it):
    declared here so that the kinds, which the study's parser calls, do not import it."""

    seed: int
    model: dict
    inputs: list[dict]
    correlation: list | None
    law: Any


@dataclass
class Analysis:
    """One analysis of a study: what the library is asked for, with which budget."""

    kind: str
    budget: int
    method: str
    baseline: str | None
    options: dict
    spec: dict  # the analysis-specific, validated keys
    title: str = ""  # the kind's title, for the summary and the report


@dataclass(frozen=True)
class AnalysisKind:
    """One kind of analysis (one table of a study file, e.g. ``[sobol]``).

    Attributes
    ----------
    name : str
        The table's name.
    title : str
        Section title in the summary and the report.
    methods : tuple of str
        The library's methods for it (the first is the default).
    result_type : str
        Class name of the library's result.
    parse : callable
        ``parse(table, inputs) -> Analysis``: validates the table (``inputs``: the study's
        input specs), raising :class:`StudyError`.
    call : callable
        ``call(study, analysis, method, evaluate) -> result``: one library call, the model
        run through ``evaluate(x, batch)`` (the raw outputs).
    rows : callable
        ``rows(result, level) -> [{name, estimate, stderr, low, high}]``.
    notes : callable
        ``notes(result) -> [html]``: lines of the report before the table of estimates.
    figure : callable
        ``figure(result, baseline, main, base, level) -> html``: the report's figure
        (``main``, ``base``: the records of the results file).
    """

    name: str
    title: str
    methods: tuple
    result_type: str
    parse: Callable
    call: Callable
    rows: Callable
    notes: Callable
    figure: Callable


def parse_statistic(table: dict, path: str) -> dict:
    """``moment = k`` (default 1) or ``exceedance = t`` (at most one), the scalar statistic
    of Y."""
    if "moment" in table and "exceedance" in table:
        raise StudyError(path, "give at most one of 'moment' and 'exceedance'")
    if "exceedance" in table:
        return {"exceedance": get_float(table, "exceedance", path)}
    return {"moment": get_int(table, "moment", path, default=1, minimum=1)}


COMMON_KEYS = {"budget", "method", "baseline", "options", "weights", "sampling"}


def parse_common(table: dict, kind: str, methods: tuple[str, ...]
                 ) -> tuple[int, str, str | None, dict]:
    """``budget``, ``method`` (one of ``methods``), ``baseline`` and ``options``; an option
    ``surrogate = "none"`` is the library's ``surrogate=None`` (TOML has no None)."""
    budget = get_int(table, "budget", kind, required=True, minimum=2)
    method = get_str(table, "method", kind, default="aiscv", choices=methods)
    baseline = get_str(table, "baseline", kind, choices=[m for m in methods if m != method])
    options = get_table(table, "options", kind) or {}
    if "sampling" in options:
        raise StudyError(f"{kind}.options.sampling", f"give it as '{kind}.sampling' (it "
                         f"applies to the method and the baseline alike)")
    check_option_types(options, f"{kind}.options")
    options = dict(options)
    if options.get("surrogate") == "none":
        options["surrogate"] = None
    return budget, method, baseline, options


def parse_sampling(table: dict, kind: str, method: str, baseline: str | None,
                   rqmc_methods: tuple[str, ...], auto_methods: tuple[str, ...] = ()) -> dict:
    """``{"sampling": ..., "baseline_sampling": ...}``: the sampling of the method and of its
    baseline (``None`` without one).

    Left out, each takes its method's default
    (:func:`~multiexpect.sampling.rqmc.default_sampling`: ``"auto"`` for ``aiscv``, ``"mc"``
    for every baseline). Given, it applies to both: ``"mc"`` (i.i.d. points) or ``"rqmc"``
    (scrambled Sobol' nets, replicates, Student-t intervals), each of which must then be one
    of ``rqmc_methods``; or ``"auto"`` (the pilot on nets of the law chooses RQMC of the law
    or adaptation) for a method of ``auto_methods``, its baseline then on ``"rqmc"``."""
    sampling = get_str(table, "sampling", kind, choices=SAMPLINGS)
    if sampling is None:
        return {"sampling": default_sampling(method),
                "baseline_sampling": None if baseline is None else default_sampling(baseline)}
    checks = {"rqmc": ((("method", method), ("baseline", baseline)), rqmc_methods),
              "auto": ((("method", method),), auto_methods)}
    if sampling == "auto":
        _check_sampling(kind, sampling, (("baseline", baseline),), rqmc_methods, "rqmc")
    if sampling in checks:
        _check_sampling(kind, sampling, *checks[sampling], sampling)
    base = None if baseline is None else ("rqmc" if sampling == "auto" else sampling)
    return {"sampling": sampling, "baseline_sampling": base}


def _check_sampling(kind: str, sampling: str, names, allowed: tuple[str, ...], what: str):
    """A StudyError naming ``<kind>.sampling`` when a method or baseline of ``names`` does not
    take sampling ``what`` (``allowed``)."""
    for key, name in names:
        if name is not None and name not in allowed:
            only = f"only {', '.join(map(repr, allowed))}" if allowed else "no method here"
            via = "" if what == sampling else f" (a baseline of '{sampling}' runs '{what}')"
            raise StudyError(f"{kind}.sampling", f"'{what}' is not available for {key} "
                             f"{name!r} ({only}){via}")


def sampling_of(spec: dict, primary: bool) -> str:
    """The ``sampling`` a call runs with: the method's (``primary``) or the baseline's, as
    :func:`parse_sampling` recorded them (``"mc"`` for a spec without them)."""
    key = "sampling" if primary else "baseline_sampling"
    return spec.get(key) or "mc"


def check_option_types(options: dict, path: str) -> None:
    """Each option of :class:`~multiexpect.AiscvOptions` has the type its field declares
    (an unknown option is left to the library, whose message names it)."""
    import dataclasses
    import typing

    from ..aiscv import AiscvOptions

    hints = typing.get_type_hints(AiscvOptions)
    fields = {f.name for f in dataclasses.fields(AiscvOptions)}
    for key, value in options.items():
        if key not in fields:
            continue
        allowed = set(typing.get_args(hints[key]) or (hints[key],)) - {type(None)}
        ok = (bool in allowed and isinstance(value, bool)) or (
            not isinstance(value, bool)
            and ((int in allowed and isinstance(value, int))
                 or (float in allowed and isinstance(value, (int, float)))
                 or (str in allowed and isinstance(value, str))))
        if not ok:
            expected = " or ".join(sorted({bool: "true or false", int: "an integer",
                                           float: "a number", str: "a string"}.get(t, str(t))
                                          for t in allowed))
            raise StudyError(f"{path}.{key}", f"must be {expected}, got {type_name(value)}")


def no_repeats(values: list, where: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise StudyError(where, f"has repeats: {', '.join(repr(v) for v in repeated)}")


def parse_weights(table: dict, kind: str, names: tuple[str, ...], count: int | None = None):
    """The ``weights`` key: a name, or one positive number per quantity (``count`` of
    them, when the study file alone tells how many)."""
    if "weights" not in table:
        return None
    value = table["weights"]
    if isinstance(value, str):
        if value not in names:
            raise StudyError(f"{kind}.weights", f"must be one of {', '.join(names)} or an "
                             f"array of positive numbers; got {value!r}")
        return value
    values = [number(v, f"{kind}.weights[{i}]")
              for i, v in enumerate(get_list(table, "weights", kind))]
    if any(v <= 0 for v in values):
        raise StudyError(f"{kind}.weights", "must be positive")
    if count is not None and len(values) != count:
        raise StudyError(f"{kind}.weights", f"must have {count} entries (one per quantity), "
                         f"got {len(values)}")
    return values

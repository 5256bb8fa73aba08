"""Study files (TOML): loading and full validation before any model run.

A study file describes the inputs (scipy.stats marginals, optional Gaussian copula), the
model (a Python callable or an external command), the analyses (moments and exceedance
probabilities, expectations under alternative laws, Sobol' indices, perturbed-law indices),
their budgets and methods, the seed, and where the model runs and its runs are stored. The
format, key by key, is in ``docs/cli.md``.

:func:`load_study` checks everything it can without running the model: unknown keys, missing
fields, wrong types, unknown distribution names, bad parameters, and then each analysis is
handed to the library function it will call with an ``evaluate`` that stops at the first
model run, so that the library's own argument checks (budget too small for the pilot, bad
options, ...) also fire before anything is run. Every problem is a :class:`StudyError`
naming the key path (``inputs[2].dist``).
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..laws import check_marginal

__all__ = ["ANALYSES", "Analysis", "Study", "StudyError", "load_study", "parse_study"]

ANALYSES = ("expectations", "laws", "sobol", "perturbed")
_TOP_KEYS = {"study", "model", "inputs", "copula", "run", *ANALYSES}
_METHODS = {
    "expectations": ("aiscv", "mc", "mixture-mc", "separate-is"),
    "laws": ("aiscv", "mc", "mixture-mc", "separate-is"),
    "sobol": ("aiscv", "pick-freeze"),
    "perturbed": ("aiscv", "mixture-mc", "mc"),
}


class StudyError(ValueError):
    """A mistake in a study file; ``str()`` is one line naming the key path."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


# ---------------------------------------------------------------------- typed getters
def _type_name(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _check_keys(table: dict, path: str, allowed: set[str], required: tuple = ()) -> None:
    for key in table:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise StudyError(where, f"unknown key; allowed here: {', '.join(sorted(allowed))}")
    for key in required:
        if key not in table:
            raise StudyError(f"{path}.{key}" if path else key, "missing (required)")


_ABSENT = object()


def _lookup(table: dict, key: str, path: str, required: bool) -> tuple[str, object]:
    """Where ``key`` is (for messages) and its value, ``_ABSENT`` when it is optional and
    missing; a required missing key is an error."""
    where = f"{path}.{key}" if path else key
    if key not in table:
        if required:
            raise StudyError(where, "missing (required)")
        return where, _ABSENT
    return where, table[key]


def _table(parent: dict, key: str, path: str, required: bool = False) -> dict | None:
    where, value = _lookup(parent, key, path, required)
    if value is _ABSENT:
        return None
    if not isinstance(value, dict):
        raise StudyError(where, f"must be a table, got {_type_name(value)}")
    return value


def _str(table: dict, key: str, path: str, default=None, required=False, choices=None):
    where, value = _lookup(table, key, path, required)
    if value is _ABSENT:
        return default
    if not isinstance(value, str):
        raise StudyError(where, f"must be a string, got {_type_name(value)}")
    if choices is not None and value not in choices:
        raise StudyError(where, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _int(table: dict, key: str, path: str, default=None, required=False, minimum=None):
    where, value = _lookup(table, key, path, required)
    if value is _ABSENT:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise StudyError(where, f"must be an integer, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        raise StudyError(where, f"must be >= {minimum}, got {value}")
    return value


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudyError(where, f"must be a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise StudyError(where, f"must be finite, got {value}")
    return float(value)


def _float(table: dict, key: str, path: str, default=None, required=False):
    where, value = _lookup(table, key, path, required)
    return default if value is _ABSENT else _number(value, where)


def _bool(table: dict, key: str, path: str, default: bool) -> bool:
    where, value = _lookup(table, key, path, False)
    if value is _ABSENT:
        return default
    if not isinstance(value, bool):
        raise StudyError(where, f"must be true or false, got {_type_name(value)}")
    return value


def _list(table: dict, key: str, path: str, default=None, required=False, nonempty=True):
    where, value = _lookup(table, key, path, required)
    if value is _ABSENT:
        return default
    if not isinstance(value, list):
        raise StudyError(where, f"must be an array, got {_type_name(value)}")
    if nonempty and not value:
        raise StudyError(where, "must not be empty")
    return value


# ---------------------------------------------------------------------- distributions
def make_marginal(spec: dict, path: str):
    """A frozen scipy.stats continuous distribution from ``{dist, params, args}``."""
    name = _str(spec, "dist", path, required=True)
    dist = getattr(stats, name, None)
    if not isinstance(dist, stats.rv_continuous):
        raise StudyError(f"{path}.dist", f"unknown continuous scipy.stats distribution {name!r}")
    args = [_number(v, f"{path}.args[{i}]")
            for i, v in enumerate(_list(spec, "args", path, default=[], nonempty=False))]
    params = _table(spec, "params", path) or {}
    kwds = {k: _number(v, f"{path}.params.{k}") for k, v in params.items()}
    try:
        frozen = dist(*args, **kwds)
        median = float(frozen.ppf(0.5))
    except TypeError as exc:
        shapes = f"shapes ({dist.shapes}), " if dist.shapes else ""
        raise StudyError(f"{path}.params", f"bad parameters for scipy.stats.{name}: {exc}; it "
                         f"takes {shapes}loc and scale") from exc
    if not math.isfinite(median):
        raise StudyError(f"{path}.params", f"invalid parameter values for scipy.stats.{name}: "
                         f"args {args}, params {kwds}")
    problem = check_marginal(frozen)
    if problem is not None:
        raise StudyError(f"{path}.params", f"scipy.stats.{name} with args {args}, params "
                         f"{kwds}: {problem}")
    return frozen


def _describe_marginal(spec: dict) -> dict:
    return {"dist": spec["dist"], "args": list(spec.get("args", [])),
            "params": dict(spec.get("params", {}))}


# ---------------------------------------------------------------------- the study
@dataclass
class Analysis:
    """One analysis of a study: what the library is asked for, with which budget."""

    kind: str
    budget: int
    method: str
    baseline: str | None
    options: dict
    spec: dict  # the analysis-specific, validated keys

    @property
    def title(self) -> str:
        return {"expectations": "Moments and exceedance probabilities",
                "laws": "Expectations under alternative laws",
                "sobol": "Sobol' indices",
                "perturbed": "Perturbed-law indices"}[self.kind]


@dataclass
class Study:
    """A validated study file."""

    name: str
    description: str
    seed: int
    level: float
    path: str
    source: str
    model: dict
    inputs: list[dict]
    correlation: list | None
    run: dict
    analyses: list[Analysis] = field(default_factory=list)
    law: Any = None
    #: SHA-256 of the model's code (:func:`model_code_hash`), set by :func:`load_study`
    model_code: str = ""
    #: keep stored runs made by another version of the model's code (``--accept-model-change``)
    accept_model_change: bool = False
    #: the stored code hashes so kept, by study id (filled by the store check)
    accepted_code: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """JSON-able settings (what the report shows and what defines the study)."""
        return {"name": self.name, "description": self.description, "seed": self.seed,
                "level": self.level, "model": self.model,
                "inputs": [{"name": s["name"], **_describe_marginal(s)} for s in self.inputs],
                "correlation": self.correlation, "run": self.run,
                "analyses": [{"kind": a.kind, "budget": a.budget, "method": a.method,
                              "baseline": a.baseline, "options": a.options, **a.spec}
                             for a in self.analyses]}


    def run_identity(self, analysis: Analysis, method: str, study_id: str = "") -> dict:
        """What a store keys the runs of ``(analysis, method)`` by: what changes the runs.

        The seed, the inputs and copula, the model (its target or command, how it is called,
        its work folder, and the hash of its code), the method, the budget, the options and
        the statistics, which steer the adaptation. Left out, so that correcting them keeps
        the stored runs usable: names (``output_name``, alternative laws' names), the output
        column and the weights (the store keeps every raw output column, and every batch's
        points are checked by hash, so a study now drawing other points is refused batch by
        batch, never mixed), ``timeout``, ``keep``, the baseline, the level, the description
        and the ``[run]`` table.
        """
        model = {k: v for k, v in self.model.items()
                 if k not in ("output", "output_name", "timeout", "keep")}
        model["code_sha256"] = self.accepted_code.get(study_id, self.model_code)
        spec = {k: v for k, v in analysis.spec.items() if k != "weights"}
        if "alternatives" in spec:
            spec["alternatives"] = [{k: v for k, v in alt.items() if k != "name"}
                                    for alt in spec["alternatives"]]
        inputs = [{"name": s["name"], **_describe_marginal(s)} for s in self.inputs]
        return {"seed": self.seed, "model": model, "inputs": inputs,
                "correlation": self.correlation, "method": method,
                "analysis": {"kind": analysis.kind, "budget": analysis.budget,
                             "method": analysis.method, "options": analysis.options, **spec}}


def _parse_study_table(data: dict) -> tuple[str, str, int | None, float]:
    table = _table(data, "study", "", required=True)
    _check_keys(table, "study", {"name", "description", "seed", "level"}, ("name",))
    name = _str(table, "name", "study", required=True)
    description = _str(table, "description", "study", default="")
    seed = _int(table, "seed", "study", minimum=0)
    level = _float(table, "level", "study", default=0.95)
    if not 0.0 < level < 1.0:
        raise StudyError("study.level", f"must lie strictly between 0 and 1, got {level}")
    return name, description, seed, level


def _parse_model(data: dict) -> dict:
    table = _table(data, "model", "", required=True)
    _check_keys(table, "model", {"python", "command", "vectorized", "output", "output_name",
                                 "timeout", "workdir", "keep"})
    if ("python" in table) == ("command" in table):
        raise StudyError("model", "give exactly one of 'python' (\"package.module:function\") "
                         "or 'command' (an argument list)")
    out = {"output": _int(table, "output", "model", default=0, minimum=0),
           "output_name": _str(table, "output_name", "model", default="Y")}
    if not out["output_name"].strip():
        raise StudyError("model.output_name", "must not be empty")
    if "python" in table:
        for key in ("timeout", "workdir", "keep"):
            if key in table:
                raise StudyError(f"model.{key}", "applies to 'command' models only")
        target = _str(table, "python", "model", required=True)
        module, sep, func = target.partition(":")
        if not sep or not module or not func:
            raise StudyError("model.python",
                             f"must be \"package.module:function\", got {target!r}")
        out.update(python=target, vectorized=_bool(table, "vectorized", "model", True))
    else:
        if "vectorized" in table:
            raise StudyError("model.vectorized", "applies to 'python' models only")
        argv = _list(table, "command", "model", required=True)
        for i, arg in enumerate(argv):
            if not isinstance(arg, str):
                raise StudyError(f"model.command[{i}]", f"must be a string, got "
                                 f"{_type_name(arg)}")
        timeout = _float(table, "timeout", "model")
        if timeout is not None and timeout <= 0:
            raise StudyError("model.timeout", f"must be positive, got {timeout}")
        out.update(command=list(argv), timeout=timeout,
                   workdir=_str(table, "workdir", "model"),
                   keep=_str(table, "keep", "model", default="failed",
                             choices=("failed", "all", "none")))
    return out


def _parse_inputs(data: dict) -> list[dict]:
    if "inputs" not in data:
        raise StudyError("inputs", "missing (required): one [[inputs]] table per input")
    items = data["inputs"]
    if not isinstance(items, list) or not items:
        raise StudyError("inputs", "must be a non-empty array of tables ([[inputs]])")
    out, seen = [], set()
    for i, spec in enumerate(items):
        path = f"inputs[{i}]"
        if not isinstance(spec, dict):
            raise StudyError(path, f"must be a table, got {_type_name(spec)}")
        _check_keys(spec, path, {"name", "dist", "params", "args"}, ("name", "dist"))
        name = _str(spec, "name", path, required=True)
        if name in seen:
            raise StudyError(f"{path}.name", f"duplicate input name {name!r}")
        seen.add(name)
        make_marginal(spec, path)
        out.append({"name": name, **_describe_marginal(spec)})
    return out


def _parse_correlation(table: dict | None, path: str, d: int) -> list | None:
    if table is None:
        return None
    _check_keys(table, path, {"correlation"}, ("correlation",))
    rows = _list(table, "correlation", path, required=True)
    where = f"{path}.correlation"
    if len(rows) != d or not all(isinstance(r, list) and len(r) == d for r in rows):
        raise StudyError(where, f"must be a {d} x {d} array of arrays (one row per input)")
    matrix = [[_number(v, f"{where}[{i}][{j}]") for j, v in enumerate(r)]
              for i, r in enumerate(rows)]
    return matrix


def _parse_run(data: dict) -> dict:
    table = _table(data, "run", "") or {}
    _check_keys(table, "run", {"executor", "workers", "store", "retries", "chunk_size",
                               "progress"})
    executor = _str(table, "executor", "run")
    if executor is not None:
        check_executor_spec(executor, "run.executor")
    workers = _int(table, "workers", "run", minimum=1)
    return {"executor": executor, "workers": workers, "store": _str(table, "store", "run"),
            "retries": _int(table, "retries", "run", default=0, minimum=0),
            "chunk_size": _int(table, "chunk_size", "run", minimum=1),
            "progress": _bool(table, "progress", "run", True)}


def check_executor_spec(spec: str, where: str) -> None:
    """``"processes"`` or ``"dask://HOST:PORT"``."""
    if spec == "processes":
        return
    if spec.startswith("dask://"):
        host, sep, port = spec[len("dask://"):].rpartition(":")
        if host and sep and port.isdigit():
            return
    raise StudyError(where, f"must be 'processes' or 'dask://HOST:PORT', got {spec!r}")


def _statistic(table: dict, path: str) -> dict:
    """``moment = k`` (default 1) or ``exceedance = t`` (at most one), the scalar statistic
    of Y."""
    if "moment" in table and "exceedance" in table:
        raise StudyError(path, "give at most one of 'moment' and 'exceedance'")
    if "exceedance" in table:
        return {"exceedance": _float(table, "exceedance", path)}
    return {"moment": _int(table, "moment", path, default=1, minimum=1)}


_COMMON = {"budget", "method", "baseline", "options", "weights"}


def _common(table: dict, kind: str) -> tuple[int, str, str | None, dict]:
    budget = _int(table, "budget", kind, required=True, minimum=2)
    methods = _METHODS[kind]
    method = _str(table, "method", kind, default="aiscv", choices=methods)
    baseline = _str(table, "baseline", kind, choices=[m for m in methods if m != method])
    options = _table(table, "options", kind) or {}
    _check_option_types(options, f"{kind}.options")
    return budget, method, baseline, dict(options)


def _check_option_types(options: dict, path: str) -> None:
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
            raise StudyError(f"{path}.{key}", f"must be {expected}, got {_type_name(value)}")


def _no_repeats(values: list, where: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise StudyError(where, f"has repeats: {', '.join(repr(v) for v in repeated)}")


def _weights(table: dict, kind: str, names: tuple[str, ...], count: int | None = None):
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
    values = [_number(v, f"{kind}.weights[{i}]")
              for i, v in enumerate(_list(table, "weights", kind))]
    if any(v <= 0 for v in values):
        raise StudyError(f"{kind}.weights", "must be positive")
    if count is not None and len(values) != count:
        raise StudyError(f"{kind}.weights", f"must have {count} entries (one per quantity), "
                         f"got {len(values)}")
    return values


def _parse_expectations(table: dict) -> Analysis:
    kind = "expectations"
    _check_keys(table, kind, _COMMON | {"moments", "exceedance"}, ("budget",))
    budget, method, baseline, options = _common(table, kind)
    moments = _list(table, "moments", kind, default=[])
    for i, k in enumerate(moments):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise StudyError(f"{kind}.moments[{i}]", f"must be an integer >= 1, got {k!r}")
    thresholds = [_number(t, f"{kind}.exceedance[{i}]")
                  for i, t in enumerate(_list(table, "exceedance", kind, default=[]))]
    if not moments and not thresholds:
        raise StudyError(kind, "give 'moments' and/or 'exceedance' (nothing to estimate)")
    _no_repeats(moments, f"{kind}.moments")
    _no_repeats(thresholds, f"{kind}.exceedance")
    spec = {"moments": list(moments), "exceedance": thresholds,
            "weights": _weights(table, kind, ("relative", "absolute"),
                                len(moments) + len(thresholds))}
    return Analysis(kind, budget, method, baseline, options, spec)


def _parse_laws(table: dict, inputs: list[dict]) -> Analysis:
    kind = "laws"
    _check_keys(table, kind, _COMMON | {"moment", "exceedance", "alternative"},
                ("budget", "alternative"))
    budget, method, baseline, options = _common(table, kind)
    statistic = _statistic(table, kind)
    names = {s["name"] for s in inputs}
    alternatives, seen = [], {"nominal"}
    for i, alt in enumerate(_list(table, "alternative", kind, required=True)):
        path = f"{kind}.alternative[{i}]"
        if not isinstance(alt, dict):
            raise StudyError(path, f"must be a table, got {_type_name(alt)}")
        _check_keys(alt, path, {"name", "inputs", "correlation"}, ("name",))
        name = _str(alt, "name", path, required=True)
        if name in seen:
            raise StudyError(f"{path}.name", f"duplicate law name {name!r} ('nominal' is the "
                             f"input law)")
        seen.add(name)
        changes = _table(alt, "inputs", path) or {}
        marginals = {}
        for key, spec in changes.items():
            where = f"{path}.inputs.{key}"
            if key not in names:
                raise StudyError(where, f"unknown input {key!r}; inputs: "
                                 f"{', '.join(s['name'] for s in inputs)}")
            if not isinstance(spec, dict):
                raise StudyError(where, f"must be a table, got {_type_name(spec)}")
            _check_keys(spec, where, {"dist", "params", "args"}, ("dist",))
            make_marginal(spec, where)
            marginals[key] = _describe_marginal(spec)
        correlation = None
        if "correlation" in alt:
            correlation = _parse_correlation({"correlation": alt["correlation"]}, path,
                                             len(inputs))
        if not marginals and correlation is None:
            raise StudyError(path, "changes nothing: give 'inputs' and/or 'correlation'")
        alternatives.append({"name": name, "inputs": marginals, "correlation": correlation})
    spec = {**statistic, "alternatives": alternatives,
            "weights": _weights(table, kind, ("relative", "absolute"), 1 + len(alternatives))}
    return Analysis(kind, budget, method, baseline, options, spec)


def _parse_sobol(table: dict) -> Analysis:
    kind = "sobol"
    _check_keys(table, kind, _COMMON | {"orders"}, ("budget",))
    budget, method, baseline, options = _common(table, kind)
    orders = _list(table, "orders", kind, default=["first", "total"])
    for i, o in enumerate(orders):
        if o not in ("first", "total"):
            raise StudyError(f"{kind}.orders[{i}]", f"must be 'first' or 'total', got {o!r}")
    if len(set(orders)) != len(orders):
        raise StudyError(f"{kind}.orders", f"has repeats: {orders}")
    spec = {"orders": list(orders),
            "weights": _weights(table, kind, ("delta", "relative", "absolute"))}
    return Analysis(kind, budget, method, baseline, options, spec)


def _parse_perturbed(table: dict, inputs: list[dict]) -> Analysis:
    kind = "perturbed"
    _check_keys(table, kind, _COMMON | {"exceedance", "delta", "inputs", "form"},
                ("budget",))
    budget, method, baseline, options = _common(table, kind)
    threshold = _float(table, "exceedance", kind)
    delta = table.get("delta", 1.0)
    deltas = delta if isinstance(delta, list) else [delta]
    deltas = [_number(v, f"{kind}.delta") for v in deltas]
    if not deltas or any(v <= 0 for v in deltas):
        raise StudyError(f"{kind}.delta", f"must be a positive number or an array of them, "
                         f"got {delta!r}")
    names = [s["name"] for s in inputs]
    which = _list(table, "inputs", kind, default=None)
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
            "form": _str(table, "form", kind, default="ratio", choices=("ratio", "signed")),
            "weights": _weights(table, kind, ("delta", "relative", "absolute"))}
    return Analysis(kind, budget, method, baseline, options, spec)


def parse_study(data: dict, *, path: str = "<study>", source: str = "",
                seed: int | None = None) -> Study:
    """Validate the parsed TOML ``data`` (structure, types, distributions)."""
    _check_keys(data, "", _TOP_KEYS, ("study", "model", "inputs"))
    name, description, file_seed, level = _parse_study_table(data)
    if seed is None:
        seed = file_seed
    if seed is None:
        raise StudyError("study.seed", "missing (required, or pass --seed): the seed makes "
                         "the study reproducible and resumable")
    model = _parse_model(data)
    inputs = _parse_inputs(data)
    correlation = _parse_correlation(_table(data, "copula", ""), "copula", len(inputs))
    run = _parse_run(data)
    analyses = []
    for kind in ANALYSES:
        table = _table(data, kind, "")
        if table is None:
            continue
        if kind == "expectations":
            analyses.append(_parse_expectations(table))
        elif kind == "laws":
            analyses.append(_parse_laws(table, inputs))
        elif kind == "sobol":
            analyses.append(_parse_sobol(table))
        else:
            analyses.append(_parse_perturbed(table, inputs))
    if not analyses:
        raise StudyError("", f"the study asks for nothing: add at least one of the tables "
                         f"{', '.join('[' + k + ']' for k in ANALYSES)}")
    study = Study(name=name, description=description, seed=int(seed), level=level,
                  path=path, source=source, model=model, inputs=inputs,
                  correlation=correlation, run=run, analyses=analyses)
    study.law = build_law(inputs, correlation, "copula.correlation")
    return study


def build_law(inputs: list[dict], correlation, where: str, overrides: dict | None = None):
    """The :class:`~multiexpect.Law` of the inputs (with marginal overrides by name)."""
    from ..laws import Law

    overrides = overrides or {}
    marginals = []
    for i, spec in enumerate(inputs):
        use = overrides.get(spec["name"], spec)
        marginals.append(make_marginal(use, f"inputs[{i}]"))
    try:
        return Law(marginals, correlation, names=[s["name"] for s in inputs])
    except ValueError as exc:
        raise StudyError(where, str(exc).replace("'correlation' ", "")) from exc


def load_study(path: str, *, seed: int | None = None) -> Study:
    """Read, parse and validate a study file; import the model; dry-run every analysis.

    Raises
    ------
    StudyError
        With the key path (and the line for TOML syntax errors).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
        try:
            import tomli as tomllib
        except ModuleNotFoundError as exc:
            raise StudyError("", "reading study files on Python < 3.11 needs tomli: "
                             "pip install 'multiexpect[toml]'") from exc
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise StudyError("", f"cannot read study file {path}: {exc.strerror or exc}") from exc
    try:
        source = raw.decode("utf-8")
        data = tomllib.loads(source)
    except UnicodeDecodeError as exc:
        raise StudyError("", f"{path} is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StudyError("", f"{path}: invalid TOML: {exc}") from exc
    study = parse_study(data, path=os.path.abspath(path), source=source, seed=seed)
    study.model_code = model_code_hash(study, load_model(study))
    dry_run(study)
    return study


# ---------------------------------------------------------------------- the model
def load_model(study: Study):
    """The model callable of the study (a Python function, or a CommandModel)."""
    spec = study.model
    if "command" in spec:
        from ..evaluation.command import CommandModel

        base = os.path.dirname(study.path)
        workdir = spec.get("workdir")
        if workdir is not None and not os.path.isabs(workdir):
            workdir = os.path.join(base, workdir)
        # {study_dir}: the study file's folder; {python}: this Python interpreter
        argv = [arg.replace("{study_dir}", base or ".").replace("{python}", sys.executable)
                for arg in spec["command"]]
        try:
            return CommandModel(argv, names=[s["name"] for s in study.inputs],
                                timeout=spec.get("timeout"), workdir=workdir,
                                keep=spec.get("keep", "failed"))
        except ValueError as exc:
            raise StudyError("model.command", str(exc)) from exc
    module_name, _, attr = spec["python"].partition(":")
    try:
        module = _import_model_module(module_name, os.path.dirname(study.path))
    except ImportError as exc:
        raise StudyError("model.python", f"cannot import module {module_name!r}: {exc}") \
            from exc
    except BaseException as exc:  # SystemExit and KeyboardInterrupt at import included
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise StudyError("model.python", f"importing {module_name!r} raised "
                         f"{type(exc).__name__}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise StudyError("model.python", f"module {module_name!r} has no attribute "
                             f"{attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise StudyError("model.python", f"{spec['python']!r} is not callable")
    return obj


def _import_model_module(module_name: str, base: str):
    """Import the model's module: from the study's folder ``base`` when its top-level
    package or module lies there, else from the installed packages.

    The study's folder is never put first on ``sys.path`` (a ``matplotlib.py`` beside a
    study would then replace the library): a module found there is loaded by its file path,
    and the folder is appended to ``sys.path`` so that the module's own imports of its
    neighbours, and process workers unpickling the model, find them after everything
    installed.
    """
    from importlib.machinery import PathFinder
    from importlib.util import module_from_spec

    top = module_name.split(".")[0]
    found = PathFinder.find_spec(top, [base]) if base else None
    if found is None or found.loader is None:
        return importlib.import_module(module_name)
    if base not in sys.path:
        sys.path.append(base)
    loaded = sys.modules.get(top)
    if loaded is None or getattr(loaded, "__spec__", None) is None \
            or loaded.__spec__.origin != found.origin:
        loaded = module_from_spec(found)
        sys.modules[top] = loaded
        try:
            found.loader.exec_module(loaded)
        except BaseException:
            sys.modules.pop(top, None)
            raise
    return importlib.import_module(module_name)


def model_code_hash(study: Study, model) -> str:
    """SHA-256 of the model's code, so that a store refuses runs of an edited model.

    A Python model: the bytes of its module's file (the function and its helpers beside
    it), else its source text, else its pickled bytes. A command: every argument naming an
    existing file (the program, its script, its data), this Python interpreter excepted.
    """
    import hashlib

    digest = hashlib.sha256()
    if "command" in study.model:
        for arg in getattr(model, "argv", []):
            if arg != sys.executable and os.path.isfile(arg):
                digest.update(arg.encode() + b"\0")
                with open(arg, "rb") as fh:
                    digest.update(fh.read())
        return digest.hexdigest()
    import inspect

    module = inspect.getmodule(model) or sys.modules.get(
        study.model["python"].partition(":")[0])
    path = getattr(module, "__file__", None)
    if path and os.path.isfile(path):
        with open(path, "rb") as fh:
            digest.update(fh.read())
        return digest.hexdigest()
    try:
        digest.update(inspect.getsource(model).encode())
    except (OSError, TypeError):
        from ..evaluation.executors import dumps_model

        try:
            digest.update(dumps_model(model))
        except Exception:  # unpicklable and sourceless: nothing to hash but the target
            digest.update(study.model["python"].encode())
    return digest.hexdigest()


class _DryRunReached(Exception):
    """Raised by :class:`_DryEvaluate` at the first model run: validation passed."""


class _DryEvaluate:
    """An ``evaluate`` that stops at its first call, so a library call checks its
    arguments and stops before any model run."""

    def __call__(self, x, batch=0):
        raise _DryRunReached


def dry_run(study: Study) -> None:
    """Call each analysis's library function with :class:`_DryEvaluate`: every argument
    check the library makes runs now, before any model run."""
    from .quantities import call_analysis

    for analysis in study.analyses:
        for method in (analysis.method, analysis.baseline):
            if method is None:
                continue
            try:
                call_analysis(study, analysis, method, _DryEvaluate())
            except _DryRunReached:
                continue
            except StudyError:
                raise
            except (ValueError, TypeError) as exc:
                key = analysis.kind if method == analysis.method else f"{analysis.kind}.baseline"
                raise StudyError(key, " ".join(str(exc).split())) from exc


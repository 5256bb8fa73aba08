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
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from .analysis import Analysis, sampling_of
from .fields import (
    StudyError,
    build_law,
    check_keys,
    describe_marginal,
    get_bool,
    get_float,
    get_int,
    get_list,
    get_str,
    get_table,
    make_marginal,
    parse_correlation,
    type_name,
)
from .kinds import KINDS

__all__ = ["ANALYSES", "Analysis", "Study", "StudyError", "build_law", "check_executor_spec",
           "load_model", "load_study", "make_marginal", "model_code_hash", "parse_study"]

#: the analysis tables of a study file, in the order a study runs them
ANALYSES = tuple(KINDS)
_TOP_KEYS = {"study", "model", "inputs", "copula", "run", *ANALYSES}


# ---------------------------------------------------------------------- the study
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
                "inputs": [{"name": s["name"], **describe_marginal(s)} for s in self.inputs],
                "correlation": self.correlation, "run": self.run,
                "analyses": [{"kind": a.kind, "budget": a.budget, "method": a.method,
                              "baseline": a.baseline, "options": a.options, **a.spec}
                             for a in self.analyses]}


    def run_identity(self, analysis: Analysis, method: str, study_id: str = "") -> dict:
        """What a store keys the runs of ``(analysis, method)`` by: what changes the runs.

        The seed, the inputs and copula, the model (its target or command, how it is called,
        its work folder, and the hash of its code), the method, the budget, the options,
        the sampling (when RQMC) and the statistics, which steer the adaptation. Left out,
        so that correcting them keeps the stored runs usable: names (``output_name``,
        alternative laws' names), the output column, the weights and a curve's quantile
        levels (read off the estimates after the runs; the store keeps every raw output
        column, and every batch's points are checked by hash, so a study now drawing other
        points is refused batch by batch, never mixed), ``timeout``, ``keep``, the baseline,
        the level, the description and the ``[run]`` table.
        """
        model = {k: v for k, v in self.model.items()
                 if k not in ("output", "output_name", "timeout", "keep")}
        model["code_sha256"] = self.accepted_code.get(study_id, self.model_code)
        # the sampling this run uses (the method's or the baseline's); i.i.d. sampling is
        # left out: studies written before the key keep their identity and stored runs, and
        # so does the "rqmc" baseline of an "auto" study (keyed by the analysis's "auto")
        spec = {k: v for k, v in analysis.spec.items()
                if k not in ("weights", "quantiles", "sampling", "baseline_sampling")}
        sampling = sampling_of(analysis.spec, method == analysis.method)
        if sampling == "rqmc" and analysis.spec.get("sampling") == "auto":
            sampling = "auto"
        if sampling != "mc":
            spec["sampling"] = sampling
        if "alternatives" in spec:
            spec["alternatives"] = [{k: v for k, v in alt.items() if k != "name"}
                                    for alt in spec["alternatives"]]
        inputs = [{"name": s["name"], **describe_marginal(s)} for s in self.inputs]
        return {"seed": self.seed, "model": model, "inputs": inputs,
                "correlation": self.correlation, "method": method,
                "analysis": {"kind": analysis.kind, "budget": analysis.budget,
                             "method": analysis.method, "options": analysis.options, **spec}}


def _parse_study_table(data: dict) -> tuple[str, str, int | None, float]:
    table = get_table(data, "study", "", required=True)
    check_keys(table, "study", {"name", "description", "seed", "level"}, ("name",))
    name = get_str(table, "name", "study", required=True)
    description = get_str(table, "description", "study", default="")
    seed = get_int(table, "seed", "study", minimum=0)
    level = get_float(table, "level", "study", default=0.95)
    if not 0.0 < level < 1.0:
        raise StudyError("study.level", f"must lie strictly between 0 and 1, got {level}")
    return name, description, seed, level


def _parse_model(data: dict) -> dict:
    table = get_table(data, "model", "", required=True)
    check_keys(table, "model", {"python", "command", "vectorized", "output", "output_name",
                                 "timeout", "workdir", "keep"})
    if ("python" in table) == ("command" in table):
        raise StudyError("model", "give exactly one of 'python' (\"package.module:function\") "
                         "or 'command' (an argument list)")
    out = {"output": get_int(table, "output", "model", default=0, minimum=0),
           "output_name": get_str(table, "output_name", "model", default="Y")}
    if not out["output_name"].strip():
        raise StudyError("model.output_name", "must not be empty")
    if "python" in table:
        for key in ("timeout", "workdir", "keep"):
            if key in table:
                raise StudyError(f"model.{key}", "applies to 'command' models only")
        target = get_str(table, "python", "model", required=True)
        module, sep, func = target.partition(":")
        if not sep or not module or not func:
            raise StudyError("model.python",
                             f"must be \"package.module:function\", got {target!r}")
        out.update(python=target, vectorized=get_bool(table, "vectorized", "model", True))
    else:
        if "vectorized" in table:
            raise StudyError("model.vectorized", "applies to 'python' models only")
        argv = get_list(table, "command", "model", required=True)
        for i, arg in enumerate(argv):
            if not isinstance(arg, str):
                raise StudyError(f"model.command[{i}]", f"must be a string, got "
                                 f"{type_name(arg)}")
        timeout = get_float(table, "timeout", "model")
        if timeout is not None and timeout <= 0:
            raise StudyError("model.timeout", f"must be positive, got {timeout}")
        out.update(command=list(argv), timeout=timeout,
                   workdir=get_str(table, "workdir", "model"),
                   keep=get_str(table, "keep", "model", default="failed",
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
            raise StudyError(path, f"must be a table, got {type_name(spec)}")
        check_keys(spec, path, {"name", "dist", "params", "args"}, ("name", "dist"))
        name = get_str(spec, "name", path, required=True)
        if name in seen:
            raise StudyError(f"{path}.name", f"duplicate input name {name!r}")
        seen.add(name)
        make_marginal(spec, path)
        out.append({"name": name, **describe_marginal(spec)})
    return out


def _parse_run(data: dict) -> dict:
    table = get_table(data, "run", "") or {}
    check_keys(table, "run", {"executor", "workers", "store", "retries", "chunk_size",
                               "progress", "share_runs"})
    executor = get_str(table, "executor", "run")
    if executor is not None:
        check_executor_spec(executor, "run.executor")
    workers = get_int(table, "workers", "run", minimum=1)
    store = get_str(table, "store", "run")
    if store is not None and not store.strip():
        raise StudyError("run.store", "must be a file name, got an empty string (leave it out "
                         "for the default, <study>.sqlite)")
    return {"executor": executor, "workers": workers, "store": store,
            "retries": get_int(table, "retries", "run", default=0, minimum=0),
            "chunk_size": get_int(table, "chunk_size", "run", minimum=1),
            "progress": get_bool(table, "progress", "run", True),
            "share_runs": get_bool(table, "share_runs", "run", True)}


def check_executor_spec(spec: str, where: str) -> None:
    """``"processes"`` or ``"dask://HOST:PORT"``."""
    if spec == "processes":
        return
    if spec.startswith("dask://"):
        host, sep, port = spec[len("dask://"):].rpartition(":")
        if host and sep and port.isdigit():
            return
    raise StudyError(where, f"must be 'processes' or 'dask://HOST:PORT', got {spec!r}")


def parse_study(data: dict, *, path: str = "<study>", source: str = "",
                seed: int | None = None) -> Study:
    """Validate the parsed TOML ``data`` (structure, types, distributions)."""
    check_keys(data, "", _TOP_KEYS, ("study", "model", "inputs"))
    name, description, file_seed, level = _parse_study_table(data)
    if seed is None:
        seed = file_seed
    if seed is None:
        raise StudyError("study.seed", "missing (required, or pass --seed): the seed makes "
                         "the study reproducible and resumable")
    model = _parse_model(data)
    inputs = _parse_inputs(data)
    correlation = parse_correlation(get_table(data, "copula", ""), "copula", len(inputs))
    run = _parse_run(data)
    analyses = []
    for kind in ANALYSES:
        table = get_table(data, kind, "")
        if table is not None:
            analyses.append(KINDS[kind].parse(table, inputs))
    if not analyses:
        raise StudyError("", f"the study asks for nothing: add at least one of the tables "
                         f"{', '.join('[' + k + ']' for k in ANALYSES)}")
    study = Study(name=name, description=description, seed=int(seed), level=level,
                  path=path, source=source, model=model, inputs=inputs,
                  correlation=correlation, run=run, analyses=analyses)
    study.law = build_law(inputs, correlation, "copula.correlation")
    return study


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
#: the study's own placeholders of ``model.command``, replaced before the program's
STUDY_PLACEHOLDERS = ("study_dir", "python")


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
        for i, item in enumerate(study.inputs):
            if item["name"] in STUDY_PLACEHOLDERS:
                raise StudyError(f"inputs[{i}].name", f"an input of a command model may not "
                                 f"be named {item['name']!r}, the name of the "
                                 f"{{{item['name']}}} placeholder of model.command")
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
    for analysis in study.analyses:
        for method in (analysis.method, analysis.baseline):
            if method is None:
                continue
            try:
                KINDS[analysis.kind].call(study, analysis, method, _DryEvaluate())
            except _DryRunReached:
                continue
            except StudyError:
                raise
            except (ValueError, TypeError) as exc:
                key = analysis.kind if method == analysis.method else f"{analysis.kind}.baseline"
                raise StudyError(key, " ".join(str(exc).split())) from exc


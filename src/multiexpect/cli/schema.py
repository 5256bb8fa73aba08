"""The results file's schema: a document read back for a report is checked key by key, so
that a tampered or truncated file is refused with one line naming the key, never rendered
(and never a traceback).

Numbers may be JSON numbers or the strings ``"nan"``, ``"inf"``, ``"-inf"`` (how the
library writes non-finite floats); every other value has the one type the writer gives it.
"""

from __future__ import annotations

from .fields import StudyError
from .quantities import result_from_dict

__all__ = ["RESULT_TYPES", "validate_results"]

RESULT_TYPES = ("ExpectationResult", "SobolResult", "PerturbedLawResult")
_NON_FINITE = ("nan", "inf", "-inf")


def _fail(path: str, message: str):
    raise StudyError("", f"not a valid results file: {path}: {message}")


def _dict(doc, path: str, keys: tuple = ()) -> dict:
    if not isinstance(doc, dict):
        _fail(path, "must be an object")
    for key in keys:
        if key not in doc:
            _fail(f"{path}.{key}", "missing")
    return doc


def _str(value, path: str, none: bool = False) -> None:
    if not (isinstance(value, str) or (none and value is None)):
        _fail(path, "must be a string")


def _int(value, path: str, none: bool = False) -> None:
    if not ((isinstance(value, int) and not isinstance(value, bool))
            or (none and value is None)):
        _fail(path, "must be an integer")


def _number(value, path: str) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float))
                                       or value in _NON_FINITE):
        _fail(path, "must be a number")


def _list(value, path: str) -> list:
    if not isinstance(value, list):
        _fail(path, "must be an array")
    return value


def _record(rec, path: str) -> None:
    _dict(rec, path, ("method", "type", "result", "rows", "runs", "seconds"))
    _str(rec["method"], f"{path}.method")
    if rec["type"] not in RESULT_TYPES:
        _fail(f"{path}.type", f"must be one of {', '.join(RESULT_TYPES)}")
    _dict(rec["result"], f"{path}.result")
    for i, row in enumerate(_list(rec["rows"], f"{path}.rows")):
        where = f"{path}.rows[{i}]"
        _dict(row, where, ("name", "estimate", "stderr", "low", "high"))
        _str(row["name"], f"{where}.name")
        for key in ("estimate", "stderr", "low", "high"):
            _number(row[key], f"{where}.{key}")
    runs = _dict(rec["runs"], f"{path}.runs", ("spent", "new", "reused"))
    for key in ("spent", "new", "reused"):
        _int(runs[key], f"{path}.runs.{key}")
    _number(rec["seconds"], f"{path}.seconds")
    try:
        result_from_dict(rec["result"])
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        _fail(f"{path}.result", f"cannot be read back ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:200]})")


def _settings(s, path: str) -> None:
    _dict(s, path, ("model", "inputs", "correlation", "analyses"))
    model = _dict(s["model"], f"{path}.model")
    if "python" in model:
        _str(model["python"], f"{path}.model.python")
    elif "command" in model:
        for i, arg in enumerate(_list(model["command"], f"{path}.model.command")):
            _str(arg, f"{path}.model.command[{i}]")
    else:
        _fail(f"{path}.model", "must have 'python' or 'command'")
    for i, spec in enumerate(_list(s["inputs"], f"{path}.inputs")):
        where = f"{path}.inputs[{i}]"
        _dict(spec, where, ("name", "dist"))
        _str(spec["name"], f"{where}.name")
        _str(spec["dist"], f"{where}.dist")
        for j, a in enumerate(_list(spec.get("args", []), f"{where}.args")):
            _number(a, f"{where}.args[{j}]")
        for k, v in _dict(spec.get("params", {}), f"{where}.params").items():
            _number(v, f"{where}.params.{k}")
    if s["correlation"] is not None:
        for i, row in enumerate(_list(s["correlation"], f"{path}.correlation")):
            for j, v in enumerate(_list(row, f"{path}.correlation[{i}]")):
                _number(v, f"{path}.correlation[{i}][{j}]")
    for i, a in enumerate(_list(s["analyses"], f"{path}.analyses")):
        where = f"{path}.analyses[{i}]"
        _dict(a, where, ("kind", "budget", "method", "baseline", "options"))
        _str(a["kind"], f"{where}.kind")
        _str(a["method"], f"{where}.method")
        _str(a["baseline"], f"{where}.baseline", none=True)
        _int(a["budget"], f"{where}.budget")
        _dict(a["options"], f"{where}.options")


def validate_results(doc) -> None:
    """Raise a one-line :class:`StudyError` naming the first key of ``doc`` that a results
    file written by ``multiexpect run`` could not hold."""
    _dict(doc, "document", ("format", "study", "settings", "level", "analyses",
                            "reproducibility"))
    study = _dict(doc["study"], "study", ("name", "description", "file", "source"))
    for key in ("name", "description", "file", "source"):
        _str(study[key], f"study.{key}")
    _settings(doc["settings"], "settings")
    level = doc["level"]
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        _fail("level", "must be a number between 0 and 1")
    for i, analysis in enumerate(_list(doc["analyses"], "analyses")):
        where = f"analyses[{i}]"
        _dict(analysis, where, ("kind", "title", "main", "baseline"))
        _str(analysis["kind"], f"{where}.kind")
        _str(analysis["title"], f"{where}.title")
        _record(analysis["main"], f"{where}.main")
        if analysis["baseline"] is not None:
            _record(analysis["baseline"], f"{where}.baseline")
            if len(analysis["baseline"]["rows"]) != len(analysis["main"]["rows"]):
                _fail(f"{where}.baseline.rows", "must have as many rows as main.rows")
    r = _dict(doc["reproducibility"], "reproducibility",
              ("seed", "versions", "model_runs", "store", "started", "seconds"))
    _int(r["seed"], "reproducibility.seed")
    for k, v in _dict(r["versions"], "reproducibility.versions").items():
        _str(v, f"reproducibility.versions.{k}")
    runs = _dict(r["model_runs"], "reproducibility.model_runs", ("spent", "new", "reused"))
    for key in ("spent", "new", "reused"):
        _int(runs[key], f"reproducibility.model_runs.{key}")
    _str(r["store"], "reproducibility.store")
    _str(r["started"], "reproducibility.started")
    _number(r["seconds"], "reproducibility.seconds")
    _str(r.get("executor"), "reproducibility.executor", none=True)
    _int(r.get("workers"), "reproducibility.workers", none=True)

"""Study-file fields: the one-line error naming a key path, typed getters, marginals.

Every reader of a study file (the study's own tables, each analysis kind) checks its keys
with these getters, so that a mistake is a :class:`StudyError` naming the key path
(``inputs[2].dist``) with one message wording for each kind of mistake.
"""

from __future__ import annotations

import math

from scipy import stats

from ..laws import Law, check_marginal

__all__ = ["StudyError", "build_law", "check_keys", "describe_marginal", "get_bool",
           "get_float", "get_int", "get_list", "get_str", "get_table", "lookup",
           "make_marginal", "number", "parse_correlation", "type_name"]


class StudyError(ValueError):
    """A mistake in a study file; ``str()`` is one line naming the key path."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


# ---------------------------------------------------------------------- typed getters
def type_name(value) -> str:
    """How a value's type is named in messages (``an integer``, ``a table``)."""
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def check_keys(table: dict, path: str, allowed: set[str], required: tuple = ()) -> None:
    """Refuse a key of ``table`` outside ``allowed`` and a missing ``required`` one."""
    for key in table:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise StudyError(where, f"unknown key; allowed here: {', '.join(sorted(allowed))}")
    for key in required:
        if key not in table:
            raise StudyError(f"{path}.{key}" if path else key, "missing (required)")


_ABSENT = object()


def lookup(table: dict, key: str, path: str, required: bool) -> tuple[str, object]:
    """Where ``key`` is (for messages) and its value, ``_ABSENT`` when it is optional and
    missing; a required missing key is an error."""
    where = f"{path}.{key}" if path else key
    if key not in table:
        if required:
            raise StudyError(where, "missing (required)")
        return where, _ABSENT
    return where, table[key]


def get_table(parent: dict, key: str, path: str, required: bool = False) -> dict | None:
    """The sub-table ``key`` (``None`` when optional and absent)."""
    where, value = lookup(parent, key, path, required)
    if value is _ABSENT:
        return None
    if not isinstance(value, dict):
        raise StudyError(where, f"must be a table, got {type_name(value)}")
    return value


def get_str(table: dict, key: str, path: str, default=None, required=False, choices=None):
    """A string (one of ``choices`` when given)."""
    where, value = lookup(table, key, path, required)
    if value is _ABSENT:
        return default
    if not isinstance(value, str):
        raise StudyError(where, f"must be a string, got {type_name(value)}")
    if choices is not None and value not in choices:
        raise StudyError(where, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def get_int(table: dict, key: str, path: str, default=None, required=False, minimum=None):
    """An integer (not a boolean), at least ``minimum`` when given."""
    where, value = lookup(table, key, path, required)
    if value is _ABSENT:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise StudyError(where, f"must be an integer, got {type_name(value)}")
    if minimum is not None and value < minimum:
        raise StudyError(where, f"must be >= {minimum}, got {value}")
    return value


def number(value, where: str) -> float:
    """``value`` as a finite float, or a :class:`StudyError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudyError(where, f"must be a number, got {type_name(value)}")
    if not math.isfinite(value):
        raise StudyError(where, f"must be finite, got {value}")
    return float(value)


def get_float(table: dict, key: str, path: str, default=None, required=False):
    """A finite number."""
    where, value = lookup(table, key, path, required)
    return default if value is _ABSENT else number(value, where)


def get_bool(table: dict, key: str, path: str, default: bool) -> bool:
    """``true`` or ``false``."""
    where, value = lookup(table, key, path, False)
    if value is _ABSENT:
        return default
    if not isinstance(value, bool):
        raise StudyError(where, f"must be true or false, got {type_name(value)}")
    return value


def get_list(table: dict, key: str, path: str, default=None, required=False, nonempty=True):
    """An array (non-empty unless ``nonempty=False``)."""
    where, value = lookup(table, key, path, required)
    if value is _ABSENT:
        return default
    if not isinstance(value, list):
        raise StudyError(where, f"must be an array, got {type_name(value)}")
    if nonempty and not value:
        raise StudyError(where, "must not be empty")
    return value


# ---------------------------------------------------------------------- distributions
def make_marginal(spec: dict, path: str):
    """A frozen scipy.stats continuous distribution from ``{dist, params, args}``."""
    name = get_str(spec, "dist", path, required=True)
    dist = getattr(stats, name, None)
    if not isinstance(dist, stats.rv_continuous):
        raise StudyError(f"{path}.dist", f"unknown continuous scipy.stats distribution {name!r}")
    args = [number(v, f"{path}.args[{i}]")
            for i, v in enumerate(get_list(spec, "args", path, default=[], nonempty=False))]
    params = get_table(spec, "params", path) or {}
    kwds = {k: number(v, f"{path}.params.{k}") for k, v in params.items()}
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


def describe_marginal(spec: dict) -> dict:
    """The ``{dist, args, params}`` of an input spec, as recorded in the settings."""
    return {"dist": spec["dist"], "args": list(spec.get("args", [])),
            "params": dict(spec.get("params", {}))}


def parse_correlation(table: dict | None, path: str, d: int) -> list | None:
    """The ``d x d`` correlation of a ``[copula]``-like table (``None`` when absent)."""
    if table is None:
        return None
    check_keys(table, path, {"correlation"}, ("correlation",))
    rows = get_list(table, "correlation", path, required=True)
    where = f"{path}.correlation"
    if len(rows) != d or not all(isinstance(r, list) and len(r) == d for r in rows):
        raise StudyError(where, f"must be a {d} x {d} array of arrays (one row per input)")
    matrix = [[number(v, f"{where}[{i}][{j}]") for j, v in enumerate(r)]
              for i, r in enumerate(rows)]
    return matrix


def build_law(inputs: list[dict], correlation, where: str, overrides: dict | None = None):
    """The :class:`~multiexpect.Law` of the inputs (with marginal overrides by name)."""
    overrides = overrides or {}
    marginals = []
    for i, spec in enumerate(inputs):
        use = overrides.get(spec["name"], spec)
        marginals.append(make_marginal(use, f"inputs[{i}]"))
    try:
        return Law(marginals, correlation, names=[s["name"] for s in inputs])
    except ValueError as exc:
        raise StudyError(where, str(exc).replace("'correlation' ", "")) from exc

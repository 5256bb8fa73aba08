"""Adapters for laws and models from other libraries (OpenTURNS, SALib)."""

from __future__ import annotations

from ..laws import Law

__all__ = ["as_law"]


def as_law(obj, name: str = "law") -> Law:
    """Return ``obj`` as a :class:`~multiexpect.Law`, or raise a ValueError naming ``name``.

    Accepts a :class:`~multiexpect.Law` or any object with the Law interface
    (``dim``, ``names``, ``sample``, ``logpdf``, ``to_standard``, ``from_standard``).
    """
    if isinstance(obj, Law):
        return obj
    required = ("dim", "sample", "logpdf", "to_standard", "from_standard")
    if all(hasattr(obj, attr) for attr in required):
        return obj
    raise ValueError(f"'{name}' must be a multiexpect.Law, got {type(obj).__name__}")

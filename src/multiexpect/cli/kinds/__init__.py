"""The registry of analysis kinds: one module per table of a study file.

A kind (:class:`~multiexpect.cli.analysis.AnalysisKind`) says how its table is read, which
library function it calls, its rows of estimates and its part of the report. To add one,
write a module beside these and list its ``KIND`` here; the study file, the runner, the
summary and the report find it in :data:`KINDS` (in this order).
"""

from __future__ import annotations

from ..analysis import AnalysisKind
from . import curve, expectations, laws, perturbed, sobol

__all__ = ["KINDS", "kind_of_result"]

#: every analysis kind, by table name, in the order a study runs them
KINDS: dict[str, AnalysisKind] = {k.name: k for k in (
    expectations.KIND, curve.KIND, laws.KIND, sobol.KIND, perturbed.KIND)}


def kind_of_result(result) -> AnalysisKind:
    """The first kind whose library result has the type of ``result`` (for its rows)."""
    for kind in KINDS.values():
        if kind.result_type == type(result).__name__:
            return kind
    raise ValueError(f"no analysis kind returns a {type(result).__name__}")

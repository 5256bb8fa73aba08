"""SALib problem dicts as laws (no SALib import needed).

The dict's format and the meaning of ``bounds`` per distribution are in
:mod:`multiexpect.salib_problem`, which reads the dict (a bottom-layer module, so that
:meth:`multiexpect.Law.from_salib` needs no import from this layer).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..laws import Law
from ..salib_problem import SALIB_DISTS

__all__ = ["SALIB_DISTS", "law_from_salib"]


def law_from_salib(problem: Mapping) -> Law:
    """The independent :class:`~multiexpect.Law` described by a SALib problem dict
    (``names``, ``bounds``, optional ``dists`` and ``num_vars``): :meth:`Law.from_salib`."""
    return Law.from_salib(problem)

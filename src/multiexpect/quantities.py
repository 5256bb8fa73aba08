"""Quantities declared on a model's raw outputs: moments, exceedances, plain output columns.

With ``expectations(model, law, quantities=[...])`` the model returns its raw outputs
``y`` ((n, m)) and the library computes ``phi``:

- :class:`Output` ``k``: ``phi = y_k`` (the mean of output ``k``);
- :class:`Moment` ``(k, p)``: ``phi = y_k^p``;
- :class:`Exceedance` ``(k, t, side)``: ``phi = 1{y_k > t}`` (or ``<``, ``>=``, ``<=``).

An exceedance also keeps its *score* ``s = y_k - t`` (``t - y_k`` for ``<`` / ``<=``), the
continuous output the event is a level set of (``phi = 1{s > 0}``, or ``1{s >= 0}``), so
that the engine can reach a rare event through intermediate levels ``1{s > γ}``, ``γ < 0``
(the cross-entropy ladder of ``docs/method.md``). Every declaration is checked when it is
built, before any model run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SIDES", "Exceedance", "Moment", "Output", "QuantityColumns", "QuantityMap",
           "check_quantities", "exceedance_label", "moment_label"]

#: The comparison of an exceedance ``1{y side t}``.
SIDES = (">", ">=", "<", "<=")


def _check_output(output, where: str) -> int:
    if isinstance(output, bool) or not isinstance(output, (int, np.integer)) or output < 0:
        raise ValueError(f"'{where}.output' must be an integer >= 0 (an output column), "
                         f"got {output!r}")
    return int(output)


def moment_label(y: str, power: int) -> str:
    """``E[y]`` or ``E[y^k]``."""
    return f"E[{y}]" if power == 1 else f"E[{y if y.isidentifier() else f'({y})'}^{power}]"


def exceedance_label(y: str, threshold: float, side: str = ">") -> str:
    """``P(y > t)`` with ``t`` in the fewest significant digits (6 at least) that give it
    back exactly, so that distinct thresholds have distinct names."""
    for digits in range(6, 18):
        text = f"{threshold:.{digits}g}"
        if float(text) == threshold:
            break
    return f"P({y} {side} {text})"


@dataclass(frozen=True)
class Output:
    """The mean of output column ``output``."""

    output: int = 0

    def __post_init__(self):
        _check_output(self.output, "Output")

    def label(self, y: str) -> str:
        return moment_label(y, 1)

    def values(self, y: np.ndarray) -> np.ndarray:
        return y

    def describe(self) -> dict:
        return {"kind": "output", "output": self.output}


@dataclass(frozen=True)
class Moment:
    """``E[y_k^power]``, ``power`` an integer >= 1."""

    output: int = 0
    power: int = 1

    def __post_init__(self):
        _check_output(self.output, "Moment")
        p = self.power
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
            raise ValueError(f"'Moment.power' must be an integer >= 1, got {p!r}")

    def label(self, y: str) -> str:
        return moment_label(y, int(self.power))

    def values(self, y: np.ndarray) -> np.ndarray:
        return y ** int(self.power)

    def describe(self) -> dict:
        return {"kind": "moment", "output": self.output, "power": int(self.power)}


@dataclass(frozen=True)
class Exceedance:
    """``P(y_k side t)``: an event that keeps its continuous score ``±(y_k - t)``."""

    output: int = 0
    threshold: float = 0.0
    side: str = ">"

    def __post_init__(self):
        _check_output(self.output, "Exceedance")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(t)):
            raise ValueError(f"'Exceedance.threshold' must be a finite number, got {t!r}")
        if self.side not in SIDES:
            raise ValueError(f"'Exceedance.side' must be one of {', '.join(SIDES)}, "
                             f"got {self.side!r}")

    def label(self, y: str) -> str:
        return exceedance_label(y, float(self.threshold), self.side)

    def scores(self, y: np.ndarray) -> np.ndarray:
        """``s = y - t`` (``t - y`` for ``<``, ``<=``): the event is ``s > 0`` (``>= 0``)."""
        t = float(self.threshold)
        return y - t if self.side in (">", ">=") else t - y

    def values(self, y: np.ndarray) -> np.ndarray:
        s = self.scores(y)
        return (s >= 0 if self.side.endswith("=") else s > 0).astype(float)

    def describe(self) -> dict:
        return {"kind": "exceedance", "output": self.output,
                "threshold": float(self.threshold), "side": self.side}


def check_quantities(quantities) -> tuple:
    """The declarations as a tuple, each an :class:`Output`, :class:`Moment` or
    :class:`Exceedance` (a non-empty sequence; checked before any model run)."""
    if isinstance(quantities, (Output, Moment, Exceedance)):
        quantities = [quantities]
    if isinstance(quantities, (str, bytes)) or not isinstance(quantities, Sequence) \
            or len(quantities) == 0:
        raise ValueError("'quantities' must be a non-empty list of me.Output, me.Moment or "
                         f"me.Exceedance, got {quantities!r}")
    for i, q in enumerate(quantities):
        if not isinstance(q, (Output, Moment, Exceedance)):
            raise ValueError(f"'quantities[{i}]' must be me.Output, me.Moment or "
                             f"me.Exceedance, got {q!r}")
    if len(set(quantities)) != len(quantities):
        raise ValueError("'quantities' must not repeat a declaration")
    return tuple(quantities)


class QuantityMap:
    """Raw outputs ``(n, m)`` -> ``phi`` ``(n, J)`` and the exceedances' scores ``(n, J)``
    (NaN in a column that is no exceedance)."""

    def __init__(self, quantities):
        self.quantities = check_quantities(quantities)
        self.n_outputs_needed = 1 + max(q.output for q in self.quantities)

    @property
    def n_quantities(self) -> int:
        return len(self.quantities)

    def names(self, output_names: Sequence[str] | None = None) -> list[str]:
        """``E[y1^2]``, ``P(y1 > 3)``, ... (outputs named ``y1, y2, ...`` by default)."""
        def y(k):
            return output_names[k] if output_names is not None else f"y{k + 1}"
        return [q.label(y(q.output)) for q in self.quantities]

    def columns(self, outputs) -> tuple[np.ndarray, np.ndarray]:
        """``(phi, scores)`` at raw ``outputs``."""
        y = np.asarray(outputs, dtype=float)
        y = y.reshape(y.shape[0], -1)
        if y.shape[1] < self.n_outputs_needed:
            raise ValueError(f"'quantities' read output column {self.n_outputs_needed - 1}, "
                             f"but the model returned {y.shape[1]} column(s)")
        phi = np.column_stack([q.values(y[:, q.output]) for q in self.quantities])
        scores = np.column_stack([
            q.scores(y[:, q.output]) if isinstance(q, Exceedance) else np.full(y.shape[0], np.nan)
            for q in self.quantities])
        return phi, scores

    def describe(self) -> list[dict]:
        return [q.describe() for q in self.quantities]


class QuantityColumns:
    """``evaluate(x, batch)`` of the declared quantities: ``phi``, then (``scored``) the
    scores, side by side ((n, 2J)); forwards ``observe`` and ``n_runs`` of the wrapped
    run counter."""

    def __init__(self, evaluate: Callable, quantity_map: QuantityMap, scored: bool):
        self.evaluate = evaluate
        self.quantity_map = quantity_map
        self.scored = scored
        self.observe = getattr(evaluate, "observe", None)

    @property
    def n_runs(self) -> int:
        """The wrapped run counter's runs."""
        return self.evaluate.n_runs

    def __call__(self, x, batch):
        phi, scores = self.quantity_map.columns(self.evaluate(x, batch))
        return np.hstack([phi, scores]) if self.scored else phi

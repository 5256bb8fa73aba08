"""The model and its outputs, checked; runs counted through any ``evaluate(x, batch)``.

The algorithm knows only ``evaluate(x, batch) -> outputs``. Everything that makes a study
real (executors, the store, retries, progress) wraps it from outside
(:mod:`multiexpect.evaluation.builder`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["RunCounter", "as_rows", "check_model"]


def check_model(model) -> None:
    """Refuse, before any run, a ``model`` that cannot be called."""
    if not callable(model):
        raise ValueError(f"'model' must be callable, got {type(model).__name__}")


def as_rows(outputs, n: int) -> np.ndarray:
    """A model's outputs for ``n`` points as (n, m) floats ((n,) becomes (n, 1)).

    Raises
    ------
    ValueError
        Not numbers, or not of shape (n,) or (n, m).
    """
    try:
        out = np.asarray(outputs, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"the model must return an array of numbers, got {type(outputs).__name__}"
        ) from exc
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(
            f"the model must return shape ({n},) or ({n}, m) for {n} points, "
            f"got {np.shape(outputs)}"
        )
    return out


class RunCounter:
    """``evaluate(x, batch)`` through another one, counting the points asked for.

    The count is a call's ``n_evaluations``: every point sent to the model, stored runs read
    back on resume included. ``observe`` (the progress bar's note after each adaptive stage)
    is passed on to the wrapped callable when it has one.
    """

    def __init__(self, evaluate: Callable):
        self.evaluate = evaluate
        self.n_runs = 0

    def __call__(self, x: np.ndarray, batch: int = 0) -> np.ndarray:
        self.n_runs += x.shape[0]
        return self.evaluate(x, batch)

    def observe(self, stage) -> None:
        """Forward a finished stage to the wrapped callable's ``observe``, if any."""
        observe = getattr(self.evaluate, "observe", None)
        if observe is not None:
            observe(stage)

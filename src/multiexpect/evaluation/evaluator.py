"""The model and its outputs, checked; runs counted through any ``evaluate(x, batch)``.

The algorithm knows only ``evaluate(x, batch) -> outputs``. Everything that makes a study
real (executors, the store, retries, progress) wraps it from outside
(:mod:`multiexpect.evaluation.builder`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..threads import caller_threads

__all__ = ["RunCounter", "as_floats", "as_rows", "check_model"]


def check_model(model) -> None:
    """Refuse, before any run, a ``model`` that cannot be called."""
    if not callable(model):
        raise ValueError(f"'model' must be callable, got {type(model).__name__}")


def as_rows(outputs, n: int) -> np.ndarray:
    """A model's outputs for ``n`` points as (n, m) floats ((n,) becomes (n, 1)).

    Raises
    ------
    ValueError
        Not real numbers (complex numbers are refused: dropping the imaginary part would
        be a silently wrong number), not of shape (n,) or (n, m), or no output (m = 0).
    """
    out = as_floats(outputs)
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(
            f"the model must return shape ({n},) or ({n}, m) for {n} points, "
            f"got {np.shape(outputs)}"
        )
    if out.shape[1] == 0 and n > 0:
        raise ValueError(f"the model returned no output (shape {out.shape}): it must return "
                         f"at least one number per point")
    return out


def as_floats(outputs) -> np.ndarray:
    """``outputs`` as a float array; complex or non-numeric values raise ValueError."""
    try:
        raw = np.asarray(outputs)
        if raw.dtype.kind == "c":
            raise ValueError(
                f"the model returned complex numbers ({raw.dtype}): return real outputs "
                f"(e.g. the real and imaginary parts as two outputs)")
        return np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith("the model returned complex"):
            raise
        raise ValueError(
            f"the model must return an array of numbers, got {type(outputs).__name__}"
        ) from exc


class RunCounter:
    """``evaluate(x, batch)`` through another one, counting the points asked for.

    The count is a call's ``n_evaluations``: every point sent to the model, stored runs read
    back on resume included. ``observe`` (the progress bar's note after each adaptive stage)
    is passed on to the wrapped callable when it has one.
    """

    def __init__(self, evaluate: Callable, thread_limits=None):
        self.evaluate = evaluate
        self.n_runs = 0
        self.thread_limits = thread_limits

    def __call__(self, x: np.ndarray, batch: int = 0) -> np.ndarray:
        self.n_runs += x.shape[0]
        with caller_threads(self.thread_limits):  # the model on the caller's BLAS threads
            return self.evaluate(x, batch)

    def observe(self, stage) -> None:
        """Forward a finished stage to the wrapped callable's ``observe``, if any."""
        observe = getattr(self.evaluate, "observe", None)
        if observe is not None:
            observe(stage)

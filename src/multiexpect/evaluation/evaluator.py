"""From a user's model to ``evaluate(points, batch) -> outputs``, checked.

The algorithm knows only this callable. Everything that makes a study real (executors, the
store, retries, progress) wraps it from outside.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ModelEvaluationError

__all__ = ["ModelEvaluator", "check_outputs", "wrap_model"]


def wrap_model(model: Callable, vectorized: bool = True) -> Callable:
    """A vectorised version of ``model``: ``(n, d) -> (n,)`` or ``(n, m)``.

    With ``vectorized=False`` the model takes one point ((d,)) and returns a scalar or an
    (m,) vector; it is called point by point (the only per-point loop, and the user's).
    """
    if not callable(model):
        raise ValueError(f"'model' must be callable, got {type(model).__name__}")
    if vectorized:
        return model
    return PointwiseModel(model)


class PointwiseModel:
    """Adapter calling a point-by-point model on each row (picklable for process pools)."""

    def __init__(self, model: Callable):
        self.model = model
        self.__name__ = getattr(model, "__name__", type(model).__name__)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rows = [np.atleast_1d(as_floats(self.model(point))) for point in x]
        if not rows:
            return np.empty((0, 1))
        return np.stack(rows)


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


def check_outputs(outputs, points: np.ndarray, n_outputs: int | None = None) -> np.ndarray:
    """Validate a model's outputs for ``points`` and return them as (n, m) floats.

    Raises
    ------
    ValueError
        Wrong shape, or a column count different from ``n_outputs``.
    ModelEvaluationError
        Non-finite values (NaN or inf), naming how many points and the first input.
    """
    n = points.shape[0]
    out = as_rows(outputs, n)
    if n_outputs is not None and out.shape[1] != n_outputs:
        raise ValueError(
            f"the model returned {out.shape[1]} columns, but {n_outputs} earlier"
        )
    bad = ~np.all(np.isfinite(out), axis=1)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise ModelEvaluationError(
            f"the model returned a non-finite value (NaN or inf) at {int(bad.sum())} of {n} "
            f"points; first failing input: {points[first].tolist()}",
            n_failed=int(bad.sum()), first_input=points[first].copy(),
            message=f"non-finite output {out[first].tolist()}",
        )
    return out


class ModelEvaluator:
    """``evaluate(points, batch)``: run the model on a batch, check and count the runs.

    Parameters
    ----------
    model : callable
        Vectorised model (see :func:`wrap_model`).
    """

    def __init__(self, model: Callable):
        self.model = model
        self.n_runs = 0
        self.n_outputs: int | None = None

    def __call__(self, points: np.ndarray, batch: int = 0) -> np.ndarray:
        """Outputs ((n, m)) of the model at ``points`` ((n, d)); ``batch`` is the batch key."""
        if points.shape[0] == 0:
            return np.empty((0, self.n_outputs or 0))
        raw = self.model(points)
        self.n_runs += points.shape[0]
        out = check_outputs(raw, points, self.n_outputs)
        self.n_outputs = out.shape[1]
        return out

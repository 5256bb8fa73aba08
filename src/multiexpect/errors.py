"""The project's exception hierarchy.

Bad arguments raise :class:`ValueError` (or :class:`TypeError`) naming the argument and the
rule. Everything that goes wrong *during* a study derives from :class:`MultiexpectError`.
"""

from __future__ import annotations

__all__ = [
    "ModelEvaluationError",
    "MultiexpectError",
    "StoreError",
    "StoreMismatchError",
]


class MultiexpectError(Exception):
    """Base class of every error raised by multiexpect while running a study."""


class ModelEvaluationError(MultiexpectError, ValueError):
    """The model failed, or returned non-finite values, on some points.

    The runs that succeeded are kept (in the store when there is one); nothing is dropped
    silently, since dropping failed points would bias every estimate.

    Attributes
    ----------
    n_failed : int
        Number of failing points in the batch.
    first_input : numpy.ndarray or None
        The first failing input point.
    message : str
        The model's own message for the first failure (or a description of the bad value).
    """

    def __init__(self, text: str, *, n_failed: int = 0, first_input=None, message: str = ""):
        super().__init__(text)
        self.n_failed = n_failed
        self.first_input = first_input
        self.message = message


class StoreMismatchError(MultiexpectError):
    """A store already holds a study with the same id but different settings."""


class StoreError(MultiexpectError):
    """The store cannot be used as asked: not an SQLite file, another application's file,
    read-only where a run must be written, full, or damaged. The message is one line naming
    the file and what to do; the runs already stored are kept."""

"""The engine's linear algebra on one BLAS thread; the model's on the caller's setting.

The engine multiplies small matrices (``d x d`` factors, a few hundred points) many
thousand times a study; a multi-threaded BLAS spends more on waking its threads than on the
products (measured in docs/benchmarks.md, "The engine's own cost"), and a threaded reduction
may sum in another order, so one thread also makes a seed's result the same on every
machine. The model, which may want its threads, runs
with the limits the caller had. Uses ``threadpoolctl`` (the ``fast`` extra) when installed;
without it nothing changes (set ``OPENBLAS_NUM_THREADS=1`` instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache

try:  # optional: multiexpect[fast]
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - exercised where threadpoolctl is absent
    ThreadpoolController = None

__all__ = ["caller_threads", "engine_threads"]


class CallerLimits:
    """The caller's thread limits, restored around each model call by the controller that
    found them (no new search of the loaded libraries a call: a few microseconds)."""

    def __init__(self, controller, info: list):
        self.controller = controller
        self.info = info

    def restore(self):
        """A context with the caller's limits."""
        return self.controller.limit(limits=self.info)


@cache
def _controller():
    """The thread-pool libraries loaded with the engine (numpy's and scipy's BLAS), found
    once: the search of the loaded libraries costs milliseconds a call, and the libraries
    the engine computes with are loaded before its first call. A library loaded later
    (by a model) is neither limited nor restored: the engine does not compute with it."""
    return ThreadpoolController()


@contextmanager
def engine_threads() -> Iterator[CallerLimits | None]:
    """BLAS limited to one thread inside; yields the caller's limits (for
    :func:`caller_threads`), or None without ``threadpoolctl`` or when the caller's BLAS
    already runs on one thread (nothing to limit or restore)."""
    if ThreadpoolController is None:
        yield None
        return
    controller = _controller()
    info = controller.info()
    if all(lib["num_threads"] == 1 for lib in info if lib["user_api"] == "blas"):
        yield None
        return
    with controller.limit(limits=1, user_api="blas"):
        yield CallerLimits(controller, info)


def caller_threads(limits: CallerLimits | None):
    """A context restoring the caller's thread limits around a model call (a no-op when
    ``limits`` is None)."""
    return nullcontext() if limits is None else limits.restore()

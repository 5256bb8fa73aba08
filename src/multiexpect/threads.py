"""The engine's linear algebra on one BLAS thread; the model's on the caller's setting.

The engine multiplies small matrices (``d x d`` factors, a few hundred points) many
thousand times a study; a multi-threaded BLAS spends more on waking its threads than on the
products (a 1e-6 ladder study: 16 s against 2.7 s of wall time on a loaded 2-core machine,
docs/benchmarks.md), and a threaded reduction may sum in another order, so one thread also
makes a seed's result the same on every machine. The model, which may want its threads, runs
with the limits the caller had. Uses ``threadpoolctl`` (the ``fast`` extra) when installed;
without it nothing changes (set ``OPENBLAS_NUM_THREADS=1`` instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

try:  # optional: multiexpect[fast]
    from threadpoolctl import ThreadpoolController, threadpool_limits
except ImportError:  # pragma: no cover - exercised where threadpoolctl is absent
    ThreadpoolController = threadpool_limits = None

__all__ = ["caller_threads", "engine_threads"]


@contextmanager
def engine_threads() -> Iterator[list | None]:
    """BLAS limited to one thread inside; yields the caller's limits (``threadpoolctl``'s
    ``info()``, for :func:`caller_threads`), or None without ``threadpoolctl``."""
    if ThreadpoolController is None:
        yield None
        return
    controller = ThreadpoolController()
    caller = controller.info()
    with controller.limit(limits=1, user_api="blas"):
        yield caller


def caller_threads(limits: list | None):
    """A context restoring the caller's thread limits around a model call (a no-op when
    ``limits`` is None)."""
    if limits is None or threadpool_limits is None:
        return nullcontext()
    return threadpool_limits(limits=limits)

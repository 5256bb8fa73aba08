"""Where the model runs: in-process, a local process pool, or any ``concurrent.futures.Executor``.

A batch of points is split into chunks; each chunk is one task, run by :func:`run_chunk` in a
worker, which returns per-point outputs, statuses, error texts and run times (a model that
raises on one point of a point-by-point model fails that point only). The model is pickled
once (with :mod:`cloudpickle` when installed, so lambdas and closures travel too):

* ``"processes"``: a :class:`~concurrent.futures.ProcessPoolExecutor` whose initializer
  installs the model in each worker, so chunks carry only points. If a worker dies (a
  segfault in a simulator, ``os._exit``) the pool is replaced by a fresh one. A worker
  leaves SIGINT to the study process, exits on SIGTERM after killing the programs it runs
  (:func:`~multiexpect.evaluation.command.kill_running_commands`), and exits when the study
  process is gone (``prctl(PR_SET_PDEATHSIG)`` when forked on Linux, and always a thread
  polling the parent), so a ``kill -9`` of the study leaves no worker behind;
* a Dask executor (``distributed.Client(...).get_executor()``): the pickled model is
  scattered once to every worker (``Client.scatter(..., broadcast=True)``) and tasks carry
  the resulting future, so the model crosses the network once per worker, not per chunk;
* any other executor (``mpi4py.futures.MPIPoolExecutor``, a user's pool): each task carries
  the pickled model bytes (pickled once, in the parent).

In every case a worker process unpickles the model once and caches it by the SHA-256 digest
of the pickled bytes (:data:`_WORKER_MODELS`, a few models at most).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from ..logspace import SHORT_ROWS
from .command import kill_running_commands
from .evaluator import as_floats, as_rows

__all__ = ["ChunkResult", "Runner", "check_executor", "dumps_model", "run_chunk"]

# worker side: unpickled models by digest of their pickled bytes (insertion ordered; the
# oldest are dropped beyond _MAX_CACHED, so a long-lived worker serving many studies does not
# keep every model it ever ran)
_WORKER_MODELS: dict[str, Callable] = {}
#: How often a wait for chunks checks whether the process pool broke; a chunk still pending
#: after two such checks of a broken pool is lost (:func:`_pool_broken`).
BROKEN_POLL_SECONDS = 1.0
_MAX_CACHED = 4


def dumps_model(model) -> bytes:
    """Pickle ``model`` (cloudpickle when available: lambdas and closures pickle too)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle comes with the dask extra
        return pickle.dumps(model)
    return cloudpickle.dumps(model)


@dataclass
class ChunkResult:
    """Outputs of one chunk: ``y`` (n, m) (NaN rows where failed), ``ok`` (n,), ``errors``
    (n,) texts (``""`` when ok), ``seconds`` (n,), and ``shape_error`` when the model returned
    an array of the wrong shape (a programming error, not a point failure)."""

    y: np.ndarray
    ok: np.ndarray
    errors: list
    seconds: np.ndarray
    shape_error: str = ""


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text or type(exc).__name__


def _bad_shape(n: int, text: str) -> ChunkResult:
    """A chunk whose model output had the wrong shape (no point ok)."""
    return ChunkResult(np.empty((n, 0)), np.zeros(n, bool), ["bad shape"] * n, np.zeros(n),
                       text)


def _finite_rows(y: np.ndarray) -> np.ndarray:
    """Which rows of ``y`` ((n, m)) are finite; for short rows (``m <= SHORT_ROWS``, the
    rule of :func:`~multiexpect.logspace.row_max`) column by column."""
    if y.shape[1] > SHORT_ROWS or y.shape[1] == 0:
        return np.all(np.isfinite(y), axis=1) if y.shape[1] else np.ones(len(y), bool)
    finite = np.isfinite(y[:, 0])
    for k in range(1, y.shape[1]):
        finite &= np.isfinite(y[:, k])
    return finite


def _finish(y: np.ndarray, errors: list, seconds) -> ChunkResult:
    finite = _finite_rows(y)
    # no error text (the common case): no loop over the points
    ok = np.array([not e for e in errors], dtype=bool) & finite if any(errors) else finite.copy()
    for i in np.flatnonzero(~finite):
        if not errors[i]:
            errors[i] = f"non-finite output {y[i].tolist()}"
    return ChunkResult(y, ok, errors, np.asarray(seconds, dtype=float))


#: Without ``isolate``, bisection stops at this depth when every part still fails: the model
#: fails systematically (or at many scattered points), and the chunk is reported failed.
SYSTEMATIC_DEPTH = 2


def _bisect(model: Callable, x: np.ndarray, exc: BaseException, full: bool) -> ChunkResult:
    """A vectorised model raised on the chunk ``x``: call it on halves, recursively, until
    every failing point is alone, so that the failing points are told from the others (which
    keep their outputs and can be stored). With ``k`` failing points of ``n`` this costs at
    most about ``2 k log2(n)`` calls on ever smaller parts. Unless ``full``, it stops when
    all ``2^SYSTEMATIC_DEPTH`` parts at that depth fail (a systematic failure: the
    chunk's points are reported failed with their part's message, in at most 7 calls), but
    for the first part, bisected on to one failing point: the error names a failing input)."""
    n = x.shape[0]
    y = None
    ok = np.zeros(n, bool)
    errors = [""] * n
    seconds = np.zeros(n)
    parts = [(0, n, _describe(exc), 0)]  # failing parts: start, stop, message, depth
    first_only = False
    while parts:
        if not full and not first_only and parts[0][3] == SYSTEMATIC_DEPTH and \
                len(parts) == 2**SYSTEMATIC_DEPTH:
            first_only = True
        if first_only:  # only the first failing part is bisected further, to a failing point
            for a, b, message, _ in parts[1:]:
                errors[a:b] = [message] * (b - a)
            parts = parts[:1]
        a, b, message, depth = parts.pop(0)
        if b - a == 1:
            errors[a] = message
            continue
        for lo, hi in ((a, (a + b) // 2), ((a + b) // 2, b)):
            start = time.perf_counter()
            try:
                raw = model(x[lo:hi])
            except Exception as inner:
                seconds[lo:hi] = (time.perf_counter() - start) / (hi - lo)
                parts.append((lo, hi, _describe(inner), depth + 1))
                continue
            seconds[lo:hi] = (time.perf_counter() - start) / (hi - lo)
            try:
                out = as_rows(raw, hi - lo)
            except ValueError as shape:
                return _bad_shape(n, str(shape))
            if y is None:
                y = np.full((n, out.shape[1]), np.nan)
            elif out.shape[1] != y.shape[1]:
                return _bad_shape(n, "inconsistent output sizes")
            y[lo:hi] = out
            ok[lo:hi] = True
    if y is None:
        return ChunkResult(np.empty((n, 0)), ok, errors, seconds)
    result = _finish(y, [e if not k else "" for e, k in zip(errors, ok)], seconds)
    return result


def run_chunk(model: Callable, x: np.ndarray, pointwise: bool, isolate: bool,
              n_outputs: int | None = None) -> ChunkResult:
    """Run ``model`` on the points ``x`` ((n, d)) and report each point.

    Parameters
    ----------
    model : callable
        The user's model: one point -> scalar or (m,) when ``pointwise``, else (n, d) ->
        (n,) or (n, m). A model with a ``run_points(x, n_outputs=None)`` method (e.g.
        :class:`~multiexpect.CommandModel`) reports its own per-point failures through it
        (a point giving other than ``n_outputs`` outputs, once known, fails).
    pointwise : bool
        Call the model once per point, each failure confined to its point.
    isolate : bool
        When a vectorised model raises on the chunk it is bisected to its failing points
        (:func:`_bisect`); with ``isolate`` (successes are stored) always down to every
        failing point, else only while not every part fails (a systematic failure stops it).
    n_outputs : int, optional
        The number of outputs the study's earlier runs gave.
    """
    n = x.shape[0]
    run_points = getattr(model, "run_points", None)
    if callable(run_points):
        y, ok, errors, seconds = run_points(x, n_outputs=n_outputs)
        try:
            out = as_rows(y, n)
        except ValueError as exc:
            if not np.any(ok):  # every point failed: (n, 0) is no shape error
                return ChunkResult(np.empty((n, 0)), np.zeros(n, bool),
                                   [str(e) for e in errors], np.asarray(seconds, float))
            return _bad_shape(n, str(exc))
        errors = [str(e) for e in errors]
        result = _finish(out, errors, seconds)
        result.ok &= np.asarray(ok, dtype=bool)
        return result
    if pointwise:
        rows, errors, seconds = [], [], []
        for point in x:
            start = time.perf_counter()
            try:
                value = model(point)
                errors.append("")
            except Exception as exc:
                errors.append(_describe(exc))
            seconds.append(time.perf_counter() - start)
            if errors[-1]:
                rows.append(None)
                continue
            try:  # a complex or empty output is a programming error, not a point failure
                row = np.atleast_1d(as_floats(value)).ravel()
            except ValueError as exc:
                return _bad_shape(n, str(exc))
            if row.size == 0:
                return _bad_shape(n, "the model returned no output (an empty array) at a "
                                     "point: it must return at least one number")
            rows.append(row)
        widths = {r.size for r in rows if r is not None}
        if len(widths) > 1:
            return _bad_shape(n, f"the model returned outputs of sizes {sorted(widths)} at "
                                 f"different points")
        m = widths.pop() if widths else 0
        y = np.full((n, m), np.nan)
        for i, r in enumerate(rows):
            if r is not None:
                y[i] = r
        return _finish(y, errors, seconds)
    start = time.perf_counter()
    try:
        raw = model(x)
    except Exception as exc:
        if n > 1:
            return _bisect(model, x, exc, full=isolate)
        elapsed = time.perf_counter() - start
        return ChunkResult(np.empty((n, 0)), np.zeros(n, bool), [_describe(exc)] * n,
                           np.full(n, elapsed / max(n, 1)))
    elapsed = time.perf_counter() - start
    try:
        out = as_rows(raw, n)
    except ValueError as exc:
        return _bad_shape(n, str(exc))
    return _finish(out, [""] * n, np.full(n, elapsed / max(n, 1)))


# ---------------------------------------------------------------------- worker side
def _cached_model(key: str, payload: bytes) -> Callable:
    """The model of digest ``key``, unpickled from ``payload`` the first time only (also the
    process pool's initializer, so each worker unpickles the model once at start)."""
    model = _WORKER_MODELS.get(key)
    if model is None:
        model = pickle.loads(payload)
        while len(_WORKER_MODELS) >= _MAX_CACHED:
            _WORKER_MODELS.pop(next(iter(_WORKER_MODELS)), None)
        _WORKER_MODELS[key] = model
    return model


def _init_worker(key: str, payload: bytes, parent: int) -> None:
    """Initializer of a ``"processes"`` pool worker: exit with the study process, leave
    SIGINT to it, stop on SIGTERM, then install the model.

    Two guards make the worker follow the study process ``parent``: Linux's parent-death
    signal when forked (immediate, but it relies on the SIGTERM handler running in the main
    thread), and always a watchdog thread that polls the parent (:func:`_watch_parent`), so a
    worker whose main thread cannot take the signal still ends within a poll period."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    forked = os.getppid() == parent  # else started by a fork server or spawned
    if forked:
        _die_with_parent()
    threading.Thread(target=_watch_parent, args=(parent, forked), daemon=True,
                     name="multiexpect-parent-watchdog").start()
    if forked and os.getppid() != parent:  # the parent died before we asked to follow it
        _stop_worker()
    _cached_model(key, payload)


def _stop_worker(*_) -> None:
    """Kill the programs this worker runs, then exit at once (SIGTERM handler)."""
    kill_running_commands()
    os._exit(128 + signal.SIGTERM)


def _die_with_parent() -> bool:
    """Ask Linux to send SIGTERM to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        pr_set_pdeathsig = 1
        return ctypes.CDLL(None, use_errno=True).prctl(
            pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return False


def _watch_parent(parent: int, forked: bool, period: float = 0.2) -> None:
    """Poll every ``period`` seconds until the study process ``parent`` is gone, then stop.

    A forked worker is re-parented the instant its parent dies (``os.getppid()`` changes,
    even while the dead parent is an unreaped zombie); another worker checks that the pid
    still exists. The multiprocessing sentinel is not used: a sibling forked later holds the
    other end of its pipe open, so it can wait forever."""
    while (os.getppid() == parent) if forked else _alive(parent):
        time.sleep(period)
    _stop_worker()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process of that pid
        return True
    return True


def _run_installed(key: str, x, pointwise: bool, isolate: bool, n_outputs=None
                   ) -> ChunkResult:
    return run_chunk(_WORKER_MODELS[key], x, pointwise, isolate, n_outputs)


def _run_shipped(key: str, payload: bytes, x, pointwise: bool, isolate: bool,
                 n_outputs=None) -> ChunkResult:
    """Run a chunk with the model shipped as ``payload`` (the pickled bytes themselves, or,
    on Dask, the bytes scattered once and resolved on the worker from their future)."""
    return run_chunk(_cached_model(key, payload), x, pointwise, isolate, n_outputs)


# ---------------------------------------------------------------------- parent side
def check_executor(executor, n_workers) -> None:
    """Validate ``executor`` and ``n_workers`` (before any model run)."""
    if not (executor is None or executor == "processes"
            or callable(getattr(executor, "submit", None))):
        raise ValueError(
            f"'executor' must be None, 'processes' or a concurrent.futures.Executor "
            f"(an object with submit()), got {executor!r}"
        )
    if n_workers is not None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer)) \
                or n_workers < 1:
            raise ValueError(f"'n_workers' must be a positive int, got {n_workers!r}")
        if executor != "processes":
            raise ValueError(
                "'n_workers' applies to executor='processes' only; size your own executor "
                "when you create it"
            )


class Runner:
    """Runs chunks of points through the chosen executor.

    Parameters
    ----------
    model : callable
    pointwise : bool
    executor : None, "processes" or concurrent.futures.Executor
    n_workers : int, optional
        Workers of the ``"processes"`` pool (default: the CPU count).
    """

    def __init__(self, model: Callable, pointwise: bool, executor=None, n_workers=None):
        # executor and n_workers were checked by the caller (check_executor)
        self.model = model
        self.pointwise = pointwise
        self._dask = _dask_client(executor)
        self.kind = ("inline" if executor is None
                     else "processes" if executor == "processes"
                     else "dask" if self._dask is not None else "external")
        self._external = executor if self.kind in ("dask", "external") else None
        self.n_workers = int(n_workers or os.cpu_count() or 1) if self.kind == "processes" \
            else _guess_workers(executor, self._dask)
        self._payload: bytes | None = None
        self._key = ""
        self._pool: cf.ProcessPoolExecutor | None = None
        self._scattered = None  # Dask: the future of the model bytes scattered to workers
        self.n_scatters = 0
        self._pending: dict[cf.Future, int] = {}  # submitted chunks not yet yielded

    def _ensure_payload(self):
        if self._payload is None:
            self._payload = dumps_model(self.model)
            self._key = hashlib.sha256(self._payload).hexdigest()

    def _process_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._ensure_payload()
            self._pool = cf.ProcessPoolExecutor(self.n_workers, initializer=_init_worker,
                                                initargs=(self._key, self._payload,
                                                          os.getpid()))
        return self._pool

    def _shipment(self):
        """What a task carries to designate the model: the pickled bytes, or on Dask the
        future of those bytes, scattered once to every worker."""
        self._ensure_payload()
        if self.kind != "dask":
            return self._payload
        if self._scattered is None:
            self._scattered = self._dask.scatter(self._payload, broadcast=True, hash=False)
            self.n_scatters += 1
        return self._scattered

    def recover(self) -> None:
        """After a lost task: replace a broken process pool by a fresh one; on Dask, scatter
        the model again on the next run (the workers holding it may be the ones lost)."""
        if self.kind == "processes" and self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        elif self.kind == "dask":
            self._release_scattered()

    def _release_scattered(self) -> None:
        if self._scattered is not None:
            try:
                self._scattered.release()
            except Exception:  # pragma: no cover - a closed client: nothing to release
                pass
            self._scattered = None

    def run(self, chunks: Iterable[tuple[int, np.ndarray]], isolate: bool,
            n_outputs: int | None = None
            ) -> Iterator[tuple[int, ChunkResult | BaseException]]:
        """Yield ``(chunk id, result)`` as chunks complete; ``result`` is the exception when
        the executor lost the task (a dead worker), also when the process pool broke while
        the chunks were being submitted (those chunks are yielded last, lost, for the
        caller to run again). In-process, ``chunks`` is consumed one chunk at a time, after
        the previous result was used (so it may size the next)."""
        if self.kind == "inline":
            for cid, x in chunks:
                yield cid, run_chunk(self.model, x, self.pointwise, isolate, n_outputs)
            return
        pending = self._pending
        pending.clear()
        unsent: list[tuple[int, BaseException]] = []
        pool = None
        if self.kind == "processes":
            pool = self._process_pool()
            for cid, x in chunks:
                try:
                    pending[pool.submit(_run_installed, self._key, x, self.pointwise,
                                        isolate, n_outputs)] = cid
                except BrokenProcessPool as exc:  # a worker died meanwhile
                    unsent.append((cid, exc))
        else:
            shipment = self._shipment()
            for cid, x in chunks:
                pending[self._external.submit(_run_shipped, self._key, shipment, x,
                                              self.pointwise, isolate, n_outputs)] = cid
        waiting, broken_polls = set(pending), 0
        while waiting:
            done, waiting = cf.wait(waiting, timeout=BROKEN_POLL_SECONDS,
                                    return_when=cf.FIRST_COMPLETED)
            for fut in done:
                cid = pending.pop(fut)
                try:
                    yield cid, fut.result()
                except Exception as exc:
                    yield cid, exc
            broken_polls = broken_polls + 1 if not done and _pool_broken(pool) else 0
            if broken_polls >= 2:  # a future the broken pool dropped: lost, run again
                for fut in waiting:
                    yield pending.pop(fut), BrokenProcessPool(
                        "the process pool broke and never finished this chunk")
                waiting = set()
        yield from unsent

    def harvest(self) -> list[tuple[int, ChunkResult]]:
        """The chunks already finished but not yet yielded by :meth:`run` (after an
        interrupt: they are stored before the study stops)."""
        done = []
        for fut, cid in list(self._pending.items()):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                done.append((cid, fut.result()))
        return done

    def abort(self) -> None:
        """Stop at once: cancel the chunks not started, and stop the ``"processes"`` pool's
        workers (SIGTERM: each kills the programs it runs and exits) without waiting.

        A process pool's futures are not cancelled here: once its workers are stopped, its
        manager thread fails every pending one itself (``BrokenProcessPool``), and on
        Python 3.11 it raises ``InvalidStateError`` (a traceback on stderr) when it meets
        one that was cancelled meanwhile."""
        if self._pool is None:
            for fut in self._pending:
                fut.cancel()
        self._pending.clear()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # ProcessPoolExecutor has no public way to stop busy workers before Python 3.14
            terminate = getattr(pool, "terminate_workers", None)
            if callable(terminate):
                terminate()
            else:
                for proc in list(getattr(pool, "_processes", {}).values()):
                    if proc.is_alive():
                        proc.terminate()
            manager = getattr(pool, "_executor_manager_thread", None)  # shutdown drops it
            pool.shutdown(wait=False)
            _join_manager(manager)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._release_scattered()


#: Seconds :func:`_join_manager` waits for a stopped pool's manager thread.
MANAGER_JOIN_SECONDS = 10.0


def _join_manager(thread) -> None:
    """Wait (at most :data:`MANAGER_JOIN_SECONDS`) for a stopped process pool's manager
    ``thread`` (None: nothing to wait for), which fails the pending futures and closes the
    pool's wake-up pipe. On Python 3.11 the interpreter's exit hook wakes every pool's
    manager through that pipe without a lock: if the thread closes it meanwhile, the exit
    prints an ``OSError`` traceback (``Bad file descriptor``) after the study's one line.
    The caller reads ``_executor_manager_thread`` (no public accessor) before
    ``shutdown(wait=False)``, which sets it to None."""
    if thread is not None and thread.is_alive():
        thread.join(MANAGER_JOIN_SECONDS)


def _pool_broken(pool) -> bool:
    """Whether a ``"processes"`` pool (None for the other kinds) is broken: a worker died.
    CPython before 3.12 can drop a future submitted while the pool breaks (its manager
    thread clears the pending work without failing that one, which then never completes:
    a study waiting for it hung). ``_broken`` is the executor's own flag; it has no public
    accessor."""
    return pool is not None and bool(getattr(pool, "_broken", False))


def _dask_client(executor):
    """The ``distributed.Client`` behind a ``Client.get_executor()`` executor, else None.

    ``ClientExecutor`` offers no public accessor for its client; its ``_client`` attribute
    has been stable since the class appeared. Anything unrecognised is treated as a plain
    executor (the model bytes then travel with each task)."""
    if executor is None or isinstance(executor, str):
        return None
    cls = type(executor)
    if cls.__name__ != "ClientExecutor" or not cls.__module__.startswith("distributed"):
        return None
    client = getattr(executor, "_client", None)
    return client if callable(getattr(client, "scatter", None)) else None


def _guess_workers(executor, dask_client=None) -> int:
    if executor is None:
        return 1
    if dask_client is not None:
        try:  # threads of the cluster's workers, at the time the study starts
            threads = sum(dask_client.nthreads().values())
        except Exception:  # pragma: no cover - an unreachable scheduler fails later anyway
            threads = 0
        if threads > 0:
            return int(threads)
    for attr in ("_max_workers", "num_workers"):
        value = getattr(executor, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return os.cpu_count() or 1

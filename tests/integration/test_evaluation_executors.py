"""Executors: a local process pool, dead workers, Dask, and bad arguments."""

from __future__ import annotations

import collections
import ctypes
import faulthandler
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.evaluation import build_evaluate
from multiexpect.evaluation.progress import Progress

LAW2 = me.Law([stats.norm(), stats.norm()])


def smooth(x):
    return np.column_stack([x[:, 0] ** 2, np.exp(0.3 * x[:, 1]), x[:, 0] * x[:, 1]])


def point_model(x):
    return [x[0] ** 2, np.exp(0.3 * x[1]), x[0] * x[1]]


def test_process_pool_equals_in_process():
    ref = me.expectations(smooth, LAW2, budget=2000, rng=4)
    res = me.expectations(smooth, LAW2, budget=2000, rng=4, executor="processes", n_workers=2)
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    np.testing.assert_array_equal(res.stderr, ref.stderr)
    # lambdas travel too (cloudpickle), point by point, with small chunks
    lam = me.expectations(lambda p: point_model(p), LAW2, budget=600, rng=4,
                          vectorized=False, executor="processes", n_workers=2,
                          eval_chunk_size=7)
    ref2 = me.expectations(point_model, LAW2, budget=600, rng=4, vectorized=False)
    np.testing.assert_array_equal(lam.estimate, ref2.estimate)


def counting_model(folder):
    """A vectorised model that logs, per process, each time it is pickled (``pickled-<pid>``),
    unpickled (``unpickled-<pid>``) and run on a chunk (``ran-<pid>``).

    The class is local, so cloudpickle ships it by value: workers (Dask, MPI) need not import
    the test suite."""

    class UnpickleCounter:
        def __init__(self, folder):
            self.folder = str(folder)

        def _log(self, what):
            with open(os.path.join(self.folder, f"{what}-{os.getpid()}"), "a") as f:
                f.write("x")

        def __getstate__(self):
            self._log("pickled")
            return {"folder": self.folder}

        def __setstate__(self, state):
            self.folder = state["folder"]
            self._log("unpickled")

        def __call__(self, x):
            self._log("ran")
            return smooth(x)

    return UnpickleCounter(folder)


def count_events(folder) -> dict[str, collections.Counter]:
    """``{"pickled"|"unpickled"|"ran": Counter(pid -> times)}`` from the logs of
    :func:`counting_model`."""
    out = {k: collections.Counter() for k in ("pickled", "unpickled", "ran")}
    for path in Path(folder).iterdir():
        what, pid = path.name.rsplit("-", 1)
        out[what][int(pid)] = len(path.read_text())
    return out


def run_counted(executor, folder, n_workers=None, n_batches=3) -> dict:
    """Run ``n_batches`` batches of 200 points in chunks of 10 (60 tasks) through
    ``executor``; check the outputs and return :func:`count_events`."""
    ev = build_evaluate(counting_model(folder), executor=executor, n_workers=n_workers,
                        chunk_size=10)
    try:
        for batch in range(n_batches):
            x = np.random.default_rng(batch).normal(size=(200, 2))
            np.testing.assert_array_equal(ev(x, batch), smooth(x))
    finally:
        ev.close()
    return count_events(folder)


def assert_once_per_worker(events, max_workers) -> None:
    parent = os.getpid()
    # pickled once, in the parent, for the whole study
    assert events["pickled"] == {parent: 1}, events
    ran = set(events["ran"])
    assert parent not in ran and 1 <= len(ran) <= max_workers, events
    assert sum(events["ran"].values()) == 60  # one call per chunk: 3 batches x 20 chunks
    # unpickled exactly once in each process that ran chunks, and nowhere else
    assert events["unpickled"] == {pid: 1 for pid in ran}, events


def test_model_is_shipped_once_per_worker(tmp_path):
    # "processes": the pool initializer installs the model; tasks carry only points
    events = run_counted("processes", tmp_path, n_workers=2)
    assert_once_per_worker(events, max_workers=2)


def test_other_executor_unpickles_once_per_worker(tmp_path):
    # any other executor (here a user's process pool, as for MPI): the bytes pickled once in
    # the parent travel with each task; each worker unpickles them once and caches the model
    with ProcessPoolExecutor(2) as pool:
        events = run_counted(pool, tmp_path)
    assert_once_per_worker(events, max_workers=2)


def test_any_executor_thread_pool_and_store(tmp_path):
    ref = me.expectations(smooth, LAW2, budget=1000, rng=8)
    with ThreadPoolExecutor(3) as pool:
        res = me.expectations(smooth, LAW2, budget=1000, rng=8, executor=pool,
                              store=tmp_path / "t.sqlite")
    np.testing.assert_array_equal(res.estimate, ref.estimate)


class DiesOnce:
    """Point model whose worker process dies (``os._exit``) the first time it meets an
    input with ``x0 > 1.5``; a marker file remembers that it died."""

    def __init__(self, folder, always=False, how="exit"):
        self.folder = str(folder)
        self.always = always
        self.how = how

    def __call__(self, x):
        if x[0] > 1.5:
            marker = Path(self.folder) / repr(float(x[0]))
            if self.always or not marker.exists():
                marker.write_text("died")
                if self.how == "segfault":
                    faulthandler.disable()  # no traceback dump from the dying worker
                    ctypes.string_at(0)  # segmentation fault in "native code"
                os._exit(13)
        return point_model(x)


def test_dead_worker_is_reported_runs_stored_pool_recovers(tmp_path):
    store = me.InMemoryStore()
    kwargs = {"budget": 400, "rng": 3, "vectorized": False, "executor": "processes",
              "n_workers": 2, "eval_chunk_size": 8, "store": store, "study_id": "dying",
              "sampling": "mc"}
    with pytest.raises(me.ModelEvaluationError,
                       match=r"a worker process died running (\d+) of 40 points; first "
                             r"failing input: \[.*the worker process died while running it "
                             r"\(BrokenProcessPool") as info:
        me.expectations(DiesOnce(tmp_path, always=True, how="segfault"), LAW2, **kwargs)
    killers = sorted(float(p.name) for p in tmp_path.iterdir())
    assert info.value.n_failed == len(killers) >= 1
    assert info.value.first_input[0] > 1.5
    n_ok = store.count_runs("dying", "ok")
    assert store.count_runs("dying", "failed") == len(killers)  # only the killers failed
    assert n_ok % 40 == 40 - len(killers)  # the innocent ones of that batch are kept
    # the model is fixed: resume (a fresh pool), the result is exact
    res = me.expectations(point_model, LAW2, **kwargs)
    ref = me.expectations(point_model, LAW2, budget=400, rng=3, vectorized=False,
                          sampling="mc")
    np.testing.assert_array_equal(res.estimate, ref.estimate)


def test_dead_worker_retried(tmp_path):
    res = me.expectations(DiesOnce(tmp_path), LAW2, budget=400, rng=3, vectorized=False,
                          executor="processes", n_workers=2, retries=1)
    ref = me.expectations(point_model, LAW2, budget=400, rng=3, vectorized=False)
    assert any(tmp_path.iterdir())  # some workers did die
    np.testing.assert_array_equal(res.estimate, ref.estimate)


class BreaksAtSecondSubmit:
    """A process pool whose worker died while the chunks were being submitted: the first
    chunk's future fails, the second submit raises (``ProcessPoolExecutor``'s race)."""

    def __init__(self):
        self.submits = 0

    def submit(self, *args, **kwargs):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        self.submits += 1
        if self.submits > 1:
            raise BrokenProcessPool("a child process terminated abruptly")
        fut = Future()
        fut.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        return fut

    def shutdown(self, wait=True, cancel_futures=False):
        pass


class DropsAFuture:
    """A process pool that broke while a chunk was being submitted and dropped its future:
    the first chunk fails, the second's future never completes (CPython < 3.12's
    ``ProcessPoolExecutor`` race: its manager thread clears the pending work without
    failing it); the pool's own ``_broken`` flag is set."""

    def __init__(self):
        self.submits = 0
        self._broken = "a child process terminated abruptly"

    def submit(self, *args, **kwargs):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        self.submits += 1
        fut = Future()
        if self.submits == 1:
            fut.set_exception(BrokenProcessPool(self._broken))
        return fut  # the second one: never completed

    def shutdown(self, wait=True, cancel_futures=False):
        pass


@pytest.mark.parametrize("pool", [BreaksAtSecondSubmit, DropsAFuture])
def test_a_pool_broken_during_submission_loses_chunks_that_are_run_again(pool, monkeypatch):
    """The chunks a broken pool lost, failed or dropped, are run again on a fresh pool. A
    dropped one is found by the wait's checks of the pool every ``BROKEN_POLL_SECONDS``:
    still pending after two checks of a broken pool, it is lost (the study hung on it
    before)."""
    from multiexpect.evaluation import executors

    monkeypatch.setattr(executors, "BROKEN_POLL_SECONDS", 0.05)
    ev = build_evaluate(point_model, vectorized=False, executor="processes", n_workers=2,
                        retries=1, chunk_size=50)
    try:
        ev.runner._ensure_payload()
        ev.runner._pool = pool()  # recover() then starts a real pool
        x = LAW2.sample(200, np.random.default_rng(1))
        out = ev(x, 0)
    finally:
        ev.close()
    np.testing.assert_array_equal(out, np.array([point_model(row) for row in x]))


class CannotImport:
    """A pool whose workers cannot load the model (a Dask worker without the study's
    module): every task fails with ``ModuleNotFoundError``; nobody dies."""

    def submit(self, *args, **kwargs):
        from concurrent.futures import Future

        fut = Future()
        fut.set_exception(ModuleNotFoundError("No module named 'mymodel'"))
        return fut

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_a_worker_that_cannot_load_the_model_is_not_reported_as_dead(monkeypatch):
    pool = CannotImport()
    ev = build_evaluate(point_model, vectorized=False, executor="processes", n_workers=2,
                        chunk_size=50)
    monkeypatch.setattr(ev.runner, "_process_pool", lambda: pool)
    try:
        with pytest.raises(me.ModelEvaluationError,
                           match=r"the executor could not run \d+ of 100 points; .*could not "
                                 r"load the model \(ModuleNotFoundError: No module named "
                                 r"'mymodel'\); make the model's module importable"):
            ev(LAW2.sample(100, np.random.default_rng(1)), 0)
    finally:
        ev.close()


def test_dask_local_cluster_equals_in_process_model_scattered_once(tmp_path):
    distributed = pytest.importorskip("distributed")
    law = tf.borehole_law()
    ref = me.expectations(tf.borehole, law, budget=2000, rng=6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        res = me.expectations(tf.borehole, law, budget=2000, rng=6,
                              executor=client.get_executor())
        # the work was done by the two worker processes, not by this one
        pids = client.run(os.getpid)
        # the model is scattered once (broadcast to both workers) and unpickled at most once
        # per worker process, however many chunks each runs
        ev = build_evaluate(tf.borehole, executor=client.get_executor())
        assert ev.runner.kind == "dask" and ev.runner.n_workers == 2
        ev.close()
        events = run_counted(client.get_executor(), tmp_path)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    np.testing.assert_array_equal(res.stderr, ref.stderr)
    assert set(events["ran"]) <= set(pids.values())
    assert_once_per_worker(events, max_workers=2)


def test_dask_model_future_is_scattered_once_per_study():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        ev = build_evaluate(smooth, executor=client.get_executor(), chunk_size=10)
        try:
            for batch in range(3):
                x = np.random.default_rng(batch).normal(size=(100, 2))
                np.testing.assert_array_equal(ev(x, batch), smooth(x))
            assert ev.runner.n_scatters == 1
            key = ev.runner._scattered.key
            assert key in client.who_has()  # held by the cluster while the study runs
            ev.runner.recover()  # a lost task: the next run scatters the model again
            np.testing.assert_array_equal(ev(x, 3), smooth(x))
            assert ev.runner.n_scatters == 2
        finally:
            ev.close()
        assert ev.runner._scattered is None  # released when the study closes


# ---------------------------------------------------------------------- bad arguments
class Counting:
    def __init__(self):
        self.n = 0

    def __call__(self, x):
        self.n += 1
        return smooth(x)


@pytest.mark.parametrize("kwargs, message", [
    ({"executor": "threads"}, r"'executor' must be None, 'processes' or a "
                              r"concurrent.futures.Executor"),
    ({"executor": "processes", "n_workers": 0}, r"'n_workers' must be a positive int, got 0"),
    ({"n_workers": 2}, r"'n_workers' applies to executor='processes' only"),
    ({"retries": -1}, r"'retries' must be an int >= 0, got -1"),
    ({"retries": 1.5}, r"'retries' must be an int >= 0, got 1.5"),
    ({"eval_chunk_size": 0}, r"'eval_chunk_size' must be an int >= 1, got 0"),
    ({"store": 3}, r"'store' must be None, a path to an SQLite file or a Store object"),
    ({"study_id": ""}, r"'study_id' must be a non-empty str"),
    ({"progress": "yes"}, r"'progress' must be True or False"),
    ({"evaluate": lambda x, b: smooth(x), "store": me.InMemoryStore()},
     r"'evaluate' replaces the model evaluation: do not combine it with executor"),
])
def test_bad_evaluation_arguments(kwargs, message, tmp_path):
    model = Counting()
    with pytest.raises(ValueError, match=message):
        me.expectations(model, LAW2, budget=200, rng=0, **kwargs)
    assert model.n == 0


class Tty:
    """A fake terminal (or, with ``tty=False``, a fake pipe) that records what is written."""

    def __init__(self, tty=True):
        self.tty = tty
        self.text = ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_is_a_no_op_without_terminal_and_draws_on_one(capsys):
    ref = me.expectations(smooth, LAW2, budget=1000, rng=1)
    res = me.expectations(smooth, LAW2, budget=1000, rng=1, progress=True)
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    assert capsys.readouterr() == ("", "")  # not a terminal under pytest

    tty = Tty()
    bar = Progress(True, total=100, stream=tty, stdout=Tty())
    assert bar.active
    bar.update(40)
    bar.note(predicted_error=0.0123)
    bar.close()
    assert "40/100" in tty.text and "predicted_error=0.0123" in tty.text
    assert not Progress(False, 100, stream=tty, stdout=Tty()).active


@pytest.mark.parametrize("stdout_tty, stderr_tty, drawn", [
    (True, True, True),     # an interactive terminal: the bar, on standard error
    (False, True, False),   # results piped or redirected (`> out.txt`): no bar at all
    (True, False, False),   # standard error to a log (`2> log`): no \r noise in the log
    (False, False, False),  # a batch job
])
def test_progress_needs_stdout_a_terminal_and_draws_on_stderr(monkeypatch, stdout_tty,
                                                               stderr_tty, drawn):
    pytest.importorskip("tqdm")
    out, err = Tty(stdout_tty), Tty(stderr_tty)
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    res = me.expectations(smooth, LAW2, budget=400, rng=1, progress=True, sampling="mc")
    ref = me.expectations(smooth, LAW2, budget=400, rng=1, sampling="mc")
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    assert out.text == ""  # never on standard output: printed results stay clean
    assert ("400/400" in err.text) is drawn
    assert (err.text == "") is not drawn


def _sleepy(x):
    import time

    time.sleep(0.2)
    return x[:, :1]


def test_abort_waits_for_the_stopped_pools_manager_thread():
    """``Runner.abort`` stops busy workers and waits for the pool's manager thread, which
    closes the pool's wake-up pipe: on Python 3.11 the interpreter's exit hook writes to
    that pipe without a lock, and a thread still closing it printed an ``OSError``
    (``Bad file descriptor``) traceback after a terminated study's one line. The thread
    must be read before ``shutdown(wait=False)``, which drops it."""
    from multiexpect.evaluation.executors import Runner

    runner = Runner(_sleepy, pointwise=False, executor="processes", n_workers=2)
    results = runner.run(((k, np.full((1, 2), float(k))) for k in range(8)), isolate=False)
    first = next(results)
    assert first[0] in range(8)
    manager = runner._pool._executor_manager_thread
    assert manager.is_alive()
    runner.abort()
    assert not manager.is_alive()
    runner.close()

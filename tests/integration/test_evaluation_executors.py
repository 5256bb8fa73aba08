"""Executors: a local process pool, dead workers, Dask, and bad arguments."""

from __future__ import annotations

import ctypes
import faulthandler
import os
from concurrent.futures import ThreadPoolExecutor
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


def test_model_is_shipped_once_per_worker():
    ev = build_evaluate(smooth, executor="processes", n_workers=2, chunk_size=10)
    try:
        x = np.random.default_rng(0).normal(size=(200, 2))
        np.testing.assert_array_equal(ev(x, 0), smooth(x))
        # the pool initializer carries the model; tasks carry only points
        assert ev.runner._pool is not None
        assert ev.runner.n_pool_restarts == 0
    finally:
        ev.close()


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
              "n_workers": 2, "eval_chunk_size": 8, "store": store, "study_id": "dying"}
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
    ref = me.expectations(point_model, LAW2, budget=400, rng=3, vectorized=False)
    np.testing.assert_array_equal(res.estimate, ref.estimate)


def test_dead_worker_retried(tmp_path):
    res = me.expectations(DiesOnce(tmp_path), LAW2, budget=400, rng=3, vectorized=False,
                          executor="processes", n_workers=2, retries=1)
    ref = me.expectations(point_model, LAW2, budget=400, rng=3, vectorized=False)
    assert any(tmp_path.iterdir())  # some workers did die
    np.testing.assert_array_equal(res.estimate, ref.estimate)


def test_dask_local_cluster_equals_in_process():
    distributed = pytest.importorskip("distributed")
    law = tf.borehole_law()
    ref = me.expectations(tf.borehole, law, budget=2000, rng=6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        res = me.expectations(tf.borehole, law, budget=2000, rng=6,
                              executor=client.get_executor())
        # the work was done by the two worker processes, not by this one
        pids = client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    np.testing.assert_array_equal(res.stderr, ref.stderr)


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


def test_progress_is_a_no_op_without_terminal_and_draws_on_one(capsys):
    ref = me.expectations(smooth, LAW2, budget=1000, rng=1)
    res = me.expectations(smooth, LAW2, budget=1000, rng=1, progress=True)
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    assert capsys.readouterr().err == ""  # not a terminal under pytest

    class Tty:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    tty = Tty()
    bar = Progress(True, total=100, stream=tty)
    assert bar.active
    bar.update(40)
    bar.note(predicted_error=0.0123)
    bar.close()
    assert "40/100" in tty.text and "predicted_error=0.0123" in tty.text
    assert not Progress(False, 100, stream=tty).active

"""Crash-safe resume: kill -9 a running study, re-run it, get the uninterrupted result."""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "resumable_study.py"


def _example():
    spec = importlib.util.spec_from_file_location("resumable_study", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stored_ok(path) -> int:
    try:
        with sqlite3.connect(path, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _stored_hashes(path) -> set[str]:
    import hashlib

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT x FROM runs WHERE status='ok'").fetchall()
    return {hashlib.sha1(r[0]).hexdigest() for r in rows}


def test_kill_9_then_resume_equals_uninterrupted(tmp_path):
    store = tmp_path / "study.sqlite"
    log1, log2 = tmp_path / "run1.log", tmp_path / "run2.log"
    # i.i.d. points: the whole budget is run (counted below)
    args = ["--store", str(store), "--budget", "4000", "--chunk", "50", "--sampling", "mc"]
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), *args, "--sleep", "0.05",
                             "--log", str(log1), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _stored_ok(store) < 800:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the study stored too few runs in 60 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    stored = _stored_hashes(store)
    n_stored = len(stored)
    assert 800 <= n_stored < 4000  # killed mid-study

    example = _example()
    resumed = example.main([*args, "--log", str(log2)])
    run2 = log2.read_text().split()
    # no stored run is evaluated again, and the rest is run exactly once
    assert not stored & set(run2)
    assert len(run2) == len(set(run2)) == 4000 - n_stored
    # the killed run lost at most the in-flight chunk, never a stored one
    run1 = log1.read_text().split()
    assert len(run1) - n_stored <= 50

    uninterrupted = example.main(["--no-store", "--budget", "4000", "--sampling", "mc"])
    assert resumed == uninterrupted  # float.hex of estimates and stderrs: bit for bit
    # a third run reads everything, runs nothing
    log3 = tmp_path / "run3.log"
    assert example.main([*args, "--log", str(log3)]) == uninterrupted
    assert not log3.exists()


class Flaky:
    """``[x0^2, x1^2 + x0]`` (means 1 and 1 under N(0, I)); when ``broken``, raises on about
    1% of the inputs (a deterministic function of the point)."""

    def __init__(self, broken: bool, calls: list):
        self.broken = broken
        self.calls = calls

    @staticmethod
    def bad(x) -> bool:
        return (abs(x[0]) * 1000.0) % 1.0 < 0.01

    def __call__(self, x):
        self.calls.append(x.tobytes())
        if self.broken and self.bad(x):
            raise ArithmeticError(f"solver diverged at x0={x[0]!r}")
        return [x[0] ** 2, x[1] ** 2 + x[0]]


LAW2 = me.Law([stats.norm(), stats.norm()])


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_failing_points_stop_then_resume_after_fix(tmp_path, kind):
    store = me.InMemoryStore() if kind == "memory" else tmp_path / "f.sqlite"
    calls: list = []
    kwargs = {"budget": 3000, "rng": 11, "vectorized": False, "store": store,
              "sampling": "mc"}
    with pytest.raises(me.ModelEvaluationError,
                       match=r"the model failed at (\d+) of 300 points; first failing input: "
                             r"\[.*\]: ArithmeticError: solver diverged at x0=.*the other "
                             r"\d+ runs of batch \d+ are in the store") as info:
        me.expectations(Flaky(True, calls), LAW2, **kwargs)
    err = info.value
    run = [np.frombuffer(c) for c in calls]  # the batches up to the failing one
    n_bad = sum(Flaky.bad(p) for p in run)
    assert len(run) % 300 == 0 and 0 < err.n_failed == n_bad
    first_bad = next(p for p in run if Flaky.bad(p))
    np.testing.assert_array_equal(err.first_input, first_bad)
    assert "solver diverged" in err.message
    opened = me.SQLiteStore(store) if kind == "sqlite" else store
    study = opened.studies()[0]
    assert opened.count_runs(study, "ok") == len(run) - n_bad
    assert opened.count_runs(study, "failed") == n_bad
    if kind == "sqlite":
        opened.close()

    fixed_calls: list = []
    res = me.expectations(Flaky(False, fixed_calls), LAW2, **kwargs)
    # the whole budget is run, but for points where the law has no practical mass
    # (engine/practical.py), which are not run
    not_run = res.diagnostics["points_not_run"]
    assert res.n_evaluations <= 3000 <= res.n_evaluations + not_run
    # only the failed points and the later batches are run
    assert len(fixed_calls) == res.n_evaluations - (len(run) - n_bad)
    assert {bytes(c) for c in fixed_calls} & {c for c in calls if not Flaky.bad(
        np.frombuffer(c))} == set()
    # unbiased: the failed points were run after the fix, not dropped
    np.testing.assert_array_less(np.abs(res.estimate - 1.0), 4 * res.stderr)
    # and equal to a study that never failed
    clean = me.expectations(Flaky(False, []), LAW2, budget=3000, rng=11, vectorized=False,
                            sampling="mc")
    np.testing.assert_array_equal(res.estimate, clean.estimate)


def test_retries_rerun_transient_failures():
    seen = set()

    def transient(x):
        key = x.tobytes()
        if key not in seen and (abs(x[0]) * 1000.0) % 1.0 < 0.05:
            seen.add(key)
            raise OSError("node lost")
        return [x[0] ** 2, x[1] ** 2 + x[0]]

    res = me.expectations(transient, LAW2, budget=2000, rng=5, vectorized=False, retries=1,
                          sampling="mc")
    clean = me.expectations(Flaky(False, []), LAW2, budget=2000, rng=5, vectorized=False,
                            sampling="mc")
    assert seen  # some points did fail once
    np.testing.assert_array_equal(res.estimate, clean.estimate)
    seen.clear()
    with pytest.raises(me.ModelEvaluationError, match=r"failed at \d+ of 200 points; first"):
        me.expectations(transient, LAW2, budget=2000, rng=5, vectorized=False, sampling="mc")


def test_nonfinite_outputs_vectorised_model_with_store():
    store = me.InMemoryStore()

    def model(x):
        out = np.column_stack([x[:, 0] ** 2, x[:, 1]])
        out[np.abs(x[:, 0]) > 2.5, 0] = np.nan
        return out

    with pytest.raises(me.ModelEvaluationError,
                       match=r"non-finite value \(NaN or inf\) at \d+ of \d+ points; first "
                             r"failing input: \[.*non-finite output \[nan, "):
        me.expectations(model, LAW2, budget=4000, rng=2, store=store, sampling="mc")
    study = store.studies()[0]
    assert store.count_runs(study, "failed") >= 1
    assert store.count_runs(study, "ok") + store.count_runs(study, "failed") >= 400

    def fixed(x):
        return np.column_stack([x[:, 0] ** 2, x[:, 1]])

    resumed = me.expectations(fixed, LAW2, budget=4000, rng=2, store=store,
                              study_id=study, sampling="mc")
    clean = me.expectations(fixed, LAW2, budget=4000, rng=2, sampling="mc")
    np.testing.assert_array_equal(resumed.estimate, clean.estimate)


def test_changed_settings_in_the_same_study_are_refused(tmp_path):
    path = tmp_path / "m.sqlite"

    def f(x):
        return x**2

    me.expectations(f, LAW2, budget=400, rng=1, store=path, study_id="mine")
    with pytest.raises(me.StoreMismatchError,
                       match=r"study 'mine' is already in the store with different settings: "
                             r".*budget: stored 400, now 500"):
        me.expectations(f, LAW2, budget=500, rng=1, store=path, study_id="mine")
    with pytest.raises(me.StoreMismatchError, match=r"seed: stored 1, now 2"):
        me.expectations(f, LAW2, budget=400, rng=2, store=path, study_id="mine")


def test_changed_settings_name_every_difference(tmp_path):
    path = tmp_path / "m.sqlite"

    def f(x):
        return x**2

    me.expectations(f, LAW2, budget=400, rng=1, store=path, study_id="mine")
    with pytest.raises(me.StoreMismatchError) as info:
        me.expectations(f, LAW2, budget=500, rng=1, store=path, study_id="mine",
                        weights="absolute")
    text = str(info.value)
    # the budget, the options it resolves (pilot and batch sizes are budget // 10) and the
    # weights are each named with the stored and the new value
    for part in ("budget: stored 400, now 500", "options.pilot_size: stored 40, now 50",
                 "options.batch_size: stored 40, now 50",
                 "weights: stored 'relative', now 'absolute'"):
        assert part in text, text
    law = me.Law([stats.norm(), stats.norm(0, 2)])
    with pytest.raises(me.StoreMismatchError, match=r"laws: stored .*, now "):
        me.expectations(f, law, budget=400, rng=1, store=path, study_id="mine")


def test_default_study_id(tmp_path):
    """The default id: the model's name + a hash of method, laws, options, seed and budget.
    The same call resumes the same study; changing one of these starts a new study in the
    same store; changing the weights is refused with the difference named."""
    path = tmp_path / "d.sqlite"
    calls = []

    def sim(x):
        calls.append(len(x))
        return np.column_stack([x[:, 0] ** 2, x[:, 1]])

    base = {"budget": 400, "rng": 1, "store": path}
    first = me.expectations(sim, LAW2, **base)
    with me.SQLiteStore(path) as store:
        (sid,) = store.studies()
        prefix = f"{sim.__qualname__}-"  # test_default_study_id.<locals>.sim-
        assert sid.startswith(prefix) and len(sid) == len(prefix) + 16
        assert me.evaluation.study_id_for(sim, store.study_settings(sid)) == sid
    # the same call: the same study, nothing run again, the same result
    calls.clear()
    again = me.expectations(sim, LAW2, **base)
    assert calls == []
    np.testing.assert_array_equal(again.estimate, first.estimate)
    # each of these starts a new study (the earlier runs stay in the file)
    changes = [{"rng": 2}, {"budget": 500}, {"pilot_size": 30}, {"method": "mc"},
               {"budget": 500, "pilot_size": 40, "batch_size": 40, "adaptation_cap": 200}]
    for change in changes:
        me.expectations(sim, LAW2, **{**base, **change})
    me.expectations(sim, me.Law([stats.norm(), stats.norm(0, 2)]), **base)
    with me.SQLiteStore(path) as store:
        ids = store.studies()
        assert len(ids) == 2 + len(changes) and all(i.startswith(prefix) for i in ids)
        # a larger budget is a new study even with the sizes fixed: the final stage's
        # chunks differ, so the runs could not be replayed
        big = [i for i in ids if store.study_settings(i)["budget"] == 500]
        assert len(big) == 2
    # the weights are not hashed: a change is reported, not silently started afresh
    with pytest.raises(me.StoreMismatchError,
                       match=r"weights: stored 'relative', now 'absolute'"):
        me.expectations(sim, LAW2, **base, weights="absolute")
    # another model name (same code) is another study
    sim2 = sim

    def other(x):
        return sim2(x)

    me.expectations(other, LAW2, **base)
    with me.SQLiteStore(path) as store:
        assert any(i.startswith(f"{other.__qualname__}-") for i in store.studies())



def test_a_lambda_with_a_store_needs_a_study_id(tmp_path):
    """Every lambda is named ``<lambda>``, and the default id keys a study by the model's
    name (so that a fixed model resumes its study): two lambdas would read each other's
    stored runs. Refused before any run, unless a study id is given."""
    path = tmp_path / "lambdas.sqlite"
    calls = []

    def record(x):
        calls.append(len(x))
        return x[:, :1] ** 2

    with pytest.raises(ValueError, match=r"'study_id' is needed .* lambda"):
        me.expectations(lambda x: record(x), LAW2, budget=300, rng=2, store=path)
    assert calls == []
    first = me.expectations(lambda x: x[:, :1] ** 2, LAW2, budget=300, rng=2, store=path,
                            study_id="square")
    second = me.expectations(lambda x: x[:, :1] ** 4, LAW2, budget=300, rng=2, store=path,
                             study_id="fourth")
    assert second.estimate[0] > 1.5 * first.estimate[0]  # E[x^4] = 3, E[x^2] = 1
    # without a store nothing is shared, so a lambda needs no id
    me.expectations(lambda x: x[:, :1], LAW2, budget=300, rng=2)


class _MustNotRun:
    """Stands for a model whose runs are all in the store: same name, never called."""

    def __init__(self, name):
        self.name = name

    def __call__(self, x):
        raise AssertionError(f"the model ran on {len(x)} points; every run is stored")


def test_sensitivity_analyses_use_executors_and_resume_from_a_store(tmp_path):
    """sobol_indices and perturbed_law_indices take the same evaluation keywords as
    expectations: a process pool gives the in-process result, and a re-run reads every run
    from the store (the model is not called)."""
    from multiexpect.testfunctions import ishigami, ishigami_law

    law = ishigami_law()
    plain = me.sobol_indices(ishigami, law, budget=3000, rng=5)
    path = tmp_path / "sobol.sqlite"
    pooled = me.sobol_indices(ishigami, law, budget=3000, rng=5, executor="processes",
                              n_workers=2, store=path)
    np.testing.assert_array_equal(pooled.first_order, plain.first_order)
    np.testing.assert_array_equal(pooled.total_order_stderr, plain.total_order_stderr)
    again = me.sobol_indices(_MustNotRun(ishigami.__qualname__), law, budget=3000, rng=5,
                             store=path)
    np.testing.assert_array_equal(again.first_order, plain.first_order)

    shifted = me.mean_shift_perturbations(law, delta=0.3)
    path = tmp_path / "pli.sqlite"
    first = me.perturbed_law_indices(ishigami, law, shifted, budget=2000, rng=6, store=path)
    replay = me.perturbed_law_indices(_MustNotRun(ishigami.__qualname__), law, shifted,
                                      budget=2000, rng=6, store=path)
    np.testing.assert_array_equal(replay.indices, first.indices)
    with me.SQLiteStore(path) as store:
        assert len(store.studies()) == 1


def _two_tails(x):
    return (np.abs(x[:, :1]) > 2.5).astype(float)


def test_extended_pilot_resumes_from_the_store(tmp_path):
    """The extra pilot chunks of an event with few hits are batches of their own: a re-run
    reads them from the store like every other batch."""
    law = me.Law([stats.norm(), stats.norm()])
    path = tmp_path / "tails.sqlite"
    first = me.expectations(_two_tails, law, budget=2000, rng=9, store=path, sampling="mc")
    assert first.history[0]["n_points"] == 600
    again = me.expectations(_MustNotRun(_two_tails.__qualname__), law, budget=2000, rng=9,
                            store=path, sampling="mc")
    np.testing.assert_array_equal(again.estimate, first.estimate)

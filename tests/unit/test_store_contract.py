"""One contract suite, run over every store implementation (in-memory and SQLite)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import multiexpect as me
from multiexpect.evaluation.store import (
    SCHEMA_VERSION,
    InMemoryStore,
    SQLiteStore,
    open_store,
    points_hash,
)

SETTINGS = {"method": "aiscv", "budget": 100, "seed": 3, "options": {"batch_size": 10,
            "family": ("t", 5)}, "laws": [{"type": "Law", "dim": 2}], "version": "0.1.0"}


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = InMemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    yield s
    s.close()


def _runs(n=5, d=2, m=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, m))


def test_study_settings_round_trip_and_mismatch(store):
    store.open_study("s1", SETTINGS)
    store.open_study("s1", dict(SETTINGS))  # same settings: resume is allowed
    assert store.studies() == ["s1"]
    assert store.study_settings("s1")["options"]["family"] == ["t", 5]
    assert store.study_settings("nope") is None
    changed = {**SETTINGS, "budget": 200, "options": {**SETTINGS["options"], "batch_size": 20}}
    with pytest.raises(me.StoreMismatchError,
                       match=r"study 's1' is already in the store with different settings: "
                             r"budget: stored 100, now 200; options.batch_size: stored 10, "
                             r"now 20"):
        store.open_study("s1", changed)
    store.open_study("s2", changed)  # another study in the same store is fine
    assert store.studies() == ["s1", "s2"]


def test_batch_hash_checked(store):
    store.open_study("s", SETTINGS)
    x, _ = _runs()
    assert store.get_batch("s", 0) is None
    rec = store.begin_batch("s", 0, x)
    assert rec.points_hash == points_hash(x) and rec.n_points == 5
    assert store.begin_batch("s", 0, x.copy()) == rec
    y = x.copy()
    y[2, 1] = np.nextafter(y[2, 1], 1.0)  # one ulp differs: not the same points
    with pytest.raises(me.StoreMismatchError, match="batch 0 in the store holds 5 different "
                                                    "points"):
        store.begin_batch("s", 0, y)
    with pytest.raises(me.StoreMismatchError, match="does not replay the same points"):
        store.begin_batch("s", 0, x[:4])


def test_floats_round_trip_exactly(store):
    store.open_study("s", SETTINGS)
    x = np.array([[1 / 3, -0.0], [5e-324, 1e308], [np.pi, -np.e]])
    y = np.array([[np.nan, np.inf], [-np.inf, 2.0**-1074], [0.1 + 0.2, 1e-300]])
    store.put_runs("s", 7, [0, 1, 2], x, y, ["failed", "failed", "ok"], ["nan", "inf", ""],
                   [0.5, 0.25, 1.0])
    got = store.load_runs("s", 7)
    assert got["x"].tobytes() == x.tobytes()
    assert got["y"].tobytes() == y.tobytes()
    assert got["status"] == ["failed", "failed", "ok"]
    assert got["error"] == ["nan", "inf", ""]
    np.testing.assert_array_equal(got["seconds"], [0.5, 0.25, 1.0])


def test_ok_records_are_immutable_failed_are_replaced(store):
    store.open_study("s", SETTINGS)
    x, y = _runs(4)
    store.put_runs("s", 1, [0, 1, 2, 3], x, y, ["ok", "failed", "ok", "failed"],
                   ["", "boom", "", "boom"], np.ones(4))
    y2 = y + 1
    store.put_runs("s", 1, [0, 1, 3], x[[0, 1, 3]], y2[[0, 1, 3]], ["failed", "ok", "failed"],
                   ["again", "", "again"], np.full(3, 2.0))
    got = store.load_runs("s", 1)
    assert got["status"] == ["ok", "ok", "ok", "failed"]
    np.testing.assert_array_equal(got["y"][0], y[0])  # ok kept
    np.testing.assert_array_equal(got["y"][1], y2[1])  # failed replaced by ok
    assert got["error"] == ["", "", "", "again"]
    assert store.count_runs("s") == 4
    assert store.count_runs("s", "ok") == 3
    assert store.count_runs("s", "failed") == 1


def test_sorted_by_index_and_failed_rows_without_outputs(store):
    store.open_study("s", SETTINGS)
    x, y = _runs(4)
    store.put_runs("s", 2, [3, 1], x[[3, 1]], y[[3, 1]], ["ok", "ok"], ["", ""], [1, 1])
    # a chunk that raised: no outputs at all (width 0)
    store.put_runs("s", 2, [2, 0], x[[2, 0]], np.empty((2, 0)), ["failed"] * 2,
                   ["RuntimeError: x"] * 2, [0, 0])
    got = store.load_runs("s", 2)
    np.testing.assert_array_equal(got["index"], [0, 1, 2, 3])
    np.testing.assert_array_equal(got["x"], x)
    assert got["y"].shape == (4, 3)
    assert np.isnan(got["y"][[0, 2]]).all()
    np.testing.assert_array_equal(got["y"][[1, 3]], y[[1, 3]])
    empty = store.load_runs("s", 99)
    assert empty["index"].size == 0 and empty["status"] == []


def test_put_runs_is_all_or_nothing(store):
    store.open_study("s", SETTINGS)
    x, y = _runs(3)
    with pytest.raises(IndexError):
        store.put_runs("s", 0, [0, 1, 2], x, y, ["ok", "ok"], ["", ""], [1, 1])
    assert store.count_runs("s") == 0


def test_studies_are_separate(store):
    store.open_study("a", SETTINGS)
    store.open_study("b", SETTINGS)
    x, y = _runs(2)
    store.put_runs("a", 0, [0, 1], x, y, ["ok"] * 2, [""] * 2, [1, 1])
    assert store.count_runs("a") == 2 and store.count_runs("b") == 0
    assert store.load_runs("b", 0)["index"].size == 0


def test_find_runs_reads_ok_runs_of_the_named_studies_by_exact_input(store):
    store.open_study("a", SETTINGS)
    store.open_study("b", SETTINGS)
    x, y = _runs(4)
    store.put_runs("a", 0, [0, 1, 2], x[:3], y[:3], ["ok", "failed", "ok"], ["", "boom", ""],
                   [1, 1, 1])
    store.put_runs("b", 3, [0], x[3:], y[3:], ["ok"], [""], [1])
    probe = np.vstack([x[2], x[0], x[1], x[3], np.nextafter(x[0], 1.0)])
    found, got = store.find_runs(["a"], probe)
    # an ok run of "a" is found; the failed one, "b"'s and a point one ulp away are not
    assert found.tolist() == [True, True, False, False, False]
    assert np.array_equal(got[:2], y[[2, 0]]) and np.isnan(got[2:]).all()
    found, _ = store.find_runs(["a", "b"], probe)
    assert found.tolist() == [True, True, False, True, False]
    found, got = store.find_runs([], probe)
    assert not found.any() and got.shape == (5, 0)


# ---------------------------------------------------------------------- SQLite only
def test_sqlite_persists_uses_wal_and_checks_schema(tmp_path):
    path = tmp_path / "p.sqlite"
    x, y = _runs(3)
    with SQLiteStore(path) as s:
        s.open_study("s", SETTINGS)
        s.begin_batch("s", 0, x)
        s.put_runs("s", 0, [0, 1, 2], x, y, ["ok"] * 3, [""] * 3, [1, 1, 1])
    with open_store(str(path)) as s:
        assert s.get_batch("s", 0).points_hash == points_hash(x)
        assert s.load_runs("s", 0)["y"].tobytes() == y.tobytes()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(me.StoreMismatchError,
                       match=rf"schema version {SCHEMA_VERSION + 1}, this version of "
                             rf"multiexpect reads version {SCHEMA_VERSION}"):
        SQLiteStore(path)


def test_open_store_argument():
    assert open_store(None) is None
    s = InMemoryStore()
    assert open_store(s) is s
    with pytest.raises(ValueError, match="'store' must be None, a path to an SQLite file or a "
                                         "Store object, got int"):
        open_store(3)

"""Evaluation-layer hardening (issue 15): output checks, chunks sized by wall time, signals
of ``multiexpect run`` and no stray process, foreign / read-only / full / corrupt stores."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.evaluation.chunking import TARGET_SECONDS, ChunkSizer

LAW = me.Law([stats.norm(), stats.norm()])
LINUX = sys.platform.startswith("linux")
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
       "PYTHONPATH": str(Path(me.__file__).resolve().parents[1])}


def tagged_processes(tag: str) -> list[int]:
    """PIDs of live processes whose environment holds ``MULTIEXPECT_TEST_TAG=tag``."""
    needle = f"MULTIEXPECT_TEST_TAG={tag}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
            with open(f"/proc/{entry}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env.split(b"\0") and state not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def wait_gone(tag: str, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    return tagged_processes(tag)


# ---------------------------------------------------------------------- outputs (item 5)
@pytest.mark.parametrize("vectorized", [True, False])
def test_complex_outputs_are_refused_at_the_first_call(vectorized):
    calls = []

    def model(x):
        calls.append(1)
        return (x[..., 0] + 1j * x[..., 1]) if vectorized else complex(x[0], x[1])

    with pytest.raises(ValueError, match=r"the model returned complex numbers"):
        me.expectations(model, LAW, budget=200, rng=0, vectorized=vectorized)
    assert len(calls) == 1  # no run after the first refused output


def test_a_model_with_no_output_column_is_refused_at_the_first_batch(tmp_path):
    calls = []

    def model(x):
        calls.append(len(x))
        return np.empty((len(x), 0))

    with pytest.raises(ValueError, match=r"the model returned no output \(shape \(\d+, 0\)\)"):
        me.expectations(model, LAW, budget=400, rng=0)
    assert len(calls) == 1
    with pytest.raises(ValueError, match=r"no output"):
        me.expectations(lambda x: np.empty(0), LAW, budget=400, rng=0, vectorized=False)
    with pytest.raises(ValueError, match="complex"):
        me.evaluation.check_outputs(np.ones((3, 1)) * 1j, np.zeros((3, 2)))


# ---------------------------------------------------------------------- chunks (item 7)
def test_chunk_sizer_grows_under_the_target_and_shrinks_above():
    sizer = ChunkSizer(None, inline=True, stored=True)
    sizes = []
    for _ in range(40):  # a model of 0.5 ms per point
        n = sizer.size(10**9, 10**9)
        sizes.append(n)
        sizer.record(n, n * 5e-4)
    assert sizes[:4] == [1, 2, 4, 8]  # doubles while far under the target
    assert sizes[-1] == int(TARGET_SECONDS / 5e-4)  # then about TARGET_SECONDS of work
    sizer.record(sizes[-1], 4 * TARGET_SECONDS)  # the model became 4x slower
    assert sizer.size(10**9, 10**9) == sizes[-1] // 4
    slow = ChunkSizer(None, inline=True, stored=True)
    for _ in range(5):  # 3 s per point: one point at a time
        slow.record(slow.size(100, 100), 3.0)
    assert slow.size(100, 100) == 1
    # a budget caps the size: at most 2% in-process, 2.5% in flight on 2 workers
    assert ChunkSizer(None, inline=True, stored=True, budget=1000).cap == 20
    pool = ChunkSizer(None, inline=False, stored=True, n_workers=2, budget=4000)
    assert pool.size(4000, 4000) == 50
    pool.record(10, 10 * 0.5)  # 0.5 s per point: 4 points make 2 s
    assert pool.size(4000, 4000) == 4
    # no store in-process: a batch is one call; a fixed size is always used
    assert ChunkSizer(None, inline=True, stored=False).size(700, 700) == 700
    assert ChunkSizer(7, inline=True, stored=True).size(700, 700) == 7


def test_in_process_chunks_with_a_store_follow_the_wall_time(tmp_path):
    calls = []

    def model(x):
        calls.append(len(x))
        time.sleep(2e-4 * len(x))
        return x ** 2

    budget = 6000
    res = me.expectations(model, LAW, budget=budget, rng=3, store=tmp_path / "s.sqlite",
                          study_id="wall")
    ref = me.expectations(lambda x: x ** 2, LAW, budget=budget, rng=3)
    np.testing.assert_array_equal(res.estimate, ref.estimate)  # only the split changed
    assert calls[:3] == [1, 2, 4]
    assert max(calls) <= budget // 50  # a kill -9 loses at most 2% of the budget
    assert len(calls) < 200  # yet few calls (and store transactions)


# ---------------------------------------------------------------------- signals (item 9)
SLOW = textwrap.dedent("""
    import json, sys, time
    v = json.load(open(sys.argv[1]))
    time.sleep(0.15)
    open(sys.argv[2], "w").write(repr(v["a"] + v["b"]))
""")

STUDY = textwrap.dedent("""
    [study]
    name = "slow"
    seed = 2
    [model]
    command = ["{python}", "{study_dir}/slow.py", "{input}", "{output}"]
    timeout = 60
    [[inputs]]
    name = "a"
    dist = "norm"
    [[inputs]]
    name = "b"
    dist = "norm"
    [expectations]
    budget = 60
    moments = [1]
    method = "mc"
""")


def _stored(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.skipif(not LINUX, reason="counts processes in /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_signals_store_finished_runs_and_leave_no_process(tmp_path, sig):
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "slow.toml").write_text(STUDY)
    store = tmp_path / "slow.sqlite"
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "multiexpect.cli.main", "run", str(tmp_path / "slow.toml"),
         "--store", str(store), "--executor", "processes", "--workers", "2", "--no-progress"],
        env={**ENV, "MULTIEXPECT_TEST_TAG": tag}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while _stored(store) < 6:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_gone(tag) == []  # no worker, no simulator left behind
    if sig == signal.SIGKILL:
        return
    err = err.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == 128 + sig, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("multiexpect: ") and "re-run the same command to resume" in last
    assert waited < 10  # stopped, not run to the end
    before = _stored(store)
    assert 6 <= before < 60
    if sig != signal.SIGTERM:
        return
    # the finished runs are stored: a re-run completes from them
    done = subprocess.run(
        [sys.executable, "-m", "multiexpect.cli.main", "run", str(tmp_path / "slow.toml"),
         "--store", str(store), "--executor", "processes", "--workers", "2",
         "--no-progress"], env=ENV, capture_output=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert f"{60 - before} new runs, {before} read from the store" in done.stderr.decode()

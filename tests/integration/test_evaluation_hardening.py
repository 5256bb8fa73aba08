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
from multiexpect.evaluation.evaluator import as_rows

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
        as_rows(np.ones((3, 1)) * 1j, 3)


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
    # a budget caps the size: at most 2% in-process, 1.25% per chunk on 2 workers
    assert ChunkSizer(None, inline=True, stored=True, budget=1000).cap == 20
    pool = ChunkSizer(None, inline=False, stored=True, n_workers=2, budget=4000)
    assert pool.size(4000, 4000) == 25
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
    time.sleep(0.3)
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


def _default_signals() -> None:
    """In the study's child, before exec: SIGINT and SIGTERM to their default action.

    A program started with a signal ignored keeps it ignored (as a shell's background job
    must), and Python then installs no KeyboardInterrupt handler: the study must not inherit
    the test process's dispositions (twice in a loaded full suite a study ran on to its end
    after SIGINT, exit 0, no traceback: what an ignored SIGINT does)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _signal_mask(pid: int, field: str) -> int:
    """A signal set of process ``pid`` from /proc (``SigIgn``, ``SigCgt``, ...)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    return 0


@pytest.mark.skipif(not LINUX, reason="counts processes in /proc")
@pytest.mark.parametrize("sig, executor", [(signal.SIGTERM, "processes"),
                                           (signal.SIGINT, "processes"),
                                           (signal.SIGKILL, "processes"),
                                           (signal.SIGTERM, None)])
def test_signals_store_finished_runs_and_leave_no_process(tmp_path, sig, executor):
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "slow.toml").write_text(STUDY)
    store = tmp_path / "slow.sqlite"
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "multiexpect.cli.main", "run", str(tmp_path / "slow.toml"),
         "--store", str(store), "--no-progress",
         *(["--executor", "processes", "--workers", "2"] if executor else [])],
        env={**ENV, "MULTIEXPECT_TEST_TAG": tag, "PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=tmp_path, preexec_fn=_default_signals)
    try:
        deadline = time.monotonic() + 60
        while _stored(store) < 6:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # 60 runs of 0.3 s take 9 s on two workers: a test process starved that long (a
        # loaded machine) would signal a finished study, which Popen silently skips
        assert proc.poll() is None, "the study ended before the signal was sent"
        ignored = _signal_mask(proc.pid, "SigIgn")
        assert not ignored & (1 << (sig - 1)), f"the study ignores {sig!r} (SigIgn {ignored:x})"
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # show where it hangs (faulthandler on SIGABRT)
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"no exit 30 s after {sig!r}: {err.decode()[-4000:]}") from None
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_gone(tag) == []  # no worker, no simulator left behind
    if sig == signal.SIGKILL:
        return
    err = err.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == 128 + sig, (err, signal.getsignal(signal.SIGINT))
    last = err.strip().splitlines()[-1]
    assert last.startswith("multiexpect: ") and "re-run the same command to resume" in last
    assert waited < 10  # stopped, not run to the end
    before = _stored(store)
    assert 6 <= before < 60
    if sig != signal.SIGTERM or executor is None:
        return
    # the finished runs are stored: a re-run completes from them
    done = subprocess.run(
        [sys.executable, "-m", "multiexpect.cli.main", "run", str(tmp_path / "slow.toml"),
         "--store", str(store), "--executor", "processes", "--workers", "2",
         "--no-progress"], env=ENV, capture_output=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert f"{60 - before} new runs, {before} read from the store" in done.stderr.decode()


MASKED = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np
    from scipy import stats
    import multiexpect as me

    def model(x):  # a simulator library that blocks SIGTERM in the thread calling it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        open(sys.argv[1] + f".{os.getpid()}", "w").close()
        time.sleep(300)
        return x[:, 0]

    me.expectations(model, me.Law([stats.norm()]), budget=200, method="mc", rng=1,
                    executor="processes", n_workers=2)
""")


@pytest.mark.skipif(not LINUX, reason="counts processes in /proc")
def test_workers_whose_main_thread_blocks_sigterm_still_follow_a_killed_study(tmp_path):
    """The parent-death signal needs the worker's main thread to take SIGTERM; a worker
    whose model blocks it must still end, by its watchdog thread, soon after the study."""
    (tmp_path / "masked.py").write_text(MASKED)
    tag = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, str(tmp_path / "masked.py"),
                             str(tmp_path / "started")],
                            env={**ENV, "MULTIEXPECT_TEST_TAG": tag},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("started.*"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers did not start in 60 s"
            time.sleep(0.05)
        workers = [int(p.suffix[1:]) for p in tmp_path.glob("started.*")]
        assert set(workers) <= set(tagged_processes(tag))
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_gone(tag, seconds=5.0) == []


# ---------------------------------------------------------------------- stores (items 14, 15)
ISHIGAMI = textwrap.dedent("""
    [study]
    name = "ishi"
    seed = 5
    [model]
    python = "multiexpect.testfunctions:ishigami"
    [[inputs]]
    name = "x1"
    dist = "uniform"
    params = { loc = -3.141592653589793, scale = 6.283185307179586 }
    [[inputs]]
    name = "x2"
    dist = "uniform"
    params = { loc = -3.141592653589793, scale = 6.283185307179586 }
    [[inputs]]
    name = "x3"
    dist = "uniform"
    params = { loc = -3.141592653589793, scale = 6.283185307179586 }
    [expectations]
    budget = 3000
    moments = [1, 2]
    exceedance = [5.0]
""")


def cli(argv, capsys):
    from multiexpect.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_exit_2(code, err, pattern):
    import re

    assert code == 2, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert re.search(pattern, lines[-1]), lines[-1]
    return lines[-1]


def _foreign(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT, balance REAL)")
    conn.execute("INSERT INTO customers VALUES ('ada', 12.5)")
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path, capsys):
    from multiexpect.errors import StoreError

    path = tmp_path / "theirs.sqlite"
    original = _foreign(path)
    calls = []

    def model(x):
        calls.append(1)
        return x[:, 0]

    with pytest.raises(StoreError, match=r"theirs\.sqlite is an SQLite database of another "
                                         r"application \(tables: customers\)"):
        me.SQLiteStore(path)
    with pytest.raises(StoreError, match="another application"):
        me.expectations(model, LAW, budget=100, rng=0, store=path, study_id="s")
    assert calls == []
    (tmp_path / "ishi.toml").write_text(ISHIGAMI)
    code, _, err = cli(["run", tmp_path / "ishi.toml", "--store", path, "--no-progress"],
                       capsys)
    one_line_exit_2(code, err, r"--store: .*another application")
    # nothing written: same bytes, no -wal file, journal mode unchanged
    assert path.read_bytes() == original
    assert not Path(str(path) + "-wal").exists()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["customers"]
    conn.close()


def _results(path: Path) -> list:
    import json

    doc = json.loads(path.read_text())
    return [a["main"]["result"]["estimate"] for a in doc["analyses"]]


def test_disk_full_is_one_line_exit_2_and_resume_is_bit_identical(tmp_path, capsys,
                                                                   monkeypatch):
    study = tmp_path / "ishi.toml"
    study.write_text(ISHIGAMI)
    code, _, err = cli(["run", study, "--store", tmp_path / "ref.sqlite", "--no-progress"],
                       capsys)
    assert code == 0, err
    connect = sqlite3.connect

    def small_disk(*args, **kwargs):  # the store's file may not grow beyond 12 pages
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA max_page_count=12")
        return conn

    monkeypatch.setattr(sqlite3, "connect", small_disk)
    store = tmp_path / "full.sqlite"
    code, _, err = cli(["run", study, "--store", store, "--no-progress"], capsys)
    one_line_exit_2(code, err, r"multiexpect: error: the store .*full\.sqlite: database or "
                               r"disk is full \(the runs stored so far are kept: free some "
                               r"space and re-run")
    monkeypatch.setattr(sqlite3, "connect", connect)
    with sqlite3.connect(store) as conn:
        kept = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert 0 < kept < 3000
    code, _, err = cli(["run", study, "--store", store, "--no-progress"], capsys)
    assert code == 0, err
    assert f"{kept} read from the store" in err
    assert _results(tmp_path / "full.results.json") == _results(tmp_path / "ref.results.json")


def test_a_damaged_store_is_one_line_exit_2(tmp_path, capsys):
    study = tmp_path / "ishi.toml"
    study.write_text(ISHIGAMI)
    store = tmp_path / "s.sqlite"
    assert cli(["run", study, "--store", store, "--no-progress"], capsys)[0] == 0
    data = bytearray(store.read_bytes())
    half = len(data) // 8192 * 4096  # the second half of the pages (runs) overwritten
    data[half:] = os.urandom(len(data) - half)
    store.write_bytes(bytes(data))
    code, _, err = cli(["run", study, "--store", store, "--no-progress"], capsys)
    one_line_exit_2(code, err, r"s\.sqlite.*(malformed|not a database)")
    data[4096:] = os.urandom(len(data) - 4096)  # every page but the first overwritten
    store.write_bytes(bytes(data))
    code, _, err = cli(["run", study, "--store", store, "--no-progress"], capsys)
    one_line_exit_2(code, err, r"s\.sqlite.*(malformed|not a database)")
    garbage = tmp_path / "g.sqlite"
    garbage.write_bytes(os.urandom(8192))
    code, _, err = cli(["run", study, "--store", garbage, "--no-progress"], capsys)
    one_line_exit_2(code, err, r"--store: .*g\.sqlite is not a multiexpect store")


def _read_only_runner(folder: Path):
    """A prefix running a command with ``folder`` read-only, or None when impossible: root
    bind-mounts it read-only in a private mount namespace (chmod does not stop root);
    another user gets it chmod-ed."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    script = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
              f'exec "$@"')
    return ["unshare", "-m", "sh", "-c", script, "sh"]


READ_BACK = textwrap.dedent("""
    import sys
    import numpy as np
    from scipy import stats
    import multiexpect as me
    calls = []
    def model(x):
        calls.append(len(x))
        return np.column_stack([x[:, 0] ** 2, x[:, 1]])
    law = me.Law([stats.norm(), stats.norm()])
    res = me.expectations(model, law, budget=300, rng=9, store=sys.argv[1], study_id="done")
    print(res.estimate[0].hex(), res.estimate[1].hex(), len(calls))
""")


@pytest.mark.skipif(not LINUX, reason="needs a read-only mount or chmod")
def test_a_finished_store_on_a_read_only_file_system_is_read(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "done.sqlite"
    script = tmp_path / "read_back.py"
    script.write_text(READ_BACK)
    first = subprocess.run([sys.executable, str(script), str(store)], env=ENV,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    (tmp_path / "ishi.toml").write_text(ISHIGAMI)
    prefix = _read_only_runner(folder)
    if prefix is None:
        pytest.skip("cannot make a read-only folder here")
    if prefix == []:
        folder.chmod(0o555)
        store.chmod(0o444)
    try:
        again = subprocess.run([*prefix, sys.executable, str(script), str(store)], env=ENV,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        estimate = first.stdout.split()[:2]
        assert again.stdout.split() == [*estimate, "0"]  # read back, nothing run
        # a study the store does not hold: a clear one-line error, not a traceback
        other = subprocess.run(
            [*prefix, sys.executable, "-m", "multiexpect.cli.main", "run",
             str(tmp_path / "ishi.toml"), "--store", str(store), "--no-progress"],
            env=ENV, capture_output=True, text=True, timeout=120)
        assert other.returncode == 2, other.stderr
        assert "Traceback" not in other.stderr
        # the CLI checks its output paths (the results file beside the store) first
        assert other.stderr.strip().splitlines()[-1].endswith("/ro is not writable")
        assert "not a multiexpect store" not in other.stderr
    finally:
        folder.chmod(0o755)

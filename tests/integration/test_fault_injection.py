"""Fault injection: a stored study killed (SIGKILL) at random moments, then resumed.

Four configurations: a model of 1 ms per point (budget 2000) and one of 200 ms per point
(budget 60), each in-process and on a 2-worker process pool. In each, the study is started,
killed with SIGKILL once the store holds a random share of the budget (drawn uniformly in
[3%, 90%], sorted) plus a random delay of up to one chunk's time, and started again from the
store the killed run left; the kills are chained, so every run after the first is a resume,
and the last one runs to the end. Checked for every kill:

* no run already stored is run again, and the runs made but lost (run by the killed process,
  absent from the store) are at most 5% of the budget;
* no process of the killed study is left alive (its process group is counted in /proc
  after the kill: the pool's workers must follow their parent);

and at the end the result equals, bit for bit, the uninterrupted one.

The kills per configuration are the issue's 20 (``MULTIEXPECT_FAULT_KILLS`` changes it):
chained, and each study forked from a launcher that imported the library once, they cost
little more than one uninterrupted study each (the whole file: 74 s on two cores loaded by
other jobs, 53 s with 3 kills).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
KILLS = int(os.environ.get("MULTIEXPECT_FAULT_KILLS", "20"))

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="forks and counts processes in /proc")


def _module():
    spec = importlib.util.spec_from_file_location("fault_study", HERE / "fault_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Launcher:
    """The forking launcher of ``fault_study.py`` (one per test)."""

    def __init__(self):
        import multiexpect

        # the multiexpect this test imported, and one BLAS thread (workers run side by side)
        path = [str(Path(multiexpect.__file__).resolve().parents[1]),
                os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in path if p)}
        self.proc = subprocess.Popen([sys.executable, str(HERE / "fault_study.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)

    def ask(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the launcher died"
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _stored_hashes(store: Path, module) -> set[str]:
    if not store.exists():
        return set()
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30) as conn:
        try:
            rows = conn.execute("SELECT x FROM runs WHERE status='ok'").fetchall()
        except sqlite3.OperationalError:
            return set()
    return {module.point_hash(np.frombuffer(r[0], dtype=np.float64)) for r in rows}


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(entry))
    return alive


def _describe(pid: int) -> str:
    """What ``/proc`` says of a process left alive (state, parent, signal masks, threads,
    where it sleeps), for the failure message."""
    keep = ("State", "PPid", "Threads", "SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd")
    try:
        with open(f"/proc/{pid}/status") as fh:
            lines = [ln.strip() for ln in fh if ln.split(":")[0] in keep]
        with open(f"/proc/{pid}/wchan") as fh:
            lines.append(f"wchan: {fh.read()}")
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        lines.append(f"cmdline: {cmdline}")
    except OSError as exc:
        lines = [str(exc)]
    return f"{pid} ({'; '.join(lines)})"


CONFIGS = {
    "1ms-in-process": dict(seconds=0.001, executor=None, budget=2000, jitter=0.05),
    "1ms-2-workers": dict(seconds=0.001, executor="processes", budget=2000, jitter=0.05),
    "200ms-in-process": dict(seconds=0.2, executor=None, budget=100, jitter=0.3),
    "200ms-2-workers": dict(seconds=0.2, executor="processes", budget=100, jitter=0.3),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_random_kills_lose_little_and_resume_bit_for_bit(tmp_path, name):
    cfg = CONFIGS[name]
    module = _module()
    budget = cfg["budget"]
    reference = module.study(budget=budget)  # uninterrupted, in this process, no store
    rng = np.random.default_rng(list(CONFIGS).index(name))
    targets = np.sort(rng.uniform(0.03, 0.9, KILLS)) * budget
    store = tmp_path / "study.sqlite"
    launcher = Launcher()
    report = []
    ended = False
    try:
        for i, target in enumerate(targets):
            log, out = tmp_path / f"run{i}.log", tmp_path / f"out{i}.json"
            before = _stored_hashes(store, module)
            args = dict(budget=budget, seconds=cfg["seconds"], store=str(store),
                        executor=cfg["executor"], log=str(log))
            pid = launcher.ask(op="run", args=args, out=str(out))["pid"]
            deadline = time.monotonic() + 120
            while _stored(store) < target and not out.exists():
                assert time.monotonic() < deadline, f"{name}: no progress in 120 s"
                time.sleep(0.01)
            time.sleep(rng.uniform(0, cfg["jitter"]))
            os.kill(pid, signal.SIGKILL)
            status = launcher.ask(op="wait", pid=pid)["status"]
            assert out.exists() or status == -signal.SIGKILL, f"{name}: exit {status}"
            left = _group(pid)
            deadline = time.monotonic() + 10
            while _group(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            rest = _group(pid)
            assert rest == [], (f"{name}: processes left after kill {i}: {left}; still alive "
                                f"after 10 s: {[_describe(p) for p in rest]}")
            after = _stored_hashes(store, module)
            ran = log.read_text().split() if log.exists() else []
            assert not before & set(ran), f"{name}: a stored run was run again"
            assert len(ran) == len(set(ran))
            lost = len(ran) - len(after - before)
            report.append((round(float(target)), len(ran), lost, len(left)))
            assert 0 <= lost <= 0.05 * budget, f"{name}: kill {i} lost {lost} runs: {report}"
            if out.exists():  # the study ended before this kill: nothing left to kill
                ended = True
                break
        # a kill lands in a running study (not after its end), but perhaps the last one
        assert len(report) - ended >= KILLS - 1, f"{name}: too few kills: {report}"
        final_out = tmp_path / "final.json"
        final_log = tmp_path / "final.log"
        before = _stored_hashes(store, module)
        pid = launcher.ask(op="run", args=dict(budget=budget, seconds=cfg["seconds"],
                                               store=str(store), executor=cfg["executor"],
                                               log=str(final_log)), out=str(final_out))["pid"]
        assert launcher.ask(op="wait", pid=pid)["status"] == 0
        ran = final_log.read_text().split() if final_log.exists() else []
        # every run the study makes (its budget, less the points where the law has no
        # practical mass, engine/practical.py) is made once
        assert not before & set(ran) and len(ran) == reference["n_evaluations"] - len(before)
    finally:
        launcher.close()
    assert json.loads(final_out.read_text()) == reference, report
    print(f"{name}: (kill at stored runs, runs made, runs lost, group size at kill): "
          f"{report}")

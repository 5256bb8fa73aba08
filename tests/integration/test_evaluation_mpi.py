"""MPI: ``mpiexec -n 3 python -m mpi4py.futures examples/mpi_study.py`` (1 study + 2 workers),
and ``tests/integration/mpi_unpickles.py`` (the model is unpickled once per worker).

Needs Open MPI (``apt-get install openmpi-bin libopenmpi-dev``, which ``scripts/test.sh``
installs when missing) and mpi4py; skipped, and reported as skipped, without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_under_mpi(script: Path, *args: str) -> dict:
    """``mpiexec -n 3 python -m mpi4py.futures script args``; the last line of its output,
    parsed as JSON."""
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("mpiexec not found (apt-get install openmpi-bin)")
    env = dict(os.environ)
    argv = [mpiexec, "-n", "3"]
    if "mpich" not in subprocess.run([mpiexec, "--version"], capture_output=True,
                                     text=True).stdout.lower():
        argv.append("--oversubscribe")  # Open MPI: 3 processes on fewer cores
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    proc = subprocess.run([*argv, sys.executable, "-m", "mpi4py.futures", str(script),
                           *args], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mpi_pool_executor_equals_in_process():
    out = _run_under_mpi(ROOT / "examples" / "mpi_study.py")
    assert out["workers"] == 2
    assert len(out["worker_pids"]) == 2 and out["study_pid"] not in out["worker_pids"]
    assert out["equal"], out


def test_mpi_workers_unpickle_the_model_once(tmp_path):
    out = _run_under_mpi(Path(__file__).with_name("mpi_unpickles.py"), str(tmp_path))
    assert out["equal"] and out["workers"] == 2
    events = {k: {} for k in ("pickled", "unpickled", "ran")}
    for path in tmp_path.iterdir():
        what, pid = path.name.rsplit("-", 1)
        events[what][int(pid)] = len(path.read_text())
    study = out["study_pid"]
    assert events["pickled"] == {study: 1}, events  # pickled once, by the study process
    ran = set(events["ran"])
    assert study not in ran and 1 <= len(ran) <= 2, events
    assert sum(events["ran"].values()) == 60  # 3 batches x 20 chunks
    # the bytes travel with each task, but each worker unpickles them once
    assert events["unpickled"] == {pid: 1 for pid in ran}, events

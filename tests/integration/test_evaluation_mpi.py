"""MPI: ``mpiexec -n 3 python -m mpi4py.futures examples/mpi_study.py`` (1 study + 2 workers).

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


def test_mpi_pool_executor_equals_in_process():
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
    proc = subprocess.run([*argv, sys.executable, "-m", "mpi4py.futures",
                           str(ROOT / "examples" / "mpi_study.py")],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["workers"] == 2
    assert len(out["worker_pids"]) == 2 and out["study_pid"] not in out["worker_pids"]
    assert out["equal"], out

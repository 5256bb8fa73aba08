"""Run under MPI by ``test_evaluation_mpi.py``: how many times each worker unpickles the model.

    mpiexec -n 3 python -m mpi4py.futures tests/integration/mpi_unpickles.py LOGDIR

Runs 3 batches of 200 points in chunks of 10 (60 tasks) on the MPI workers with a model that
logs each pickle, unpickle and chunk run per process (``<what>-<pid>`` files in LOGDIR), and
prints the study's pid and whether the outputs were right, as JSON.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from mpi4py.futures import MPIPoolExecutor

from multiexpect.evaluation import build_evaluate


def smooth(x):
    return np.column_stack([x[:, 0] ** 2, np.exp(0.3 * x[:, 1]), x[:, 0] * x[:, 1]])


class UnpickleCounter:  # defined in __main__: cloudpickle ships it by value
    def __init__(self, folder):
        self.folder = folder

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


def main(folder: str) -> None:
    ok = True
    with MPIPoolExecutor() as pool:
        ev = build_evaluate(UnpickleCounter(folder), executor=pool, chunk_size=10)
        try:
            for batch in range(3):
                x = np.random.default_rng(batch).normal(size=(200, 2))
                ok &= bool(np.array_equal(ev(x, batch), smooth(x)))
        finally:
            ev.close()
        workers = pool.num_workers
    print(json.dumps({"study_pid": os.getpid(), "workers": workers, "equal": ok}))


if __name__ == "__main__":
    main(sys.argv[1])

"""A study whose model runs on MPI processes, through ``mpi4py.futures.MPIPoolExecutor``.

Start it with one MPI process for the study and the others as workers::

    mpiexec -n 3 python -m mpi4py.futures examples/mpi_study.py

(as root add ``--allow-run-as-root``; with more processes than cores add
``--oversubscribe``). It prints the estimates, those of the same study run in-process, and
whether they are equal (they are, bit for bit: the seed fixes every point).
"""

from __future__ import annotations

import json
import os

import numpy as np
from mpi4py.futures import MPIPoolExecutor

import multiexpect as me
from multiexpect import testfunctions as tf


def main() -> dict:
    law = tf.borehole_law()
    with MPIPoolExecutor() as pool:
        workers = pool.num_workers
        res = me.expectations(tf.borehole, law, budget=2000, rng=6, executor=pool,
                              eval_chunk_size=50)
        ranks = sorted(set(pool.map(_whoami, range(4 * workers))))
    ref = me.expectations(tf.borehole, law, budget=2000, rng=6)
    out = {"workers": workers, "worker_pids": ranks, "study_pid": os.getpid(),
           "estimate": res.estimate.tolist(), "in_process": ref.estimate.tolist(),
           "equal": bool(np.array_equal(res.estimate, ref.estimate)
                         and np.array_equal(res.stderr, ref.stderr))}
    print(json.dumps(out))
    return out


def _whoami(_):
    return os.getpid()


if __name__ == "__main__":
    main()

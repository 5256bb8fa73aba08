"""A study you can kill and resume: every model run is kept in an SQLite store.

Run it, kill it (Ctrl-C, ``kill -9``, pull the plug), run the same command again: the runs
already in the store are read, not run again, and the final estimates are exactly those of a
run that was never interrupted::

    python examples/resumable_study.py --store study.sqlite --sleep 0.05 &
    sleep 3; kill -9 %1
    python examples/resumable_study.py --store study.sqlite --sleep 0.05
    python examples/resumable_study.py --no-store            # the same numbers, no store

The "simulator" is cheap (three moments of a 4-input function) and sleeps ``--sleep`` seconds
per call to look expensive. ``--log FILE`` appends one line per model run (a hash of its
input), so you can check that no stored run is run twice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np
from scipy import stats

import multiexpect as me


class Simulator:
    """A stand-in for an expensive simulator: (n, 4) inputs -> (n, 3) outputs."""

    def __init__(self, sleep: float = 0.0, log: str | None = None):
        self.sleep = sleep
        self.log = log

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.log:
            with open(self.log, "a") as fh:
                fh.writelines(hashlib.sha1(row.tobytes()).hexdigest() + "\n" for row in x)
        time.sleep(self.sleep)
        return np.column_stack([x[:, 0] ** 2, np.exp(0.5 * x[:, 1]), x[:, 2] * x[:, 3] + 1.0])


def law() -> me.Law:
    return me.Law([stats.norm(0, 1), stats.norm(0, 1), stats.uniform(0, 2), stats.gumbel_r()])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="study.sqlite", help="SQLite file of the runs")
    parser.add_argument("--no-store", action="store_true", help="keep no runs")
    parser.add_argument("--budget", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per model call")
    parser.add_argument("--chunk", type=int, default=50, help="points per stored chunk")
    parser.add_argument("--log", default=None, help="append one line per model run")
    parser.add_argument("--executor", choices=["none", "processes"], default="none")
    parser.add_argument("--json", action="store_true", help="print exact results as JSON")
    parser.add_argument("--sampling", choices=["mc", "rqmc", "auto"], default=None,
                        help="the points (default: the method's, 'auto' for aiscv)")
    args = parser.parse_args(argv)
    res = me.expectations(
        Simulator(args.sleep, args.log), law(), budget=args.budget, rng=args.seed,
        store=None if args.no_store else args.store,
        eval_chunk_size=None if args.no_store else args.chunk,
        executor=None if args.executor == "none" else args.executor,
        n_workers=2 if args.executor == "processes" else None, sampling=args.sampling,
        names=["E[X1^2]", "E[exp(X2/2)]", "E[X3 X4 + 1]"])
    out = {"estimate": [float(v).hex() for v in res.estimate],
           "stderr": [float(v).hex() for v in res.stderr],
           "n_evaluations": int(res.n_evaluations)}
    if args.json:
        print(json.dumps(out))
    else:
        print(res.summary() if hasattr(res, "summary") else res)
    return out


if __name__ == "__main__":
    main()

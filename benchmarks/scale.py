"""Evaluation at scale: a 10^6-run study, and the speed-up of a 2-worker process pool.

Each case runs in a fresh Python process so that its peak memory (``ru_maxrss``) is its own::

    python benchmarks/scale.py                 # every case, a table at the end
    python benchmarks/scale.py --case big      # one case

Cases
-----
big
    budget 10^6, J = 100 quantities, d = 10 inputs, a cheap vectorised model, in-process,
    no store: time and peak memory (the final stage streams in chunks).
big-capped
    the same with the adaptive phase bounded explicitly (``batch_size=20_000``,
    ``adaptation_cap=100_000``, ``chunk_size=20_000``; since cbd55f6 these are the defaults
    at this budget): the engine keeps every adaptive point's outputs and densities, so the
    adaptive phase, not the streamed final stage, sets the peak memory.
big-capped-store
    ``big-capped`` with every run written to an SQLite store (one transaction per chunk).
sleep-1 / sleep-2
    a model sleeping 10 ms per point (budget 1000), in-process vs ``executor="processes",
    n_workers=2``: the speed-up is ``time(sleep-1) / time(sleep-2)``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy import stats

D, J = 10, 100
CASES = ("sleep-1", "sleep-2", "big-capped", "big-capped-store", "big")
SLEEP_BUDGET = 1000


class Cheap:
    """``exp(0.1 x A)``: (n, 10) -> (n, 100), a fixed random (10, 100) matrix ``A``."""

    def __init__(self):
        self.a = np.random.default_rng(0).normal(size=(D, J))

    def __call__(self, x):
        return np.exp(0.1 * (x @ self.a))


class Sleepy:
    """Sleeps 10 ms per point (a stand-in for a slow simulator)."""

    def __call__(self, x):
        time.sleep(0.01 * x.shape[0])
        return np.column_stack([x[:, 0] ** 2, np.exp(0.3 * x[:, 1])])


def run_case(case: str) -> dict:
    import multiexpect as me

    start = time.perf_counter()
    if case.startswith("big"):
        law = me.Law([stats.norm()] * D)
        kwargs = {}
        tmp = None
        if case.startswith("big-capped"):
            kwargs = {"batch_size": 20_000, "adaptation_cap": 100_000, "chunk_size": 20_000}
        if case == "big-capped-store":
            tmp = tempfile.mkdtemp()
            kwargs["store"] = os.path.join(tmp, "big.sqlite")
        res = me.expectations(Cheap(), law, budget=10**6, rng=1, **kwargs)
        extra = {"n_evaluations": int(res.n_evaluations),
                 "max_rel_stderr": float(np.max(res.stderr / np.abs(res.estimate)))}
        if tmp:
            extra["store_MiB"] = os.path.getsize(kwargs["store"]) / 2**20
    else:
        law = me.Law([stats.norm(), stats.norm()])
        workers = int(case.split("-")[1])
        kwargs = {"executor": "processes", "n_workers": workers} if workers > 1 else {}
        res = me.expectations(Sleepy(), law, budget=SLEEP_BUDGET, rng=1, **kwargs)
        extra = {"n_evaluations": int(res.n_evaluations),
                 "estimate": [float(v).hex() for v in res.estimate]}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    return {"case": case, "seconds": seconds, "peak_MiB": peak, **extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=CASES)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    rows = []
    for case in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True,
                             text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    by = {r["case"]: r for r in rows}
    print()
    print(f"{'case':<10} {'seconds':>9} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['case']:<10} {r['seconds']:>9.2f} {r['peak_MiB']:>9.0f}")
    speedup = by["sleep-1"]["seconds"] / by["sleep-2"]["seconds"]
    same = by["sleep-1"]["estimate"] == by["sleep-2"]["estimate"]
    print(f"2-worker speed-up on the 10 ms/point model: {speedup:.2f}x "
          f"(estimates identical: {same})")


if __name__ == "__main__":
    main()

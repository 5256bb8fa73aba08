"""The engine's own cost: wall time of aISCV beside crude MC on cheap models, in one process.

    python benchmarks/engine_cost.py                  # every case
    python benchmarks/engine_cost.py --case laws100   # one case
    python benchmarks/engine_cost.py --profile gauss  # cProfile of one aISCV run

Cases (the goals of issue 14 in brackets):

gauss
    Gaussian moments ``x^(2j)``, ``j = 1..10``, one N(0, 1) input, budget 2·10^4
    [aISCV <= 5x crude MC's wall time].
laws100
    the cantilever beam under its 100 laws, budget 2·10^4, absolute weights [<= 0.5 s a run].
big
    ``exp(0.1 x A)``, d = 10, J = 100 outputs, budget 10^6 (``benchmarks/scale.py``'s model)
    [<= 15 s beside the model's time].

Times (wall and process CPU: on a shared machine the CPU time is the steadier figure) are
the medians of ``--reps`` runs (seeds 1, 2, ...); the model's own time is measured by
wrapping it.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf


class Timed:
    """A vectorised model that adds up its own wall time."""

    def __init__(self, model):
        self.model, self.seconds = model, 0.0

    def __call__(self, x):
        start = time.perf_counter()
        out = self.model(x)
        self.seconds += time.perf_counter() - start
        return out


def _gauss():
    j = np.arange(1, 11)
    return (lambda x: x[:, [0]] ** (2 * j)), me.Law([stats.norm(0, 1)]), 20_000, {}


def _laws100():
    laws, _ = tf.cantilever_laws()
    return tf.cantilever_beam, laws, 20_000, {"weights": "absolute"}


def _big():
    a = np.random.default_rng(0).normal(size=(10, 100))
    return (lambda x: np.exp(0.1 * (x @ a))), me.Law([stats.norm()] * 10), 10**6, {}


CASES = {"gauss": _gauss, "laws100": _laws100, "big": _big}


def measure(name: str, reps: int) -> dict:
    model, law, budget, kwargs = CASES[name]()
    row = {"case": name, "budget": budget}
    for method in ("mc", "aiscv"):
        times, cpu, model_times = [], [], []
        for seed in range(1, reps + 1):
            timed = Timed(model)
            start, start_cpu = time.perf_counter(), time.process_time()
            me.expectations(timed, law, budget=budget, method=method, rng=seed, **kwargs)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            model_times.append(timed.seconds)
        row[method] = float(np.median(times))
        row[method + "_cpu"] = float(np.median(cpu))
        row[method + "_model"] = float(np.median(model_times))
    row["ratio"] = row["aiscv"] / row["mc"]
    row["cpu_ratio"] = row["aiscv_cpu"] / row["mc_cpu"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", choices=sorted(CASES))
    args = parser.parse_args()
    if args.profile:
        model, law, budget, kwargs = CASES[args.profile]()
        cProfile.runctx("me.expectations(model, law, budget=budget, rng=1, **kwargs)",
                        globals(), {"me": me, "model": model, "law": law, "budget": budget,
                                    "kwargs": kwargs}, "/tmp/engine_cost.prof")
        pstats.Stats("/tmp/engine_cost.prof").sort_stats("cumulative").print_stats(30)
        return
    print(f"{'case':8s} {'budget':>8s} {'mc s':>8s} {'cpu':>8s} {'(model)':>8s} "
          f"{'aiscv s':>8s} {'cpu':>8s} {'(model)':>8s} {'ratio':>6s} {'cpu':>6s}")
    for name in args.case or list(CASES):
        r = measure(name, args.reps)
        print(f"{r['case']:8s} {r['budget']:8d} {r['mc']:8.3f} {r['mc_cpu']:8.3f} "
              f"{r['mc_model']:8.3f} {r['aiscv']:8.3f} {r['aiscv_cpu']:8.3f} "
              f"{r['aiscv_model']:8.3f} {r['ratio']:6.1f} {r['cpu_ratio']:6.1f}")


if __name__ == "__main__":
    main()

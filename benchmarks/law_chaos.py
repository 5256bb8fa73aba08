"""The law route's chaos control (``engine/law_chaos.py``) against plain RQMC of the law.

A smooth model of three uniforms that no polynomial reproduces,
``exp(x_1) sin(3 x_2) + x_3 / (1 + x_1)`` and ``sqrt(1 + x_1 x_2 x_3)`` (the model of
``tests/statistical/test_law_chaos_coverage.py``), the defaults (the control) and
``surrogate=None`` (plain RQMC of the law, the same nets) on the same seeds: MSE per
quantity, coverage of the 95% intervals, mean ``z`` of the estimates' mean, the share of
studies that controlled each quantity, seconds a study.

    cd benchmarks && python -W ignore law_chaos.py --reps 200 --budget 2000
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import time

import numpy as np
from scipy import integrate, stats

import multiexpect as me

LAW = me.Law([stats.uniform(0, 1)] * 3)


def model(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.exp(x[:, 0]) * np.sin(3 * x[:, 1]) + x[:, 2] / (1 + x[:, 0]),
                            np.sqrt(1 + x[:, 0] * x[:, 1] * x[:, 2])])


def truth() -> np.ndarray:
    second = integrate.tplquad(lambda a, b, c: np.sqrt(1 + a * b * c), 0, 1, 0, 1, 0, 1,
                               epsabs=1e-13)[0]
    return np.array([(np.e - 1) * (1 - np.cos(3.0)) / 3 + 0.5 * np.log(2), second])


def run(reps: int, budget: int, surrogate) -> dict:
    exact = truth()
    est, covered, kept = [], [], []
    start = time.perf_counter()
    for seed in range(reps):
        res = me.expectations(model, LAW, budget=budget, rng=seed, surrogate=surrogate)
        low, high = res.confidence_interval(0.95)
        est.append(res.estimate)
        covered.append((low <= exact) & (exact <= high))
        record = res.diagnostics.get("surrogate") or {}
        kept.append(record.get("controlled", [False] * exact.size))
    est = np.array(est)
    se = est.std(axis=0, ddof=1) / np.sqrt(reps)
    return {"mse": np.mean((est - exact) ** 2, axis=0), "coverage": np.mean(covered, axis=0),
            "z": (est.mean(axis=0) - exact) / se, "controlled": np.mean(kept, axis=0),
            "seconds": (time.perf_counter() - start) / reps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()
    for label, surrogate in (("control (default)", "auto"), ("plain (surrogate=None)", None)):
        out = run(args.reps, args.budget, surrogate)
        print(f"{label:24s} mse {np.array2string(out['mse'], precision=3)} coverage "
              f"{np.array2string(out['coverage'], precision=3)} z "
              f"{np.array2string(out['z'], precision=2)} controlled "
              f"{np.array2string(out['controlled'], precision=2)} {out['seconds']:.3f} s/study")


if __name__ == "__main__":
    main()

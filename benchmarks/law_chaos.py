"""The law route's chaos control (``engine/law_chaos.py``) against plain RQMC of the law.

A smooth model of three uniforms that no polynomial reproduces,
``exp(x_1) sin(3 x_2) + x_3 / (1 + x_1)`` and ``sqrt(1 + x_1 x_2 x_3)``
(:func:`multiexpect.testfunctions.smooth_uniform3`, also the model of
``tests/statistical/test_law_chaos_coverage.py``), the defaults (the control) and
``surrogate=None`` (plain RQMC of the law, the same nets) on the same seeds: MSE per
quantity, coverage of the 95% intervals, mean ``z`` of the estimates' mean, the share of
studies that controlled each quantity, seconds a study.

    cd benchmarks && python -W ignore law_chaos.py --reps 200 --budget 2000

``--screen``: integrands where the rule's choice is close (kinks, a step, a high frequency,
normal inputs), each beside ``surrogate=None`` on the same seeds, against plain RQMC of the
law at 2^22 points: MSE, coverage, share of the studies that kept the control.

    cd benchmarks && python -W ignore law_chaos.py --screen --reps 300 --budget 2000 --workers 2

``--case moments``: first and second moments of two Ishigami outputs
(:func:`multiexpect.testfunctions.ishigami_moments`: ``y_a, y_b, y_a^2, y_a y_b, y_b^2``,
exact means; also the model of ``tests/statistical/test_law_products_coverage.py``),
whose second moments take the product controls of ``engine/law_products.py`` where the
first moments' chaos pays.

    cd benchmarks && python -W ignore law_chaos.py --case moments --reps 200 --budget 10000

``--case near-cap``: :func:`multiexpect.testfunctions.sine_square2`, ``y`` and ``y^2`` of two
uniforms, where at 2000 runs the chaos is near the term cap and the cross-fitted nets'
intervals are short (docs/method.md, "Found measuring the product controls").

    cd benchmarks && python -W ignore law_chaos.py --case near-cap --reps 800 --budget 2000
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.testfunctions import (
    ishigami_law,
    ishigami_moments,
    ishigami_pair_moments,
    sine_square2,
    sine_square2_means,
    smooth_uniform3,
    smooth_uniform3_means,
)

LAW = me.Law([stats.uniform(0, 1)] * 3)


#: The measured models: (model, law, exact means).
CASES = {"smooth": (smooth_uniform3, LAW, smooth_uniform3_means),
         "moments": (ishigami_moments, ishigami_law(), ishigami_pair_moments),
         "near-cap": (sine_square2, me.Law([stats.uniform(0, 1)] * 2), sine_square2_means)}


def run(case: str, reps: int, budget: int, surrogate) -> dict:
    model, law, means = CASES[case]
    exact = means()
    est, covered, kept, products = [], [], [], []
    start = time.perf_counter()
    for seed in range(reps):
        res = me.expectations(model, law, budget=budget, rng=seed, surrogate=surrogate)
        low, high = res.confidence_interval(0.95)
        est.append(res.estimate)
        covered.append((low <= exact) & (exact <= high))
        record = res.diagnostics.get("surrogate") or {}
        kept.append(record.get("controlled", [False] * exact.size))
        products.append(record.get("by_products", [False] * exact.size))
    est = np.array(est)
    se = est.std(axis=0, ddof=1) / np.sqrt(reps)
    return {"mse": np.mean((est - exact) ** 2, axis=0), "coverage": np.mean(covered, axis=0),
            "z": (est.mean(axis=0) - exact) / se, "controlled": np.mean(kept, axis=0),
            "by_products": np.mean(products, axis=0),
            "seconds": (time.perf_counter() - start) / reps}


UNIFORM2, UNIFORM1 = me.Law([stats.uniform(0, 1)] * 2), me.Law([stats.uniform(0, 1)])
NORMAL2 = me.Law([stats.norm()] * 2)
SCREEN = {
    "kink^1.5": (UNIFORM2, lambda x: np.abs(x[:, 0] - 0.37) ** 1.5 + x[:, 1]),
    "kink": (UNIFORM2, lambda x: np.abs(x[:, 0] - 0.37) + 0.3 * np.sin(3 * x[:, 1])),
    "kink^0.5": (UNIFORM1, lambda x: np.abs(x[:, 0] - 0.37) ** 0.5),
    "step+smooth": (UNIFORM2, lambda x: (x[:, 0] > 0.43) * 0.2 + np.exp(x[:, 1])),
    "sin(25 x1 x2)": (UNIFORM2, lambda x: np.sin(25 * x[:, 0] * x[:, 1])),
    "normal tanh": (NORMAL2, lambda x: np.tanh(x[:, 0]) + 0.5 * x[:, 1] ** 2),
    "normal |x1|": (NORMAL2, lambda x: np.abs(x[:, 0]) + x[:, 1]),
}


def _screen_model(name: str):
    law, f = SCREEN[name]
    return law, lambda x: f(x)[:, None]


def _screen_reference(name: str) -> float:
    law, f = _screen_model(name)
    return float(me.expectations(f, law, budget=2**22, rng=999, method="mc",
                                 sampling="rqmc").estimate[0])


def _screen_one(args) -> tuple:
    name, seed, surrogate, budget = args
    law, f = _screen_model(name)
    res = me.expectations(f, law, budget=budget, rng=seed, surrogate=surrogate)
    low, high = res.confidence_interval(0.95)
    record = res.diagnostics.get("surrogate") or {}
    return (float(res.estimate[0]), float(low[0]), float(high[0]),
            bool(record.get("controlled", [False])[0]))


def screen(reps: int, budget: int, workers: int) -> None:
    with ProcessPoolExecutor(workers) as pool:
        for name in SCREEN:
            truth = pool.submit(_screen_reference, name).result()
            for label, surrogate in (("control", "auto"), ("plain", None)):
                out = list(pool.map(_screen_one, [(name, seed, surrogate, budget)
                                                  for seed in range(reps)]))
                est = np.array([o[0] for o in out])
                cover = np.mean([o[1] <= truth <= o[2] for o in out])
                kept = np.mean([o[3] for o in out])
                print(f"{name:14s} {label:8s} mse {np.mean((est - truth) ** 2):.3g} "
                      f"coverage {cover:.3f} controlled {kept:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--screen", action="store_true")
    parser.add_argument("--case", choices=sorted(CASES), default="smooth")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.screen:
        screen(args.reps, args.budget, args.workers)
        return
    case = args.case
    for label, surrogate in (("control (default)", "auto"), ("plain (surrogate=None)", None)):
        out = run(case, args.reps, args.budget, surrogate)
        print(f"{label:24s} mse {np.array2string(out['mse'], precision=3)} coverage "
              f"{np.array2string(out['coverage'], precision=3)} z "
              f"{np.array2string(out['z'], precision=2)} controlled "
              f"{np.array2string(out['controlled'], precision=2)} by products "
              f"{np.array2string(out['by_products'], precision=2)} "
              f"{out['seconds']:.3f} s/study")


if __name__ == "__main__":
    main()

"""Coverage of exceedance curves at small budgets (2026-12-03, measured, not fixed).

``Y = (x_1 + x_2 + x_3) / sqrt(3)`` of three standard normal inputs, so
``P(Y > t) = 1 - Φ(t)`` exactly; :func:`multiexpect.exceedance_curve` with its defaults
over ``--reps`` seeds. Per threshold: the coverage of its 95% intervals (``curve.low``,
``curve.high``: Wilson's for events, the bound for no hit) over all seeds and
over the seeds where the estimate is not flagged (``result.trust``), the share not
flagged, the mean and the median of the estimate over the truth, the relative MSE
``MSE / P^2`` beside crude MC's exact ``(1 - P) / (n P)``, and the routes taken.

    python benchmarks/small_budget.py --budget 300 --reps 200 --thresholds 0.5 1.1667 2.1667 3.5
    python benchmarks/small_budget.py --budget 300 --reps 200 --points 10
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import warnings
from collections import Counter

import numpy as np
from scipy import stats

import multiexpect as me

DIM = 3


def _model(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=1) / np.sqrt(DIM)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--thresholds", type=float, nargs="*",
                        help="default: --points evenly spaced in [0.5, 3.5]")
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--options", default="{}",
                        help="JSON of keyword arguments for exceedance_curve")
    args = parser.parse_args(argv)
    t = np.array(args.thresholds or np.linspace(0.5, 3.5, args.points))
    truth = stats.norm.sf(t)
    law = me.Law([stats.norm()] * DIM)
    estimates, covers, trusted, routes = [], [], [], Counter()
    for seed in range(args.reps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curve = me.exceedance_curve(_model, law, t, budget=args.budget, rng=seed,
                                        **json.loads(args.options))
        estimates.append(curve.probability)
        covers.append((curve.low <= truth) & (truth <= curve.high))
        trusted.append([flag == "" for flag in curve.result.trust])
        routes[curve.result.diagnostics.get("route", "-")] += 1
    est, covered, ok = np.array(estimates), np.array(covers), np.array(trusted)
    print(f"budget {args.budget}, {args.reps} seeds, options {args.options}, routes "
          f"{dict(routes)}")
    print("| threshold | P | coverage | coverage, not flagged | not flagged | mean / P | "
          "median / P | MSE / P^2 | crude MC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for j, (tj, pj) in enumerate(zip(t, truth)):
        kept = covered[ok[:, j], j]
        unflagged = f"{kept.mean():.3f}" if kept.size else "-"
        print(f"| {tj:.4g} | {pj:.3g} | {covered[:, j].mean():.3f} | {unflagged} | "
              f"{ok[:, j].mean():.2f} | {est[:, j].mean() / pj:.3f} | "
              f"{np.median(est[:, j]) / pj:.3f} | {np.mean((est[:, j] - pj) ** 2) / pj**2:.3g} | "
              f"{(1 - pj) / (args.budget * pj):.3g} |")


if __name__ == "__main__":
    main()

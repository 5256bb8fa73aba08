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

``--moments J`` screens the Gaussian moments ``E[X^(2j)] = (2j - 1)!!``, ``j = 1 ... J``, of
one standard normal input by :func:`multiexpect.expectations` instead (seeds ``--first``
on), with crude MC's exact relative variance ``((4j - 1)!! / (2j - 1)!!^2 - 1) / n``:

    python benchmarks/small_budget.py --moments 10 --budget 1000 --reps 200 --first 1000
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
from scipy.special import factorial2

import multiexpect as me

DIM = 3


def _model(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=1) / np.sqrt(DIM)


def _curve(args) -> tuple[np.ndarray, np.ndarray, object]:
    """Thresholds, ``P(Y > t)`` and one seed's ``(estimates, low, high, trust, route)``."""
    t = np.array(args.thresholds or np.linspace(0.5, 3.5, args.points))
    law = me.Law([stats.norm()] * DIM)

    def run(seed):
        curve = me.exceedance_curve(_model, law, t, budget=args.budget, rng=seed,
                                    **json.loads(args.options))
        return (curve.probability, curve.low, curve.high, curve.result.trust,
                curve.result.diagnostics.get("route", "-"))

    return t, stats.norm.sf(t), run


def _moments(args) -> tuple[np.ndarray, np.ndarray, object]:
    """Orders ``2j``, ``E[X^(2j)]`` and one seed's run, as :func:`_curve`."""
    orders = 2 * np.arange(1, args.moments + 1)
    law = me.Law([stats.norm()])

    def model(x):
        return x[:, :1] ** orders

    def run(seed):
        res = me.expectations(model, law, budget=args.budget, rng=seed,
                              **json.loads(args.options))
        low, high = res.confidence_interval(0.95)
        return res.estimate, low, high, res.trust, res.diagnostics.get("route", "-")

    return orders, factorial2(orders - 1).astype(float), run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--thresholds", type=float, nargs="*",
                        help="default: --points evenly spaced in [0.5, 3.5]")
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--moments", type=int, default=0,
                        help="screen E[X^2] ... E[X^(2J)] instead of the curve")
    parser.add_argument("--options", default="{}",
                        help="JSON of keyword arguments for exceedance_curve / expectations")
    args = parser.parse_args(argv)
    labels, truth, run = _moments(args) if args.moments else _curve(args)
    if args.moments:
        crude = (factorial2(2 * labels - 1) / truth**2 - 1) / args.budget
    else:
        crude = (1 - truth) / (args.budget * truth)
    estimates, covers, trusted, routes = [], [], [], Counter()
    for seed in range(args.first, args.first + args.reps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimate, low, high, trust, route = run(seed)
        estimates.append(estimate)
        covers.append((low <= truth) & (truth <= high))
        trusted.append([flag == "" for flag in trust])
        routes[route] += 1
    est, covered, ok = np.array(estimates), np.array(covers), np.array(trusted)
    print(f"budget {args.budget}, seeds {args.first}..{args.first + args.reps - 1}, options "
          f"{args.options}, routes {dict(routes)}")
    head = "order | E" if args.moments else "threshold | P"
    print(f"| {head} | coverage | coverage, not flagged | not flagged | mean / P | "
          "median / P | MSE / P^2 | crude MC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for j, (tj, pj) in enumerate(zip(labels, truth)):
        kept = covered[ok[:, j], j]
        unflagged = f"{kept.mean():.3f}" if kept.size else "-"
        print(f"| {tj:.4g} | {pj:.3g} | {covered[:, j].mean():.3f} | {unflagged} | "
              f"{ok[:, j].mean():.2f} | {est[:, j].mean() / pj:.3f} | "
              f"{np.median(est[:, j]) / pj:.3f} | {np.mean((est[:, j] - pj) ** 2) / pj**2:.3g} | "
              f"{crude[j]:.3g} |")
    print(f"summed MSE / P^2: {np.sum(np.mean((est - truth) ** 2, axis=0) / truth**2):.4g}")


if __name__ == "__main__":
    main()

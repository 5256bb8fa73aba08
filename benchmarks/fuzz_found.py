"""Problems a fuzz of ``expectations`` found on 2026-12-03, measured and not fixed.

``--case series``: a series system, ``P(max_i x_i > t)`` with ``x_i`` i.i.d. standard
normal, exact ``p = 1 - Φ(t)^d``, the event declared (``me.Exceedance``), defaults, seeds
0 ... reps-1. At ``d = 5``, 1000 runs, ``p = 1e-4`` the proposals find some of the five
branches and miss the others: unflagged estimates cover about 5%.

``--case mean-beside-events``: ``E[Y]``, ``Y`` the largest of five standardised inputs
(three uniform, a normal, a Student t7), declared with three exceedances of ``Y``
(``P`` = 0.3, 0.1, 0.03) and alone, at 200 runs: the mean loses to crude MC beside the
events (every estimate flagged *few points*).

``--case max-normals``: ``E[max of 5 standard normals]`` (negative 1/32 of the time) beside
three exceedances of the maximum (1.6, 2.0, 2.6) at 200 runs, the fix of the stage pooling's
minor sign part (2026-12-03).

    python benchmarks/fuzz_found.py --case series --d 5 --budget 1000 --p 1e-4 --reps 80
    python benchmarks/fuzz_found.py --case mean-beside-events --budget 200 --reps 200
    python benchmarks/fuzz_found.py --case max-normals --budget 200 --reps 200
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import warnings

import numpy as np
from scipy import stats
from scipy.integrate import quad

import multiexpect as me

MARGINALS = [stats.uniform(0.4831077814613254, 1.9321969772920644),
             stats.norm(0.19837475069223798, 0.5688977831076709),
             stats.uniform(-0.38557006034216545, 1.6540610077468225),
             stats.uniform(0.3652861102852132, 1.5611819025207574),
             stats.t(7, loc=-0.7319166055056705)]
#: thresholds of the standardised maximum with P(Y > t) = 0.3, 0.1, 0.03
MAX_THRESHOLDS = [1.4847077241337154, 1.7106265119428872, 2.220340356370765]


def _runs(model, law, quantities, budget, reps):
    """Per seed: the first quantity's estimate, its interval and its flag."""
    out = []
    for seed in range(reps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = me.expectations(model, law, budget=budget, rng=seed, quantities=quantities)
        low, high = res.confidence_interval(0.95)
        out.append((res.estimate[0], low[0], high[0], res.trust[0]))
    est, low, high = (np.array([o[i] for o in out]) for i in range(3))
    return est, low, high, np.array([o[3] == "" for o in out])


def series(args) -> None:
    law = me.Law([stats.norm()] * args.d)
    t = float(stats.norm.ppf((1 - args.p) ** (1 / args.d)))
    est, low, high, ok = _runs(lambda x: x.max(axis=1), law, [me.Exceedance(0, t)],
                               args.budget, args.reps)
    cover = (low <= args.p) & (args.p <= high)
    unflagged = f"{cover[ok].mean():.3f}" if ok.any() else "-"
    print(f"series d={args.d} budget={args.budget} p={args.p:g}: unflagged {ok.sum()}/"
          f"{args.reps}, coverage unflagged {unflagged}, all {cover.mean():.3f}; mean/p "
          f"{est.mean() / args.p:.3f}, median/p {np.median(est) / args.p:.3f}; MSE / crude "
          f"{np.mean((est - args.p) ** 2) / (args.p * (1 - args.p) / args.budget):.3g}")


def mean_beside_events(args) -> None:
    law = me.Law(MARGINALS)
    m = np.array([d.mean() for d in MARGINALS])
    s = np.array([d.std() for d in MARGINALS])

    def model(x):
        return ((x - m) / s).max(axis=1)

    def cdf(t):
        return np.prod([d.cdf(mi + si * t) for d, mi, si in zip(MARGINALS, m, s)], axis=0)

    mean = quad(lambda t: 1 - cdf(t), 0, 40)[0] - quad(cdf, -40, 0)[0]
    second = (2 * quad(lambda t: t * (1 - cdf(t)), 0, 40)[0]
              - 2 * quad(lambda t: t * cdf(t), -40, 0)[0])
    crude = (second - mean**2) / args.budget
    for label, quantities in (
            ("beside three exceedances",
             [me.Moment(0, 1)] + [me.Exceedance(0, t) for t in MAX_THRESHOLDS]),
            ("alone", [me.Moment(0, 1)])):
        est, low, high, ok = _runs(model, law, quantities, args.budget, args.reps)
        print(f"E[Y] {label}, budget {args.budget}: MSE / crude "
              f"{np.mean((est - mean) ** 2) / crude:.3g}, coverage "
              f"{np.mean((low <= mean) & (mean <= high)):.3f}, unflagged {ok.sum()}/{args.reps}")


def max_normals(args) -> None:
    law = me.Law([stats.norm()] * 5)

    def cdf(t):
        return stats.norm.cdf(t) ** 5

    mean = quad(lambda t: 1 - cdf(t), 0, 40)[0] - quad(cdf, -40, 0)[0]
    second = (2 * quad(lambda t: t * (1 - cdf(t)), 0, 40)[0]
              - 2 * quad(lambda t: t * cdf(t), -40, 0)[0])
    quantities = [me.Moment(0, 1)] + [me.Exceedance(0, t) for t in (1.6, 2.0, 2.6)]
    est, low, high, _ = _runs(lambda x: x.max(axis=1), law, quantities, args.budget,
                              args.reps)
    print(f"E[max of 5 normals] beside three exceedances, budget {args.budget}: MSE / crude "
          f"{np.mean((est - mean) ** 2) / ((second - mean**2) / args.budget):.3g}, coverage "
          f"{np.mean((low <= mean) & (mean <= high)):.3f}, bias / se "
          f"{(est.mean() - mean) / (est.std(ddof=1) / np.sqrt(est.size)):.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cases = {"series": series, "mean-beside-events": mean_beside_events,
             "max-normals": max_normals}
    parser.add_argument("--case", choices=tuple(cases), required=True)
    parser.add_argument("--d", type=int, default=5)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--p", type=float, default=1e-4)
    parser.add_argument("--reps", type=int, default=80)
    args = parser.parse_args(argv)
    cases[args.case](args)


if __name__ == "__main__":
    main()

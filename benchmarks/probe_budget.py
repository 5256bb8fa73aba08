"""The edge probe where the law route's nets fill the budget (a power of 2): its price and gain.

Where the plan's ``R`` nets spend the whole budget, the probe's ``6 d`` runs take the room of
the last net (``engine/edge_probe.py``, ``probe_plan``). Same seeds, the defaults against
plain RQMC of the law (``method="mc", sampling="rqmc"``):

* smooth cases on the law route (the no-regret suite's ``ishigami_moments`` and
  ``oscillating``): plain RQMC's summed MSE over the defaults' (below 1: the price);
* integrands unbounded at an edge of the law (``x^-0.45`` of a ``truncnorm(0, 3)`` input,
  ``x^-0.2`` of a ``beta(0.5, 1)`` input, found by a fuzz): the coverage of the 95%
  intervals of that quantity and the routes, at a power of 2 and just below it.

    cd benchmarks && python -W ignore probe_budget.py --reps 100 --workers 2
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import integrate, stats

import multiexpect as me
import no_regret as nr

SMOOTH = {"ishigami_moments": nr._ishigami_moments, "oscillating": nr._oscillating}
SMOOTH_BUDGETS = (4096, 8192)
SINGULAR_BUDGETS = (8000, 8192)


def _singular_cases() -> dict:
    trunc, beta = stats.truncnorm(0, 3), stats.beta(0.5, 1)
    return {
        "truncnorm x^-0.45": (lambda x: np.column_stack([x[:, 0] ** -0.45, x[:, 1] ** 2]),
                              me.Law([trunc, stats.norm()]),
                              integrate.quad(lambda x: x**-0.45 * trunc.pdf(x), 0, 3,
                                             limit=200)[0]),
        "beta x^-0.2": (lambda x: np.column_stack([x[:, 0] ** -0.2, x[:, 1]]),
                        me.Law([beta, stats.uniform()]),
                        float(stats.beta(0.5, 1).expect(lambda x: x**-0.2))),
    }


def smooth_run(task) -> tuple:
    name, budget, seed = task
    model, law, truth = SMOOTH[name]()[:3]
    errors = [me.expectations(model, law, budget=budget, rng=seed, **kw).estimate - truth
              for kw in ({}, {"method": "mc", "sampling": "rqmc"})]
    return name, budget, errors


def singular_run(task) -> tuple:
    name, budget, seed = task
    model, law, truth = _singular_cases()[name]
    res = me.expectations(model, law, budget=budget, rng=seed)
    low, high = res.confidence_interval(0.95)
    return name, budget, bool(low[0] <= truth <= high[0]), res.diagnostics["route"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    smooth = [(n, b, s) for n in SMOOTH for b in SMOOTH_BUDGETS for s in range(args.reps)]
    singular = [(n, b, s) for n in _singular_cases() for b in SINGULAR_BUDGETS
                for s in range(args.reps)]
    with ProcessPoolExecutor(args.workers) as pool:
        smooth_rows = list(pool.map(smooth_run, smooth))
        singular_rows = list(pool.map(singular_run, singular))
    print("smooth, law route: plain RQMC's summed MSE over the defaults'")
    for name in SMOOTH:
        for budget in SMOOTH_BUDGETS:
            rows = [e for n, b, e in smooth_rows if (n, b) == (name, budget)]
            auto = np.sum([np.sum(e[0] ** 2) for e in rows])
            plain = np.sum([np.sum(e[1] ** 2) for e in rows])
            print(f"  {name:18s} budget {budget}: {plain / auto:.3f}")
    print("singular at an edge: coverage of the 95% intervals (routes)")
    for name in _singular_cases():
        for budget in SINGULAR_BUDGETS:
            rows = [(c, r) for n, b, c, r in singular_rows if (n, b) == (name, budget)]
            routes = {}
            for _, r in rows:
                routes[r] = routes.get(r, 0) + 1
            print(f"  {name:18s} budget {budget}: {np.mean([c for c, _ in rows]):.2f} {routes}")
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

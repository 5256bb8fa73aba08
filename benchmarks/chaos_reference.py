"""A finer reference for one sensitivity problem, and the suite's runs scored against it.

The reference: ``sobol_indices(method="pick-freeze", sampling="rqmc", replicates=1,
surrogate="chaos")`` at ``2^16`` points over ``--reps`` independent seeds (900 000 + s, not
the suite's), their mean and standard error. It rests on that estimator's unbiasedness
(tested on Ishigami, tests/statistical/test_rqmc.py), so it judges coverage where the
suite's RQMC reference (``2^20`` plain points) is too coarse. Then every method of a
``sensitivity_suite.py --json F --records`` run on that problem is scored against it.

Usage::

    python benchmarks/chaos_reference.py borehole --reps 16 --records suite.json
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import multiprocessing as mp
from functools import partial

import numpy as np

import multiexpect as me
from multiexpect.testproblems.sensitivity import problem
from sensitivity_suite import references


def one(name: str, points: int, seed: int) -> list[float]:
    prob = problem(name)
    res = me.sobol_indices(prob.model, prob.law, budget=points * (prob.dim + 2), rng=seed,
                           method="pick-freeze", sampling="rqmc", replicates=1,
                           surrogate="chaos")
    return np.concatenate([res.first_order, res.total_order]).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem")
    parser.add_argument("--reps", type=int, default=16)
    parser.add_argument("--points", type=int, default=2**16)
    parser.add_argument("--records", help="a sensitivity_suite.py --records JSON to score")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seeds = [900_000 + s for s in range(args.reps)]
    with mp.get_context("fork").Pool(args.workers) as pool:
        est = np.array(pool.map(partial(one, args.problem, args.points), seeds))
    ref, se = est.mean(axis=0), est.std(axis=0, ddof=1) / np.sqrt(args.reps)
    first, total, old_se = references(args.problem)
    old = np.concatenate([first, total])
    print(f"{args.problem}: new reference, largest s.e. {se.max():.2g}; the suite's "
          f"reference (largest s.e. {old_se:.2g}) minus it, largest |diff| "
          f"{np.max(np.abs(old - ref)):.2g}")
    if args.records:
        records = json.load(open(args.records))["records"]
        for method in sorted({r["method"] for r in records}):
            recs = [r for r in records if r["problem"] == args.problem
                    and r["method"] == method and not r["failed"]]
            if not recs:
                continue
            e = np.array([r["estimate"] for r in recs])
            h = np.array([r["half_width"] for r in recs])
            print(f"  {method}: summed MSE {np.mean(np.sum((e - ref) ** 2, axis=1)):.3g}, "
                  f"coverage {np.mean(np.abs(e - ref) <= h):.3f} ({len(recs)} runs)")


if __name__ == "__main__":
    main()

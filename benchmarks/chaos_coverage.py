"""Bias and coverage of the chaos-controlled one net on Ishigami over repetitions.

``sobol_indices(tf.ishigami, ..., method="pick-freeze", sampling="rqmc", replicates=1,
surrogate="chaos")`` at ``--points`` points (``5 points`` runs), seeds ``40 000 + r``
(those of tests/statistical/test_rqmc.py), ``--blocks`` blocks: per index the mean error in
standard errors of the mean, the coverage of the 95% intervals, and the mean reported
``se²`` over the variance across repetitions.

Usage::

    python benchmarks/chaos_coverage.py --points 512 1024 --reps 200 --min-block-points 32
    python benchmarks/chaos_coverage.py --points 1024 2048 --replicates 8 --reps 200
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse

import numpy as np

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.sensitivity import chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--replicates", type=int, default=1,
                        help="1: one net (its blocks); R >= 2: R replicates")
    parser.add_argument("--min-block-points", type=int, default=None,
                        help="a screen: the library's MIN_BLOCK_POINTS replaced")
    args = parser.parse_args()
    if args.min_block_points is not None:
        chaos.MIN_BLOCK_POINTS = args.min_block_points
    first, total = tf.ishigami_indices()
    truth = np.concatenate([first, total])
    for points in args.points:
        est, se, covered = [], [], []
        for r in range(args.reps):
            split = ({"replicates": 1, "blocks": args.blocks} if args.replicates == 1
                     else {"replicates": args.replicates})
            res = me.sobol_indices(tf.ishigami, tf.ishigami_law(), budget=5 * points,
                                   rng=40_000 + r, method="pick-freeze", sampling="rqmc",
                                   surrogate="chaos", **split)
            ci = res.confidence_interval()
            est.append(np.concatenate([res.first_order, res.total_order]))
            se.append(np.concatenate([res.first_order_stderr, res.total_order_stderr]))
            covered.append((np.concatenate([ci["first"][0], ci["total"][0]]) <= truth)
                           & (truth <= np.concatenate([ci["first"][1], ci["total"][1]])))
        est, se = np.array(est), np.array(se)
        z = (est.mean(axis=0) - truth) / (est.std(axis=0, ddof=1) / np.sqrt(args.reps))
        split = (f"{args.blocks} blocks" if args.replicates == 1
                 else f"{res.diagnostics['replicates']} replicates")
        print(f"{points} points, {split}, degree {res.diagnostics['degree']}: "
              f"coverage {np.mean(covered):.3f} (per index "
              f"{np.round(np.mean(covered, axis=0), 3).tolist()}), bias in s.e. "
              f"{np.round(z, 2).tolist()}, se²/Var "
              f"{np.round(np.mean(se**2, axis=0) / est.var(axis=0, ddof=1), 2).tolist()}")


if __name__ == "__main__":
    main()

"""Rare events as declared exceedances (the level ladder) against crude MC and CE-IS.

The runners, seeds and summary of ``benchmarks/reliability.py`` are reused; one method is
added: ``aiscv-q``, ``me.expectations(problem.limit_state, law,
quantities=[me.Exceedance(0, 0.0, side="<=")])``, the model returning ``g`` itself, so that
the engine climbs its level ladder (``docs/method.md``) instead of adapting on a 0/1
column (``aiscv``, the default path). The calls are counted by a counter on the model.

``--mixed``: the mixed study of one budget, ``Y = sum of 5 N(0, 1)``: ``E[Y]``,
``E[Y^2]``, ``P(Y > 2.326 sqrt 5)`` (1e-2) and ``P(Y > 4.753 sqrt 5)`` (1e-6), 10^4 runs,
seeds 100 + rep; relative RMSE (the moments: RMSE over their scale, 1 and 5), coverage of
the 95% intervals and se ratio per quantity.

Usage::

    python benchmarks/reliability_quantities.py --problems rp107,rp28 --reps 30
    python benchmarks/reliability_quantities.py --mixed --reps 50
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import multiprocessing as mp
import time

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.testproblems import reliability_problem
from reliability import SEED0, calibrate, one_run, print_table, summarise

METHODS = ("aiscv-q", "aiscv", "mc", "ce-is")
PROBLEMS = ("rp22", "four_branch", "paraboloid_d6", "rp28", "rp107", "linear_d20")


def one_quantity_run(task):
    """(problem name, method, rep, budget) -> a row; ``aiscv-q`` here, the rest in
    :func:`reliability.one_run`."""
    name, method, rep, budget = task
    if method != "aiscv-q":
        return one_run(task)
    problem = reliability_problem(name)
    seed = SEED0 + rep
    row = {"problem": name, "method": method, "rep": rep, "seed": seed}
    start = time.perf_counter()
    calls = [0]

    def model(x):
        calls[0] += x.shape[0]
        return problem.limit_state(x)

    try:
        res = me.expectations(model, problem.law(), budget=budget, rng=seed,
                              quantities=[me.Exceedance(0, 0.0, side="<=")])
        low, high = res.confidence_interval(0.95)
        row.update(estimate=float(res.estimate[0]), stderr=float(res.stderr[0]),
                   low=float(low[0]), high=float(high[0]), calls=calls[0],
                   chosen_stage=int(res.diagnostics["chosen_stage"]),
                   n_final=int(res.diagnostics["n_final"]))
    except Exception as exc:  # a failure is a result: counted, not hidden
        row.update(error=f"{type(exc).__name__}: {exc}"[:300])
    row["seconds"] = time.perf_counter() - start
    return row


MIXED_D = 5
MIXED_LEVELS = (2.326, 4.753)


def mixed_study(reps: int, budget: int) -> None:
    """The mixed study (module docstring): one line per quantity."""
    truth = np.array([0.0, MIXED_D, *(stats.norm.sf(c) for c in MIXED_LEVELS)])
    scale = np.array([1.0, MIXED_D, *truth[2:]])
    law = me.Law([stats.norm()] * MIXED_D)
    quantities = [me.Moment(0, 1), me.Moment(0, 2),
                  *(me.Exceedance(0, c * np.sqrt(MIXED_D)) for c in MIXED_LEVELS)]
    est, se, cover = [], [], []
    for rep in range(reps):
        res = me.expectations(lambda x: x.sum(axis=1), law, budget=budget, rng=100 + rep,
                              quantities=quantities)
        low, high = res.confidence_interval(0.95)
        est.append(res.estimate), se.append(res.stderr)
        cover.append((low <= truth) & (truth <= high))
    est, se, cover = np.array(est), np.array(se), np.array(cover)
    rmse = np.sqrt(np.mean((est - truth) ** 2, axis=0)) / scale
    ratio = se.mean(axis=0) / est.std(axis=0, ddof=1)
    for j, q in enumerate(res.names):
        print(f"{q:28s} truth {truth[j]:.4g}  rel.rmse {rmse[j]:.3g}  cover "
              f"{cover[:, j].mean():.2f}  se ratio {ratio[j]:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--mixed", action="store_true", help="the mixed study instead")
    args = parser.parse_args(argv)
    if args.mixed:
        start = time.perf_counter()
        mixed_study(args.reps, args.budget)
        print(f"\n{args.reps} runs in {time.perf_counter() - start:.0f} s")
        return
    names, methods = args.problems.split(","), args.methods.split(",")
    start = time.perf_counter()
    calibrate(names, [m for m in methods if m != "aiscv-q"], args.budget, False, ())
    tasks = [(n, m, r, args.budget) for n in names for m in methods for r in range(args.reps)]
    if args.processes > 1:
        with mp.get_context("fork").Pool(args.processes) as pool:
            rows = pool.map(one_quantity_run, tasks, chunksize=1)
    else:
        rows = [one_quantity_run(t) for t in tasks]
    summary = {n: {m: summarise([r for r in rows if r["problem"] == n and r["method"] == m],
                                reliability_problem(n).probability) for m in methods}
               for n in names}
    print_table(summary)
    print(f"\n{len(tasks)} runs in {time.perf_counter() - start:.0f} s "
          f"(budget {args.budget}, reps {args.reps}, processes {args.processes})")


if __name__ == "__main__":
    main()

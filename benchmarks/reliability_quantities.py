"""Rare events as declared exceedances (the level ladder) against crude MC and CE-IS.

The runners, seeds and summary of ``benchmarks/reliability.py`` are reused; one method is
added: ``aiscv-q``, ``me.expectations(problem.limit_state, law,
quantities=[me.Exceedance(0, 0.0, side="<=")])``, the model returning ``g`` itself, so that
the engine climbs its level ladder (``docs/method.md``) instead of adapting on a 0/1
column (``aiscv``, the default path). The calls are counted by a counter on the model.

Usage::

    python benchmarks/reliability_quantities.py --problems rp107,rp28 --reps 30
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import multiprocessing as mp
import time

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
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

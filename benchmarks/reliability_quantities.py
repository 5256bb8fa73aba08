"""Rare events as declared exceedances (the level ladder) against crude MC and CE-IS.

The runners, seeds and summary of ``benchmarks/reliability.py`` are reused; one method is
added: ``aiscv-q``, ``me.expectations(problem.limit_state, law,
quantities=[me.Exceedance(0, 0.0, side="<=")])``, the model returning ``g`` itself, so that
the engine climbs its level ladder (``docs/method.md``) instead of adapting on a 0/1
column (``aiscv``, the default path). The calls are counted by a counter on the model.

``--mixed``: the mixed study of one budget, ``Y = sum of 5 N(0, 1)``: ``E[Y]``,
``E[Y^2]``, ``P(Y > 2.326 sqrt 5)`` (1e-2) and ``P(Y > 4.753 sqrt 5)`` (1e-6), 10^4 runs,
seeds 100 + rep, by the default ``sampling="mc"`` (``mixed``) and by ``sampling="auto"``
(``mixed-auto``); relative RMSE (the moments: RMSE over their scale, 1 and 5), coverage of
the 95% intervals and se ratio per quantity. Beside it, issue 17's floor: each quantity
against the specialists given the whole budget (10^4 calls, counted by the function's own
counter) for it alone: ours on that quantity alone (``alone``), crude MC and plain RQMC of
the law (``rqmc``: ``method="mc", sampling="rqmc"``) for the moments, OpenTURNS' CE-IS,
NAIS and subset sampling (``reliability.py``'s runners) for the events; the ratio of the
mixed study's relative RMSE to the best of them and to ours alone.

Usage::

    python benchmarks/reliability_quantities.py --problems rp107,rp28 --reps 30
    python benchmarks/reliability_quantities.py --mixed --reps 50 --processes 2 --json mixed.json
    python benchmarks/reliability_quantities.py --mixed --mixed-methods mixed --reps 50 \
        --from-json mixed.json   # the mixed study again beside the specialists' rows
    python benchmarks/reliability_quantities.py --mixed --mixed-methods alone,mixed-auto \
        --mixed-quantities 2 --first-rep 50 --reps 50   # seeds 150-199, the 1e-2 event's tasks
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import multiprocessing as mp
import time
from functools import partial

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.testproblems import ReliabilityProblem, reliability_problem
from reliability import (
    OT_METHODS,
    SEED0,
    Z95,
    calibrate,
    fmt,
    one_run,
    ot_step_size,
    print_table,
    run_ot,
    summarise,
)

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
#: The mixed study's methods: ours on the four quantities at once, ours on each alone,
#: crude MC and plain RQMC of the law (the moments), the three OpenTURNS specialists (the
#: events).
MIXED_METHODS = ("mixed", "mixed-auto", "alone", "mc", "rqmc", "ce-is", "nais", "subset")
MIXED_SEED0 = 100
#: The mixed study's own runs (the rest are the specialists): the default sampling
#: ``"mc"`` and ``sampling="auto"`` (its split route: the moments on nets of the law).
MIXED_VARIANTS = ("mixed", "mixed-auto")


def mixed_truth() -> tuple[np.ndarray, np.ndarray]:
    """The four quantities' exact values and the scales of their relative RMSE."""
    truth = np.array([0.0, MIXED_D, *(stats.norm.sf(c) for c in MIXED_LEVELS)])
    return truth, np.array([1.0, MIXED_D, *truth[2:]])


def mixed_quantities() -> list:
    return [me.Moment(0, 1), me.Moment(0, 2),
            *(me.Exceedance(0, c * np.sqrt(MIXED_D)) for c in MIXED_LEVELS)]


def mixed_event_problem(j: int) -> ReliabilityProblem:
    """Event ``j`` (2 or 3) of the mixed study as a reliability problem for OpenTURNS:
    ``g = c sqrt(d) - sum x``, failure ``g <= 0``."""
    c = MIXED_LEVELS[j - 2]
    level = c * np.sqrt(MIXED_D)

    def g(x):
        return level - np.asarray(x).sum(axis=1)

    return ReliabilityProblem(f"mixed_event_{j}", MIXED_D, (0.0,) * MIXED_D,
                              (1.0,) * MIXED_D, g, float(stats.norm.sf(c)), "closed form",
                              1, "mixed study")


def mixed_tasks(methods, reps: int, first: int = 0, only=None) -> list[tuple]:
    """(method, quantity indices, rep): ``alone`` once per quantity, crude MC and RQMC on
    the two moments at once (each uses every run: the same as alone), the specialists on
    each event."""
    per = {"mixed": [(0, 1, 2, 3)], "mixed-auto": [(0, 1, 2, 3)],
           "alone": [(0,), (1,), (2,), (3,)], "mc": [(0, 1)],
           "rqmc": [(0, 1)], "ce-is": [(2,), (3,)], "nais": [(2,), (3,)],
           "subset": [(2,), (3,)]}
    return [(m, js, rep) for m in methods for js in per[m]
            if only is None or set(js) & set(only)
            for rep in range(first, first + reps)]


def mixed_run(task, budget: int = 10_000) -> dict:
    """One run of the mixed study: estimates, s.e. and 95% intervals of quantities ``js``,
    and the calls counted by the function's own counter."""
    method, js, rep = task
    seed = MIXED_SEED0 + rep
    row = {"method": method, "quantities": list(js), "rep": rep, "seed": seed}
    start = time.perf_counter()
    try:
        if method in OT_METHODS:
            (j,) = js
            p, sd, calls, _ = run_ot(method, mixed_event_problem(j), seed, budget)
            est, se = np.array([p]), np.array([sd])
            low, high = est - Z95 * se, est + Z95 * se
        else:
            calls = [0]

            def model(x):
                calls[0] += x.shape[0]
                return x.sum(axis=1)

            options = {"mc": {"method": "mc"},
                       "rqmc": {"method": "mc", "sampling": "rqmc"},
                       "mixed-auto": {"sampling": "auto"}}.get(method, {})
            quantities = mixed_quantities()
            res = me.expectations(model, me.Law([stats.norm()] * MIXED_D), budget=budget,
                                  rng=seed, quantities=[quantities[j] for j in js],
                                  **options)
            est, se = res.estimate, res.stderr
            low, high = res.confidence_interval(0.95)
            calls = calls[0]
        row.update(estimate=np.asarray(est, float).tolist(), stderr=np.asarray(se, float).tolist(),
                   low=np.asarray(low, float).tolist(), high=np.asarray(high, float).tolist(),
                   calls=int(calls))
    except Exception as exc:  # a failure is a result: counted, not hidden
        row.update(error=f"{type(exc).__name__}: {exc}"[:300])
    row["seconds"] = time.perf_counter() - start
    return row


def mixed_summary(rows: list[dict]) -> dict:
    """``{quantity: {method: figures}}``: relative RMSE, coverage, se ratio, calls."""
    truth, scale = mixed_truth()
    out = {j: {} for j in range(len(truth))}
    for method in dict.fromkeys(r["method"] for r in rows):
        for j in range(len(truth)):
            mine = [r for r in rows if r["method"] == method and j in r["quantities"]]
            if not mine:
                continue
            ok = [r for r in mine if "error" not in r]
            at = [r["quantities"].index(j) for r in ok]
            est = np.array([r["estimate"][i] for r, i in zip(ok, at)])
            se = np.array([r["stderr"][i] for r, i in zip(ok, at)])
            low = np.array([r["low"][i] for r, i in zip(ok, at)])
            high = np.array([r["high"][i] for r, i in zip(ok, at)])
            good = np.isfinite(est)
            est, se, low, high = est[good], se[good], low[good], high[good]
            figures = {"reps": len(mine), "failures": len(mine) - len(est)}
            if len(est) > 1:
                sd = est.std(ddof=1)
                figures.update(
                    rel_rmse=float(np.sqrt(np.mean((est - truth[j]) ** 2)) / scale[j]),
                    cover=float(np.mean((low <= truth[j]) & (truth[j] <= high))),
                    se_ratio=float(se.mean() / sd) if sd > 0 else float("nan"),
                    calls_mean=float(np.mean([r["calls"] for r in ok])),
                    calls_max=int(np.max([r["calls"] for r in ok])),
                    seconds=float(np.mean([r["seconds"] for r in mine])))
            out[j][method] = figures
    return out


def print_mixed(summary: dict, names) -> None:
    """One block per quantity, then the floor: the mixed study's relative RMSE over the
    best specialist's given the whole budget for that quantity alone (ours alone included),
    and over ours alone; PASS within 2x."""
    truth, _ = mixed_truth()
    print("quantity | method | rel.rmse | cover | se ratio | calls mean (max) | s/run")
    for j, by_method in summary.items():
        for method, s in by_method.items():
            print(f"{names[j]} | {method} | {fmt(s.get('rel_rmse'), '.3g')} | "
                  f"{fmt(s.get('cover'), '.2f')} | {fmt(s.get('se_ratio'), '.2f')} | "
                  f"{fmt(s.get('calls_mean'), '.0f')} ({s.get('calls_max', '-')}) | "
                  f"{fmt(s.get('seconds'), '.2f')}")
    print("\nIssue 17's floor: each quantity of the mixed study within 2x of the specialist "
          "given the whole budget for it alone")
    print("variant | quantity | truth | mixed | best alone (method) | ratio to best | "
          "ours alone | ratio to ours alone | within 2x")
    for variant in MIXED_VARIANTS:
        for j, by_method in summary.items():
            mixed = by_method.get(variant, {}).get("rel_rmse")
            peers = {m: s["rel_rmse"] for m, s in by_method.items()
                     if m not in MIXED_VARIANTS and s.get("rel_rmse") is not None}
            if mixed is None or not peers:
                continue
            best = min(peers, key=peers.get)
            alone = peers.get("alone")
            ratio = mixed / peers[best]
            print(f"{variant} | {names[j]} | {truth[j]:.4g} | {mixed:.3g} | "
                  f"{peers[best]:.3g} ({best}) | {ratio:.2f} | {fmt(alone, '.3g')} | "
                  f"{fmt(mixed / alone if alone else None, '.2f')} | "
                  f"{'PASS' if ratio <= 2.0 else 'FAIL'}")


def mixed_study(reps: int, budget: int, methods, processes: int = 1,
                earlier: list | None = None, first: int = 0,
                only=None) -> tuple[dict, list]:
    """The mixed study (module docstring), with ``methods`` run and the rows of
    ``earlier`` runs summarised beside them."""
    if any(m in OT_METHODS for m in methods):  # calibrate before the workers fork
        for j in (2, 3):
            for m in methods:
                if m in OT_METHODS:
                    ot_step_size(m, mixed_event_problem(j), 0.0, budget)
    tasks = mixed_tasks(methods, reps, first, only)
    run = partial(mixed_run, budget=budget)
    if processes > 1:
        with mp.get_context("fork").Pool(processes) as pool:
            rows = pool.map(run, tasks, chunksize=1)
    else:
        rows = [run(t) for t in tasks]
    rows = [r for r in (earlier or []) if r["method"] not in methods] + rows
    names = ["E[Y]", "E[Y^2]", *(f"P(Y > {c} sqrt5)" for c in MIXED_LEVELS)]
    summary = mixed_summary(rows)
    print_mixed(summary, names)
    return summary, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--mixed", action="store_true", help="the mixed study instead")
    parser.add_argument("--mixed-methods", default=",".join(MIXED_METHODS),
                        help="the mixed study's methods run (the others' rows may come "
                             "from --from-json)")
    parser.add_argument("--from-json", default=None,
                        help="the mixed study's rows of earlier --json files (comma-separated), "
                             "summarised beside those of the methods run "
                             "(--mixed-methods '': summarise only)")
    parser.add_argument("--json", default=None, help="the mixed study's summary and rows")
    parser.add_argument("--first-rep", type=int, default=0,
                        help="the mixed study's first repetition (seed 100 + rep)")
    parser.add_argument("--mixed-quantities", default=None,
                        help="only the tasks with one of these quantities (0-3, comma-separated)")
    args = parser.parse_args(argv)
    if args.mixed:
        start = time.perf_counter()
        methods = [m for m in args.mixed_methods.split(",") if m]
        unknown = sorted(set(methods) - set(MIXED_METHODS))
        if unknown:
            parser.error(f"unknown mixed methods {unknown}; choose from {MIXED_METHODS}")
        earlier = []
        for path in (args.from_json.split(",") if args.from_json else []):
            with open(path, encoding="utf-8") as fh:
                earlier += json.load(fh)["rows"]
        only = (None if args.mixed_quantities is None
                else [int(j) for j in args.mixed_quantities.split(",")])
        summary, rows = mixed_study(args.reps, args.budget, methods, args.processes, earlier,
                                    args.first_rep, only)
        print(f"\n{args.reps} reps of {','.join(methods)} in "
              f"{time.perf_counter() - start:.0f} s (processes {args.processes})")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump({"args": vars(args), "summary": summary, "rows": rows}, fh, indent=1)
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

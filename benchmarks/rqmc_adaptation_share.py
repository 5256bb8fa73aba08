"""How much of the budget aISCV should spend adapting before an RQMC final stage (issue 16).

The 100-law cantilever beam and the Gaussian moments of ``benchmarks/rqmc_engine.py`` (20 000
runs, seeds ``9000 + r``), or a case of ``benchmarks/no_regret.py`` (``--no-regret CASE``: its
budget, weights and truths, seeds ``1000 + r`` as there, aISCV only), under
``sampling="rqmc"`` or ``"auto"``, for a list of settings given as JSON
(``label -> expectations keywords``). A setting may carry ``"_stop": "pooled"``: an
experiment, not the library's rule, that replaces the adaptation's stopping rule
(stop at the first stage whose ``E_t = V_t / (N - N_t)`` does not decrease) by the
predicted error of the *pooled* estimate if the adaptation stopped at stage ``t``,

    E^pool_t = 1 / (sum_{s <= t, V_s <= POOL_TIE V_t} n_s / V_s + (N - N_t) / V_t),

``V_s`` the weighted variance per point of stage ``s`` on its own batch (the stages
``POOL_TIE`` times worse than ``V_t`` left out, as the pooling does): the runs spent adapting
are not lost when the stages are pooled, so the adaptation goes on while its proposal
improves. Per setting, over the seeds: the sum of weighted variances (with a 90%
bootstrap range over the seeds), the mean reported ``se^2`` over it, the coverage of the 95%
intervals, the largest bias in standard errors and the mean runs spent adapting.

Usage::

    nice -n 10 python benchmarks/rqmc_adaptation_share.py --case cantilever_100 --reps 50 \
        --settings '{"R8": {"sampling": "rqmc"}, "R8 cap12000": {"sampling": "rqmc",
        "adaptation_cap": 12000}}' --workers 2 --json out.json
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import multiprocessing as mp
import time

import numpy as np

import multiexpect as me
import multiexpect.engine.run as engine_run
from multiexpect.engine.adapt import adaptation_done
from multiexpect.engine.final import POOL_TIE
from multiexpect.engine.ladder import climb_cap, extended, post_ladder_history
from rqmc_engine import cases
from rqmc_expectations import BUDGET


def _case(name: str) -> dict:
    """``model``, ``law``, ``truth``, ``weights`` (``"relative"``/``"absolute"``), ``budget``
    and the first seed of a case of rqmc_engine.py or (``nr:<name>``) of no_regret.py."""
    if not name.startswith("nr:"):
        return {**cases()[name], "budget": BUDGET, "seed0": 9000}
    import no_regret

    case = no_regret.BY_NAME[name[3:]]
    model, law, truth, _, _ = case.setup()
    return {"model": model, "law": law, "truth": np.asarray(truth, dtype=float),
            "weights": case.weights, "budget": case.budget, "seed0": 1000}


def _pooled_error(history, t: int, budget: int) -> float:
    """``E^pool_t`` of the module docstring from the stages' records up to ``t``."""
    stages = history[:t + 1]
    var = [s.predicted_error * (budget - s.runs_used) for s in stages]
    precision = sum(s.n_points / v for s, v in zip(stages[1:], var[1:])
                    if v <= POOL_TIE * var[t])
    return 1.0 / (precision + (budget - stages[t].runs_used) / var[t])


def pooled_done(state) -> bool:
    """The adaptation's stopping rule with ``E^pool_t`` in place of ``E_t`` (same cap, same
    level ladder)."""
    opts = state.setup.options
    if extended(state):
        return state.runs_used + opts.batch_size > climb_cap(state.setup)
    if state.runs_used + opts.batch_size > opts.adaptation_cap:
        return True
    if len(post_ladder_history(state)) < 2:
        return False
    history, budget = state.history, state.setup.budget
    last = len(history) - 1
    return not _pooled_error(history, last, budget) < _pooled_error(history, last - 1, budget)


_ADAPTIVE_REPLICATES = engine_run.adaptive_replicates


def _final_replicates(r: int):
    """A screen: ``sampling="auto"``'s adaptive route ends on ``r`` replicates where the
    library's rule allows its own number (the law route keeps the library's)."""
    def rule(state, replicates, asked):
        return None if _ADAPTIVE_REPLICATES(state, r, asked) is None else r
    return rule


def one_run(task) -> dict:
    case_name, label, kwargs, seed = task
    kwargs = dict(kwargs)
    stop = kwargs.pop("_stop", None)
    engine_run.adaptation_done = pooled_done if stop == "pooled" else adaptation_done
    final_r = kwargs.pop("_final_replicates", None)
    engine_run.adaptive_replicates = (_ADAPTIVE_REPLICATES if final_r is None
                                      else _final_replicates(final_r))
    case = _case(case_name)
    t0 = time.perf_counter()
    res = me.expectations(case["model"], case["law"], budget=case["budget"], rng=seed,
                          weights=case["weights"], **kwargs)
    low, high = res.confidence_interval(0.95)
    history = res.history or []
    return {"case": case_name, "label": label, "seed": seed, "estimate": res.estimate.tolist(),
            "stderr": res.stderr.tolist(), "low": low.tolist(), "high": high.tolist(),
            "runs_adapting": int(history[-1]["runs_used"]) if history else 0,
            "seconds": time.perf_counter() - t0}


def score(records: list[dict], truth: np.ndarray, weights: np.ndarray) -> dict:
    """Sum of weighted variances (90% bootstrap range over the seeds), se²/Var, coverage,
    largest bias in standard errors of the mean, mean runs spent adapting."""
    est = np.array([r["estimate"] for r in records])
    se = np.array([r["stderr"] for r in records])
    total = float(weights @ est.var(axis=0, ddof=1))
    rng = np.random.default_rng(0)
    boot = [weights @ est[rng.integers(0, len(est), len(est))].var(axis=0, ddof=1)
            for _ in range(1000)]
    covered = ((np.array([r["low"] for r in records]) <= truth)
               & (truth <= np.array([r["high"] for r in records])))
    sem = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    return {"reps": len(records), "sum_w_var": total,
            "range90": [float(q) for q in np.percentile(boot, [5, 95])],
            "se2_over_var": float(weights @ np.mean(se**2, axis=0)) / total,
            "coverage": float(covered.mean()),
            "max_bias_in_se": float(np.max(np.abs(est.mean(axis=0) - truth) / sem)),
            "runs_adapting": float(np.mean([r["runs_adapting"] for r in records]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="cantilever_100", choices=sorted(cases()))
    parser.add_argument("--no-regret", default=None, help="a case of no_regret.py instead")
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--settings", required=True, help="JSON: label -> keywords")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    settings = json.loads(args.settings)
    name = args.case if args.no_regret is None else f"nr:{args.no_regret}"
    case = _case(name)
    tasks = [(name, label, kw, case["seed0"] + r) for label, kw in settings.items()
             for r in range(args.reps)]
    t0 = time.time()
    if args.workers > 1:
        with mp.get_context("fork").Pool(args.workers) as pool:
            records = list(pool.imap_unordered(one_run, tasks))
    else:
        records = [one_run(t) for t in tasks]
    truth = case["truth"]
    weights = np.ones_like(truth) if case["weights"] == "absolute" else 1.0 / truth**2
    summary = {label: score(sorted((r for r in records if r["label"] == label),
                                   key=lambda r: r["seed"]), truth, weights)
               for label in settings}
    print(f"{name}, {case['budget']} runs, {args.reps} reps, {time.time() - t0:.0f} s")
    print("| setting | sum w Var [90%] | se²/Var | coverage | max\\|bias\\|/se | runs adapting |")
    print("|---|---|---|---|---|---|")
    for label, s in summary.items():
        lo, hi = s["range90"]
        print(f"| {label} | {s['sum_w_var']:.3g} [{lo:.3g}, {hi:.3g}] | "
              f"{s['se2_over_var']:.2f} | {s['coverage']:.3f} | {s['max_bias_in_se']:.2f} | "
              f"{s['runs_adapting']:.0f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": summary, "records": records}, fh)


if __name__ == "__main__":
    main()

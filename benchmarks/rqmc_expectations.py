"""RQMC baselines beside aISCV on the paper's expectation cases, equal model runs, one command.

* ``cantilever_100``: the beam's tip displacement under the authors' 100 laws, 20 000 runs,
  weights 1; truths: ``benchmarks/no_regret_reference.json`` (2·10^6 runs per law).
  Methods: separate MC (``mc``), mixture MC, separate RQMC per law and mixture RQMC
  (``sampling="rqmc"``) with ``R`` = 4, 8, 16 replicates at least, aISCV.
* ``gauss_moments`` (``J = 10``, the paper's) and ``gauss_moments_4`` (``J = 4``):
  ``x^(2j)`` under ``N(0, 1)``, weights ``1/I_j^2``, 20 000 runs. Methods: crude MC, RQMC with
  ``R`` = 4, 8, 16, aISCV.

Per method over ``--reps`` seeds: ``sum_j w_j Var(Î_j)`` across the repetitions, the mean
reported ``sum_j w_j se_j^2`` over it (1: honest standard errors), the coverage of the 95%
intervals (``result.confidence_interval``: Student's t for RQMC) and the largest
``|mean - I_j|`` in standard errors of the mean.

Usage::

    nice -n 10 python benchmarks/rqmc_expectations.py --reps 50 --json out.json
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import multiprocessing as mp
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.special import factorial2

import multiexpect as me
from multiexpect.testfunctions import cantilever_beam, cantilever_laws

HERE = Path(__file__).resolve().parent
BUDGET = 20_000
REPLICATES = (4, 8, 16)


def gauss_moments(x: np.ndarray) -> np.ndarray:
    """``x^(2j)``, j = 1..10."""
    return x[:, :1] ** (2 * np.arange(1, 11))


def gauss_moments_4(x: np.ndarray) -> np.ndarray:
    """``x^(2j)``, j = 1..4."""
    return x[:, :1] ** (2 * np.arange(1, 5))


def _methods(several_laws: bool) -> dict:
    out = {"mc": {"method": "mc"}}
    if several_laws:
        out["mixture-mc"] = {"method": "mixture-mc"}
    for reps in REPLICATES:
        out[f"rqmc R>={reps}"] = {"method": "mc", "sampling": "rqmc", "replicates": reps}
    if several_laws:
        for reps in REPLICATES:
            out[f"mixture-rqmc R>={reps}"] = {"method": "mixture-mc", "sampling": "rqmc",
                                              "replicates": reps}
    out["aiscv"] = {}
    return out


@cache
def cases() -> dict:
    laws, _ = cantilever_laws()
    ref = json.loads((HERE / "no_regret_reference.json").read_text())["cantilever_100"]
    truth10 = factorial2(2 * np.arange(1, 11) - 1).astype(float)
    normal = me.Law([stats.norm(0.0, 1.0)])
    return {
        "cantilever_100": {"model": cantilever_beam, "law": laws, "truth": np.array(ref["value"]),
                           "weights": "absolute", "methods": _methods(True)},
        "gauss_moments": {"model": gauss_moments, "law": normal, "truth": truth10,
                          "weights": "relative", "methods": _methods(False)},
        "gauss_moments_4": {"model": gauss_moments_4, "law": normal, "truth": truth10[:4],
                            "weights": "relative", "methods": _methods(False)},
    }


def one_run(task) -> dict:
    case_name, label, seed = task
    case = cases()[case_name]
    kwargs = dict(case["methods"][label])
    t0 = time.perf_counter()
    try:
        res = me.expectations(case["model"], case["law"], budget=BUDGET, rng=seed,
                              weights=case["weights"], **kwargs)
    except Exception as exc:  # counted and reported
        return {"case": case_name, "label": label, "seed": seed, "failed": True,
                "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    low, high = res.confidence_interval(0.95)
    return {"case": case_name, "label": label, "seed": seed, "failed": False,
            "estimate": res.estimate.tolist(), "stderr": res.stderr.tolist(),
            "low": low.tolist(), "high": high.tolist(), "runs": int(res.n_evaluations),
            "replicates": res.diagnostics.get("replicates"),
            "seconds": time.perf_counter() - t0}


def score(records: list[dict], truth: np.ndarray, weights: np.ndarray) -> dict:
    ok = [r for r in records if not r["failed"]]
    out = {"failures": len(records) - len(ok)}
    if len(ok) < 2:
        return out
    est = np.array([r["estimate"] for r in ok])
    se = np.array([r["stderr"] for r in ok])
    var = est.var(axis=0, ddof=1)
    covered = (np.array([r["low"] for r in ok]) <= truth) & (truth <= np.array([r["high"]
                                                                               for r in ok]))
    sem = est.std(axis=0, ddof=1) / np.sqrt(len(ok))
    out.update(sum_w_var=float(np.sum(weights * var)),
               se2_over_var=float(np.sum(weights * np.mean(se**2, axis=0))
                                  / np.sum(weights * var)),
               coverage=float(covered.mean()),
               max_bias_in_se=float(np.max(np.abs(est.mean(axis=0) - truth) / sem)),
               runs=int(np.median([r["runs"] for r in ok])),
               replicates=ok[0]["replicates"],
               median_seconds=float(np.median([r["seconds"] for r in ok])))
    return out


def run_and_report(all_cases: dict, labels: dict, one_run, seed0: int, reps: int,
                   workers: int, json_path) -> dict:
    """Run ``one_run((case, label, seed))`` for every case, method and repetition (seeds
    ``seed0 + r``), print one markdown table per case and write the summary to ``json_path``."""
    tasks = [(c, label, seed0 + r) for c in labels for label in labels[c] for r in range(reps)]
    t0 = time.time()
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            records = list(pool.imap_unordered(one_run, tasks))
    else:
        records = [one_run(t) for t in tasks]
    summary = {}
    for c in labels:
        case = all_cases[c]
        truth = case["truth"]
        weights = np.ones_like(truth) if case["weights"] == "absolute" else 1.0 / truth**2
        summary[c] = {label: score([r for r in records if r["case"] == c
                                    and r["label"] == label], truth, weights)
                      for label in labels[c]}
    print(f"budget {BUDGET}, reps {reps}, {time.time() - t0:.0f} s")
    for c, per in summary.items():
        print(f"\n### {c}\n| method | R used | runs | sum w Var | se²/Var | coverage 95% | "
              f"max\\|bias\\|/se | failures |\n|---|---|---|---|---|---|---|---|")
        for label, s in per.items():
            if "sum_w_var" not in s:
                print(f"| {label} | | | | | | | {s['failures']} |")
                continue
            print(f"| {label} | {s['replicates'] or ''} | {s['runs']} | {s['sum_w_var']:.3g} | "
                  f"{s['se2_over_var']:.2f} | {s['coverage']:.3f} | "
                  f"{s['max_bias_in_se']:.2f} | {s['failures']} |")
    if json_path:
        json_path.write_text(json.dumps({"command": " ".join(sys.argv), "reps": reps,
                                         "summary": summary}, indent=1) + "\n")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--cases", nargs="*", default=list(cases()), choices=list(cases()))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--labels", nargs="*", help="only these methods (e.g. 'rqmc R>=4')")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    all_cases = cases()
    labels = {c: [lb for lb in all_cases[c]["methods"] if not args.labels or lb in args.labels]
              for c in args.cases}
    run_and_report(all_cases, labels, one_run, 7000, args.reps, args.workers, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

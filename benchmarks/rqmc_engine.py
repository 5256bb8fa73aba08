"""aISCV with an RQMC final stage beside aISCV and plain RQMC, equal model runs, one command.

* ``gauss_moments``: ``x^(2j)``, j = 1..10, under ``N(0, 1)``, weights ``1/I_j^2``,
  20 000 runs (the paper's case 1).
* ``cantilever_100``: the beam's tip displacement under the authors' 100 laws, 20 000 runs,
  weights 1 (the paper's case 2).

* ``--sobol``: first-order Sobol' indices of the cantilever beam at 140 000 runs (the
  paper's case 3): aISCV, aISCV with an RQMC final stage (``R`` = 4, 8, 16), pick-freeze
  RQMC (``R >= 8``) and SALib (``benchmarks/paper_sobol.py``); sum of the six indices'
  variances over the repetitions, mean reported ``se^2`` sum, coverage of the 95% intervals
  (Student's t on ``diagnostics["dof"]`` when given, SALib's ``S1_conf``) of
  ``testfunctions.CANTILEVER_FIRST_ORDER``.

Methods: aISCV (``sampling="mc"``), aISCV with ``sampling="rqmc"`` and ``R`` = 4, 8, 16
final replicates (pooled with the adaptive stages, and ``unpooled``: ``pool_adaptive=False``,
the final stage alone), plain RQMC (``method="mc"``, and ``"mixture-mc"`` for several laws) with
``R >= 8``. Scores as in ``benchmarks/rqmc_expectations.py`` (its :func:`score`): the sum of
weighted variances over the repetitions, the reported over the observed variance, the
coverage of the 95% intervals (Student's t for RQMC) and the largest bias in standard errors.

Usage::

    nice -n 10 python benchmarks/rqmc_engine.py --reps 30 --workers 2
    nice -n 10 python benchmarks/rqmc_engine.py --reps 30 --cases cantilever_100 \
        --labels aiscv "aiscv-rqmc R=8"
    nice -n 10 python benchmarks/rqmc_engine.py --sobol --reps 30
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
from multiexpect import testfunctions as tf
from multiexpect.testfunctions import cantilever_beam, cantilever_laws
from rqmc_expectations import BUDGET, gauss_moments, run_and_report

HERE = Path(__file__).resolve().parent
REPLICATES = (4, 8, 16)


def _methods(several_laws: bool) -> dict:
    out = {"aiscv": {}}
    for reps in REPLICATES:
        out[f"aiscv-rqmc R={reps}"] = {"sampling": "rqmc", "replicates": reps}
    for reps in REPLICATES:  # the final stage alone (before the stages were pooled)
        out[f"aiscv-rqmc R={reps} unpooled"] = {"sampling": "rqmc", "replicates": reps,
                                                "pool_adaptive": False}
    out["rqmc R>=8"] = {"method": "mc", "sampling": "rqmc", "replicates": 8}
    if several_laws:
        out["mixture-rqmc R>=8"] = {"method": "mixture-mc", "sampling": "rqmc",
                                    "replicates": 8}
    return out


@cache
def cases() -> dict:
    laws, _ = cantilever_laws()
    ref = json.loads((HERE / "no_regret_reference.json").read_text())["cantilever_100"]
    return {
        "gauss_moments": {"model": gauss_moments, "law": me.Law([stats.norm(0.0, 1.0)]),
                          "truth": factorial2(2 * np.arange(1, 11) - 1).astype(float),
                          "weights": "relative", "methods": _methods(False)},
        "cantilever_100": {"model": cantilever_beam, "law": laws, "truth": np.array(ref["value"]),
                           "weights": "absolute", "methods": _methods(True)},
    }


def one_run(task) -> dict:
    case_name, label, seed = task
    case = cases()[case_name]
    t0 = time.perf_counter()
    try:
        res = me.expectations(case["model"], case["law"], budget=BUDGET, rng=seed,
                              weights=case["weights"], **case["methods"][label])
    except Exception as exc:  # counted and reported
        return {"case": case_name, "label": label, "seed": seed, "failed": True,
                "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    low, high = res.confidence_interval(0.95)
    return {"case": case_name, "label": label, "seed": seed, "failed": False,
            "estimate": res.estimate.tolist(), "stderr": res.stderr.tolist(),
            "low": low.tolist(), "high": high.tolist(), "runs": int(res.n_evaluations),
            "replicates": res.diagnostics.get("replicates"),
            "seconds": time.perf_counter() - t0}


SOBOL_METHODS = {"aiscv": {"method": "aiscv"},
                 **{f"aiscv-rqmc R={r}": {"method": "aiscv", "sampling": "rqmc",
                                          "replicates": r} for r in REPLICATES},
                 "pick-freeze-rqmc R>=8": {"method": "pick-freeze", "sampling": "rqmc",
                                           "replicates": 8},
                 "salib": None}


def sobol_run(task) -> dict:
    """One repetition of one Sobol' method on the cantilever beam (first order)."""
    from paper_sobol import salib_indices

    label, seed = task
    law, model = tf.cantilever_law(), tf.cantilever_beam
    budget = 20_000 * (law.dim + 1)
    kwargs = SOBOL_METHODS[label]
    if kwargs is None:
        out = salib_indices(model, law, budget, seed, ("first",))
        return {"label": label, "first": out["first"].tolist(),
                "se": out["first_se"].tolist(), "q": 1.96, "runs": out["runs"]}
    res = me.sobol_indices(model, law, budget=budget, orders=("first",), rng=seed, **kwargs)
    return {"label": label, "first": res.first_order.tolist(),
            "se": res.first_order_stderr.tolist(),
            "q": float(stats.t.ppf(0.975, res.diagnostics["dof"]))
            if "dof" in res.diagnostics else 1.96, "runs": res.n_evaluations}


def sobol_main(reps: int, workers: int, labels=None) -> None:
    """The Sobol' table (only the methods ``labels`` when given)."""
    methods = [lab for lab in SOBOL_METHODS if labels is None or lab in labels]
    tasks = [(label, 12_000 + r) for label in methods for r in range(reps)]
    t0 = time.time()
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            records = list(pool.imap_unordered(sobol_run, tasks))
    else:
        records = [sobol_run(t) for t in tasks]
    truth = np.asarray(tf.CANTILEVER_FIRST_ORDER)
    print(f"cantilever first-order Sobol', 140 000 runs, reps {reps}, {time.time() - t0:.0f} s")
    print("| method | runs | sum Var S1 | mean sum se² | coverage 95% |\n|---|---|---|---|---|")
    for label in methods:
        rows = [r for r in records if r["label"] == label]
        est, se = np.array([r["first"] for r in rows]), np.array([r["se"] for r in rows])
        q = np.array([r["q"] for r in rows])[:, None]
        cover = np.abs(est - truth) <= q * se
        print(f"| {label} | {rows[0]['runs']} | {np.sum(est.var(axis=0, ddof=1)):.3g} | "
              f"{np.sum(np.mean(se**2, axis=0)):.3g} | {cover.mean():.3f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--cases", nargs="*", default=list(cases()), choices=list(cases()))
    parser.add_argument("--labels", nargs="*", default=None,
                        help="only these methods (labels of the tables)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sobol", action="store_true",
                        help="the cantilever Sobol' case instead of the expectations")
    args = parser.parse_args(argv)
    if args.sobol:
        sobol_main(args.reps, args.workers, args.labels)
        return 0
    all_cases = cases()
    labels = {c: [lab for lab in all_cases[c]["methods"]
                  if args.labels is None or lab in args.labels] for c in args.cases}
    run_and_report(all_cases, labels, one_run, 9000, args.reps, args.workers, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

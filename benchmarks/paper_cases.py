"""The paper's test cases, every method side by side (method.md section 5).

Demange-Chryst, Bachoc & Morio (Statistics and Computing, 2023), budget ``N = 2e4``:

* ``gaussian``: ``X ~ N(0, 1)``, ``phi_j = x^(2j)``, ``I_j = (2j-1)!!``, J = 10, weights
  ``1/I_j^2``. Methods: aiscv (default family), aiscv ``family="gmm"``, crude MC, separate IS.
  The exact crude-MC figure ``sum_j Var(x^(2j)) / (I_j^2 N) = 49.75`` is printed beside.
* ``cantilever``: the beam's tip displacement under the authors' 100 input laws
  (:func:`multiexpect.testfunctions.cantilever_laws`), weights 1. Methods: aiscv, separate MC
  (``mc``), mixture MC, separate IS. The reference values are themselves estimates (the
  authors' large MC), so ``|bias|/s.e.`` there includes their error.
* ``sobol``: delegated to ``benchmarks/paper_sobol.py`` when it exists.

For each method, over ``--reps`` independent runs: the sum of the (weighted) variances of the
estimates across runs, its ratio to crude / separate MC, the largest ``|mean - I_j| / s.e.``
(s.e. = std across runs / sqrt(reps)), the median wall time of one run, and the honesty ratio
``sum_j w_j mean(stderr_j^2) / sum_j w_j Var(Î_j)`` (1 when the reported standard errors are
right). Runs are spread over ``--workers`` processes, each with single-threaded BLAS. One
aiscv run per case is profiled with cProfile to say what dominates its time.

Usage::

    python benchmarks/paper_cases.py --reps 200 --cases gaussian --json gauss.json
    python benchmarks/paper_cases.py --reps 50 --cases cantilever --workers 2
    python benchmarks/paper_cases.py --cases sobol --reps 50
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.special import factorial2

import multiexpect as me
from multiexpect.testfunctions import cantilever_beam, cantilever_laws

BUDGET = 20_000
J_GAUSS = 10

# figures read from the authors' result files (method.md section 5)
PAPER = {
    "gaussian": {"crude MC (200 reps)": 12.78, "crude MC (exact)": 49.75, "aISCV": 1.63e-3},
    "cantilever": {"separate MC": 1.31e-4, "mixture MC": 6.10e-5, "aISCV": 4.38e-6},
}


# ---------------------------------------------------------------------- the cases
def gaussian_moments(x: np.ndarray) -> np.ndarray:
    """``x^(2j)``, j = 1..10 (module level so that worker processes can pickle it)."""
    return x[:, :1] ** (2 * np.arange(1, J_GAUSS + 1))


@dataclass
class Case:
    name: str
    model: object
    law: object
    truth: np.ndarray
    weights: np.ndarray  # of the criterion sum_j w_j Var(Î_j)
    methods: dict  # label -> (method, options)
    user_weights: object = "relative"  # what the methods are given
    crude_exact: float | None = None
    crude_label: str = "mc"
    notes: list = field(default_factory=list)


def gaussian_case() -> Case:
    j = np.arange(1, J_GAUSS + 1)
    truth = factorial2(2 * j - 1).astype(float)
    second = factorial2(4 * j - 1).astype(float)
    crude_exact = float(np.sum((second - truth**2) / truth**2) / BUDGET)
    return Case(
        name="gaussian",
        model=gaussian_moments,
        law=me.Law([stats.norm(0, 1)]),
        truth=truth,
        weights=1.0 / truth**2,
        methods={"aiscv": ("aiscv", {}), "aiscv-gmm": ("aiscv", {"family": "gmm"}),
                 "mc": ("mc", {}), "separate-is": ("separate-is", {})},
        user_weights="relative",
        crude_exact=crude_exact,
        notes=["weights of the criterion: 1/I_j^2 with the true I_j; the methods get "
               "weights='relative' (1/I_j^2 from their own pilot)"],
    )


def cantilever_case() -> Case:
    laws, reference = cantilever_laws()
    return Case(
        name="cantilever",
        model=cantilever_beam,
        law=laws,
        truth=reference,
        weights=np.ones(len(laws)),
        methods={"aiscv": ("aiscv", {}), "mc": ("mc", {}), "mixture-mc": ("mixture-mc", {}),
                 "separate-is": ("separate-is", {})},
        user_weights="absolute",
        notes=["reference values are the authors' large-MC estimates (not exact)",
               "mc = separate MC, budget/100 runs per law"],
    )


CASES = {"gaussian": gaussian_case, "cantilever": cantilever_case}


# ---------------------------------------------------------------------- running
def _one_run(args):
    case_name, method, options, user_weights, budget, seed = args
    case = _case(case_name)
    start = time.perf_counter()
    res = me.expectations(case.model, case.law, budget=budget, method=method, rng=seed,
                          weights=user_weights, **options)
    elapsed = time.perf_counter() - start
    return res.estimate, res.stderr, elapsed, res.n_evaluations


_CACHE: dict = {}


def _case(name: str) -> Case:
    if name not in _CACHE:
        _CACHE[name] = CASES[name]()
    return _CACHE[name]


def run_method(case: Case, label: str, reps: int, budget: int, pool, seed0: int) -> dict:
    method, options = case.methods[label]
    jobs = [(case.name, method, options, case.user_weights, budget, seed0 + r)
            for r in range(reps)]
    mapper = pool.imap if pool is not None else map
    out = list(mapper(_one_run, jobs))
    est = np.array([o[0] for o in out])
    se = np.array([o[1] for o in out])
    times = np.array([o[2] for o in out])
    runs = np.array([o[3] for o in out])
    var = est.var(axis=0, ddof=1)
    sem = np.sqrt(var / reps)
    bias_z = np.abs(est.mean(axis=0) - case.truth) / np.where(sem > 0, sem, np.inf)
    w = case.weights
    weighted = float(w @ var)
    reported = float(w @ np.mean(se**2, axis=0))
    coverage = float(np.mean(np.abs(est - case.truth) <= 1.959964 * se))
    # the per-run reported criterion: a heavy upper tail means a few runs kept a bad proposal
    per_run = se**2 @ w
    worst = int(np.argmax(per_run))
    return {
        "method": method, "options": options, "reps": reps,
        "weighted_variance": weighted,
        "max_bias_over_se": float(np.max(bias_z)),
        "argmax_bias": int(np.argmax(bias_z)),
        "median_time_s": float(np.median(times)),
        "mean_time_s": float(np.mean(times)),
        "honesty": reported / weighted if weighted > 0 else float("nan"),
        "coverage_95": coverage,
        "max_runs": int(runs.max()),
        "reported_per_run": {"median": float(np.median(per_run)),
                             "q90": float(np.quantile(per_run, 0.9)),
                             "max": float(per_run[worst]), "worst_seed": seed0 + worst},
        "variance_per_quantity": var.tolist(),
        "mean_estimate": est.mean(axis=0).tolist(),
    }


def profile_once(case: Case, budget: int, seed: int = 12345, top: int = 12) -> str:
    """cProfile of one aiscv run: the functions with the largest own time."""
    method, options = case.methods["aiscv"]
    prof = cProfile.Profile()
    prof.enable()
    me.expectations(case.model, case.law, budget=budget, method=method, rng=seed,
                    weights=case.user_weights, **options)
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
    st.print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    # keep the totals line and the table
    keep = [ln for ln in lines if "function calls" in ln]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), None)
    if start is not None:
        keep += lines[start:start + top + 1]
    return "\n".join(keep)


def run_case(name: str, reps: int, budget: int, pool, methods=None, seed0=2023,
             profile=True) -> dict:
    case = _case(name)
    labels = [m for m in case.methods if methods is None or m in methods]
    print(f"\n=== {name}: J = {len(case.truth)}, budget {budget}, {reps} reps ===", flush=True)
    for note in case.notes:
        print(f"  ({note})")
    results = {}
    for label in labels:
        t0 = time.perf_counter()
        results[label] = run_method(case, label, reps, budget, pool, seed0)
        print(f"  {label:12s} done in {time.perf_counter() - t0:7.1f} s", flush=True)
    crude = results.get(case.crude_label, {}).get("weighted_variance")
    report = {"case": name, "budget": budget, "reps": reps, "methods": results,
              "crude_exact": case.crude_exact, "paper": PAPER.get(name, {})}
    print_table(report)
    if profile and "aiscv" in case.methods:
        text = profile_once(case, budget)
        report["profile_aiscv"] = text
        print(f"\n  cProfile of one aiscv run ({name}), by own time:")
        print("    " + text.replace("\n", "\n    "))
    report["crude_measured"] = crude
    return report


def print_table(report: dict) -> None:
    crude_exact = report["crude_exact"]
    crude_meas = report["methods"].get("mc", {}).get("weighted_variance")
    base = crude_exact if crude_exact is not None else crude_meas
    base_label = "exact crude MC" if crude_exact is not None else "measured separate MC"
    head = (f"  {'method':12s} {'sum w Var':>11s} {'/ ' + base_label:>22s} "
            f"{'max|bias|/se':>12s} {'med. time':>10s} {'se^2/Var':>9s} {'cover95':>8s}")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for label, r in report["methods"].items():
        ratio = r["weighted_variance"] / base if base else float("nan")
        print(f"  {label:12s} {r['weighted_variance']:11.3e} {ratio:22.3e} "
              f"{r['max_bias_over_se']:12.2f} {r['median_time_s']:9.3f}s "
              f"{r['honesty']:9.2f} {r['coverage_95']:8.3f}")
    print("  per-run reported sum w se^2 (median / 90% / max, worst seed):")
    for label, r in report["methods"].items():
        q = r["reported_per_run"]
        print(f"  {label:12s} {q['median']:.3e} / {q['q90']:.3e} / {q['max']:.3e} "
              f"(seed {q['worst_seed']})")
    if crude_exact is not None:
        print(f"  exact crude MC: {crude_exact:.4g}")
    for key, value in report["paper"].items():
        print(f"  paper, {key}: {value:.3g}")


def run_sobol(reps: int, workers: int, json_path: str | None) -> dict | None:
    """Delegate to ``benchmarks/paper_sobol.py`` (written separately), if present."""
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    try:
        import paper_sobol  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"\n=== sobol: skipped, benchmarks/paper_sobol.py not importable ({exc}) ===")
        return None
    argv = ["--reps", str(reps), "--workers", str(workers)]
    if json_path:
        argv += ["--json", json_path]
    print("\n=== sobol: benchmarks/paper_sobol.py " + " ".join(argv) + " ===", flush=True)
    paper_sobol.main(argv)
    return {"case": "sobol", "delegated_to": "benchmarks/paper_sobol.py", "argv": argv}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--cases", default="gaussian,cantilever",
                        help="comma-separated subset of gaussian, cantilever, sobol")
    parser.add_argument("--methods", default=None, help="comma-separated subset of labels")
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=2023, help="seed of the first rep")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--json", default=None, help="write every figure to this file")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES) - {"sobol"})
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {[*sorted(CASES), 'sobol']}")
    methods = None if args.methods is None else set(args.methods.split(","))
    print(f"multiexpect {me.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} cpus, {args.workers} workers, {time.strftime('%Y-%m-%d %H:%M')}")
    out = {"command": "python benchmarks/paper_cases.py " + " ".join(sys.argv[1:]
                                                                    if argv is None else argv),
           "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
           "workers": args.workers, "version": me.__version__, "cases": {}}
    pool = None
    if args.workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(args.workers)
    try:
        for name in cases:
            if name == "sobol":
                sob_json = None
                if args.json:
                    sob_json = str(Path(args.json).with_suffix("")) + "_sobol.json"
                out["cases"]["sobol"] = run_sobol(args.reps, args.workers, sob_json)
                continue
            out["cases"][name] = run_case(name, args.reps, args.budget, pool, methods,
                                          args.seed, not args.no_profile)
            if args.json:  # after each case, so a long run keeps what it measured
                Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

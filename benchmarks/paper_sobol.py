"""Paper case 3: cantilever-beam Sobol' indices, aISCV against pick-freeze MC and SALib.

method.md section 5: first-order Sobol' indices of the cantilever beam (d = 6) at
``2e4`` pick-freeze points x ``(d+1)`` runs = 140 000 model runs, repeated; the figure is the
sum over the six indices of the variance across repetitions (paper: aISCV 1.73e-4, pick-freeze
MC 2.53e-3). Side by side, at the SAME number of model runs:

* ``aiscv``          : ``multiexpect.sobol_indices(method="aiscv")`` (centred, delta weights);
* ``pick-freeze``    : ``method="pick-freeze"``: plain MC of the same centred quantities;
* ``pick-freeze-raw``: the same without centring (``centre=0``), as the paper's baseline;
* ``pick-freeze-rqmc``, ``pick-freeze-net``, ``pick-freeze-net8``,
  ``pick-freeze-net-chaos``, ``pick-freeze-rqmc-chaos`` (``--methods``): the same with
  ``sampling="rqmc"``: 8+ replicates, or one net with 16 (8) blocks, or one net or the
  replicates with the chaos control (Student-t
  intervals: the reported se is scaled by ``t_{0.975, dof} / 1.96``, so that ``1.96 se`` is
  the interval's half-width);
* ``salib``          : ``SALib.sample.sobol`` (scrambled Sobol' sequence, Saltelli scheme,
  ``N (d+2)`` runs) + ``SALib.analyze.sobol`` with ``N = runs // (d+2)``.

The second part (``--total``) adds total order: both orders at ``2e4 (d+2)`` runs, aISCV
against pick-freeze MC (Saltelli 2010 + Jansen) and SALib.

Usage::

    python benchmarks/paper_sobol.py --reps 50 [--total] [--workers 2] [--json out.json]

Importable: :func:`run_case` (one repetition of one method), :func:`benchmark` (the table).
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats
from scipy.special import ndtri

import multiexpect as me
from multiexpect import testfunctions as tf

POINTS = 20_000
D = 6
METHODS_FIRST = ("aiscv", "pick-freeze", "pick-freeze-raw", "salib")
METHODS_TOTAL = ("aiscv", "pick-freeze", "salib")
#: randomised QMC pick-freeze (``--methods``): 8+ replicates, or one net (16 or 8 blocks; the
#: chaos control)
RQMC = {"pick-freeze-rqmc": {"sampling": "rqmc"},
        "pick-freeze-net": {"sampling": "rqmc", "replicates": 1},
        "pick-freeze-net8": {"sampling": "rqmc", "replicates": 1, "blocks": 8},
        "pick-freeze-net-chaos": {"sampling": "rqmc", "replicates": 1, "surrogate": "chaos"},
        "pick-freeze-rqmc-chaos": {"sampling": "rqmc", "surrogate": "chaos"}}


def salib_indices(model, law, runs: int, seed: int, orders=("first", "total")) -> dict:
    """SALib's Saltelli-scheme Sobol' analysis with at most ``runs`` model runs.

    Samples the unit cube with ``SALib.sample.sobol.sample`` (``N (d+2)`` rows), maps it to
    the law by the marginal quantiles (``law.from_standard(Φ^{-1}(u))``) and analyses with
    ``SALib.analyze.sobol.analyze`` (``calc_second_order=False``).
    """
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError as exc:  # pragma: no cover - benchmark extra
        raise ImportError("the SALib baseline needs SALib: pip install 'multiexpect[salib]'") \
            from exc
    import warnings

    d = law.dim
    n = runs // (d + 2)
    problem = {"num_vars": d, "names": list(law.names), "bounds": [[0.0, 1.0]] * d}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # N not a power of 2
        u = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    y = model(law.from_standard(ndtri(u)))
    res = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed,
                                num_resamples=100)
    return {"first": np.asarray(res["S1"]), "first_se": np.asarray(res["S1_conf"]) / 1.96,
            "total": np.asarray(res["ST"]), "total_se": np.asarray(res["ST_conf"]) / 1.96,
            "runs": int(u.shape[0])}


def run_case(method: str, seed: int, orders=("first",), points: int = POINTS) -> dict:
    """One repetition: indices, standard errors, runs and seconds for ``method``."""
    law, model = tf.cantilever_law(), tf.cantilever_beam
    runs_per_point = D + 1 if len(orders) == 1 else D + 2
    budget = points * runs_per_point
    t0 = time.perf_counter()
    if method == "salib":
        out = salib_indices(model, law, budget, seed, orders)
    else:
        kwargs = {"centre": 0.0} if method == "pick-freeze-raw" else RQMC.get(method, {})
        name = "aiscv" if method == "aiscv" else "pick-freeze"
        res = me.sobol_indices(model, law, budget=budget, orders=orders, method=name,
                               rng=seed, **kwargs)
        if "dof" in res.diagnostics:  # Student-t intervals: the se giving the same width
            scale = stats.t.ppf(0.975, res.diagnostics["dof"]) / 1.96
        else:
            scale = 1.0
        out = {"first": res.first_order, "first_se": scale * res.first_order_stderr,
               "total": res.total_order, "total_se": scale * res.total_order_stderr,
               "runs": res.n_evaluations,
               "stage": res.diagnostics.get("chosen_stage", -1)}
    out["seconds"] = time.perf_counter() - t0
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in out.items()}


def _job(args):
    method, seed, orders, points = args
    return method, seed, run_case(method, seed, orders, points)


def summarise(results: list[dict], orders) -> dict:
    """Sum over indices of the variance across repetitions, mean predicted s.e.^2, coverage."""
    out = {"reps": len(results), "runs": results[0]["runs"],
           "seconds_per_run": float(np.mean([r["seconds"] for r in results]))}
    for order in orders:
        est = np.array([r[order] for r in results])
        se = np.array([r[f"{order}_se"] for r in results])
        out[f"{order}_sum_var"] = float(np.sum(np.var(est, axis=0, ddof=1)))
        out[f"{order}_sum_se2"] = float(np.sum(np.mean(se**2, axis=0)))
        out[f"{order}_mean"] = est.mean(axis=0).tolist()
        if order == "first":
            truth = tf.CANTILEVER_FIRST_ORDER
            cover = np.abs(est - truth) <= 1.96 * np.sqrt(se**2 + 5e-5**2)
            out["first_coverage_vs_reference"] = float(cover.mean())
    if "stage" in results[0]:
        stages = [r["stage"] for r in results]
        out["chosen_stages"] = {str(s): stages.count(s) for s in sorted(set(stages))}
    return out


def benchmark(reps: int = 50, total: bool = False, workers: int = 1,
              points: int = POINTS, methods=None) -> dict:
    """Run every method ``reps`` times at equal model runs and summarise."""
    orders = ("first", "total") if total else ("first",)
    methods = methods or (METHODS_TOTAL if total else METHODS_FIRST)
    jobs = [(m, 10_000 + rep, orders, points) for m in methods for rep in range(reps)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            done = list(pool.map(_job, jobs))
    else:
        done = [_job(j) for j in jobs]
    table = {}
    for m in methods:
        table[m] = summarise([r for mm, _, r in done if mm == m], orders)
    return {"orders": list(orders), "points": points, "table": table}


def print_table(report: dict) -> None:
    orders = report["orders"]
    print(f"cantilever beam Sobol' ({', '.join(orders)} order), "
          f"{report['points']} points-equivalent, reps = "
          f"{next(iter(report['table'].values()))['reps']}")
    head = f"{'method':>16} {'runs':>8}"
    for order in orders:
        head += f" {order + ' sum var':>15} {'mean se^2 sum':>14}"
    head += f" {'cover S1':>9} {'s/run':>7}"
    print(head)
    for m, row in report["table"].items():
        line = f"{m:>16} {row['runs']:>8}"
        for order in orders:
            line += f" {row[f'{order}_sum_var']:>15.3e} {row[f'{order}_sum_se2']:>14.3e}"
        cov = row.get("first_coverage_vs_reference", float("nan"))
        line += f" {cov:>9.3f} {row['seconds_per_run']:>7.2f}"
        print(line)
    table = report["table"]
    if "aiscv" in table:
        for order in orders:
            for other in table:
                if other != "aiscv":
                    ratio = table[other][f"{order}_sum_var"] / table["aiscv"][f"{order}_sum_var"]
                    print(f"  {order}: {other} / aiscv variance ratio = {ratio:.2f}")
        if "chosen_stages" in table["aiscv"]:
            print(f"  aiscv chosen stages: {table['aiscv']['chosen_stages']}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--total", action="store_true", help="first AND total order")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--points", type=int, default=POINTS)
    parser.add_argument("--methods", default=None, help="comma-separated subset")
    parser.add_argument("--json", default=None, help="write the report to this file")
    args = parser.parse_args(argv)
    methods = tuple(args.methods.split(",")) if args.methods else None
    report = benchmark(args.reps, args.total, args.workers, args.points, methods)
    print_table(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()

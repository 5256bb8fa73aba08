"""The public Sobol' sensitivity problems: SALib, OpenTURNS Martinez and multiexpect, one command.

Every method gets ``N (d + 2)`` model runs (``N = --n``, ``2^14`` by default) on each problem of
:mod:`multiexpect.testproblems.sensitivity`, ``--reps`` times (seeds ``1000 k + r``):

* ``salib``: ``SALib.sample.sobol.sample(problem, N, calc_second_order=False, seed=s)``
  (scrambled Sobol' points in ``[0, 1]^d``, mapped to the law by its inverse CDFs) and
  ``SALib.analyze.sobol.analyze`` (Saltelli 2010 / Jansen; ``S1_conf``, ``ST_conf``: its
  bootstrap half-widths);
* ``martinez``: OpenTURNS ``SobolIndicesExperiment`` (i.i.d.) + ``MartinezSensitivityAlgorithm``
  with its asymptotic intervals;
* ``pf-mc``, ``pf-rqmc``: ``multiexpect.sobol_indices(method="pick-freeze")`` with
  ``sampling="mc"`` and ``"rqmc"`` (replicates of scrambled nets, t intervals);
* ``pf-net``, ``pf-net8``: the same with ``replicates=1``: one scrambled net of ``N`` points,
  intervals from the spread of its 16 (8) consecutive blocks (``"net-blocks"``);
* ``pf-net-chaos``, ``pf-rqmc-chaos``: ``pf-net`` and ``pf-rqmc`` with
  ``surrogate="chaos"`` (a polynomial chaos control variate, cross-fitted by the net's
  blocks or by replicate: :mod:`multiexpect.sensitivity.chaos`);
* ``salib-same-net``: the paired comparator (common random numbers): ``pf-net``'s run, then
  ``SALib.analyze.sobol.analyze`` on the SAME model outputs, reordered into the rows of
  ``SALib.sample.sobol.sample`` (per point ``A, AB_1 .. AB_d, B``); no extra model run. Our
  net's first ``d`` coordinates are SALib's ``A`` (the base of the mixed runs), its last ``d``
  SALib's ``B``, both from scipy's scrambled Sobol' net of dimension ``2 d``, as SALib's;
  every run checks that the mixed runs are ``A`` with column ``i`` from ``B``. Its record also
  holds ``pf-net``'s estimate of the same run, so each run scores both estimators on one net;
* ``martinez-same-net``: the same with OpenTURNS' Martinez estimator on ``pf-net``'s outputs
  (``SobolIndicesExperiment``'s blocks ``A, B, E_1 .. E_d``, ``E_i`` = ``AB_i``);
* ``aiscv``: ``multiexpect.sobol_indices()`` with its defaults.

Seeds: ``1000 k + r`` with ``k`` the problem's position in :data:`PROBLEMS` (so a run of some
problems repeats the full suite's seeds for them).

Per problem and method: the summed MSE of the first- and total-order indices (mean over the
repetitions of ``sum_i (S_i - ref_i)^2 + (ST_i - refT_i)^2``), the coverage of the 95%
intervals of all ``2 d`` indices, the failures (exceptions, non-finite indices), the median
time of a run. References: exact where known, else ``benchmarks/sensitivity_reference.json``
(``--make-reference``: pick-freeze on 64 scrambled Sobol' nets of ``2^14`` points, ``2^20``
in all, with its standard error).

Usage::

    nice -n 10 python benchmarks/sensitivity_suite.py --reps 20 --json out.json
    python benchmarks/sensitivity_suite.py --make-reference
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import contextlib
import json
import multiprocessing as mp
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

import multiexpect as me
from multiexpect.sampling import law_from_uniform
from multiexpect.testproblems.sensitivity import PROBLEMS, problem

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "sensitivity_reference.json"
METHODS = ("salib", "salib-same-net", "martinez", "martinez-same-net", "pf-mc", "pf-rqmc",
           "pf-net", "pf-net8", "pf-net-chaos", "pf-rqmc-chaos", "aiscv")
REFERENCE_POINTS = 2**20
REFERENCE_REPLICATES = 64


# ---------------------------------------------------------------------- references
def make_reference(names) -> dict:
    """RQMC pick-freeze at ``2^20`` points (64 scramblings) for the problems without exact
    indices; returns ``{name: {"first", "total", "first_se", "total_se"}}``."""
    out = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
    for name in names:
        prob = problem(name)
        if prob.exact:
            continue
        t0 = time.time()
        res = me.sobol_indices(prob.model, prob.law, budget=REFERENCE_POINTS * (prob.dim + 2),
                               rng=20_260_000, method="pick-freeze", sampling="rqmc",
                               replicates=REFERENCE_REPLICATES)
        out[name] = {"first": res.first_order.tolist(), "total": res.total_order.tolist(),
                     "first_se": res.first_order_stderr.tolist(),
                     "total_se": res.total_order_stderr.tolist(),
                     "points": REFERENCE_POINTS, "replicates": REFERENCE_REPLICATES,
                     "method": "pick-freeze, sampling='rqmc' (Saltelli 2010 / Jansen)"}
        print(f"reference {name}: {time.time() - t0:.1f} s, max se "
              f"{max(np.max(res.first_order_stderr), np.max(res.total_order_stderr)):.2e}",
              flush=True)
    out["command"] = "python benchmarks/sensitivity_suite.py --make-reference"
    REFERENCE.write_text(json.dumps(out, indent=1) + "\n")
    return out


def references(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """First, total indices and the largest reference standard error (0 when exact)."""
    prob = problem(name)
    if prob.exact:
        return prob.first, prob.total, 0.0
    data = json.loads(REFERENCE.read_text())[name]
    return (np.array(data["first"]), np.array(data["total"]),
            float(max(max(data["first_se"]), max(data["total_se"]))))


# ---------------------------------------------------------------------- the methods
class Problem(NamedTuple):
    """What :func:`_multiexpect` needs of a problem (its model may be wrapped)."""

    name: str
    model: object
    law: object

    @property
    def dim(self) -> int:
        return self.law.dim


def _salib_spec(dim: int) -> dict:
    return {"num_vars": dim, "names": [f"x{i}" for i in range(dim)],
            "bounds": [[0.0, 1.0]] * dim}


def _salib_analyze(dim: int, y: np.ndarray, seed: int, resamples: int):
    """SALib's estimator (and bootstrap half-widths) on outputs in SALib's row order.

    The estimates use all rows whatever ``resamples`` (the bootstrap's size, SALib's
    default 100), which sets only the half-widths.
    """
    from SALib.analyze import sobol as salib_analyze

    res = salib_analyze.analyze(_salib_spec(dim), y, calc_second_order=False,
                                print_to_console=False, seed=seed, num_resamples=resamples)
    return (np.asarray(res["S1"]), np.asarray(res["ST"]), np.asarray(res["S1_conf"]),
            np.asarray(res["ST_conf"]))


def _salib(prob, n, seed, resamples=100):
    from SALib.sample import sobol as salib_sample

    u = salib_sample.sample(_salib_spec(prob.dim), n, calc_second_order=False, seed=seed)
    y = prob.model(law_from_uniform(prob.law, u))
    return (*_salib_analyze(prob.dim, y, seed, resamples), int(u.shape[0]))


class _Recorder:
    """The model, keeping every call's inputs and outputs."""

    def __init__(self, model):
        self.model = model
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, x, *args):
        y = np.asarray(self.model(x, *args), dtype=float)
        self.calls.append((np.array(x, dtype=float), y.reshape(-1)))
        return y


def salib_rows(x: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    """Our one-net run's outputs in SALib's row order (``sobol.sample``, no second order).

    Ours (:class:`multiexpect.sensitivity.sobol.PickFreezeLayout` with both orders): blocks
    ``X`` (= SALib's ``B``), ``X'`` (= ``A``), then ``(X_i, X'_{-i})`` (= ``AB_i``, ``A``
    with column ``i`` from ``B``) for ``i = 1..d``, ``n`` rows each. SALib's: per point
    ``A, AB_1, .., AB_d, B``. Raises if the inputs are not laid out so.
    """
    n = y.size // (dim + 2)
    xs, ys = x.reshape(dim + 2, n, dim), y.reshape(dim + 2, n)
    b, a = xs[0], xs[1]
    for i in range(dim):
        mixed = xs[2 + i]
        if not (np.array_equal(mixed[:, i], b[:, i])
                and np.array_equal(np.delete(mixed, i, axis=1), np.delete(a, i, axis=1))):
            raise RuntimeError(f"mixed block {i} is not A with column {i} from B")
    return np.column_stack([ys[1], ys[2:].T, ys[0]]).reshape(-1)


def _one_net_run(prob, n, seed):
    """``pf-net``'s run, with its one model call's inputs and outputs."""
    rec = _Recorder(prob.model)
    ours = _multiexpect(Problem(prob.name, rec, prob.law), n, seed, method="pick-freeze",
                        sampling="rqmc", replicates=1)
    if len(rec.calls) != 1:
        raise RuntimeError(f"expected one model call, got {len(rec.calls)}")
    extra = {"ours_estimate": np.concatenate([ours[0], ours[1]]).tolist(),
             "ours_half_width": np.concatenate([ours[2], ours[3]]).tolist()}
    return rec.calls[0], extra


def _salib_same_net(prob, n, seed, resamples=100):
    (x, y), extra = _one_net_run(prob, n, seed)
    y = salib_rows(x, y, prob.dim)
    return (*_salib_analyze(prob.dim, y, seed, resamples), int(y.size), extra)


def _martinez_same_net(prob, n, seed):
    """OpenTURNS' Martinez estimator on ``pf-net``'s outputs, in ``SobolIndicesExperiment``'s
    block order ``A, B, E_1 .. E_d`` (``E_i`` = ``A`` with column ``i`` from ``B``, as
    SALib's ``AB_i``); its asymptotic intervals assume i.i.d. rows."""
    (x, y), extra = _one_net_run(prob, n, seed)
    d = prob.dim
    salib_rows(x, y, d)  # the layout check
    xs, ys = x.reshape(d + 2, n, d), y.reshape(d + 2, n)
    order = [1, 0, *range(2, d + 2)]
    return (*_martinez_analyze(xs[order].reshape(-1, d), ys[order].reshape(-1), n),
            int(y.size), extra)


def _martinez(prob, n, seed):
    import openturns as ot

    ot.RandomGenerator.SetSeed(int(seed) % 2**31)
    cube = ot.JointDistribution([ot.Uniform(0.0, 1.0)] * prob.dim)
    design = ot.SobolIndicesExperiment(cube, n, False).generate()
    y = prob.model(law_from_uniform(prob.law, np.asarray(design)))
    return (*_martinez_analyze(design, y, n), int(design.getSize()))


def _martinez_analyze(design, y: np.ndarray, n: int):
    """Martinez's indices and asymptotic half-widths on a ``SobolIndicesExperiment`` design."""
    import openturns as ot

    algo = ot.MartinezSensitivityAlgorithm(ot.Sample(np.asarray(design)),
                                           ot.Sample(np.asarray(y)[:, None]), n)
    algo.setUseAsymptoticDistribution(True)
    first, total = np.array(algo.getFirstOrderIndices()), np.array(algo.getTotalOrderIndices())
    ci1, cit = algo.getFirstOrderIndicesInterval(), algo.getTotalOrderIndicesInterval()
    half1 = 0.5 * (np.array(ci1.getUpperBound()) - np.array(ci1.getLowerBound()))
    halft = 0.5 * (np.array(cit.getUpperBound()) - np.array(cit.getLowerBound()))
    return first, total, half1, halft


def _multiexpect(prob, n, seed, **kwargs):
    res = me.sobol_indices(prob.model, prob.law, budget=n * (prob.dim + 2), rng=seed, **kwargs)
    ci = res.confidence_interval(0.95)
    return (res.first_order, res.total_order, 0.5 * (ci["first"][1] - ci["first"][0]),
            0.5 * (ci["total"][1] - ci["total"][0]), int(res.n_evaluations))


RUNNERS = {
    "salib": _salib,
    "salib-same-net": _salib_same_net,
    "martinez-same-net": _martinez_same_net,
    "martinez": _martinez,
    "pf-mc": lambda p, n, s: _multiexpect(p, n, s, method="pick-freeze"),
    "pf-rqmc": lambda p, n, s, r=None: _multiexpect(p, n, s, method="pick-freeze",
                                                    sampling="rqmc", replicates=r),
    "pf-net": lambda p, n, s: _multiexpect(p, n, s, method="pick-freeze", sampling="rqmc",
                                           replicates=1),
    "pf-net8": lambda p, n, s: _multiexpect(p, n, s, method="pick-freeze", sampling="rqmc",
                                            replicates=1, blocks=8),
    "pf-net-chaos": lambda p, n, s: _multiexpect(p, n, s, method="pick-freeze",
                                                 sampling="rqmc", replicates=1,
                                                 surrogate="chaos"),
    "pf-rqmc-chaos": lambda p, n, s, r=None: _multiexpect(p, n, s, method="pick-freeze",
                                                          sampling="rqmc", replicates=r,
                                                          surrogate="chaos"),
    "aiscv": lambda p, n, s: _multiexpect(p, n, s),
}


def one_run(task) -> dict:
    """One method on one problem with one seed: indices, half-widths, runs, time, failure."""
    name, method, n, seed, replicates, resamples = task
    prob = problem(name)
    replicated = ("pf-rqmc", "pf-rqmc-chaos")
    extra = () if replicates is None or method not in replicated else (replicates,)
    if method.startswith("salib"):
        extra = (resamples,)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = RUNNERS[method](prob, n, seed, *extra)
            first, total, half1, halft, runs = out[:5]
    except Exception as exc:  # a crash is a result: counted and reported
        return {"problem": name, "method": method, "seed": seed, "failed": True,
                "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                "seconds": time.perf_counter() - t0}
    est = np.concatenate([first, total])
    half = np.concatenate([half1, halft])
    return {"problem": name, "method": method, "seed": seed,
            "failed": not bool(np.all(np.isfinite(est)) and np.all(np.isfinite(half))),
            "estimate": est.tolist(), "half_width": half.tolist(), "runs": runs,
            "seconds": time.perf_counter() - t0, **(out[5] if len(out) > 5 else {})}


# ---------------------------------------------------------------------- scoring
def score(records: list[dict], name: str) -> dict:
    """Summed MSE, coverage, failures and median time of one method on one problem."""
    first, total, ref_se = references(name)
    ref = np.concatenate([first, total])
    ok = [r for r in records if not r["failed"]]
    out = {"runs": len(records), "failures": len(records) - len(ok),
           "errors": sorted({r["error"] for r in records if "error" in r})[:3],
           "median_seconds": float(np.median([r["seconds"] for r in records])),
           "model_runs": int(np.median([r["runs"] for r in ok])) if ok else None,
           "reference_max_se": ref_se}
    if ok:
        est = np.array([r["estimate"] for r in ok])
        half = np.array([r["half_width"] for r in ok])
        sq = np.sum((est - ref) ** 2, axis=1)
        out.update(mse=float(np.mean(sq)), median_sq=float(np.median(sq)),
                   max_sq=float(np.max(sq)),
                   coverage=float(np.mean(np.abs(est - ref) <= half)),
                   mean_half_width=float(np.mean(half)),
                   se2_over_mse=float(np.sum(np.mean((half / 1.96) ** 2, axis=0))
                                      / max(np.mean(sq), 1e-300)))
        if "ours_estimate" in ok[0]:  # paired: both estimators on the same nets
            ours = np.array([r["ours_estimate"] for r in ok])
            ours_sq = np.sum((ours - ref) ** 2, axis=1)
            ours_half = np.array([r["ours_half_width"] for r in ok])
            out.update(ours_mse=float(np.mean(ours_sq)), ours_median_sq=float(np.median(ours_sq)),
                       ours_max_sq=float(np.max(ours_sq)),
                       ours_coverage=float(np.mean(np.abs(ours - ref) <= ours_half)),
                       paired_ratio=float(np.mean(ours_sq) / max(np.mean(sq), 1e-300)),
                       ours_share_le=float(np.mean(ours_sq <= sq)))
    return out


def _table(summary: dict, methods, key: str = "mse") -> str:
    lines = ["| problem (d) | " + " | ".join(methods) + " |",
             "|---|" + "---|" * len(methods)]
    for name, per in summary.items():
        cells = []
        for m in methods:
            s = per.get(m)
            if s is None:
                cells.append("")
                continue
            text = f"{s[key]:.2g} ({s['coverage']:.2f})" if key in s else "-"
            if s["failures"]:
                text += f" **{s['failures']} failed**"
            cells.append(text)
        d = problem(name).dim
        lines.append(f"| {name} ({d}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2**14, help="N: N (d + 2) runs per method")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--replicates", type=int, help="pf-rqmc, pf-rqmc-chaos: at least "
                        "this many scramblings (default: the library's)")
    parser.add_argument("--salib-resamples", type=int, default=100,
                        help="SALib's bootstrap size (its default 100; sets only its "
                        "half-widths, not its estimates)")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--log", type=Path, help="append every run's record here as it ends "
                        "(JSON lines)")
    parser.add_argument("--records", action="store_true",
                        help="with --json: also every run's indices and half-widths")
    parser.add_argument("--make-reference", action="store_true",
                        help="compute the RQMC references of the non-exact problems")
    args = parser.parse_args(argv)
    if args.make_reference:
        make_reference(args.problems)
        return 0
    tasks = [(name, method, args.n, 1000 * PROBLEMS.index(name) + r, args.replicates,
              args.salib_resamples)
             for name in args.problems for r in range(args.reps) for method in args.methods]
    t0 = time.time()
    records = []
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            pool = stack.enter_context(mp.get_context("fork").Pool(args.workers))
            runs = pool.imap_unordered(one_run, tasks)
        else:
            runs = map(one_run, tasks)
        for rec in runs:
            records.append(rec)
            if args.log:
                with args.log.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
    summary = {name: {m: score([r for r in records if r["problem"] == name
                                and r["method"] == m], name) for m in args.methods}
               for name in args.problems}
    print(f"N = {args.n}, reps = {args.reps}, {time.time() - t0:.0f} s, "
          f"python {platform.python_version()}")
    print("summed MSE of S1 and ST (coverage of the 95% intervals of all 2d indices)")
    print(_table(summary, args.methods))
    print("mean reported se^2 (half-width / 1.96)^2, summed, over the summed MSE")
    print(_table(summary, args.methods, "se2_over_mse"))
    paired = [(name, m, s) for name, per in summary.items()
              for m, s in per.items() if "paired_ratio" in s]
    if paired:
        print("same nets: pf-net's summed MSE over the other estimator's (median squared errors; "
              "share of runs where pf-net's error <= the other's)")
        for name, m, s in paired:
            print(f"  {name}, {m}: {s['ours_mse']:.2g} / {s['mse']:.2g} = {s['paired_ratio']:.2f} "
                  f"(medians {s['ours_median_sq']:.2g} / {s['median_sq']:.2g}; "
                  f"share {s['ours_share_le']:.2f}; pf-net coverage "
                  f"{s['ours_coverage']:.2f})")
    print("median squared error (max)")
    for name, per in summary.items():
        print(f"  {name}: " + ", ".join(f"{m} {s['median_sq']:.2g} ({s['max_sq']:.2g})"
                                        for m, s in per.items() if "median_sq" in s))
    for name, per in summary.items():
        for m, s in per.items():
            if s["failures"]:
                print(f"{name} / {m}: {s['failures']} failed: {s['errors']}")
    if args.json:
        out = {"command": " ".join(sys.argv), "n": args.n, "reps": args.reps,
               "summary": summary}
        if args.records:
            out["records"] = records
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

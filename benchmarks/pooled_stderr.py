"""The pooled standard error of the rare-event benchmarks, stage by stage (issue 17).

``reliability.py`` run with :meth:`multiexpect.estimators.pooling.StagePooling.combine`
wrapped: each call (one per run) appends a JSON line with the run's task, every pooled
stage's plain IS mean ``Î_s`` and its variance ``V_s`` (reweighted from the final sample),
the final stage's mean and variance, the sizes and the weights ``λ``. The summary compares,
per problem (and threshold, with ``--curves``), the pooled estimate with the final stage
alone: coverage of the 95% event interval, mean reported variance over the MSE, and their
ratio with a paired bootstrap interval; per stage ``mean(V_s / n_s)`` over its MSE and the
correlations of the stages' errors with the final's (zero in expectation: the final stage
is unbiased given everything drawn before it). ``--refinal K --seeds-of REPS`` tests that
directly: each listed run's stages are kept and its final stage drawn ``K`` times afresh
(final chunk keys shifted by ``1000 k``), so ``E[Î_F | stages]`` can be read against the
stage's error. Usage::

    cd benchmarks && nice -n 10 python pooled_stderr.py --records para.jsonl -- \\
        --methods ladder --problems paraboloid_d6 --reps 300 --processes 1
    cd benchmarks && python pooled_stderr.py --summary para.jsonl
    cd benchmarks && nice -n 10 python pooled_stderr.py --refinal 20 --seeds-of 97,457 \\
        --problem paraboloid_d6 --records refinal.jsonl
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import sys

import numpy as np

import multiexpect as me
from multiexpect import batch_keys
from multiexpect.estimators import pooling
from multiexpect.intervals import event_interval
from multiexpect.testproblems import reliability_problems

#: The curves' probabilities in the order of their quantities (increasing thresholds).
CURVE_ORDER = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def record(path: str, argv: list[str]) -> None:
    """Run ``reliability.main(argv)`` in this process with ``combine`` recorded to ``path``."""
    import reliability

    current: dict = {}
    original = pooling.StagePooling.combine

    def combine(self, tie=np.inf, quantities=None):
        out = original(self, tie, quantities)
        n_rows = max(self.n_reweighted, 1)
        stage_var = self._diagonal / n_rows - np.square(self.final.mean)[None, :]
        row = {"task": current.get("task"), "stage_means": self.stage_means.tolist(),
               "stage_sizes": self.stage_sizes.tolist(), "stage_var": stage_var.tolist(),
               "final_mean": self.final.mean.tolist(),
               "final_var": np.diag(self.final.covariance).tolist(), "n_final": int(self.final.n),
               "lambdas": out["lambdas"].tolist(), "estimate": out["estimate"].tolist(),
               "pooled_var": np.diag(out["covariance"]).tolist()}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        return out

    pooling.StagePooling.combine = combine
    for name in ("one_run", "one_curve_run"):
        run = getattr(reliability, name)

        def tagged(task, run=run):
            current["task"] = list(task[:3])
            return run(task)

        setattr(reliability, name, tagged)
    if "--processes" not in argv:
        argv = [*argv, "--processes", "1"]  # the wrapper lives in this process only
    reliability.main(argv)


def refinal(name: str, reps: list[int], draws: int, path: str, budget: int = 10_000) -> None:
    """For each run ``rep`` of ``name`` (the ``ladder`` method of ``reliability.py``): its
    stages' means and ``draws`` final-stage means, each from fresh final chunks (keys shifted
    by ``1000 k``; ``k = 0`` is the run's own final stage), one JSON line per run."""
    run = importlib.import_module("multiexpect.engine.run")
    problem = next(p for p in reliability_problems() if p.name == name)
    shift = [0]
    chunk_key, original_final, original_combine = (batch_keys.final_chunk, run.final,
                                                   pooling.StagePooling.combine)
    seen: list = []

    def combine(self, tie=np.inf, quantities=None):
        seen.append((self.stage_means[:, 0].tolist(), float(self.final.mean[0])))
        return original_combine(self, tie, quantities)

    def finals(state, **kw):
        result = None
        for k in range(draws):
            shift[0] = 1000 * k
            out = original_final(state, **kw)
            result = out if result is None else result
        shift[0] = 0
        return result

    batch_keys.final_chunk = lambda n, c: chunk_key(n, c) + shift[0]
    pooling.StagePooling.combine, run.final = combine, finals
    try:
        for rep in reps:
            seen.clear()
            me.expectations(problem.limit_state, problem.law(), budget=budget, rng=20000 + rep,
                            quantities=[me.Exceedance(0, 0.0, side="<=")])
            row = {"problem": name, "rep": rep, "truth": problem.probability,
                   "stage_means": seen[0][0], "finals": [f for _, f in seen]}
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
    finally:
        batch_keys.final_chunk, run.final = chunk_key, original_final
        pooling.StagePooling.combine = original_combine


def refinal_summary(path: str, stage: int) -> None:
    """Per run: stage ``stage``'s relative error and the mean relative error of the fresh
    final stages (± its s.e.); then the slope of the latter on the former."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    x, y, se = [], [], []
    for r in rows:
        finals = np.array(r["finals"]) / r["truth"] - 1
        x.append(r["stage_means"][stage] / r["truth"] - 1)
        y.append(finals.mean())
        se.append(finals.std(ddof=1) / np.sqrt(len(finals)))
        print(f"rep {r['rep']}: stage {stage} {x[-1]:+.3f}, final {y[-1]:+.4f} ± {se[-1]:.4f} "
              f"({len(finals)} draws)")
    x, y, se = map(np.array, (x, y, se))
    slope, _ = np.polyfit(x, y, 1)
    spread = np.sqrt(np.sum(se**2 * (x - x.mean()) ** 2)) / np.sum((x - x.mean()) ** 2)
    print(f"slope of E[final error | stages] on stage {stage}'s error: {slope:+.3f} ± {spread:.3f}")


def _groups(rows: list[dict], curves: bool) -> dict:
    """``(problem, quantity) -> [(truth, means (S+1,), variances, sizes, λ)]``, final last."""
    truth = {p.name: p.probability for p in reliability_problems()}
    out = collections.defaultdict(list)
    for r in rows:
        name = r["task"][0]
        for q in range(len(r["final_mean"])):
            means = np.array([m[q] for m in r["stage_means"]] + [r["final_mean"][q]])
            var = np.array([v[q] for v in r["stage_var"]] + [r["final_var"][q]])
            sizes = np.array([*r["stage_sizes"], r["n_final"]], dtype=float)
            lam = np.array([lam[q] for lam in r["lambdas"]])
            out[(name, q)].append((CURVE_ORDER[q] if curves else truth[name], means, var,
                                   sizes, lam))
    return out


def _cover(est, var, truth) -> np.ndarray:
    low, high = event_interval(est, np.sqrt(var), 0.95)
    return (low <= truth) & (truth <= high)


def summary(paths: list[str], curves: bool, shrink: float | None = None, boot: int = 2000
            ) -> None:
    """Print the comparison of the module docstring for the runs recorded in ``paths``;
    with ``shrink``, also the coverage with the pooled variance divided by it wherever a
    stage pools (a candidate rule measured offline)."""
    rows = [json.loads(line) for p in paths for line in open(p, encoding="utf-8")]
    rng = np.random.default_rng(1)
    for (name, q), runs in sorted(_groups(rows, curves).items()):
        truth = np.array([r[0] for r in runs])
        pooled = np.array([r[4] @ r[1] for r in runs])
        pooled_var = np.array([np.sum(r[4] ** 2 * r[2] / r[3]) for r in runs])
        final = np.array([r[1][-1] for r in runs])
        final_var = np.array([r[2][-1] / r[3][-1] for r in runs])
        lam_final = np.array([r[4][-1] for r in runs])
        e_pool, e_final = (pooled - truth) ** 2, (final - truth) ** 2
        ratios = []
        for _ in range(boot):
            i = rng.integers(0, len(truth), len(truth))
            ratios.append(pooled_var[i].mean() / e_pool[i].mean()
                          / (final_var[i].mean() / e_final[i].mean()))
        label = f"{name} {CURVE_ORDER[q]:.0e}" if curves else name
        print(f"{label}: {len(truth)} runs, stages pooled in {np.mean(lam_final < 1):.2f}, "
              f"mean λ_F {lam_final.mean():.2f}")
        for what, est, v, sq in (("pooled", pooled, pooled_var, e_pool),
                                 ("final alone", final, final_var, e_final)):
            print(f"  {what:11s} rel. RMSE {np.sqrt(sq.mean()) / truth[0]:.4f}  coverage "
                  f"{_cover(est, v, truth).mean():.3f}  se²/MSE {v.mean() / sq.mean():.2f}  "
                  f"median |z| {np.median(np.sqrt(sq / v)):.3f}")
        print(f"  (pooled se²/MSE) / (final se²/MSE) {np.median(ratios):.2f} "
              f"[{np.percentile(ratios, 2.5):.2f}, {np.percentile(ratios, 97.5):.2f}]")
        if shrink:
            shrunk = np.where(lam_final < 1, pooled_var / shrink, pooled_var)
            print(f"  pooled variance / {shrink} where stages pool: coverage "
                  f"{_cover(pooled, shrunk, truth).mean():.3f}")
        # per stage: over the runs with the most common number of stages
        common = collections.Counter(len(r[1]) for r in runs).most_common(1)[0][0]
        keep = [i for i, r in enumerate(runs) if len(r[1]) == common]
        if len(keep) < len(runs):
            print(f"  stages below: the {len(keep)} runs with {common - 1} stages")
        means, var, sizes, lam = (np.array([runs[i][k] for i in keep]) for k in (1, 2, 3, 4))
        pooled_stages = [s for s in range(common - 1) if lam[:, s].mean() > 0.01]
        err = means - truth[keep][:, None]
        for s in pooled_stages:
            print(f"  stage {s}: mean λ {lam[:, s].mean():.3f}, mean(V/n)/MSE "
                  f"{np.mean(var[:, s] / sizes[:, s]) / np.mean(err[:, s] ** 2):.2f}, "
                  f"corr with the final's error {np.corrcoef(err[:, s], err[:, -1])[0, 1]:+.3f}")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    rest = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", help="run reliability.py (arguments after --) and "
                                          "append the records to this JSON-lines file")
    parser.add_argument("--summary", help="comma-separated JSON-lines files to summarise")
    parser.add_argument("--curves", action="store_true", help="the records are curves")
    parser.add_argument("--shrink", type=float, help="with --summary: a shrink factor tried")
    parser.add_argument("--refinal", type=int, help="fresh final stages per listed run")
    parser.add_argument("--seeds-of", help="comma-separated reps (seed 20000 + rep)")
    parser.add_argument("--problem", default="paraboloid_d6")
    parser.add_argument("--stage", type=int, default=4, help="the stage --refinal reads")
    args = parser.parse_args(argv)
    if args.refinal:
        refinal(args.problem, [int(r) for r in args.seeds_of.split(",")], args.refinal,
                args.records)
        refinal_summary(args.records, args.stage)
        return
    if args.records:
        record(args.records, rest)
    if args.summary:
        summary(args.summary.split(","), args.curves, args.shrink)


if __name__ == "__main__":
    main()

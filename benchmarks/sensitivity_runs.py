"""Per-run view of sensitivity-suite records: tails, blocks of runs, bootstrap of MSE ratios.

Reads the ``--records`` JSON of ``benchmarks/sensitivity_suite.py`` (several files are
merged, by method and seed) for one problem and prints, per estimator, the summed MSE of S1
and ST over all runs and over the first 20, the median, 90% quantile and largest squared
error, the runs above ``--large``, the coverage; then, for ours (``pf-net``: the
``ours_estimate`` of a ``*-same-net`` record, else a ``pf-net`` record) against each other
estimator: the MSE ratio over consecutive blocks of ``--block`` runs (how often a 20-run
comparison would come out either way), the same for the medians, and a bootstrap interval
of the ratio over all runs (resampling runs).

Usage::

    python benchmarks/sensitivity_runs.py benchmarks/sensitivity_suite_flood200.json --problem flood
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sensitivity_suite import references


def estimators(paths, name: str) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """``{label: {seed: (estimate, half_width)}}`` from the records of ``paths``."""
    out: dict[str, dict] = {}
    for path in paths:
        for rec in json.loads(Path(path).read_text())["records"]:
            if rec["problem"] != name or rec["failed"]:
                continue
            label = rec["method"]
            out.setdefault(label, {})[rec["seed"]] = (np.array(rec["estimate"]),
                                                      np.array(rec["half_width"]))
            if "ours_estimate" in rec:
                out.setdefault("ours (pf-net)", {})[rec["seed"]] = (
                    np.array(rec["ours_estimate"]), np.array(rec["ours_half_width"]))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--problem", required=True)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--large", type=float, default=0.05)
    parser.add_argument("--boot", type=int, default=2000)
    args = parser.parse_args(argv)
    first, total, _ = references(args.problem)
    ref = np.concatenate([first, total])
    est = estimators(args.paths, args.problem)
    if "pf-net" in est and "ours (pf-net)" not in est:
        est["ours (pf-net)"] = est.pop("pf-net")
    seeds = sorted(set.intersection(*(set(v) for v in est.values())))
    n = len(seeds)
    sq = {k: np.array([np.sum((v[s][0] - ref) ** 2) for s in seeds]) for k, v in est.items()}
    cover = {k: np.mean([np.abs(v[s][0] - ref) <= v[s][1] for s in seeds])
             for k, v in est.items()}
    print(f"{args.problem}: {n} runs with every estimator (seeds {seeds[0]}..{seeds[-1]})")
    print(f"| estimator | summed MSE | first {args.block} | median | 90% quantile | largest "
          f"| runs > {args.large:g} | coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for k, v in sq.items():
        print(f"| {k} | {v.mean():.3g} | {v[:args.block].mean():.3g} | {np.median(v):.3g} | "
              f"{np.quantile(v, 0.9):.3g} | {v.max():.3g} | {int(np.sum(v > args.large))} | "
              f"{cover[k]:.2f} |")
    ours = sq["ours (pf-net)"]
    blocks = n // args.block
    gen = np.random.default_rng(0)
    idx = gen.integers(0, n, (args.boot, n))
    for k, v in sq.items():
        if k == "ours (pf-net)":
            continue
        ratios = [ours[b * args.block:(b + 1) * args.block].mean()
                  / v[b * args.block:(b + 1) * args.block].mean() for b in range(blocks)]
        medians = [np.median(ours[b * args.block:(b + 1) * args.block])
                   <= np.median(v[b * args.block:(b + 1) * args.block]) for b in range(blocks)]
        boot = ours[idx].mean(axis=1) / v[idx].mean(axis=1)
        lo, hi = np.quantile(boot, [0.05, 0.95])
        print(f"ours / {k}: MSE ratio {ours.mean() / v.mean():.2f} (bootstrap 90%: {lo:.2f}-"
              f"{hi:.2f}), medians {np.median(ours) / np.median(v):.2f}, runs ours <= "
              f"{np.mean(ours <= v):.2f}; blocks of {args.block}: MSE <= in "
              f"{sum(r <= 1 for r in ratios)} of {blocks} (ratios "
              f"{' '.join(f'{r:.2g}' for r in ratios)}), median <= in {sum(medians)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

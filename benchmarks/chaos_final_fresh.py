"""The final stage's chaos control on problems it was not built on: several laws each.

Each model of the public sensitivity suite (:mod:`multiexpect.testproblems.sensitivity`)
and of ``chaos_fresh.py`` (OTL circuit, piston, wing weight, step, normal product), under
its law (the flood left out: a shifted Strickler coefficient reaches 0, where its model is
undefined) and the laws with one of its first three inputs' means shifted by ``± 0.5``
standard deviations (:func:`multiexpect.mean_shift_perturbations`): ``E[y]`` under each,
10 000 runs, ``--reps`` seeds (``60 000 + r``), aISCV in two settings (``--settings``, of
``none``: ``surrogate=None``; ``default``: the defaults, the light chaos for several laws
since ``surrogate="auto"``; ``chaos``: the full form): the same seeds, so the same runs.
No reference is needed: the figure
is the summed variance of the estimates across the seeds (both are unbiased), beside the
mean reported ``se²`` summed, and how many seeds took the adaptive route (where the
control can act) and had a quantity controlled.

    python benchmarks/chaos_final_fresh.py --reps 20 [--settings none,default]
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import multiprocessing as mp
import warnings

import numpy as np

import multiexpect as me
from chaos_fresh import PROBLEMS as FRESH
from multiexpect.testproblems import sensitivity as sp

BUDGET = 10_000
#: ``--settings``' names and their ``expectations`` keywords.
SETTINGS = {"none": {"surrogate": None}, "default": {}, "chaos": {"surrogate": "chaos"}}


def _problems() -> dict:
    # the flood's shifted Strickler law reaches Ks <= 0, where its model is undefined
    out = {p.name: (p.model, p.law) for p in sp.problems() if p.name != "flood"}
    out.update(FRESH)
    return out


PROBLEMS = _problems()


def _laws(law) -> list:
    shifted = me.mean_shift_perturbations(law, 0.5, inputs=list(range(min(law.dim, 3))))
    return [law, *shifted.values()]


def one(task):
    name, setting, seed = task
    model, law = PROBLEMS[name]
    extra = SETTINGS[setting]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = me.expectations(lambda x: np.ravel(model(x)), _laws(law), budget=BUDGET,
                                  rng=seed, **extra)
        except me.ModelEvaluationError:  # a shifted law reaches where the model is undefined
            return name, setting, None, None, None, False
    chaos = res.diagnostics.get("surrogate") or {}
    return (name, setting, res.estimate, res.stderr, res.diagnostics.get("route"),
            bool(any(chaos.get("controlled", []))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settings", default="default,chaos",
                        help=f"two of {sorted(SETTINGS)}, the first the reference")
    args = parser.parse_args()
    pair = tuple(args.settings.split(","))
    if len(pair) != 2 or not set(pair) <= set(SETTINGS):
        parser.error(f"--settings: two of {sorted(SETTINGS)}")
    tasks = [(name, setting, 60_000 + r) for name in PROBLEMS
             for setting in pair for r in range(args.reps)]
    with mp.Pool(args.workers) as pool:
        rows = pool.map(one, tasks, chunksize=1)
    print(f"| problem (d, laws) | {pair[0]} Σ Var | {pair[1]} Σ Var | ratio | se²/Var "
          f"{pair[0]}, {pair[1]} | adaptive route | controlled |")
    print("|---|---|---|---|---|---|---|")
    for name, (_, law) in PROBLEMS.items():
        cells = {}
        for setting in pair:
            mine = [r for r in rows if r[0] == name and r[1] == setting]
            if any(r[2] is None for r in mine):
                cells = None
                break
            est = np.array([r[2] for r in mine])
            se = np.array([r[3] for r in mine])
            var = est.var(axis=0, ddof=1).sum()
            cells[setting] = (var, (se**2).mean(axis=0).sum() / var,
                              sum(r[4] == "adaptive" for r in mine), sum(r[5] for r in mine))
        if cells is None:
            print(f"| {name} ({law.dim}) | the model is undefined under a shifted law |")
            continue
        d, c = cells[pair[0]], cells[pair[1]]
        print(f"| {name} ({law.dim}, {len(_laws(law))}) | {d[0]:.3g} | {c[0]:.3g} | "
              f"{d[0] / c[0]:.3g} | {d[1]:.2f}, {c[1]:.2f} | {c[2]} | {c[3]} |", flush=True)


if __name__ == "__main__":
    main()

r"""Studies of several laws with bounded supports: the working space and the edge probe.

Cases found by fuzzing several-law studies (nobody here chose them), each with closed-form
answers, the defaults over ``--reps`` seeds (``rng = r``); per quantity the MSE, the
coverage of the 95% intervals and the mean ``z`` (in standard errors), the working space
and routes taken, and any non-finite estimate:

* ``pow_nested``: three laws ``U(0, s) x U(0, 1)``, ``s = 1, 1.2, 1.5`` (narrowest first),
  ``x_1^-0.45 + x_2`` (unbounded at the laws' common bound ``x_1 = 0``), 6000 runs;
  ``pow_widest_first``: the same laws listed widest first;
* ``event_nested``: ``P(x_1 + x_2 + x_3 > 3.45)`` under ``U(0.9, 1.1)^3`` (probability 0)
  and ``U(0.8, 1.2)^3`` (Irwin-Hall's corner, 8.79e-3), 6000 runs; ``event_wide_first``:
  the laws the other way round;
* smooth models whose laws' supports differ (a helper's fuzz; ``--cases`` of
  :data:`SMOOTH`, beside separate RQMC, ``method="mc", sampling="rqmc"``):
  ``shifted3`` (``U(s, s + 1)^2``, ``s = 0, 0.5, 1``, ``x_1^2 + x_2^2``, 3000 runs),
  ``nested2`` (``U(1 - w, 1 + w)^2``, ``w = 0.1, 0.2``, ``x_1 x_2 + x_1^2``, 2000 runs),
  ``nested6_sin`` (six nested ``U(1 - w, 1 + w)^3``, ``sum sin x + x_1 x_3``, 4000 runs,
  the truth by separate RQMC at 2^18 runs), ``beta_shift`` (``beta(2, 3)`` at ``loc`` 0
  and 0.3 beside a normal, ``e^x_1 + x_2^2``, 4000 runs, the same).

    cd benchmarks && python -W ignore several_laws.py --reps 200 --workers 2
    cd benchmarks && python -W ignore several_laws.py --reps 200 --workers 2 \
        --cases shifted3,nested2,nested6_sin,beta_shift
    PYTHONPATH=<src of another commit> python -W ignore several_laws.py ...   # before/after
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

import multiexpect as me

SCALES = (1.0, 1.2, 1.5)
POWER = 0.45
THRESHOLD = 3.45


def _pow(x):
    return x[:, 0] ** -POWER + x[:, 1]


def _event(x):
    return (x.sum(axis=1) > THRESHOLD).astype(float)


def _uniforms(half_widths, d) -> list:
    return [me.Law([stats.uniform(1 - w, 2 * w)] * d) for w in half_widths]


#: The smooth cases: ``(model, laws, exact answers or None, budget)``.
SMOOTH = {
    "shifted3": (lambda x: (x**2).sum(axis=1),
                 [me.Law([stats.uniform(s, 1)] * 2) for s in (0.0, 0.5, 1.0)],
                 np.array([2 * ((s + 1) ** 3 - s**3) / 3 for s in (0.0, 0.5, 1.0)]), 3000),
    "nested2": (lambda x: np.prod(x, axis=1) + x[:, 0] ** 2, _uniforms((0.1, 0.2), 2),
                np.array([2 + (2 * w) ** 2 / 12 for w in (0.1, 0.2)]), 2000),
    "nested6_sin": (lambda x: np.sin(x).sum(axis=1) + x[:, 0] * x[:, 2],
                    _uniforms((0.1, 0.15, 0.2, 0.25, 0.3, 0.35), 3), None, 4000),
    "beta_shift": (lambda x: np.exp(x[:, 0]) + x[:, 1] ** 2,
                   [me.Law([stats.beta(2, 3, loc=loc), stats.norm()]) for loc in (0.0, 0.3)],
                   None, 4000),
}
_TRUTHS: dict = {}


def case(name: str) -> tuple:
    """``(model, laws, exact answers, budget)`` of case ``name``."""
    if name in SMOOTH:
        model, laws, truth, budget = SMOOTH[name]
        if truth is None:  # separate RQMC at 2^18 runs (its standard errors below 1e-4)
            if name not in _TRUTHS:
                _TRUTHS[name] = me.expectations(model, laws, budget=2**18, method="mc",
                                                sampling="rqmc", rng=99).estimate
            truth = _TRUTHS[name]
        return model, laws, truth, budget
    if name.startswith("pow"):
        scales = SCALES if name == "pow_nested" else SCALES[::-1]
        laws = [me.Law([stats.uniform(0, s), stats.uniform(0, 1)]) for s in scales]
        truth = [s**-POWER / (1 - POWER) + 0.5 for s in scales]
        return _pow, laws, np.array(truth), 6000
    narrow, wide = me.Law([stats.uniform(0.9, 0.2)] * 3), me.Law([stats.uniform(0.8, 0.4)] * 3)
    corner = (3 - (THRESHOLD - 2.4) / 0.4) ** 3 / 6  # sum of three U(0, 1) beyond u > 2
    laws, truth = ([narrow, wide], [0.0, corner]) if name == "event_nested" else \
        ([wide, narrow], [corner, 0.0])
    return _event, laws, np.array(truth), 6000


CASES = ("pow_nested", "pow_widest_first", "event_nested", "event_wide_first")


def one(task) -> tuple:
    name, seed, separate = task
    model, laws, _, budget = case(name)
    extra = {"method": "mc", "sampling": "rqmc"} if separate else {}
    res = me.expectations(model, laws, budget=budget, rng=seed, **extra)
    low, high = res.confidence_interval(0.95)
    diag = res.diagnostics
    label = f"{name} (separate RQMC)" if separate else name
    return label, res.estimate, res.stderr, low, high, diag.get("space", "-"), \
        diag.get("route", "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    cases = args.cases.split(",")
    names = [n for c in cases for n in ([c, f"{c} (separate RQMC)"] if c in SMOOTH else [c])]
    tasks = [(name, seed, separate) for name in cases for seed in range(args.reps)
             for separate in ((False, True) if name in SMOOTH else (False,))]
    start = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, tasks, chunksize=4))
    print(f"{args.reps} seeds, multiexpect from {me.__file__}")
    print("| case | space (routes) | MSE per law | coverage | mean z | non-finite |")
    print("|---|---|---|---|---|---|")
    for name in names:
        mine = [r for r in rows if r[0] == name]
        truth = case(name.split(" (")[0])[2]
        est = np.array([r[1] for r in mine])
        se = np.array([r[2] for r in mine])
        low, high = np.array([r[3] for r in mine]), np.array([r[4] for r in mine])
        finite = np.all(np.isfinite(est), axis=1)
        est, se, low, high = est[finite], se[finite], low[finite], high[finite]
        mse = np.mean((est - truth) ** 2, axis=0)
        cover = np.mean((low <= truth) & (truth <= high), axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, (est - truth) / se, 0.0).mean(axis=0)
        spaces = Counter(r[5] for r in mine)
        routes = Counter(r[6] for r in mine)
        print(f"| `{name}` | {dict(spaces)} ({dict(routes)}) | "
              f"{', '.join(f'{v:.3g}' for v in mse)} | "
              f"{', '.join(f'{v:.3f}' for v in cover)} | "
              f"{', '.join(f'{v:+.2f}' for v in z)} | {int(np.sum(~finite))} |")
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()

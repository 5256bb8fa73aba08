"""The chaos control on problems outside the suite: precision without a reference.

Five models not in :mod:`multiexpect.testproblems.sensitivity`, chosen after the chaos was
built (the OTL circuit, the piston and the wing weight of the Virtual Library of
Simulation Experiments, a discontinuous step and a normal-input product), each at
``N (d + 2)`` runs, ``--reps`` runs (seeds ``50 000 + r``): SALib, the plain one net, the
one net with ``surrogate="chaos"``, and ``sobol_indices``'s defaults with and without the
chaos on its law route (``--methods``). No reference is needed: the figure is the summed
variance of S1 and ST across the runs (each estimator is consistent; the chaos's bias is
tested on Ishigami), beside the mean reported ``se²`` (half-width / 1.96, squared, summed).

Usage::

    python benchmarks/chaos_fresh.py --reps 20 --workers 2
    python benchmarks/chaos_fresh.py --reps 20 --methods salib defaults "defaults, plain"
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import multiprocessing as mp
import warnings

import numpy as np
from scipy import stats

import multiexpect as me
from sensitivity_suite import Problem, _multiexpect, _salib


def otl_circuit(x):
    rb1, rb2, rf, rc1, rc2, beta = x.T
    vb1 = 12.0 * rb2 / (rb1 + rb2)
    b = beta * (rc2 + 9.0)
    return ((vb1 + 0.74) * b / (b + rf) + 11.35 * rf / (b + rf)
            + 0.74 * rf * b / ((b + rf) * rc1))


def piston(x):
    m, s, v0, k, p0, ta, t0 = x.T
    a = p0 * s + 19.62 * m - k * v0 / s
    v = s / (2.0 * k) * (np.sqrt(a**2 + 4.0 * k * p0 * v0 * ta / t0) - a)
    return 2.0 * np.pi * np.sqrt(m / (k + s**2 * p0 * v0 * ta / (t0 * v**2)))


def wing_weight(x):
    sw, wfw, a, lam, q, taper, tc, nz, wdg, wp = x.T
    c = np.cos(np.deg2rad(lam))
    return (0.036 * sw**0.758 * wfw**0.0035 * (a / c**2) ** 0.6 * q**0.006 * taper**0.04
            * (100.0 * tc / c) ** -0.3 * (nz * wdg) ** 0.49 + sw * wp)


def step(x):
    return (x[:, 0] + x[:, 1] > 1.0).astype(float) + x[:, 2]


def normal_product(x):
    return np.exp(0.5 * x[:, 0]) * np.sin(x[:, 1]) + x[:, 2] * x[:, 3]


def _box(bounds):
    return me.Law([stats.uniform(lo, hi - lo) for lo, hi in bounds])


PROBLEMS = {
    "otl-circuit": (otl_circuit, _box([(50, 150), (25, 70), (0.5, 3), (1.2, 2.5),
                                       (0.25, 1.2), (50, 300)])),
    "piston": (piston, _box([(30, 60), (0.005, 0.020), (0.002, 0.010), (1000, 5000),
                             (90000, 110000), (290, 296), (340, 360)])),
    "wing-weight": (wing_weight, _box([(150, 200), (220, 300), (6, 10), (-10, 10), (16, 45),
                                       (0.5, 1), (0.08, 0.18), (2.5, 6), (1700, 2500),
                                       (0.025, 0.08)])),
    "step": (step, _box([(0, 1)] * 3)),
    "normal-product": (normal_product, me.Law([stats.norm()] * 4)),
}
METHODS = {
    "salib": lambda p, n, s: _salib(p, n, s),
    "one net": lambda p, n, s: _multiexpect(p, n, s, method="pick-freeze", sampling="rqmc",
                                            replicates=1),
    "one net + chaos": lambda p, n, s: _multiexpect(p, n, s, method="pick-freeze",
                                                    sampling="rqmc", replicates=1,
                                                    surrogate="chaos"),
    "defaults": lambda p, n, s: _multiexpect(p, n, s),
    "defaults, plain": lambda p, n, s: _multiexpect(p, n, s, surrogate=None),
}
#: the methods run unless ``--methods`` names others
DEFAULT_METHODS = ("salib", "one net", "one net + chaos")


def one(task):
    name, method, n, seed = task
    model, law = PROBLEMS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, total, half1, halft, _ = METHODS[method](Problem(name, model, law), n, seed)
    return name, method, np.concatenate([first, total]), np.concatenate([half1, halft])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--n", type=int, default=2**14)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--methods", nargs="*", default=list(DEFAULT_METHODS),
                        choices=METHODS)
    args = parser.parse_args()
    methods = list(dict.fromkeys(["salib", *args.methods]))
    tasks = [(name, m, args.n, 50_000 + r) for name in args.problems for m in methods
             for r in range(args.reps)]
    with mp.get_context("fork").Pool(args.workers) as pool:
        out = pool.map(one, tasks)
    print(f"N = {args.n}, {args.reps} runs; summed variance of S1 and ST across the runs "
          f"(mean reported se², summed)")
    others = [m for m in methods if m != "salib"]
    print("| problem (d) | " + " | ".join(methods) + " | "
          + " | ".join(f"{m} / SALib" for m in others) + " |")
    print("|---|" + "---|" * (len(methods) + len(others)))
    for name in args.problems:
        law = PROBLEMS[name][1]
        cells, var = [], {}
        for m in methods:
            est = np.array([e for p, mm, e, _ in out if p == name and mm == m])
            half = np.array([h for p, mm, _, h in out if p == name and mm == m])
            var[m] = float(np.sum(est.var(axis=0, ddof=1)))
            se2 = float(np.sum(np.mean((half / 1.96) ** 2, axis=0)))
            cells.append(f"{var[m]:.2g} ({se2:.2g})")
        print(f"| {name} ({law.dim}) | " + " | ".join(cells) + " | "
              + " | ".join(f"{var[m] / var['salib']:.2g}" for m in others) + " |")


if __name__ == "__main__":
    main()

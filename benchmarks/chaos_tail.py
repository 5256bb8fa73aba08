"""The Sobol' chaos's tail check: the excess of a fitted chaos's exact variance over its runs'.

For each model, pick-freeze RQMC with ``surrogate="chaos"`` (8 replicates, ``(d + 2) 2^13``
runs) is run on ``--seeds`` seeds. Each call of
:func:`multiexpect.sensitivity.chaos.controlled_values` is intercepted, and the excess
``(sum_{k>0} c_k^2 - sample variance of g on the fit rows) / se`` is printed at the
largest degree the rows allow, with the degree the tail check keeps
(:func:`~multiexpect.sensitivity.chaos._tail_consistent_degree`, ``TAIL_Z``). ``se`` is the
standard error of the outputs' sample variance. The models: three bounded or periodic
models of normal inputs, one smooth one, the beam, the borehole and the public
sensitivity problems.

    python benchmarks/chaos_tail.py --seeds 3
    python benchmarks/chaos_tail.py --screen --seeds 10
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import warnings

import numpy as np
from scipy import stats

import multiexpect as me
import multiexpect.sensitivity.sobol as sobol_module
from multiexpect import testfunctions as tf
from multiexpect.polychaos import multi_indices
from multiexpect.sensitivity import chaos as ch
from multiexpect.testproblems import sensitivity as sp

RECORDS: list[tuple[int, float, int]] = []


def _excess(gram, moment, alphas, y) -> float:
    """The exact variance's excess over the rows' variance, in standard errors."""
    coef = np.linalg.lstsq(gram, moment, rcond=None)[0]
    rows = y.size
    sample = float(coef @ gram @ coef) / rows - (float(coef @ gram[:, 0]) / rows) ** 2
    se = float(np.std((y - y.mean()) ** 2) / np.sqrt(rows))
    return (float(np.sum(coef[1:] ** 2)) - sample) / se


def _recording(layout, law, u, y, values, centre, blocks):
    """``controlled_values`` that first records the excess at the top degree and the kept
    degree."""
    n, d = values.shape[0], layout.dim
    top = ch.chaos_degree(d, ch._fit_rows(n, blocks))
    alphas = multi_indices(d, top)
    z = layout.stack(u[:, :d], u[:, d:])[:2 * n]
    fit_y = np.asarray(y, dtype=float).reshape(layout.runs_per_point, n)[:2].reshape(-1)
    gram, moment = ch._normal_equations(z, fit_y, ch.bounded_inputs(law), alphas)
    kept = ch._tail_consistent_degree(gram, moment, alphas, fit_y)
    RECORDS.append((top, _excess(gram, moment, alphas, fit_y), kept))
    return ch.controlled_values(layout, law, u, y, values, centre, blocks)


def _models() -> dict:
    normal3 = me.Law([stats.norm()] * 3)
    out = {
        "sin(x1) + 7 sin^2(x2), normal": (
            lambda x: np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2, normal3),
        "cos(2 x2), normal": (lambda x: np.cos(2 * x[:, 1]), normal3),
        "tanh(x1 + x2 / 2), normal": (lambda x: np.tanh(x[:, 0] + 0.5 * x[:, 1]), normal3),
        "exp(0.3 x1 + 0.2 x2), normal": (
            lambda x: np.exp(0.3 * x[:, 0] + 0.2 * x[:, 1]), normal3),
        "beam": (tf.cantilever_beam, tf.cantilever_law()),
        "borehole": (tf.borehole, tf.borehole_law()),
    }
    for name in ("ishigami", "g-function", "oscillator", "oakley-ohagan", "flood", "morris",
                 "dirichlet", "borgonovo"):
        problem = sp.problem(name)
        out[name] = (problem.model, problem.law)
    return out


def _additive(variances) -> np.ndarray:
    """First- (= total-) order indices of an additive model with these part variances."""
    v = np.asarray(variances, dtype=float)
    return v / v.sum()


def _screened() -> dict:
    """Additive models of normal inputs with exact indices, for ``--screen``."""
    e = np.e
    return {
        "|x1| + x2, x3 inert": (lambda x: np.abs(x[:, 0]) + x[:, 1],
                                _additive([1 - 2 / np.pi, 1, 0])),
        "|x1| + x2 + x3 / 2": (lambda x: np.abs(x[:, 0]) + x[:, 1] + 0.5 * x[:, 2],
                               _additive([1 - 2 / np.pi, 1, 0.25])),
        "sign(x1) + x2, x3 inert": (lambda x: np.sign(x[:, 0]) + x[:, 1],
                                    _additive([1, 1, 0])),
        "x1^3 + x2, x3 inert": (lambda x: x[:, 0] ** 3 + x[:, 1], _additive([15, 1, 0])),
        "sin(x1) + 7 sin^2(x2)": (
            lambda x: np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2,
            _additive([(1 - np.exp(-2.0)) / 2,
                       49 * ((1 + np.exp(-8.0)) / 2 - np.exp(-4.0)) / 4, 0])),
        "exp(x1) + x2 + x3 / 2": (lambda x: np.exp(x[:, 0]) + x[:, 1] + 0.5 * x[:, 2],
                                  _additive([e * (e - 1), 1, 0.25])),
    }


def screen(seeds: int) -> None:
    """``sobol_indices`` with its defaults (20 480 runs) on :func:`_screened`'s models:
    per model the routes taken and the largest ``|estimate - exact| / s.e.`` of the six
    indices over the seeds (an inert input's indices, exactly 0, left out)."""
    law = me.Law([stats.norm()] * 3)
    print("model: routes, largest |z| of the indices over the seeds (the seed)")
    for name, (model, truth) in _screened().items():
        worst, routes = (0.0, -1), set()
        for seed in range(seeds):
            res = me.sobol_indices(model, law, budget=5 * 4096, rng=seed)
            routes.add(res.diagnostics["route"])
            for order in ("first", "total"):
                est, se = res.indices(order)
                moving = truth > 0
                z = float(np.max(np.abs(est - truth)[moving] / se[moving]))
                worst = max(worst, (z, seed))
        print(f"{name:26s} {sorted(routes)}  {worst[0]:.1f} (seed {worst[1]})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--screen", action="store_true",
                        help="the defaults on additive models with exact indices instead")
    args = parser.parse_args(argv)
    if args.screen:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            screen(args.seeds)
        return
    sobol_module.controlled_values = _recording
    print("model: top degree, excess at it (s.e., per seed), degree kept (per seed)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (model, law) in _models().items():
            RECORDS.clear()
            for seed in range(args.seeds):
                me.sobol_indices(model, law, budget=(law.dim + 2) * 2**13, rng=seed,
                                 method="pick-freeze", sampling="rqmc", surrogate="chaos")
            print(f"{name:30s} {RECORDS[0][0]:2d}  "
                  f"{' '.join(f'{r[1]:6.1f}' for r in RECORDS)}  "
                  f"{' '.join(str(r[2]) for r in RECORDS)}")


if __name__ == "__main__":
    main()

"""The law's margin of ``sampling="auto"`` against an adaptive route ending on RQMC replicates.

For each case and seed, the default study is run twice with the pilot's route *forced*
(law, then adaptive; a pilot the event or tail guard decides keeps its route), recording
the pilot's numbers ``E_law``, ``E_ad``, ``E_iid`` (:func:`multiexpect.engine.law_first.
choose_route`) and each run's weighted squared error and interval coverage. Any margin
``K`` (the law route when ``K E_law <= E_ad``, or when ``E_iid <= ADAPTIVE_GAIN E_ad``) is
then scored offline by picking, per seed, the forced run of the route it chooses.

Cases: four not in the no-regret suite (analytic means; budget 10 000, seeds 20 000 + r)
and the suite's ``smooth_d15`` and ``flood_log`` (their budgets and references, seeds
1000 + r).

    cd benchmarks && python route_margin.py --reps 100 --margins 0.5,5,10,20,50,100

The forced runs switch the library's pilot growth off (``law_first.grows``): each is the
route on a pilot of ``--pilot-nets`` nets. ``--default`` runs the library's rule instead,
unforced, once per seed (``route_pilot_growth.py`` scores growth rules offline).
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import dataclasses
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

import multiexpect as me
import multiexpect.engine.law_first as law_first
import multiexpect.engine.run as run_mod
import no_regret as nr
from multiexpect.engine.law_first import ADAPTIVE_GAIN, LAW_ROUTE


def _fresh():
    """Four cases outside the suite: ``(model, law, truth, budget, seed0)``."""
    return {
        "x+y2_lognormal": (lambda x: x[:, 0] + x[:, 1] ** 2,
                           me.Law([stats.norm(0, 1), stats.lognorm(0.25)]),
                           [np.exp(0.125)], 10_000, 20_000),
        "exp_linear_d2": (lambda x: np.exp(0.5 * x[:, 0] + 0.3 * x[:, 1]),
                          me.Law([stats.norm()] * 2), [np.exp(0.17)], 10_000, 20_000),
        "prod_lognormal_d5": (lambda x: np.exp(0.2 * x.sum(axis=1)),
                              me.Law([stats.norm()] * 5), [np.exp(0.1)], 10_000, 20_000),
        "power_singular": (lambda x: np.column_stack([x[:, 0] ** -0.3, x[:, 0] ** -0.45,
                                                      x[:, 1] ** 2]),
                           me.Law([stats.uniform(0, 1)] * 2), [1 / 0.7, 1 / 0.55, 1 / 3],
                           10_000, 20_000),
    }


def _more():
    """Ten more cases outside the suite, for the rule on adaptation's gain (``--gains``):
    singular or heavy-tailed integrands of the law's uniforms (``trunc_power`` a flood-like
    power of a normal truncated at 0, ``inv_gamma3``, ``exp_sq``, ``t5_square``,
    ``weibull_inv``, ``beta_power``) and smooth ones (``lognormal_sum_d4``, ``rational_d3``,
    ``poly_uniform``, ``sin_product_d6``); budget 10 000, seeds 30 000 + r, means exact or
    by quadrature."""
    norm, unif = stats.norm(), stats.uniform(0, 1)
    trunc = stats.truncnorm(-2.5, np.inf, loc=5, scale=2)  # density 0.0088 at 0
    return {
        "trunc_power": (lambda x: np.column_stack([x[:, 0] ** -0.3, np.log(x[:, 0])
                                                   + 0.1 * x[:, 1]]),
                        me.Law([trunc, norm]), [0.6441200095380755, 1.5138261386098424],
                        10_000, 30_000),
        "inv_gamma3": (lambda x: 1 / x[:, 0] + x[:, 1], me.Law([stats.gamma(3), norm]),
                       [0.5], 10_000, 30_000),
        "exp_sq": (lambda x: np.exp(0.2 * x[:, 0] ** 2) + x[:, 1], me.Law([norm] * 2),
                   [1 / np.sqrt(0.6)], 10_000, 30_000),
        "t5_square": (lambda x: x[:, 0] ** 2 + x[:, 1], me.Law([stats.t(5), norm]),
                      [5 / 3], 10_000, 30_000),
        "weibull_inv": (lambda x: x[:, 0] ** -0.5 + 0.5 * x[:, 1],
                        me.Law([stats.weibull_min(2), norm]), [1.2254167024651774],
                        10_000, 30_000),
        "beta_power": (lambda x: x[:, 0] ** -0.4 + x[:, 1], me.Law([stats.beta(2, 2), norm]),
                       [1.4423076923076923], 10_000, 30_000),
        "lognormal_sum_d4": (lambda x: np.exp(0.4 * x).sum(axis=1), me.Law([norm] * 4),
                             [4 * np.exp(0.08)], 10_000, 30_000),
        "rational_d3": (lambda x: 1 / (1 + (x**2).sum(axis=1)), me.Law([norm] * 3),
                        [0.3443204575809574], 10_000, 30_000),
        "poly_uniform": (lambda x: np.column_stack([x[:, 0], x[:, 0] ** 2,
                                                    x[:, 0] ** 3 + x[:, 1]]),
                         me.Law([unif] * 2), [0.5, 1 / 3, 0.75], 10_000, 30_000),
        "sin_product_d6": (lambda x: np.prod(1 + 0.3 * np.sin(2 * np.pi * x), axis=1),
                           me.Law([unif] * 6), [1.0], 10_000, 30_000),
    }


def _case(name: str):
    fresh = {**_fresh(), **_more()}
    if name in fresh:
        return fresh[name]
    model, law, truth, _, _ = nr.BUILDERS[name]()
    budget = next(c.budget for c in nr.CASES if c.name == name)
    return model, law, truth, budget, 1000


CASES = [*_fresh(), "smooth_d15", "flood_log"]
PILOT_NETS = law_first.PILOT_REPLICATES  # the library's


def _run(args):
    """One seed of one case with the route forced: its pilot numbers, error and coverage.
    ``pilot_nets`` above :data:`~multiexpect.engine.law_first.PILOT_REPLICATES`: the pilot
    is that many nets and the adaptation cap is raised by the extra nets' runs (what a
    pilot grown after its first two nets would leave the adaptive route)."""
    name, rep, force, pilot_nets = args
    model, law, truth, budget, seed0 = _case(name)
    seen = {}
    original = run_mod.choose_route
    options = {}
    law_first.PILOT_REPLICATES = pilot_nets  # read by law_plan at each call
    if pilot_nets != PILOT_NETS:
        extra = (pilot_nets - PILOT_NETS) * law_first.law_plan(budget, 8).points
        default_cap = me.AiscvOptions().resolved(budget).adaptation_cap
        options = {"adaptation_cap": default_cap + extra}

    def forced(state, plan, *rest, **kwargs):
        route = original(state, plan, *rest, **kwargs)
        if np.isfinite(route.adaptive_error):  # the margin test was reached
            seen["dec"] = (route.law_error, route.adaptive_error, route.iid_error)
            return dataclasses.replace(route, law=force == "law")
        return route

    grows = run_mod.grows
    if force != "default":  # the route forced on a pilot of pilot_nets nets: no growth
        run_mod.choose_route, run_mod.grows = forced, lambda *args: False
    try:
        res = me.expectations(model, law, budget=budget, rng=seed0 + rep, **options)
    finally:
        run_mod.choose_route, run_mod.grows = original, grows
    low, high = res.confidence_interval(0.95)
    truth = np.asarray(truth, dtype=float)
    return (name, rep, force, seen.get("dec"), float((res.estimate - truth) ** 2 @ res.weights),
            float(np.mean((low < truth) & (truth < high))),
            res.diagnostics["route"] == LAW_ROUTE, res.diagnostics.get("replicate_values"),
            np.asarray(res.weights, dtype=float).tolist(), res.diagnostics.get("pilot_replicates"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--margins", default="0.5,5,10,20,50,100")
    parser.add_argument("--gains", default="",
                        help="rules G:K scored at margin 10: the adaptive route also when "
                             "E_iid >= G E_ad and E_ad <= K E_law")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write every forced run's record here")
    parser.add_argument("--pilot-nets", type=int, default=2,
                        help="nets in the pilot (the cap raised by the extra nets' runs)")
    parser.add_argument("--default", action="store_true",
                        help="run the library's rule unforced, once per seed, instead")
    args = parser.parse_args(argv)
    names = args.cases.split(",")
    margins = [float(m) for m in args.margins.split(",")]
    start = time.perf_counter()
    forces = ("default",) if args.default else ("law", "adaptive")
    jobs = [(n, r, f, args.pilot_nets) for n in names for r in range(args.reps)
            for f in forces]
    with ProcessPoolExecutor(args.workers) as ex:
        out = list(ex.map(_run, jobs, chunksize=4))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([dict(zip(("case", "rep", "force", "pilot", "error", "coverage",
                                 "law_route", "replicate_values", "weights",
                                 "pilot_replicates"), r))
                       for r in out], fh)
    if args.default:
        print("case: the library's rule (weighted MSE, coverage, share on the law route, "
              "mean pilot nets)")
        for name in names:
            rows = [r for r in out if r[0] == name]
            nets = [r[9] for r in rows if r[9] is not None]
            print(f"{name:18s} {np.mean([r[4] for r in rows]):.3g} "
                  f"{np.mean([r[5] for r in rows]):.3f} {np.mean([r[6] for r in rows]):.2f} "
                  f"{np.mean(nets) if nets else np.nan:.2f}")
        print(f"({time.perf_counter() - start:.0f} s)")
        return
    print("case: forced law / forced adaptive (weighted MSE, coverage); median E_ad/E_law; "
          "then per margin K: MSE / coverage / share on the law route")
    for name in names:
        law = {r[1]: r for r in out if r[0] == name and r[2] == "law"}
        ad = {r[1]: r for r in out if r[0] == name and r[2] == "adaptive"}
        reps = sorted(law)
        el, ea = np.array([law[r][4] for r in reps]), np.array([ad[r][4] for r in reps])
        cl, ca = np.array([law[r][5] for r in reps]), np.array([ad[r][5] for r in reps])
        ratio = [law[r][3][1] / law[r][3][0] for r in reps if law[r][3]]
        line = (f"{name:18s} law {el.mean():.3g} ({cl.mean():.2f}) adaptive {ea.mean():.3g} "
                f"({ca.mean():.2f}); E_ad/E_law {np.median(ratio) if ratio else np.nan:.3g} |")
        for k in margins:
            pick = np.array([_law_route(law[r][3], k) if law[r][3] else law[r][6]
                             for r in reps])
            line += (f" K={k:g}: {np.where(pick, el, ea).mean():.3g} / "
                     f"{np.where(pick, cl, ca).mean():.2f} / {pick.mean():.2f}")
        for rule in filter(None, args.gains.split(",")):
            gain, ceiling = (float(v) for v in rule.split(":"))
            pick = np.array([_gain_route(law[r][3], gain, ceiling) if law[r][3]
                             else law[r][6] for r in reps])
            line += (f" G={gain:g},K={ceiling:g}: {np.where(pick, el, ea).mean():.3g} / "
                     f"{np.where(pick, cl, ca).mean():.2f} / {pick.mean():.2f}")
        print(line)
    print(f"({time.perf_counter() - start:.0f} s)")


def _law_route(dec, margin: float) -> bool:
    """The rule with margin ``margin`` on the pilot's ``(E_law, E_ad, E_iid)``."""
    law_error, adaptive_error, iid_error = dec
    return margin * law_error <= adaptive_error or iid_error <= ADAPTIVE_GAIN * adaptive_error


def _gain_route(dec, gain: float, ceiling: float) -> bool:
    """Margin 10's rule, but the adaptive route whenever adaptation predicts a gain of at
    least ``gain`` over i.i.d. points of the law and the law's predicted error is not
    ``ceiling`` times below adaptation's."""
    law_error, adaptive_error, iid_error = dec
    if iid_error >= gain * adaptive_error and adaptive_error <= ceiling * law_error:
        return False
    return _law_route(dec, 10.0)


if __name__ == "__main__":
    main()

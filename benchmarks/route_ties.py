"""The route rule of ``sampling="auto"`` measured offline: the pilot's decision numbers and
each route's estimate, per repetition of a no-regret case (``no_regret.py``'s cases, seeds
and budgets), so that a candidate rule can be scored without rerunning the cases.

For every repetition ``rep`` (aISCV seed ``1000 + rep``) it records, from inside
:func:`multiexpect.engine.law_first.choose_route`: the plan ``(R, n)``, the criterion weights
``w``, the pilot nets' estimates ((R_0, J)), the pilot summands' variance per quantity,
the tail statistic, the errors compared (``law_rqmc_error``, ``adaptive_error``,
``law_iid_error``) and the route; then aISCV's estimate (the default, ``sampling="auto"``)
and the paired RQMC comparator's (same seed: the law route's estimate, bit for bit). A rule
that sends a repetition to the law route gives it the comparator's estimate; one that keeps
its route keeps aISCV's. ``--pilot-only`` records the decision and the comparator without
running aISCV past the pilot (cases whose routes a rule does not move).

Usage (``--gain 0``: the rule before :data:`~multiexpect.engine.law_first.ADAPTIVE_GAIN`,
whose routes the candidate rules are scored against)::

    cd benchmarks
    nice -n 10 python route_ties.py --gain 0 --cases sobol_g8 --reps 100 --out ties.jsonl
    python route_ties.py --score ties.jsonl    # per case: repetitions moved, ratio
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import time

import numpy as np

import multiexpect.engine.run as run_mod
import no_regret as nr
from multiexpect.engine import law_first
from multiexpect.engine.adapt import adaptation_done, propose
from multiexpect.engine.law_first import variance_uncertainty

_RECORD: list[dict] = []


class _PilotOnly(Exception):
    """Raised after the decision in ``--pilot-only`` mode."""


def _guarded_adaptive_error(state, route) -> float:
    """Adaptation's prediction where a guard decided without it (the heavy tail): the
    fit is keyed by the seed and stage, so computing it here changes no later draw."""
    if route.event_guard or np.isfinite(route.adaptive_error) or adaptation_done(state):
        return float(route.adaptive_error)
    return float(propose(state).criterion / (state.setup.budget - state.runs_used))


def _hook(pilot_only: bool):
    original = run_mod.choose_route

    def choose(state, plan, *args, **kwargs):
        route = original(state, plan, *args, **kwargs)
        summands = state.pilot_summands
        _RECORD.append({
            "replicates": plan.replicates, "points": plan.points,
            "pilot_replicates": plan.pilot_replicates,
            "weights": np.asarray(state.weights, dtype=float).tolist(),
            "events": np.asarray(state.events, dtype=bool).tolist(),
            "pilot_values": np.asarray(route.pilot_values, dtype=float).tolist(),
            "summand_var": summands.var(axis=0, ddof=1).tolist(),
            "budget": int(state.setup.budget), "runs_used": int(state.runs_used),
            "law": bool(route.law), "reason": route.reason, "law_error": route.law_error,
            "adaptive_error": route.adaptive_error, "iid_error": route.iid_error,
            "event_guard": bool(route.event_guard),
            "tail": variance_uncertainty(summands, state.weights),
            "guarded_adaptive_error": _guarded_adaptive_error(state, route)})
        if pilot_only:
            raise _PilotOnly
        return route

    run_mod.choose_route = choose


def _one(name: str, rep: int, pilot_only: bool) -> dict:
    case = nr.BY_NAME[name]
    model, law, _, _, _ = case.setup()
    seed = nr._aiscv_seed(rep)
    out = {"case": name, "rep": rep, "seed": seed}
    _RECORD.clear()
    sobol = case.kind == "sobol"
    call = nr._sobol_indices() if sobol else None
    kw = ({"orders": ("first",)} if sobol
          else {"weights": case.weights, **nr._declared(case)})
    run = call if sobol else nr.me.expectations
    try:
        res = run(model, law, budget=case.budget, method="aiscv", rng=seed, **kw)
        pack = nr._sobol_pack(res) if sobol else nr._pack(
            res, res.estimate, res.stderr, res.confidence_interval(0.95))
        out["aiscv"] = {"est": pack["est"], "runs": pack["runs"],
                        "route": res.diagnostics.get("route")}
    except _PilotOnly:
        out["aiscv"] = None
    out["decision"] = _RECORD[0] if _RECORD else None
    label = "pick-freeze-rqmc" if sobol else "mc-rqmc"
    method, extra = nr.CLASSICAL[label]
    cres = run(model, law, budget=case.budget, method=method, rng=seed, **kw, **extra)
    cpack = nr._sobol_pack(cres) if sobol else nr._pack(
        cres, cres.estimate, cres.stderr, cres.confidence_interval(0.95))
    out["rqmc"] = {"est": cpack["est"], "runs": cpack["runs"]}
    return out


def record(cases: list[str], reps: int, path: str, pilot_only: bool, first: int = 0) -> None:
    _hook(pilot_only)
    with open(path, "a") as fh:
        for name in cases:
            t0 = time.perf_counter()
            for rep in range(first, first + reps):
                fh.write(json.dumps(_one(name, rep, pilot_only)) + "\n")
                fh.flush()
            print(f"{name}: {reps} reps, {time.perf_counter() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------------------- scoring
def load(path: str) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for line in open(path):
        r = json.loads(line)
        rows.setdefault(r["case"], []).append(r)
    return {k: sorted(v, key=lambda r: r["rep"]) for k, v in rows.items()}


def case_weights(name: str) -> np.ndarray:
    case = nr.BY_NAME[name]
    _, _, truth, _, _ = case.setup()
    return nr._weights(case, truth)


def ratio(name: str, rows: list[dict], to_law: np.ndarray | None = None) -> float:
    """The no-regret ratio against the RQMC comparator (weighted variance at equal runs),
    aISCV's repetitions in ``to_law`` replaced by the comparator's (the law route)."""
    w = case_weights(name)
    budget = nr.BY_NAME[name].budget
    comp = np.array([r["rqmc"]["est"] for r in rows])
    c_runs = np.mean([r["rqmc"]["runs"] for r in rows]) / budget
    ours = np.array([r["aiscv"]["est"] for r in rows])
    o_runs = np.array([r["aiscv"]["runs"] for r in rows], dtype=float)
    if to_law is not None:
        ours = np.where(to_law[:, None], comp, ours)
        o_runs = np.where(to_law, [r["rqmc"]["runs"] for r in rows], o_runs)
    vc = float(w @ comp.var(axis=0, ddof=1)) * c_runs
    vo = float(w @ ours.var(axis=0, ddof=1)) * (o_runs.mean() / budget)
    return vc / vo


def decision_arrays(rows: list[dict]) -> dict[str, np.ndarray]:
    d = [r["decision"] for r in rows]
    compared = np.array([x is not None and np.isfinite(x["adaptive_error"]) for x in d])
    get = lambda k: np.array([np.nan if x is None else x[k] for x in d], dtype=float)  # noqa: E731
    return {"compared": compared, "law": np.array([x is not None and x["law"] for x in d]),
            "law_error": get("law_error"), "adaptive_error": get("adaptive_error"),
            "iid_error": get("iid_error"), "tail": get("tail"),
            "guarded": np.array([x is not None and not x["law"] and not x["event_guard"]
                                 and not np.isfinite(x["adaptive_error"]) for x in d]),
            "guarded_adaptive_error": get("guarded_adaptive_error")}


def score(path: str, rules: dict) -> None:
    data = load(path)
    for name, rows in data.items():
        a = decision_arrays(rows)
        full = all(r["aiscv"] is not None for r in rows)
        adaptive = a["compared"] & ~a["law"]
        line = (f"{name:18s} reps {len(rows):3d} adaptive by the rule {int(adaptive.sum()):3d}, "
                f"by the tail guard {int(a['guarded'].sum()):3d}")
        if full:
            line += f" ratio {ratio(name, rows):.3f}"
        print(line)
        for label, rule in rules.items():
            law = rule(a, rows)
            moved = law & ~a["law"]
            back = a["compared"] & a["law"] & ~law
            txt = f"    {label:28s} to law {int(moved.sum()):3d}"
            if back.any():
                txt += f" to adaptive {int(back.sum()):3d} (not scored)"
            if full:
                txt += f" ratio {ratio(name, rows, moved):.3f}"
            print(txt)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="")
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--out", default="route_ties.jsonl")
    parser.add_argument("--first", type=int, default=0, help="the first repetition")
    parser.add_argument("--pilot-only", action="store_true")
    parser.add_argument("--gain", type=float, default=None,
                        help="run with this ADAPTIVE_GAIN (0: the rule before it)")
    parser.add_argument("--score", default=None, help="score the rules on this file")
    args = parser.parse_args(argv)
    if args.score:
        score(args.score, RULES)
        return
    if args.gain is not None:
        law_first.ADAPTIVE_GAIN = args.gain
    record(args.cases.split(","), args.reps, args.out, args.pilot_only, args.first)


def _today(a, rows):
    return a["law"] | (a["compared"] & (0.5 * a["law_error"] <= a["adaptive_error"]))


def _gain(g: float, guarded: bool = False):
    """Today's rule, and the law route also when adaptation predicts less than ``g`` times
    the i.i.d. error of the law's points (``E_iid <= g E_ad``); ``guarded``: also on the
    repetitions the tail guard sent to adaptation."""
    def rule(a, rows):
        law = _today(a, rows) | (a["compared"] & (a["iid_error"] <= g * a["adaptive_error"]))
        if guarded:
            law |= a["guarded"] & (a["iid_error"] <= g * a["guarded_adaptive_error"])
        return law
    return rule


def _tail_guard(limit: float, g: float = 4.0):
    """The gain test, and the tail guard moved from 0.3 to ``limit``: a repetition it no
    longer guards goes through the margin and gain tests."""
    def rule(a, rows):
        law = _gain(g)(a, rows)
        ad = a["guarded_adaptive_error"]
        freed = a["guarded"] & (a["tail"] <= limit)
        return law | (freed & ((0.5 * a["law_error"] <= ad) | (a["iid_error"] <= g * ad)))
    return rule


def _margin(m: float):
    def rule(a, rows):
        return a["law"] | (a["compared"] & (m * a["law_error"] <= a["adaptive_error"]))
    return rule


RULES = {"today (margin 0.5)": _today, "margin 0.33": _margin(1 / 3),
         "margin 0.25": _margin(0.25), "gain 2 (cap at iid)": _gain(2.0),
         "gain 3": _gain(3.0), "gain 4": _gain(4.0), "gain 5": _gain(5.0),
         "gain 3 + tail guard": _gain(3.0, True), "gain 4 + tail guard": _gain(4.0, True),
         "gain 1 + tail guard": _gain(1.0, True), "gain 4, tail guard 0.4": _tail_guard(0.4),
         "gain 4, tail guard 0.5": _tail_guard(0.5)}


if __name__ == "__main__":
    main()

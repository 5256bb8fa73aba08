"""No regret: aISCV (default options) against the best classical estimator, case by case.

Issue 7. Every case has a known answer (analytic, or a large-MC reference cached in
``benchmarks/no_regret_reference.json``, made by ``python benchmarks/no_regret.py
--make-reference``) and is run at EQUAL model runs by aISCV and by the classical estimator:
crude MC (``method="mc"``) for one law, mixture MC for the 100 laws, pick-freeze MC for
Sobol' indices. For each case, over the repetitions:

* ``ratio``: weighted variance of the classical estimator / that of aISCV, with the variance
  of each quantity taken across repetitions and the weights fixed from the true values
  (``1/I_j^2`` for "relative", 1 for "absolute"; Sobol': the sum of the variances of the
  indices). Where the classical variance is known exactly (``Var_f(phi)/N``) the exact value is
  used and the empirical one is printed beside it. ``F-95%``: the interval of the ratio from the
  F distribution of a ratio of two sample variances (exact for normal estimates, indicative
  otherwise).
* ``cover``: the fraction of (repetition, quantity) pairs whose 95% interval covers the truth.
* ``|bias|/se``: the largest ``|mean - truth| / sqrt(sd^2/reps + se_ref^2)`` over quantities
  (``se_ref`` the reference's own standard error, 0 for analytic truths).
* ``stages``: histogram of ``diagnostics["chosen_stage"]`` (0 = the law: crude / mixture MC);
  ``final``: mean fraction of the budget in the estimate (``n_final`` plus the earlier
  stages pooled at a tie, ``n_pooled``); the rest, spent adapting, is lost to it.

Floors (issue 7): ratio >= 1.0 on every case, coverage in [93%, 97%], no |bias| beyond 4 s.e.

Usage::

    python benchmarks/no_regret.py                      # every case, default reps (~12 min)
    python benchmarks/no_regret.py --cases gauss_moments,heavy_tails --reps 50
    python benchmarks/no_regret.py --options family=student --json out.json
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import math
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special, stats

import multiexpect as me
from multiexpect import testfunctions as tf

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "no_regret_reference.json"


# ---------------------------------------------------------------------------- the cases
@dataclass
class Case:
    """One benchmark case: builds its model, law(s), truths and runs both estimators."""

    name: str
    kind: str  # "expectations" or "sobol"
    budget: int
    weights: str = "relative"
    # a 95% coverage over R reps of one quantity has a binomial s.e. of 0.22 / sqrt(R):
    # 0.022 at 100 reps cannot tell 0.93 from 0.95, so cheap cases run more
    reps: int = 300
    classical: str = "mc"
    note: str = ""

    def setup(self):  # -> (model, law, truth (J,), truth_se (J,), exact classical var or None)
        return BUILDERS[self.name]()


def _dfact(n: int) -> float:
    """Double factorial n!! (n odd)."""
    return float(np.prod(np.arange(n, 0, -2, dtype=float))) if n > 0 else 1.0


def _gauss_moments():
    j = np.arange(1, 11)

    def model(x):
        return x[:, [0]] ** (2 * j)

    law = me.Law([stats.norm(0, 1)])
    truth = np.array([_dfact(2 * k - 1) for k in j])
    second = np.array([_dfact(4 * k - 1) for k in j])
    return model, law, truth, np.zeros(10), (second - truth**2) / 2e4


def _mixed_marginals():
    # bounded, skewed, heavy-tailed and light-tailed-but-skewed marginals
    u, ln, gu, t5 = (stats.uniform(0, 1), stats.lognorm(0.5), stats.gumbel_r(0, 1),
                     stats.t(5))
    law = me.Law([u, ln, gu, t5], names=("u", "ln", "gumbel", "t5"))
    c_ln = float(ln.isf(0.01))
    c_gu, c_t = float(gu.isf(0.05)), float(t5.isf(0.10))

    def model(x):
        x1, x2, x3, x4 = x.T
        return np.column_stack([
            x1 + x2 - x3 - 2.0,                   # signed
            x1 * x3,                              # signed (gumbel < 0 sometimes)
            x4**2 * x1,                           # heavy-tailed, >= 0
            x3 - x4,                              # signed
            x2**2,                                # skewed
            (x2 > c_ln).astype(float),            # indicator, p = 0.01
            ((x3 > c_gu) & (x4 > c_t)).astype(float),  # joint indicator, p = 0.005
        ])

    e_ln, e_gu = float(ln.mean()), float(np.euler_gamma)
    truth = np.array([0.5 + e_ln - e_gu - 2.0, 0.5 * e_gu, 5.0 / 3.0 * 0.5, e_gu,
                      float(ln.moment(2)), 0.01, 0.05 * 0.10])
    return model, law, truth, np.zeros(truth.size), None


_D50_C = np.where(np.arange(50) % 2 == 0, 1.0, -0.5)


def _d50_normal():
    mu = np.linspace(-1.0, 1.0, 50)
    law = me.Law([stats.norm(m, 1.0) for m in mu])
    c = _D50_C

    def model(x):
        lin = x @ c
        return np.column_stack([lin, np.sum(x**2, axis=1), lin**2, x[:, :10].sum(axis=1) ** 2])

    m_lin, v_lin = float(c @ mu), float(c @ c)
    truth = np.array([m_lin, float(np.sum(mu**2 + 1)), v_lin + m_lin**2,
                      10.0 + float(mu[:10].sum()) ** 2])
    return model, law, truth, np.zeros(4), None


def _d50_lognormal():
    s = np.linspace(0.2, 0.6, 50)
    law = me.Law([stats.lognorm(si) for si in s])
    c = _D50_C

    def model(x):
        lin = x @ c
        return np.column_stack([lin, np.sum(x**2, axis=1), lin**2])

    m1 = np.exp(s**2 / 2)
    m2 = np.exp(2 * s**2)
    var = m2 - m1**2
    m_lin = float(c @ m1)
    truth = np.array([m_lin, float(m2.sum()), float(c**2 @ var) + m_lin**2])
    return model, law, truth, np.zeros(3), None


def _d50_events():
    # rare events in d = 50: a fit on a few hits puts noise of energy ~ d / n_hits in its mean
    law = me.Law([stats.norm(0, 1)] * 50)

    def model(x):
        return np.column_stack([(x.sum(axis=1) / np.sqrt(50) > 3.0).astype(float),
                                (np.abs(x[:, 0]) > 2.5).astype(float)])

    p = np.array([stats.norm.sf(3.0), 2 * stats.norm.sf(2.5)])
    return model, law, p, np.zeros(2), p * (1 - p) / 10_000


def _heavy_tails():
    nu, b = 5.0, 4.5
    law = me.Law([stats.t(nu), stats.pareto(b), stats.t(nu)], names=("t1", "pareto", "t3"))

    def model(x):
        x1, x2, x3 = x.T
        return np.column_stack([x1**2, x2, x2**2, np.abs(x3), (x2 > 5.0).astype(float),
                                (np.abs(x1) > 4.0).astype(float)])

    e_abs_t = (2 * np.sqrt(nu) * special.gamma((nu + 1) / 2)
               / (np.sqrt(np.pi) * (nu - 1) * special.gamma(nu / 2)))
    truth = np.array([nu / (nu - 2), b / (b - 1), b / (b - 2), e_abs_t, 5.0 ** (-b),
                      2 * stats.t(nu).sf(4.0)])
    second = np.array([3 * nu**2 / ((nu - 2) * (nu - 4)), b / (b - 2), b / (b - 4),
                       nu / (nu - 2), truth[4], truth[5]])
    return model, law, truth, np.zeros(6), (second - truth**2) / 10_000


def _exceedance():
    law = me.Law([stats.expon()] * 4)
    t3, t2 = float(stats.gamma(4).isf(1e-3)), float(stats.gamma(4).isf(1e-2))

    def model(x):
        y = x.sum(axis=1)
        return np.column_stack([(y > t3).astype(float), (y > t2).astype(float)])

    p = np.array([1e-3, 1e-2])
    return model, law, p, np.zeros(2), p * (1 - p) / 10_000


def _ishigami_moments():
    law = tf.ishigami_law()
    a, b = 7.0, 0.1
    mean = a / 2
    var = 0.5 * (1 + b * np.pi**4 / 5) ** 2 + a**2 / 8 + b**2 * np.pi**8 * (1 / 18 - 1 / 50)

    def model(x):
        y = tf.ishigami(x)
        return np.column_stack([y, y**2, (y > 10.0).astype(float)])

    ref = _reference()["ishigami_p10"]
    truth = np.array([mean, var + mean**2, ref["value"]])
    return model, law, truth, np.array([0.0, 0.0, ref["se"]]), None


def _oscillating():
    # sin(40 x) of a uniform: no Gaussian proposal beats the law itself
    law = me.Law([stats.uniform(0, 1)])

    def model(x):
        return np.column_stack([1.0 + np.sin(40 * x[:, 0]), np.cos(25 * x[:, 0]) ** 2])

    truth = np.array([1.0 + (1 - np.cos(40.0)) / 40, 0.5 + np.sin(50.0) / 100])
    # E[(1 + sin 40x)^2] and E[cos^4 25x] = 3/8 + sin(50)/100 + sin(100)/800
    second = np.array([1 + 2 * (1 - np.cos(40.0)) / 40 + 0.5 - np.sin(80.0) / 160,
                       3 / 8 + np.sin(50.0) / 100 + np.sin(100.0) / 800])
    return model, law, truth, np.zeros(2), (second - truth**2) / 5_000


def _two_sided_tail():
    # a 200-point pilot sees ~2 points per tail: the fitted components may miss one side
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)])
    c = 2.5

    def model(x):
        return np.column_stack([(np.abs(x[:, 0]) > c).astype(float),
                                (np.abs(x[:, 0] + x[:, 1]) > c * np.sqrt(2)).astype(float)])

    p = 2 * float(stats.norm.sf(c))
    return model, law, np.array([p, p]), np.zeros(2), np.full(2, p * (1 - p) / 2000)


def _one_event_two_tails():
    # the first event of two_sided_tail alone: no second event's components to lean on
    model2, law, p, zero, var = _two_sided_tail()

    def model(x):
        return model2(x)[:, :1]

    return model, law, p[:1], zero[:1], var[:1]


def _cantilever_100():
    laws, csv_ref = tf.cantilever_laws()
    ref = _reference().get("cantilever_100")
    if ref is not None:
        truth, se = np.array(ref["value"]), np.array(ref["se"])
    else:
        truth, se = csv_ref, np.zeros(csv_ref.size)
    return tf.cantilever_beam, laws, truth, se, None


# ---- Sobol' cases (need multiexpect.sobol_indices; first-order indices)
def _linear_model():
    a = np.array([1.0, 2.0, 0.5, 3.0, 0.0])
    sig = np.array([1.0, 0.5, 2.0, 0.5, 1.0])
    law = me.Law([stats.norm(1.0, s) for s in sig])

    def model(x):
        return 10.0 + x @ a

    v = a**2 * sig**2
    return model, law, v / v.sum(), np.zeros(5), None


def _sobol_cantilever():
    ref = _reference().get("cantilever_first")
    if ref is None:  # method.md's 4-decimal large-MC values
        return (tf.cantilever_beam, tf.cantilever_law(), tf.CANTILEVER_FIRST_ORDER,
                np.full(6, 5e-5), None)
    return (tf.cantilever_beam, tf.cantilever_law(), np.array(ref["value"]),
            np.array(ref["se"]), None)


def _sobol_ishigami():
    return tf.ishigami, tf.ishigami_law(), tf.ishigami_indices()[0], np.zeros(3), None


def _sobol_g():
    law = me.Law([stats.uniform(0, 1)] * 8)
    return tf.sobol_g, law, tf.sobol_g_indices()[0], np.zeros(8), None


def _sobol_borehole():
    ref = _reference()["borehole_first"]
    return tf.borehole, tf.borehole_law(), np.array(ref["value"]), np.array(ref["se"]), None


BUILDERS = {
    "gauss_moments": _gauss_moments, "mixed_marginals": _mixed_marginals,
    "d50_normal": _d50_normal, "d50_lognormal": _d50_lognormal, "d50_events": _d50_events,
    "heavy_tails": _heavy_tails, "exceedance_1e-3": _exceedance,
    "ishigami_moments": _ishigami_moments, "oscillating": _oscillating,
    "two_sided_tail": _two_sided_tail, "one_event_two_tails": _one_event_two_tails,
    "cantilever_100": _cantilever_100,
    "sobol_linear": _linear_model, "sobol_cantilever": _sobol_cantilever,
    "sobol_ishigami": _sobol_ishigami, "sobol_g8": _sobol_g, "sobol_borehole": _sobol_borehole,
}

CASES = [
    Case("gauss_moments", "expectations", 20_000, note="paper case 1, J=10"),
    Case("mixed_marginals", "expectations", 10_000, note="unif/lognorm/gumbel/t5, J=7"),
    Case("d50_normal", "expectations", 10_000),
    Case("d50_lognormal", "expectations", 10_000),
    Case("d50_events", "expectations", 10_000, reps=1000,
         note="P(sum x/sqrt50 > 3), P(|x1| > 2.5)"),
    Case("heavy_tails", "expectations", 10_000, note="t5 and Pareto(4.5)"),
    Case("exceedance_1e-3", "expectations", 10_000, note="Gamma(4) tail, p=1e-3, 1e-2"),
    Case("ishigami_moments", "expectations", 10_000, note="sines of uniforms"),
    Case("oscillating", "expectations", 5_000, note="sin(40x), cos^2(25x), x~U(0,1)"),
    Case("two_sided_tail", "expectations", 2_000, reps=1000,
         note="P(|X1|>2.5), P(|X1+X2|>2.5 sqrt2)"),
    Case("one_event_two_tails", "expectations", 2_000, reps=1000, note="P(|X1|>2.5) alone"),
    Case("cantilever_100", "expectations", 20_000, weights="absolute", reps=100,
         classical="mixture-mc", note="paper case 2, J=100 (3.6 s a rep)"),
    Case("sobol_linear", "sobol", 6 * 2_000, note="d=5 linear, first order"),
    Case("sobol_cantilever", "sobol", 7 * 20_000, note="paper case 3"),
    Case("sobol_ishigami", "sobol", 4 * 5_000),
    Case("sobol_g8", "sobol", 9 * 2_000),
    Case("sobol_borehole", "sobol", 9 * 2_000),
]
BY_NAME = {c.name: c for c in CASES}

PAPER = {"gauss_moments": 1.63e-3, "cantilever_100": 4.38e-6}


def _reference() -> dict:
    if REFERENCE.exists():
        return json.loads(REFERENCE.read_text())
    return {}


def _sobol_indices():
    """``multiexpect.sobol_indices`` (issue 3), or None while it is not there."""
    found = getattr(me, "sobol_indices", None)
    if found is None:
        try:
            from multiexpect.sensitivity import sobol_indices as found
        except ImportError:
            return None
    return found


def sobol_available() -> bool:
    return _sobol_indices() is not None


# ---------------------------------------------------------------------------- one repetition
def _run_one(args):
    """One repetition; an exception of either estimator is recorded, not raised."""
    name, rep, options = args
    try:
        return _run_one_unguarded(name, rep, options)
    except Exception as exc:  # a failed rep is a result of the benchmark
        return name, rep, {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def _run_one_unguarded(name, rep, options):
    case = BY_NAME[name]
    model, law, _, _, _ = case.setup()
    out = {}
    t0 = time.perf_counter()
    if case.kind == "expectations":
        res = me.expectations(model, law, budget=case.budget, weights=case.weights,
                              method="aiscv", rng=1000 + rep, **options)
        out["aiscv"] = (list(res.estimate), list(res.stderr), res.n_evaluations)
        out["stage"] = int(res.diagnostics["chosen_stage"])
        out["final_fraction"] = (res.diagnostics["n_final"]
                                 + res.diagnostics.get("n_pooled", 0)) / case.budget
        t1 = time.perf_counter()
        cres = me.expectations(model, law, budget=case.budget, weights=case.weights,
                               method=case.classical, rng=500_000 + rep)
        out["classical"] = (list(cres.estimate), list(cres.stderr), cres.n_evaluations)
    else:
        res = _sobol_indices()(model, law, budget=case.budget, orders=("first",),
                               method="aiscv", rng=1000 + rep, **options)
        out["aiscv"] = _sobol_pack(res)
        diag = getattr(res, "diagnostics", None) or {}
        out["stage"] = int(diag.get("chosen_stage", -1))
        out["final_fraction"] = ((diag.get("n_final", np.nan) + diag.get("n_pooled", 0))
                                 * (law.dim + 1) / case.budget)
        t1 = time.perf_counter()
        cres = _sobol_indices()(model, law, budget=case.budget, orders=("first",),
                                method="pick-freeze", rng=500_000 + rep)
        out["classical"] = _sobol_pack(cres)
    out["time"] = (t1 - t0, time.perf_counter() - t1)
    return name, rep, out


def _sobol_pack(res):
    est = np.asarray(res.first_order, dtype=float)
    se = getattr(res, "first_order_stderr", None)
    if se is None:
        low, high = res.confidence_interval(0.95)
        low = np.asarray(low["first"] if isinstance(low, dict) else low)[: est.size]
        high = np.asarray(high["first"] if isinstance(high, dict) else high)[: est.size]
        se = (high - low) / (2 * 1.959963984540054)
    return list(est), list(np.asarray(se, dtype=float)), int(res.n_evaluations)


# ---------------------------------------------------------------------------- analysis
def _weights(case: Case, truth: np.ndarray) -> np.ndarray:
    if case.kind == "sobol" or case.weights == "absolute":
        return np.ones(truth.size)
    return 1.0 / truth**2


def summarise(case: Case, runs: list[dict]) -> dict:
    """Ratio, coverage, bias and stage histogram of one case from its repetitions."""
    _, _, truth, truth_se, exact_var = case.setup()
    w = _weights(case, truth)
    reps = len(runs)
    row = {"case": case.name, "kind": case.kind, "budget": case.budget, "reps": reps,
           "classical_method": case.classical if case.kind == "expectations" else "pick-freeze"}
    for key in ("aiscv", "classical"):
        est = np.array([r[key][0] for r in runs])
        se = np.array([r[key][1] for r in runs])
        runs_used = max(r[key][2] for r in runs)
        var = est.var(axis=0, ddof=1)
        covered = np.abs(est - truth) <= 1.959963984540054 * se
        bias_se = np.sqrt(var / reps + truth_se**2)
        with np.errstate(divide="ignore", invalid="ignore"):
            zbias = np.where(bias_se > 0, np.abs(est.mean(axis=0) - truth) / bias_se, 0.0)
        row[key] = {"weighted_var": float(w @ var), "coverage": float(covered.mean()),
                    "coverage_by_quantity": covered.mean(axis=0).round(3).tolist(),
                    "bias_se_by_quantity": np.round(zbias, 2).tolist(),
                    "var_by_quantity": var.tolist(),
                    "max_abs_bias_se": float(np.max(zbias)), "max_runs": runs_used,
                    "mean_time_s": float(np.mean([r["time"][0 if key == "aiscv" else 1]
                                                  for r in runs]))}
    classical = row["classical"]["weighted_var"]
    if exact_var is not None:
        row["classical_exact_var"] = float(w @ exact_var)
        classical = row["classical_exact_var"]
    aiscv = row["aiscv"]["weighted_var"]
    row["ratio"] = classical / aiscv if aiscv > 0 else math.inf
    # the floor is on the weighted criterion, which may trade one quantity for another
    per_q_classical = (np.asarray(exact_var, dtype=float) if exact_var is not None
                       else np.asarray(row["classical"]["var_by_quantity"]))
    per_q_aiscv = np.asarray(row["aiscv"]["var_by_quantity"])
    with np.errstate(divide="ignore", invalid="ignore"):
        row["ratio_by_quantity"] = np.where(per_q_aiscv > 0, per_q_classical / per_q_aiscv,
                                            np.inf).tolist()
    df = reps - 1
    dfc = 10**9 if exact_var is not None else df
    lo, hi = stats.f.ppf([0.025, 0.975], dfc, df)
    row["ratio_f95"] = [row["ratio"] / hi, row["ratio"] / lo]
    stages = {}
    for r in runs:
        stages[str(r["stage"])] = stages.get(str(r["stage"]), 0) + 1
    row["final_fraction"] = float(np.mean([r.get("final_fraction", np.nan) for r in runs]))
    row["stages"] = dict(sorted(stages.items(), key=lambda kv: int(kv[0])))
    a = row["aiscv"]
    row["pass"] = {"ratio>=1": row["ratio"] >= 1.0,
                   "coverage93-97": 0.93 <= a["coverage"] <= 0.97,
                   "bias<=4se": a["max_abs_bias_se"] <= 4.0}
    if case.name in PAPER:
        row["paper_figure"] = PAPER[case.name]
        row["pass"]["paper"] = a["weighted_var"] <= PAPER[case.name]
    return row


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def print_table(rows: list[dict]) -> str:
    head = (f"{'case':18s} {'budget':>7s} {'reps':>4s} {'classical':>9s} {'var clas':>9s} "
            f"{'var aISCV':>9s} {'ratio':>8s} {'F-95%':>15s} {'cover':>6s} {'cov.cl':>6s} "
            f"{'|b|/se':>6s} {'final':>5s} {'stages':24s} verdict")
    lines = [head, "-" * len(head)]
    for r in rows:
        a, c = r["aiscv"], r["classical"]
        var_c = r.get("classical_exact_var", c["weighted_var"])
        mark = "*" if "classical_exact_var" in r else " "
        stages = " ".join(f"{k}:{v}" for k, v in r["stages"].items())
        fails = [k for k, ok in r["pass"].items() if not ok]
        verdict = "PASS" if not fails else "FAIL " + ",".join(fails)
        lines.append(
            f"{r['case']:18s} {r['budget']:7d} {r['reps']:4d} {r['classical_method'][:9]:>9s} "
            f"{_fmt(var_c):>8s}{mark} {_fmt(a['weighted_var']):>9s} {_fmt(r['ratio']):>8s} "
            f"[{_fmt(r['ratio_f95'][0]):>6s},{_fmt(r['ratio_f95'][1]):>6s}] "
            f"{a['coverage']:6.3f} {c['coverage']:6.3f} {a['max_abs_bias_se']:6.2f} "
            f"{r.get('final_fraction', float('nan')):5.2f} "
            f"{stages:24s} {verdict}")
    lines.append("coverage: binomial s.e. of one quantity's 95% coverage 0.022 / 0.013 / 0.007 "
                 "at 100 / 300 / 1000 reps")
    losses = [(r["case"], j, q) for r in rows
              for j, q in enumerate(r.get("ratio_by_quantity", [])) if q < 1.0]
    lines.append("per quantity (not a floor: the criterion weighs them), ratio < 1: "
                 + (", ".join(f"{case} q{j} {_fmt(q)}" for case, j, q in losses) or "none"))
    exact = [r for r in rows if "classical_exact_var" in r]
    if exact:
        lines.append("* classical variance exact (Var_f(phi)/N); empirical: "
                     + ", ".join(f"{r['case']} {_fmt(r['classical']['weighted_var'])}"
                                 for r in exact))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- references
def _ref_ishigami_p10(rng) -> dict:
    """P(ishigami > 10) by crude MC, 4e7 points."""
    n, chunks = 2_000_000, 20
    hits = 0
    law = tf.ishigami_law()
    for _ in range(chunks):
        hits += int(np.sum(tf.ishigami(law.sample(n, rng)) > 10.0))
    p = hits / (n * chunks)
    return {"value": p, "se": math.sqrt(p * (1 - p) / (n * chunks)), "n": n * chunks,
            "method": "crude MC"}


def _ref_cantilever_100(rng) -> dict:
    """The 100 laws' expectations: crude MC per law, 2e6 points each."""
    laws, csv_ref = tf.cantilever_laws()
    vals, ses = [], []
    for lw in laws:
        y = tf.cantilever_beam(lw.sample(2_000_000, rng))
        vals.append(float(y.mean()))
        ses.append(float(y.std(ddof=1) / math.sqrt(y.size)))
    return {"value": vals, "se": ses, "n_per_law": 2_000_000, "method": "crude MC per law",
            "max_abs_diff_vs_authors_csv": float(np.max(np.abs(np.array(vals) - csv_ref)))}


def _saltelli_first(function, law, base_points, batches, rng, qmc_scrambles=False):
    """First-order indices by Saltelli 2010 pick-freeze, ``batches`` independent estimates
    of ``base_points`` points each (i.i.d., or scrambled Sobol' points if ``qmc_scrambles``);
    the standard error is the spread of the batch estimates."""
    from scipy.special import ndtri
    from scipy.stats import qmc

    d = law.dim
    est = []
    for _ in range(batches):
        if qmc_scrambles:  # base_points must be a power of 2
            u = qmc.Sobol(2 * d, scramble=True, seed=rng).random(base_points)
            z = ndtri(u)
            a, b = law.from_standard(z[:, :d]), law.from_standard(z[:, d:])
        else:
            a, b = law.sample(base_points, rng), law.sample(base_points, rng)
        ya, yb = function(a).ravel(), function(b).ravel()
        var = np.var(np.concatenate([ya, yb]))
        s = []
        for i in range(d):
            abi = a.copy()
            abi[:, i] = b[:, i]
            s.append(np.mean(yb * (function(abi).ravel() - ya)) / var)
        est.append(s)
    est = np.array(est)
    return est.mean(axis=0).tolist(), (est.std(axis=0, ddof=1) / math.sqrt(batches)).tolist()


def _ref_borehole_first(rng) -> dict:
    """Borehole first-order indices: pick-freeze, 20 batches of 1e6 i.i.d. points."""
    value, se = _saltelli_first(tf.borehole, tf.borehole_law(), 1_000_000, 20, rng)
    return {"value": value, "se": se, "n": 20_000_000, "method": "Saltelli 2010 pick-freeze"}


def _ref_cantilever_first(rng) -> dict:
    """Cantilever first-order indices: pick-freeze on 10 scrambled Sobol' sequences of 2^20
    points (method.md's 4-decimal reference is off by up to 1.1e-3 on S_L)."""
    value, se = _saltelli_first(tf.cantilever_beam, tf.cantilever_law(), 2**20, 10, rng,
                                qmc_scrambles=True)
    return {"value": value, "se": se, "n": 10 * 2**20,
            "method": "Saltelli 2010 pick-freeze, randomised QMC (scrambled Sobol')"}


REFERENCES = {"ishigami_p10": _ref_ishigami_p10, "cantilever_100": _ref_cantilever_100,
              "borehole_first": _ref_borehole_first, "cantilever_first": _ref_cantilever_first}


def make_reference(seed: int = 20261126, keys=None) -> dict:
    """Large-MC references for the cases without analytic answers (run once, cached);
    ``keys`` recomputes only those entries."""
    rng = np.random.default_rng(seed)
    ref = _reference()
    for key in keys or REFERENCES:
        ref[key] = REFERENCES[key](rng)
    ref["command"] = "python benchmarks/no_regret.py --make-reference [--reference-keys ...]"
    REFERENCE.write_text(json.dumps(ref, indent=1) + "\n")
    return ref


# ---------------------------------------------------------------------------- main
def _parse_options(text: str | None) -> dict:
    out = {}
    for item in filter(None, (text or "").split(",")):
        key, _, value = item.partition("=")
        for conv in (int, float):
            try:
                value = conv(value)
                break
            except ValueError:
                continue
        out[key.strip()] = value
    return out


def _engine_version() -> str:
    """The git commit of the checkout, with "+dirty" when the engine has local edits."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=HERE, check=True).stdout.strip()
        engine = ["../src/multiexpect/" + p for p in ("aiscv.py", "estimators", "proposals",
                                                      "problem.py", "laws.py", "api.py")]
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *engine],
                               capture_output=True, text=True, cwd=HERE).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=None, help="comma-separated case names")
    parser.add_argument("--reps", type=int, default=None,
                        help="repetitions per case (default: each case's own: 300; 1000 for "
                             "the two-tail cases and d50_events, 100 for cantilever_100)")
    parser.add_argument("--options", default="", help="aiscv options, e.g. family=student")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--make-reference", action="store_true")
    parser.add_argument("--reference-keys", default=None,
                        help=f"with --make-reference: only these of {sorted(REFERENCES)}")
    args = parser.parse_args(argv)
    if args.make_reference:
        t0 = time.perf_counter()
        keys = args.reference_keys.split(",") if args.reference_keys else None
        unknown = sorted(set(keys or ()) - set(REFERENCES))
        if unknown:
            parser.error(f"unknown reference key(s) {unknown}; known: {sorted(REFERENCES)}")
        make_reference(keys=keys)
        print(f"reference written to {REFERENCE} in {time.perf_counter() - t0:.0f} s")
        return
    options = _parse_options(args.options)
    names = args.cases.split(",") if args.cases else [c.name for c in CASES]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {list(BY_NAME)}")
    skipped = []
    if not sobol_available():
        skipped = [n for n in names if BY_NAME[n].kind == "sobol"]
        names = [n for n in names if BY_NAME[n].kind != "sobol"]
    print(f"options: {options or 'defaults'}; processes: {args.processes}; "
          f"engine: {_engine_version()}")
    rows = []
    start = time.perf_counter()
    with mp.get_context("fork").Pool(args.processes) as pool:
        for name in names:
            case = BY_NAME[name]
            reps = args.reps or case.reps
            t0 = time.perf_counter()
            results = pool.map(_run_one, [(name, r, options) for r in range(reps)], chunksize=1)
            runs = [out for _, _, out in sorted(results, key=lambda t: t[1])]
            errors = [out["error"] for out in runs if "error" in out]
            runs = [out for out in runs if "error" not in out]
            if len(runs) < 3:
                print(f"  {name}: {len(errors)} failed reps, first: {errors[:1]}", flush=True)
                continue
            row = summarise(case, runs)
            row["errors"] = len(errors)
            row["first_error"] = errors[0] if errors else None
            row["pass"]["no-errors"] = not errors
            row["wall_s"] = time.perf_counter() - t0
            row["options"] = options
            rows.append(row)
            print(f"  {name}: {row['wall_s']:.0f} s, ratio {_fmt(row['ratio'])}", flush=True)
    print()
    print(print_table(rows))
    print()
    big = [r for r in rows if r["ratio"] >= 10]
    print("adaptation wins big (ratio >= 10): "
          + (", ".join(f"{r['case']} ({_fmt(r['ratio'])}x)" for r in big) or "none"))
    for r in rows:
        if "paper" in r["pass"]:
            print(f"paper figure {r['case']}: aISCV {r['aiscv']['weighted_var']:.3g} "
                  f"<= {r['paper_figure']:.3g}: {'PASS' if r['pass']['paper'] else 'FAIL'}")
    for crit in ("ratio>=1", "coverage93-97", "bias<=4se"):
        bad = [r["case"] for r in rows if not r["pass"][crit]]
        print(f"{crit}: {'PASS' if not bad else 'FAIL on ' + ', '.join(bad)}")
    if skipped:
        print(f"skipped (multiexpect.sobol_indices not available yet): {', '.join(skipped)}")
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "skipped": skipped,
                                               "options": options, "engine": _engine_version()},
                                              indent=1) + "\n")


if __name__ == "__main__":
    main()

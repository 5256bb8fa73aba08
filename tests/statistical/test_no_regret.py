"""No regret (issue 7): the final choice and the defensive bound, over repetitions.

Tolerances come from the sampling distribution of a sample variance. With ``R`` independent
repetitions of a (nearly) normal estimate whose true variance is ``v``, the sample variance
``s^2`` satisfies ``(R - 1) s^2 / v ~ chi^2_{R-1}``; so ``s^2 / v`` has the law of
``F(R - 1, inf)`` and exceeds ``chi2.ppf(0.999, R - 1) / (R - 1)`` (about 1.45 for
``R = 100``) with probability 0.001. Where the comparison variance ``v`` is known exactly
(crude MC: ``Var_f(phi) / N``) that quantile is the tolerance of "not worse than". Seeds are
fixed, so each test is deterministic; the quantile says how unlucky a correct engine would
have to be to fail it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.aiscv import AISCV, AiscvOptions
from multiexpect.evaluation import build_evaluate

REPS = 100
#: added to the seeds of the two-region runs (``MULTIEXPECT_TEST_SEED_SHIFT``), to re-run
#: the tests on them at other seeds
SEED_SHIFT = int(os.environ.get("MULTIEXPECT_TEST_SEED_SHIFT", "0"))


def _chi2_upper(reps: int, q: float = 0.999) -> float:
    """Upper ``q`` quantile of ``s^2 / v`` for ``reps`` normal repetitions."""
    return float(stats.chi2.ppf(q, reps - 1) / (reps - 1))


# ----------------------------------------------------------------- (a) adaptation cannot help
_UNIFORM = me.Law([stats.uniform(0, 1)])
_OSC_MEAN = 1.0 + (1.0 - np.cos(40.0)) / 40.0
_OSC_SECOND = 1.0 + 2.0 * (1.0 - np.cos(40.0)) / 40.0 + 0.5 - np.sin(80.0) / 160.0
_OSC_BUDGET = 2000


def _oscillating(x):
    """``1 + sin(40 x)``: every Gaussian proposal (in standard space) is at best the law."""
    return 1.0 + np.sin(40.0 * x[:, 0])


@pytest.fixture(scope="module")
def oscillating_runs():
    est, used, covered = [], [], []
    for r in range(REPS):
        # the adaptive engine on i.i.d. points: its pooling of the stages is what is tested
        res = me.expectations(_oscillating, _UNIFORM, budget=_OSC_BUDGET, rng=7000 + r,
                              sampling="mc")
        assert res.n_evaluations <= _OSC_BUDGET
        est.append(res.estimate[0])
        used.append(res.diagnostics["n_final"] + res.diagnostics["n_pooled"])
        low, high = res.confidence_interval(0.95)
        covered.append(low[0] <= _OSC_MEAN <= high[0])
    return np.array(est), np.array(used), np.array(covered)


def test_no_worse_than_crude_mc_when_adaptation_cannot_help(oscillating_runs):
    est, _, covered = oscillating_runs
    crude_var = (_OSC_SECOND - _OSC_MEAN**2) / _OSC_BUDGET  # exact Var_f(phi) / N
    ratio = est.var(ddof=1) / crude_var
    # not worse than crude MC beyond the 99.9% quantile of the variance ratio's noise
    assert ratio <= _chi2_upper(REPS), f"aISCV variance {ratio:.3f} x crude MC's"
    # and unbiased, with intervals that cover (pooled standard errors): 95% +- 3 binomial s.e.
    assert abs(est.mean() - _OSC_MEAN) < 4 * est.std(ddof=1) / np.sqrt(REPS)
    assert abs(covered.mean() - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / REPS)


def test_runs_spent_adapting_join_the_estimate_when_adaptation_cannot_help(oscillating_runs):
    """Without pooling, a tie with crude MC costs the adaptive fraction of the budget (the
    final stage held 0.8 of it); the pilot and the batches now join the estimate."""
    _, used, _ = oscillating_runs
    assert np.min(used) == _OSC_BUDGET, f"runs in the estimate: {np.unique(used)}"


# ----------------------------------------------------------------- (b) the defensive bound
_NORMAL = me.Law([stats.norm(0, 1)])
_TAIL = 2.0
_P = 2 * stats.norm.sf(_TAIL)  # E_f[phi] = E_f[phi^2] for an indicator


def _two_sided(x):
    """``1{|x| > 2}``: a 40-point pilot mostly sees one tail, so the fitted Gaussian misses
    the other; only the defensive law component covers it."""
    return (np.abs(x[:, 0]) > _TAIL).astype(float)


def _engine(seed: int, delta: float) -> AISCV:
    # the bound is the final stage's: pooling of the earlier stages is switched off; Gaussian
    # components (light tails: without the law, f / g_α is unbounded where they miss)
    opts = AiscvOptions(defensive=delta, keep="last", pilot_size=40, batch_size=100,
                        adaptation_cap=140, pool_adaptive=False, family="gaussian")
    return AISCV([_NORMAL], build_evaluate(_two_sided), budget=1000,
                 seed=seed, weights="absolute", options=opts)


@pytest.mark.parametrize("delta", [0.1, 0.3])
def test_defensive_weight_bounds_the_variance(delta):
    """``f / g_α <= 1 / δ`` everywhere, so ``Var <= (E_f[phi^2] / δ - I^2) / n_final``."""
    est, n_final = [], []
    for r in range(REPS):
        engine = _engine(8000 + r, delta)
        out = engine.run()
        assert out.chosen_stage >= 1  # keep="last": the adapted proposal is used
        proposal = out.chosen.proposal
        assert proposal.alpha[-1] >= delta - 1e-12
        # the importance ratio f / g_α on points of the proposal and of the law (here the
        # working space is standard normal space, where f is N(0, 1) exactly)
        gen = np.random.default_rng(r)
        z = np.concatenate([proposal.sample(2000, gen), gen.standard_normal((2000, 1)),
                            np.linspace(-30, 30, 601)[:, None]])
        log_ratio = stats.norm.logpdf(z[:, 0]) - proposal.logpdf(z)
        assert np.max(log_ratio) <= -np.log(delta) + 1e-9
        est.append(out.estimate[0])
        n_final.append(out.n_final)
    est = np.array(est)
    bound = (_P / delta - _P**2) / min(n_final)
    assert est.var(ddof=1) <= bound * _chi2_upper(REPS)
    assert abs(est.mean() - _P) < 4 * est.std(ddof=1) / np.sqrt(REPS)


def test_without_defensive_component_the_ratio_is_unbounded():
    """The contrast that shows the bound above is not vacuous: with ``defensive=0`` the law's
    weight may vanish and ``f / g_α`` explodes in the tail the fitted component missed."""
    worst = 0.0
    for r in range(10):
        engine = _engine(8000 + r, 0.0)
        out = engine.run()
        z = np.linspace(-6, 6, 241)[:, None]
        log_ratio = stats.norm.logpdf(z[:, 0]) - out.chosen.proposal.logpdf(z)
        worst = max(worst, float(np.max(log_ratio)))
    assert worst > np.log(1e3)


# ------------------------------------------------- (c) events with two regions, few hits
_PLANE = me.Law([stats.norm(0, 1), stats.norm(0, 1)])
_EDGE = 2.5
_P_TWO = 2 * stats.norm.sf(_EDGE)
_TWO_BUDGET = 2000  # a one-batch pilot (200 points) sees ~2.5 hits: often a single tail


def _two_regions(x):
    """``1{|x1| > 2.5}`` and ``1{|x1 + x2| > 2.5 sqrt 2}``: two tails of equal mass each
    (the ``two_sided_tail`` case of ``benchmarks/no_regret.py``)."""
    return np.column_stack([np.abs(x[:, 0]) > _EDGE,
                            np.abs(x[:, 0] + x[:, 1]) > _EDGE * np.sqrt(2)]).astype(float)


def _two_region_runs(**options):
    est, covered = [], []
    for r in range(REPS):
        res = me.expectations(_two_regions, _PLANE, budget=_TWO_BUDGET,
                              rng=9000 + SEED_SHIFT + r, **options)
        est.append(res.estimate)
        low, high = res.confidence_interval(0.95)
        covered.append((low <= _P_TWO) & (_P_TWO <= high))
    return np.array(est), np.array(covered)


_CRUDE_TWO = _P_TWO * (1 - _P_TWO) / _TWO_BUDGET  # exact Var_f(phi) / N of each quantity


@pytest.fixture(scope="module")
def two_region_runs():
    return _two_region_runs()


def test_events_with_two_regions_are_no_worse_than_crude_mc(two_region_runs):
    """The pilot is extended until each event has 10 hits (or to 600 points), and each
    event's fitted t has a widened law beside it (symmetric about the law's centre), so
    both tails are sampled even when the hits favour one (without either, a tail the pilot
    missed is sampled by the defensive component alone, at up to 1/δ = 20 times crude MC's
    variance). Measured here: 0.34x and 0.37x crude MC's variance.

    Coverage is checked against the floor's lower end (0.93) less three binomial standard
    errors: over 1000 repetitions of ``two_sided_tail`` it is 0.943 over both events
    (docs/benchmarks.md, engine e757922); 0.918 and 0.941 per event without the widened
    law (engine f2eae79), 0.84 with a one-batch pilot and no widened law.
    """
    est, covered = two_region_runs
    ratio = est.var(axis=0, ddof=1) / _CRUDE_TWO
    assert np.all(ratio <= _chi2_upper(REPS)), f"aISCV variance {ratio} x crude MC's"
    assert np.all(np.abs(est.mean(axis=0) - _P_TWO)
                  < 4 * est.std(axis=0, ddof=1) / np.sqrt(REPS))
    coverage = covered.mean(axis=0)
    assert np.all(coverage >= 0.93 - 3 * np.sqrt(0.93 * 0.07 / REPS)), coverage


def _one_event_two_tails(x):
    """``1{|x1| > 2.5}`` alone (the ``one_event_two_tails`` case of the benchmark)."""
    return (np.abs(x[:, :1]) > _EDGE).astype(float)


def test_the_widened_law_lowers_the_variance_of_an_event_with_two_tails():
    """The contrast for the widened-law component (``event_widened``): without it the
    fitted t leans to the tail its hits favour and the other tail is sampled mostly by the
    defensive component; the variance is higher beyond the 99.9% quantile of the ratio of
    two sample variances (F(R-1, R-1)). Measured over 1000 reps in the benchmark: 3.4x
    (4.4x crude MC against 1.29x). With two events (``_two_regions``) each event's
    components partly cover the other's tails and the contrast (1.6x) is below what 100
    reps resolve."""
    runs = {}
    for widened in (0.25, 0.0):
        runs[widened] = np.array([
            me.expectations(_one_event_two_tails, _PLANE, budget=_TWO_BUDGET, rng=9000 + r,
                            event_widened=widened).estimate[0] for r in range(REPS)])
    ratio = runs[0.0].var(ddof=1) / runs[0.25].var(ddof=1)
    assert ratio > stats.f.ppf(0.999, REPS - 1, REPS - 1), ratio
    assert runs[0.25].var(ddof=1) < _CRUDE_TWO  # and better than crude MC


def test_the_pilot_extension_is_what_lowers_the_variance():
    """The contrast for the pilot extension, the lever made before the widened law and the
    pulled mean: with a one-batch pilot (``pilot_hits=0``) the variance is higher beyond
    the F(R-1, R-1) 99.9% quantile. With the later levers its gain is smaller (one event
    with two tails, 1000 reps: 1.5x) than a 100-rep F test resolves, so the contrast is
    made on the engine it was built for (``event_widened=0, shrink_mean=False``)."""
    before = {"event_widened": 0.0, "shrink_mean": False, "sampling": "mc"}
    est, _ = _two_region_runs(**before)
    without, _ = _two_region_runs(pilot_hits=0, **before)
    ratio = without.var(axis=0, ddof=1) / est.var(axis=0, ddof=1)
    pooled = without.var(axis=0, ddof=1).sum() / est.var(axis=0, ddof=1).sum()
    print("variance ratio without / with the pilot extension:", ratio, "pooled:", pooled)
    # each quantity's ratio beyond F(R-1, R-1)'s 99% quantile (1.60), and the ratio of the
    # summed variances beyond its 99.9% quantile (1.86, counting R - 1 degrees of freedom,
    # fewer than the sum has): each quantity alone at 99.9% passed its seeds by 0.5% only
    assert np.all(ratio > stats.f.ppf(0.99, REPS - 1, REPS - 1)), ratio
    assert pooled > stats.f.ppf(0.999, REPS - 1, REPS - 1), pooled

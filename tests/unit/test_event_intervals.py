"""Intervals of event probabilities: never of zero width, inside [0, 1], honest at few hits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.intervals import (
    CAP_HITS,
    FEW_HITS,
    HitTally,
    effective_hits,
    event_interval,
    normal_interval,
    zero_hit_bound,
)

TEN = me.Law([stats.norm()] * 10)
PLANE = me.Law([stats.norm()] * 2)


def _rare_10d(x):
    """``P(sum x > 5 sqrt 10) = Φ(-5) = 2.87e-7``: the issue's reproduction."""
    return (x.sum(axis=1) > 5.0 * np.sqrt(10.0)).astype(float)


def test_no_hit_reports_an_upper_bound_not_zero_width():
    res = me.expectations(_rare_10d, TEN, budget=10_000, rng=1)
    assert res.estimate[0] == 0.0 and res.stderr[0] == 0.0  # the engine saw no hit
    low, high = res.confidence_interval(0.95)
    assert low[0] == 0.0 and 0.0 < high[0] <= 1.0
    assert high[0] >= stats.norm.sf(5.0)  # a bound, so it covers the exact answer
    assert res.diagnostics["event"] == [True] and res.diagnostics["hits"] == [0]
    text = res.summary()
    assert "no hit" in text and "upper confidence bound" in text
    # the bound is the law-equivalent draws' (pilot draws count 1, later ones `defensive`)
    assert high[0] == pytest.approx(np.log(40.0) / res.diagnostics["law_draws"][0])


def test_crude_mc_without_hit_gives_the_rule_of_three_bound():
    res = me.expectations(_rare_10d, TEN, budget=3000, method="mc", rng=1)
    low, high = res.confidence_interval(0.95)
    assert (low[0], res.estimate[0]) == (0.0, 0.0)
    assert high[0] == pytest.approx(np.log(40.0) / 3000)  # ~ 1 - 0.025^(1/n)
    low90, high90 = res.confidence_interval(0.90)
    assert low90[0] == 0.0 and high90[0] == pytest.approx(np.log(20.0) / 3000)


def _events_and_moment(x):
    y = x[:, 0] + x[:, 1]
    return np.column_stack([y, y > 1.0, y > 3.5, y > 8.0])


def test_separate_is_without_hit_reports_its_pilot_bound_not_zero_width():
    """Separate IS tallies each quantity's own runs: no defensive component, so only its
    pilot's law draws bound an event it never hit."""
    res = me.expectations(_events_and_moment, PLANE, budget=4000, rng=3,
                          method="separate-is")
    assert res.diagnostics["event"] == [False, True, True, True]
    assert res.diagnostics["hits"][3] == 0 and res.estimate[3] == 0.0
    low, high = res.confidence_interval(0.95)
    assert np.all(high > low)
    draws = res.diagnostics["law_draws"][3]
    assert 0 < draws < 1000 and high[3] == pytest.approx(np.log(40.0) / draws)
    assert res.trust == ("", "", "", "no hit")


@pytest.mark.parametrize("method", ["aiscv", "mc", "mixture-mc"])
def test_event_columns_are_recognised_and_only_they_change(method):
    res = me.expectations(_events_and_moment, PLANE, budget=2000, rng=3, method=method)
    assert res.diagnostics["event"] == [False, True, True, True]
    low, high = res.confidence_interval(0.95)
    normal_low, normal_high = normal_interval(res.estimate, res.stderr, 0.95)
    assert (low[0], high[0]) == (normal_low[0], normal_high[0])  # the moment: unchanged
    assert np.all(low[1:] >= 0.0) and np.all(high[1:] <= 1.0) and np.all(high[1:] > low[1:])
    k = res.effective_hits
    assert np.isnan(k[0]) and np.all(k[1:] >= 0)
    if method == "mc":  # crude MC: the effective hits are the hits (ddof=1 costs 1/n)
        hits = np.array(res.diagnostics["hits"][1:], dtype=float)
        np.testing.assert_allclose(k[1:], hits * (1 - 1 / 2000))


def test_interval_survives_json():
    res = me.expectations(_events_and_moment, PLANE, budget=1000, rng=4)
    back = me.ExpectationResult.from_json(res.to_json())
    for a, b in zip(res.confidence_interval(), back.confidence_interval()):
        np.testing.assert_array_equal(a, b)


def test_bounds_stay_in_unit_interval_on_every_kind_of_estimate():
    estimate = np.array([0.0, 0.0, 1e-9, 1e-3, 0.5, 0.999, 1.0, 1.0, -2e-4, 1.0005, 0.2])
    stderr = np.array([0.0, 1e-4, 1e-9, 5e-4, 0.1, 5e-4, 0.0, 1e-3, 1e-4, 1e-3, 0.0])
    draws = np.full(estimate.size, 500.0)
    for level in (0.5, 0.9, 0.95, 0.999):
        low, high = event_interval(estimate, stderr, level, law_draws=draws)
        assert np.all(low >= 0.0) and np.all(high <= 1.0)
        assert np.all(high > low)  # never of zero width
        inside = (estimate >= 0) & (estimate <= 1)
        assert np.all((low[inside] <= estimate[inside]) & (estimate[inside] <= high[inside]))


def test_wilson_is_skewed_at_few_hits_and_normal_at_many():
    n = 10_000
    for hits, rtol in ((4, None), (10_00, 0.02)):
        p = hits / n
        se = np.sqrt(p * (1 - p) / n)
        low, high = event_interval(np.array([p]), np.array([se]), 0.95)
        normal_low, normal_high = normal_interval(p, se, 0.95)
        if rtol is None:  # longer above the estimate than below; the lower end above 0
            assert high[0] - p > 1.5 * (p - low[0]) and low[0] > 0
        else:
            np.testing.assert_allclose([low[0], high[0]], [normal_low, normal_high], rtol=rtol)


def test_effective_hits_cap_and_flag():
    k = effective_hits(np.array([1e-4, 1e-4]), np.array([1e-5, 1e-5]), hits=np.array([500, 7]))
    np.testing.assert_allclose(k, [100 * (1 - 1e-4), 7])
    # many raw hits: an importance sampler's k_eff above them is kept, and its interval is
    # the normal one; below CAP_HITS the cap holds
    p, se = np.array([1e-3, 1e-3]), np.array([1e-5, 1e-5])
    k = effective_hits(p, se, hits=np.array([CAP_HITS, CAP_HITS - 1]))
    np.testing.assert_allclose(k, [1e4 * (1 - 1e-3), CAP_HITS - 1])
    low, high = event_interval(p[:1], se[:1], 0.95, hits=np.array([4000]))
    normal_low, normal_high = normal_interval(p[:1], se[:1], 0.95)
    np.testing.assert_allclose([low[0], high[0]], [normal_low[0], normal_high[0]], rtol=1e-3)
    assert FEW_HITS > 7
    assert zero_hit_bound(np.array([0.0]), 0.95)[0] == 1.0  # no draw from the law: no bound


def test_a_probability_near_one_counts_its_misses():
    # P = 1 - 1.3e-8 with se 1.26e-8: a sample that saw almost no miss claims its rounding;
    # the hits side would give 8e7 effective hits, the misses side one
    p, se = np.array([1 - 1.3e-8, 0.3, 0.7]), np.array([1.26e-8, 0.01, 0.01])
    k = effective_hits(p, se)
    assert k[0] < 2 and k[1] == pytest.approx(0.3**2 * 0.7 / 1e-4)
    assert k[2] == pytest.approx(0.7 * 0.3**2 / 1e-4)  # the misses, fewer than the hits
    # the interval still reads the hits side (its effective sample size is the same)
    assert effective_hits(p, se, rarer_side=False)[0] > 1e7
    assert me.intervals.trust_flags(p, k)[0] == me.intervals.FLAG_FEW_HITS


def test_a_near_certain_event_beside_a_rare_one_is_flagged_not_certain():
    # P(max of 3 uniforms > 0.05) = 1 - 1.25e-4 at 200 runs (a fuzz, seed 0): the final
    # stage saw no miss and the estimate came out 1 - 1.3e-8 +- 1.3e-8, unflagged
    law = me.Law([stats.uniform(0, 1)] * 3)

    def model(x):
        y = x.max(axis=1)
        return np.column_stack([(y > 0.05).astype(float), (y > 0.999667).astype(float), y])

    res = me.expectations(model, law, budget=200, rng=0)
    low, high = res.confidence_interval(0.95)
    assert not low[0] <= 1 - 0.05**3 <= high[0]  # the sample cannot tell ...
    assert res.trust[0] == me.intervals.FLAG_FEW_HITS  # ... and says so
    assert "effective misses" in res.summary()


def test_tally_counts_law_equivalent_draws():
    """Pilot draws count 1/L, later ones defensive/L; a column hit only before the final
    stage is bounded by the final stage's draws alone."""
    rows = {0: [0, 0], -1: [0, 0], 1: [0, 1], 2: [0, 0], 3: [0, 0]}
    tally = HitTally(lambda x, batch: np.tile(rows[batch], (x.shape[0], 1)).astype(float))
    for batch, n in ((0, 100), (-1, 50), (1, 200), (2, 300), (3, 400)):
        tally(np.zeros((n, 2)), batch)
    assert tally.binary.tolist() == [True, True]
    assert tally.hits().tolist() == [0, 200]
    draws = tally.law_draws(n_final=700, defensive=0.1, n_laws=2, pilot=lambda b: b <= 0)
    np.testing.assert_allclose(draws, [(150 + 0.1 * 900) / 2, 0.1 * 700 / 2])


def test_few_hit_coverage_of_crude_mc_over_repetitions():
    """p = 3e-4 from 10^4 runs: 3 hits on average, none in 5% of the runs. The Wilson
    interval (and the bound without a hit) covers in about 95% of the runs; the normal one
    in 1 - P(0 hits) - ... ~ 0.8: it would fail this test."""
    edge = stats.norm.isf(3e-4)
    reps, covered, normal_covered = 300, 0, 0
    for seed in range(reps):
        res = me.expectations(lambda x: (x[:, 0] > edge).astype(float),
                              me.Law([stats.norm()]), budget=10_000, method="mc", rng=seed)
        low, high = res.confidence_interval(0.95)
        covered += bool(low[0] <= 3e-4 <= high[0])
        nlow, nhigh = normal_interval(res.estimate, res.stderr, 0.95)
        normal_covered += bool(nlow[0] <= 3e-4 <= nhigh[0])
    # binomial noise of 300 runs: s.d. 0.013 at 0.95
    assert 0.91 <= covered / reps <= 0.995
    assert normal_covered / reps < covered / reps

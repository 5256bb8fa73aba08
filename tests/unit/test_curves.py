"""Exceedance curves: checks before any run, the crossing rule, and the curve and its
quantiles against a known answer (fixed seeds, tolerances from the standard errors)."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.curves import crossing

D = 5
LAW = me.Law([stats.norm()] * D)


def _never_run(x):
    raise AssertionError("the model must not run")


@pytest.mark.parametrize("kwargs, word", [
    ({"thresholds": []}, "'thresholds'"),
    ({"thresholds": [2.0, 1.0]}, "'thresholds'"),
    ({"thresholds": [1.0, np.inf]}, "'thresholds'"),
    ({"thresholds": [1.0], "levels": [0.0]}, "'levels'"),
    ({"thresholds": [1.0], "side": "!"}, "'side'"),
    ({"thresholds": [1.0], "side": "<", "levels": [0.1]}, "'levels'"),
    ({"thresholds": [1.0], "level": 1.5}, "'level'"),
    ({"thresholds": [1.0], "level": "high"}, "'level'"),
    ({"thresholds": np.linspace(1.0, 2.0, 100_000)}, "'quantities' gives 100000 quantities"),
])
def test_bad_curve_is_refused_before_any_run(kwargs, word):
    with pytest.raises(ValueError, match=word) as err:
        me.exceedance_curve(_never_run, LAW, budget=1000, rng=0, **kwargs)
    assert "\n" not in str(err.value)


def test_crossing_is_log_linear_and_nan_outside_the_grid():
    t = np.array([0.0, 1.0, 2.0])
    p = np.array([1e-1, 1e-3, 1e-5])
    assert crossing(t, p, 1e-2) == pytest.approx(0.5)
    assert crossing(t, p, 1e-4) == pytest.approx(1.5)
    assert np.isnan(crossing(t, p, 0.5)) and np.isnan(crossing(t, p, 1e-6))
    # a non-monotone estimate is read as its running minimum
    assert crossing(t, np.array([1e-1, 1e-3, 2e-3]), 1e-2) == pytest.approx(0.5)


def test_curve_and_quantiles_match_the_known_answer():
    ps = 10.0 ** -np.arange(1, 8)
    grid = stats.norm.isf(ps) * np.sqrt(D)
    levels = (1e-2, 1e-4, 1e-6)
    truth_q = stats.norm.isf(levels) * np.sqrt(D)
    for seed in range(2):  # each curve is 7 rare events on one budget (~20 s of CPU)
        curve = me.exceedance_curve(lambda x: x.sum(axis=1), LAW, grid, budget=10_000,
                                    rng=seed, levels=levels)
        assert np.all(curve.probability > 0)
        assert np.all(np.abs(curve.probability - ps) <= 4 * curve.stderr)
        assert np.all((curve.low < curve.probability) & (curve.probability < curve.high))
        for a, q in zip(levels, truth_q):
            est, low, high = curve.quantiles[a]
            assert low < est < high
            # the grid's points are exact quantiles: the inverted interval holds the truth
            # up to the log-linear reading between them (< 0.05 here)
            assert low - 0.05 <= q <= high + 0.05


def test_curve_is_rebuilt_from_its_result_read_back_from_json():
    grid = [1.0, 2.0, 3.0]
    curve = me.exceedance_curve(lambda x: x.sum(axis=1), LAW, grid, budget=2000, rng=1,
                                levels=(1e-2,), level=0.9)
    back = me.ExpectationResult.from_json(curve.result.to_json())
    again = me.ExceedanceCurve.from_result(back, level=0.9)
    np.testing.assert_array_equal(again.thresholds, grid)
    for name in ("probability", "stderr", "low", "high"):
        np.testing.assert_array_equal(getattr(again, name), getattr(curve, name))
    assert list(again.quantiles) == [1e-2]
    np.testing.assert_array_equal(again.quantiles[1e-2], curve.quantiles[1e-2])
    with pytest.raises(ValueError, match="'result' must come from exceedance_curve"):
        me.ExceedanceCurve.from_result(me.expectations(lambda x: x[:, 0], LAW, budget=100,
                                                       rng=0, method="mc"))

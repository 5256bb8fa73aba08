"""Repetitions: the law route's chaos control (``engine/law_chaos.py``) on a smooth model
of bounded inputs that no polynomial reproduces: unbiased, honest intervals, and far more
precise than plain RQMC of the law on the same nets."""

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.engine.law_first import LAW_ROUTE
from multiexpect.testfunctions import smooth_uniform3, smooth_uniform3_means

LAW = me.Law([stats.uniform(0, 1)] * 3)


def test_the_law_routes_control_is_unbiased_and_covers_over_repetitions():
    """200 seeds at 2000 runs: every study takes the law route and controls both quantities;
    coverage in [0.90, 0.985] per quantity (binomial s.e. 0.015), the mean within 4 of its
    standard errors of the truth, and the MSE at least 100 times below plain RQMC's on the
    first 50 seeds (measured 7e4x and 2e5x: docs/benchmarks.md, "The law route's chaos
    control")."""
    truth, reps = smooth_uniform3_means(), 200
    estimates, covered = [], []
    for seed in range(reps):
        res = me.expectations(smooth_uniform3, LAW, budget=2000, rng=seed)
        assert res.diagnostics["route"] == LAW_ROUTE
        assert res.diagnostics["surrogate"]["controlled"] == [True, True]
        low, high = res.confidence_interval(0.95)
        estimates.append(res.estimate)
        covered.append((low <= truth) & (truth <= high))
    estimates, covered = np.array(estimates), np.array(covered)
    assert np.all((covered.mean(axis=0) >= 0.90) & (covered.mean(axis=0) <= 0.985))
    se = estimates.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(estimates.mean(axis=0) - truth) <= 4 * se)
    plain = np.array([me.expectations(smooth_uniform3, LAW, budget=2000, rng=seed,
                                      surrogate=None).estimate for seed in range(50)])
    mse = np.mean((estimates[:50] - truth) ** 2, axis=0)
    assert np.all(100 * mse <= np.mean((plain - truth) ** 2, axis=0))

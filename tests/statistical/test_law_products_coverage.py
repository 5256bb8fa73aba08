"""Repetitions: the law route's product controls (``engine/law_products.py``) on the first
and second moments of two Ishigami outputs: unbiased, intervals that cover, and far more
precise than plain RQMC of the law on the second moments."""

import numpy as np

import multiexpect as me
from multiexpect.engine.law_first import LAW_ROUTE
from multiexpect.testfunctions import ishigami_law, ishigami_moments, ishigami_pair_moments


def test_the_product_controls_are_unbiased_and_cover_over_repetitions():
    """100 seeds at 10 000 runs: every study takes the law route and the second moments the
    products on most; coverage per quantity in [0.89, 0.99] (binomial s.e. 0.022) and over
    all 500 intervals in [0.92, 0.98], each mean within 4 of its standard errors of the
    exact moment, and the second moments' MSE at least 50 times below plain RQMC's on the
    first 30 seeds (measured 280x-3600x at 200 seeds: docs/benchmarks.md, "The law route's
    chaos control")."""
    law, truth, reps = ishigami_law(), ishigami_pair_moments(), 100
    estimates, covered, products = [], [], []
    for seed in range(reps):
        res = me.expectations(ishigami_moments, law, budget=10_000, rng=seed)
        assert res.diagnostics["route"] == LAW_ROUTE
        products.append(res.diagnostics["surrogate"]["by_products"])
        low, high = res.confidence_interval(0.95)
        estimates.append(res.estimate)
        covered.append((low <= truth) & (truth <= high))
    estimates, covered = np.array(estimates), np.array(covered)
    assert np.all(np.mean(products, axis=0)[2:] >= 0.9)
    cover = covered.mean(axis=0)
    assert np.all((cover >= 0.89) & (cover <= 0.99))
    assert 0.92 <= covered.mean() <= 0.98
    se = estimates.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(estimates.mean(axis=0) - truth) <= 4 * se)
    plain = np.array([me.expectations(ishigami_moments, law, budget=10_000, rng=seed,
                                      surrogate=None).estimate for seed in range(30)])
    mse = np.mean((estimates[:30] - truth) ** 2, axis=0)
    assert np.all(50 * mse[2:] <= np.mean((plain - truth) ** 2, axis=0)[2:])

"""The law route's product controls (``engine/law_products.py``): a second moment that its
own chaos does not follow is controlled by products of the first moments' chaos, exactly
unbiased net by net, and named in the summary."""

from __future__ import annotations

import numpy as np

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.engine.law_chaos import KEEP_GAIN, net_control
from multiexpect.engine.law_first import LAW_ROUTE
from multiexpect.estimators.monte_carlo import law_net
from multiexpect.sampling.rqmc import normal_from_uniform

NETS, POINTS = 8, 256


def _fitted(seed: int):
    u = np.concatenate([law_net(seed, r, POINTS, 2) for r in range(NETS)])
    y = tf.sine_square2(u)
    return y, net_control(normal_from_uniform(u), y, POINTS, np.array([True, True]))


def test_the_square_takes_the_products_where_its_own_chaos_does_not_pay():
    y, fitted = _fitted(0)
    assert fitted.record["controlled"] == [True, True]
    assert fitted.record["by_products"] == [False, True]
    plain = y.reshape(NETS, POINTS, 2).mean(axis=1)
    assert np.var(fitted.values[:, 1], ddof=1) * KEEP_GAIN <= np.var(plain[:, 1], ddof=1)
    assert fitted.floor[1] > 0  # a controlled quantity's resolution floor


def test_product_controlled_nets_are_unbiased_over_scramblings():
    """Each net's product control is fitted on the other nets and its mean is Parseval's
    sum, so each net's value is exactly unbiased: over 200 scramblings the mean of the
    nets' means is within 4 of its standard errors of ``E[y^2]``, and most scramblings took
    the products."""
    truth, estimates, products = tf.sine_square2_means()[1], [], []
    for seed in range(200):
        _, fitted = _fitted(1000 + seed)
        estimates.append(fitted.values[:, 1].mean())
        products.append(fitted.record["by_products"][1])
    estimates = np.array(estimates)
    se = estimates.std(ddof=1) / np.sqrt(estimates.size)
    assert se > 0
    assert abs(estimates.mean() - truth) <= 4 * se
    assert np.mean(products) >= 0.5


def test_no_source_no_products():
    """A second column is fitted again only where some column took its own control."""
    u = np.concatenate([law_net(3, r, POINTS, 2) for r in range(NETS)])
    rough = (u[:, 0] * 1e6) % 1.0
    fitted = net_control(normal_from_uniform(u), np.column_stack([rough, rough**2]), POINTS,
                         np.array([True, True]))
    assert fitted.record["controlled"] == [False, False]
    assert fitted.record["by_products"] == [False, False]


def test_moments_of_two_ishigami_outputs_take_the_products():
    """A study of ``y_a, y_b, y_a^2, y_a y_b, y_b^2`` on the law route: the second moments by
    products, ten times more precise than plain RQMC of the law, and the summary names them
    (coverage over repetitions: ``tests/statistical/test_law_products_coverage.py``)."""
    res = me.expectations(tf.ishigami_moments, tf.ishigami_law(), budget=10_000, rng=3)
    plain = me.expectations(tf.ishigami_moments, tf.ishigami_law(), budget=10_000, rng=3,
                            surrogate=None)
    assert res.diagnostics["route"] == LAW_ROUTE
    assert res.diagnostics["surrogate"]["by_products"] == [False, False, True, True, True]
    assert np.all(res.stderr[2:] * 10 < plain.stderr[2:])
    assert np.all(np.abs(res.estimate - tf.ishigami_pair_moments()) < 5 * res.stderr)
    assert "(3 by products of the others' chaos)" in res.summary()

"""The covariance of the law route's cross-fitted nets (``engine/law_pairs.py``): the
engine's ``Ĉ`` equals one computed by refitting every control without each pair of nets
from the points themselves, and it widens the standard error and the interval."""

from __future__ import annotations

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.engine.law_chaos import net_control
from multiexpect.engine.law_products import solve_all
from multiexpect.estimators.monte_carlo import law_net
from multiexpect.intervals import subset_mean_interval
from multiexpect.polychaos import chaos_degree, design, multi_indices
from multiexpect.sampling.rqmc import normal_from_uniform

NETS, POINTS = 8, 256


def _fit(basis: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(basis[rows], y[rows], rcond=None)[0]


def _brute_covariance(u: np.ndarray, y: np.ndarray, sources: list[int]) -> np.ndarray:
    """``Ĉ`` of column 0 (own chaos) and column 1 (products of the ``sources``' chaos) from
    explicit refits on the points of the nets kept, each net's error ``ε_q(h)`` its mean of
    ``h`` less ``h``'s exact mean (the constant and, for products, Parseval's sum)."""
    d = u.shape[1]
    alphas = multi_indices(d, chaos_degree(d, (NETS - 1) * POINTS, max_degree=None))
    basis = design(normal_from_uniform(u), np.ones(d, dtype=bool), alphas)
    net = np.repeat(np.arange(NETS), POINTS)

    def errors(left_out: tuple[int, ...]) -> np.ndarray:
        rows = ~np.isin(net, left_out)
        own = _fit(basis, y[:, 0], rows)
        src = _fit(basis, y[:, sources], rows)
        g = basis @ src
        left, right = np.triu_indices(len(sources))
        feats = np.column_stack([basis, g[:, left] * g[:, right]])
        prod = _fit(feats, y[:, 1], rows)
        prod_mean = prod[0] + (src[:, left] * src[:, right]).sum(axis=0) @ prod[basis.shape[1]:]
        return np.array([[(basis[net == q] @ own).mean() - own[0],
                          (feats[net == q] @ prod).mean() - prod_mean] for q in left_out])

    single = np.array([errors((r,))[0] for r in range(NETS)])
    total = np.zeros(2)
    for r in range(NETS):
        for t in range(r + 1, NETS):
            pair = errors((r, t))
            total += (single[r] - pair[0]) * (single[t] - pair[1])
    return 2 * total / (NETS * (NETS - 1))


def test_the_covariance_is_that_of_explicit_refits_without_each_pair():
    """``y`` under its own chaos and ``y^2`` (which its own does not pass) by products of the
    chaos of ``y`` (``sine_square2``, 8 nets of 256): the engine's ``Ĉ`` (Gram-matrix
    columns for the basis errors, pairs solved at once) equals the brute force's to 1e-6
    relative, and it is not negligible beside the spread of the nets."""
    u = np.concatenate([law_net(0, r, POINTS, 2) for r in range(NETS)])
    y = tf.sine_square2(u)
    fitted = net_control(normal_from_uniform(u), y, POINTS, np.array([True, True]))
    assert fitted.record["controlled"] == [True, True]
    assert fitted.record["by_products"] == [False, True]
    expected = _brute_covariance(u, y, sources=[0])
    np.testing.assert_allclose(fitted.cross, expected, rtol=1e-6)
    spread = np.var(fitted.values, axis=0, ddof=1) / NETS
    assert np.all(np.abs(fitted.cross) > 0.01 * spread)


def test_the_interval_and_standard_error_take_the_covariance():
    """On the law route, ``se^2`` is the nets' spread over ``R`` plus ``Ĉ`` where positive,
    Hartigan's interval of the nets is widened about the estimate by ``se`` over the
    spread's standard error, and the summary says so."""
    res = me.expectations(tf.sine_square2, me.Law([stats.uniform(0, 1)] * 2), budget=2000, rng=0)
    values = np.asarray(res.diagnostics["replicate_values"]).reshape(-1, 2)
    reps = values.shape[0]
    naive = values.std(axis=0, ddof=1) / np.sqrt(reps)
    scale = np.asarray(res.diagnostics["cross_fit_scale"])
    assert np.all(scale > 1.0)
    np.testing.assert_allclose(res.stderr, naive * scale, rtol=1e-12)
    low, high = subset_mean_interval(values, 0.95)
    got_low, got_high = res.confidence_interval(0.95)
    np.testing.assert_allclose(res.estimate - got_low, (res.estimate - low) * scale,
                               rtol=1e-9)
    np.testing.assert_allclose(got_high - res.estimate, (high - res.estimate) * scale,
                               rtol=1e-9)
    assert "2 widened for the covariance of the cross-fitted nets" in res.summary()


def test_plain_nets_are_not_widened():
    """``surrogate=None``: plain RQMC of the law, no covariance, no scale."""
    res = me.expectations(tf.sine_square2, me.Law([stats.uniform(0, 1)] * 2), budget=2000, rng=0,
                          surrogate=None)
    assert "cross_fit_scale" not in res.diagnostics
    assert "widened" not in res.summary()


def test_a_singular_system_is_solved_by_least_squares():
    """``solve_all``: the regular systems by ``solve``, a singular one (two equal columns)
    by least squares alone, finite."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 4, 4))
    a = a @ a.transpose(0, 2, 1) + 4 * np.eye(4)
    a[1, :, 3] = a[1, :, 2]
    a[1, 3, :] = a[1, 2, :]
    b = rng.normal(size=(3, 4, 2))
    b[1, 3] = b[1, 2]
    x = solve_all(a, b)
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(x[0], np.linalg.solve(a[0], b[0]))
    np.testing.assert_allclose(a[1] @ x[1], b[1], atol=1e-9)


def test_two_nets_take_the_control_without_both_as_zero():
    """Two nets leave no point to fit without both: ``h_{-r,-t} = 0``, so ``Ĉ`` is the
    product of the two nets' errors on their own controls, finite (a fit on the rounding
    left of ``G - G_0 - G_1`` would be any size)."""
    u = np.concatenate([law_net(5, r, 1024, 1) for r in range(2)])
    y = np.exp(u)
    fitted = net_control(normal_from_uniform(u), y, 1024, np.array([True]))
    assert fitted is not None and fitted.record["controlled"] == [True]
    basis = design(normal_from_uniform(u), np.ones(1, dtype=bool),
                   multi_indices(1, fitted.record["degree"]))
    errors = [(basis[q * 1024:(q + 1) * 1024] @ _fit(basis, y[:, 0], rows)).mean()
              - _fit(basis, y[:, 0], rows)[0]
              for q, rows in enumerate([np.arange(2048) >= 1024, np.arange(2048) < 1024])]
    np.testing.assert_allclose(fitted.cross, [errors[0] * errors[1]], rtol=1e-6)

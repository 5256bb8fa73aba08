"""The law route's chaos control (``engine/law_chaos.py``): cross-fitted by nets, kept only
where the nets' spread falls ``KEEP_GAIN`` times, never on an event, plain RQMC to the bit
with ``surrogate=None``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.engine.law_chaos import KEEP_GAIN, net_control
from multiexpect.engine.law_first import LAW_ROUTE
from multiexpect.estimators.monte_carlo import law_net
from multiexpect.polychaos import RESOLUTION
from multiexpect.sampling.rqmc import normal_from_uniform
from tests.helpers import assert_resumes_bit_for_bit

NETS, POINTS = 8, 256


def _nets(seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``NETS`` scrambled nets of ``POINTS`` points: their uniforms and normal scores."""
    u = np.concatenate([law_net(seed, r, POINTS, dim) for r in range(NETS)])
    return u, normal_from_uniform(u)


def test_a_polynomial_is_reproduced_to_rounding_with_a_floor():
    u, z = _nets(1, 2)
    y = np.column_stack([1 + u[:, 0] ** 3 - 2 * u[:, 0] * u[:, 1] ** 2])
    fitted = net_control(z, y, POINTS, np.array([True]))
    truth = 1 + 1 / 4 - 2 * (1 / 2) * (1 / 3)
    assert fitted.record["controlled"] == [True]
    assert np.allclose(fitted.values, truth, rtol=0, atol=1e-12)
    assert fitted.floor[0] == pytest.approx(RESOLUTION * np.sqrt(np.mean(y**2)))


def test_a_rough_column_and_an_ineligible_one_stay_plain_to_the_bit():
    u, z = _nets(2, 2)
    rough = (u[:, 0] * 1e6) % 1.0  # no polynomial follows it: the nets integrate it better
    smooth = np.exp(u[:, 0]) * np.sin(3 * u[:, 1])
    y = np.column_stack([rough, smooth, smooth])
    fitted = net_control(z, y, POINTS, np.array([True, True, False]))
    plain = y.reshape(NETS, POINTS, 3).mean(axis=1)
    assert fitted.record["controlled"] == [False, True, False]
    assert np.array_equal(fitted.values[:, [0, 2]], plain[:, [0, 2]])
    assert np.array_equal(fitted.floor[[0, 2]], [0.0, 0.0])
    # the kept column's nets spread at most 1 / KEEP_GAIN as much as its plain ones
    assert np.var(fitted.values[:, 1], ddof=1) * KEEP_GAIN <= np.var(plain[:, 1], ddof=1)


def test_cross_fitted_nets_are_unbiased_over_scramblings():
    """Each net is corrected by the chaos fitted on the other nets, so its value is exactly
    unbiased: over 200 scramblings the mean of the nets' mean is within 4 of its standard
    errors of the truth, on a smooth model the chaos follows closely but not exactly."""
    truth = (np.e - 1) * (1 - np.cos(3.0)) / 3
    estimates = []
    for seed in range(200):
        u, z = _nets(100 + seed, 2)
        y = np.column_stack([np.exp(u[:, 0]) * np.sin(3 * u[:, 1])])
        fitted = net_control(z, y, POINTS, np.array([True]))
        assert fitted.record["controlled"] == [True]
        estimates.append(fitted.values.mean())
    estimates = np.array(estimates)
    se = estimates.std(ddof=1) / np.sqrt(estimates.size)
    assert se > 0
    assert abs(estimates.mean() - truth) <= 4 * se


def test_nothing_eligible_or_non_finite_scores_give_no_control():
    u, z = _nets(3, 1)
    y = np.column_stack([u[:, 0] ** 2])
    assert net_control(z, y, POINTS, np.array([False])) is None
    z[0, 0] = np.inf
    assert net_control(z, y, POINTS, np.array([True])) is None


def _oscillating(x):
    return np.column_stack([1.0 + np.sin(40 * x[:, 0]), np.cos(25 * x[:, 0]) ** 2])


def test_law_route_takes_the_control_and_surrogate_none_is_plain_rqmc_bit_for_bit():
    law, kwargs = me.Law([stats.uniform(0, 1)]), {"budget": 5000, "rng": 4}
    truth = np.array([1.0 + (1 - np.cos(40.0)) / 40, 0.5 + np.sin(50.0) / 100])
    auto = me.expectations(_oscillating, law, **kwargs)
    none = me.expectations(_oscillating, law, surrogate=None, **kwargs)
    plain = me.expectations(_oscillating, law, method="mc", sampling="rqmc", **kwargs)
    assert auto.diagnostics["route"] == none.diagnostics["route"] == LAW_ROUTE
    record = auto.diagnostics["surrogate"]
    assert record["form"] == "law-nets" and record["controlled"] == [True, True]
    assert record["degree"] > 10  # Legendre polynomials: the term cap alone
    low, high = auto.confidence_interval()
    assert np.all((low <= truth) & (truth <= high))
    assert np.all(auto.stderr < plain.stderr / 100)
    assert np.array_equal(none.estimate, plain.estimate)
    assert np.array_equal(none.stderr, plain.stderr)
    assert "surrogate" not in none.diagnostics


def test_an_event_on_the_law_route_stays_plain():
    law = me.Law([stats.uniform(0, 1)] * 2)

    def model(x):
        return np.column_stack([np.exp(x[:, 0]) * x[:, 1], (x[:, 0] + x[:, 1] > 1.2)])

    res = me.expectations(model, law, budget=4000, rng=2)
    plain = me.expectations(model, law, budget=4000, rng=2, surrogate=None)
    assert res.diagnostics["route"] == LAW_ROUTE
    assert res.diagnostics["surrogate"]["controlled"] == [True, False]
    assert res.estimate[1] == plain.estimate[1] and res.stderr[1] == plain.stderr[1]


@pytest.mark.parametrize("limit", [1, 4])  # in the pilot nets; in the law's replicates
def test_resumed_study_with_the_control_is_bit_identical(limit):
    law = me.Law([stats.uniform(0, 1)])
    kwargs = {"budget": 5000, "rng": 6, "study_id": "law-chaos"}
    whole = me.expectations(_oscillating, law, **kwargs)
    assert whole.diagnostics["surrogate"]["controlled"] == [True, True]
    assert_resumes_bit_for_bit(_oscillating, law, whole, limit, **kwargs)


def test_summary_names_the_law_nets_control_only_where_it_acts():
    law = me.Law([stats.uniform(0, 1)])
    controlled = me.expectations(_oscillating, law, budget=5000, rng=4)
    assert "the law's nets with a degree-" in controlled.summary()
    assert "control on 2 of 2 quantities" in controlled.summary()
    rough = me.expectations(lambda x: (x[:, 0] * 1e6) % 1.0, law, budget=5000, rng=4)
    assert rough.diagnostics["route"] == LAW_ROUTE
    assert rough.diagnostics["surrogate"]["controlled"] == [False]
    assert "chaos" not in rough.summary()

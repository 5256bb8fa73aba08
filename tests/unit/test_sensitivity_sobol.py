"""Sobol' indices: layout algebra, run accounting, validation, results and export."""

import json

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.sensitivity.sobol import PickFreezeLayout
from tests.helpers import CountingModel

A = np.array([1.0, 2.0, 0.5])


def linear(x):
    return 10.0 + x @ A


@pytest.fixture
def law3():
    return me.Law([stats.norm(1.0, 1.0), stats.lognorm(0.3), stats.uniform(0, 2)],
                  names=["a", "b", "c"])


# ---------------------------------------------------------------------- layout algebra
@pytest.mark.parametrize("orders, rpp", [(("first",), 4), (("total",), 4),
                                         (("first", "total"), 5)])
def test_layout_runs_per_point_and_stacking(orders, rpp):
    layout = PickFreezeLayout(3, orders)
    assert layout.runs_per_point == rpp
    rng = np.random.default_rng(0)
    x, xp = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    stacked = layout.stack(x, xp).reshape(rpp, 4, 3)
    k = 0
    if "first" in orders:
        np.testing.assert_array_equal(stacked[k], x)
        k += 1
    if "total" in orders:
        np.testing.assert_array_equal(stacked[k], xp)
        k += 1
    for i in range(3):  # (X_i, X'_{-i})
        expect = xp.copy()
        expect[:, i] = x[:, i]
        np.testing.assert_array_equal(stacked[k + i], expect)


def test_layout_quantities_match_formulas():
    layout = PickFreezeLayout(2, ("first", "total"))
    rng = np.random.default_rng(1)
    y = rng.normal(size=(4, 5))  # Y, Y', Y^(1), Y^(2) for 5 points
    q = layout.quantities(y.reshape(-1), centre=0.3)
    yc = y - 0.3
    np.testing.assert_allclose(q[:, 0], yc[0] * (yc[2] - yc[1]))
    np.testing.assert_allclose(q[:, 3], 0.5 * (yc[1] - yc[3]) ** 2)
    np.testing.assert_allclose(q[:, -2], yc.mean(axis=0))
    np.testing.assert_allclose(q[:, -1], (yc**2).mean(axis=0))


@pytest.mark.parametrize("orders", [("first",), ("total",), ("first", "total")])
def test_layout_jacobian_matches_finite_differences(orders):
    layout = PickFreezeLayout(3, orders)
    rng = np.random.default_rng(2)
    theta = np.concatenate([rng.uniform(0.1, 0.5, layout.n_quantities - 2), [0.2, 2.0]])
    first, total, jac = layout.indices(theta)
    value = np.concatenate([first, total])
    rows = np.all(np.isfinite(jac), axis=1)
    eps = 1e-7
    for j in range(layout.n_quantities):
        step = theta.copy()
        step[j] += eps
        f2, t2, _ = layout.indices(step)
        numeric = (np.concatenate([f2, t2]) - value) / eps
        np.testing.assert_allclose(jac[rows, j], numeric[rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("orders", [("first",), ("total",), ("first", "total")])
def test_one_net_layout_quantities_and_jacobian(orders):
    """The one-net form: ``Y`` and ``Y'`` in every point, ``S_i = F_i / V_i`` with ``V_i``
    the variance over the runs ``Y`` and ``Y^(i)``, ``S_Ti`` over all runs; the Jacobian
    matches finite differences."""
    layout = PickFreezeLayout(2, orders, one_net=True)
    rpp = 3 if orders == ("total",) else 4  # Y' and Y^(1..d) suffice for total alone
    assert layout.runs_per_point == rpp
    rng = np.random.default_rng(3)
    y = rng.normal(size=(rpp, 50))  # [Y,] Y', Y^(1), Y^(2) for 50 points
    q = layout.quantities(y.reshape(-1), centre=0.3)
    first, total, jac = layout.indices(q.mean(axis=0))
    yc = y - 0.3
    y0, yp, mixed = yc[0], yc[rpp - 3], yc[rpp - 2:]
    for i in range(2):
        if "first" in orders:
            pair = np.concatenate([y0, mixed[i]])
            expect = np.mean(y0 * (mixed[i] - yp)) / np.var(pair)
            np.testing.assert_allclose(first[i], expect, rtol=1e-12)
        if "total" in orders:
            np.testing.assert_allclose(total[i], np.mean(0.5 * (yp - mixed[i]) ** 2)
                                       / np.var(yc), rtol=1e-12)
    assert np.all(np.isnan(total)) == ("total" not in orders)
    assert np.all(np.isnan(first)) == ("first" not in orders)
    theta = q.mean(axis=0)
    value = np.concatenate([first, total])
    rows = np.all(np.isfinite(jac), axis=1)
    for j in range(layout.n_quantities):
        step = theta.copy()
        h = 1e-6 * max(abs(theta[j]), 1e-3)
        step[j] += h
        f2, t2, _ = layout.indices(step)
        numeric = (np.concatenate([f2, t2]) - value) / h
        np.testing.assert_allclose(jac[rows, j], numeric[rows], rtol=1e-4, atol=1e-5)


def test_one_net_first_order_alone_spends_d_plus_2_runs(law3):
    """First order alone on one net: ``d + 2`` runs per point (``Y'`` included), the total
    order left NaN; the i.i.d. baseline keeps ``d + 1``."""
    model = CountingModel(linear)
    res = me.sobol_indices(model, law3, budget=5 * 256 + 3, orders="first",
                           method="pick-freeze", sampling="rqmc", replicates=1, rng=4)
    assert res.diagnostics["runs_per_point"] == 5 and res.diagnostics["n_points"] == 256
    assert res.n_evaluations == model.runs == 5 * 256
    assert np.all(np.isnan(res.total_order)) and np.all(np.isfinite(res.first_order))
    parts = A**2 * [1.0, (np.exp(0.09) - 1.0) * np.exp(0.09), 1.0 / 3.0]  # Var of each term
    np.testing.assert_allclose(res.first_order, parts / parts.sum(), atol=0.02)
    iid = me.sobol_indices(linear, law3, budget=4 * 256, orders="first",
                           method="pick-freeze", rng=4)
    assert iid.diagnostics["runs_per_point"] == 4


# ---------------------------------------------------------------------- run accounting
@pytest.mark.parametrize("method", ["aiscv", "pick-freeze"])
@pytest.mark.parametrize("orders", [("first",), ("first", "total")])
def test_n_evaluations_equals_counted_runs(law3, method, orders):
    model = CountingModel(linear)
    budget = 4003
    res = me.sobol_indices(model, law3, budget=budget, orders=orders, method=method, rng=5,
                           sampling="mc")
    rpp = 4 if len(orders) == 1 else 5
    assert res.n_evaluations == model.runs
    assert res.n_evaluations <= budget
    assert res.n_evaluations == (budget // rpp) * rpp  # every point is spent
    # runs go to the model stacked, one call per batch: each call a multiple of the runs
    # of a point, and far fewer calls than points
    assert all(c % rpp == 0 for c in model.calls)
    assert len(model.calls) <= 12


def test_aiscv_uses_delta_weights_and_centres(law3):
    res = me.sobol_indices(linear, law3, budget=4000, orders=("first",), rng=3)
    w = np.array(res.diagnostics["criterion_weights"])
    names = res.diagnostics["quantity_names"]
    assert names == ["P1", "P2", "P3", "M", "S"]
    # the pilot mean of the centred output is 0: its sensitivity is 0, so it gets the floor
    assert w[names.index("M")] == pytest.approx(1e-3 * w.max())
    # P_i all have sensitivity 1/V^2 (one index each)
    np.testing.assert_allclose(w[:3], w[0])
    assert abs(res.diagnostics["centre"] - 10 - A @ law3.mean()) < 1.0


def test_same_seed_same_result(law3):
    one = me.sobol_indices(linear, law3, budget=3000, rng=11)
    two = me.sobol_indices(linear, law3, budget=3000, rng=11)
    np.testing.assert_array_equal(one.first_order, two.first_order)
    np.testing.assert_array_equal(one.total_order_stderr, two.total_order_stderr)


def test_pointwise_model(law3):
    res = me.sobol_indices(lambda p: 10.0 + p @ A, law3, budget=500, method="pick-freeze",
                           vectorized=False, rng=1)
    ref = me.sobol_indices(linear, law3, budget=500, method="pick-freeze", rng=1)
    np.testing.assert_allclose(res.first_order, ref.first_order)


# ---------------------------------------------------------------------- validation
def test_correlated_law_is_refused_before_any_run():
    law = me.Law([stats.norm(), stats.norm()], correlation=[[1, 0.5], [0.5, 1]])
    model = CountingModel(lambda x: x.sum(axis=1))
    with pytest.raises(ValueError, match="Sobol' indices assume independent inputs"):
        me.sobol_indices(model, law, budget=1000)
    assert model.runs == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"orders": "second"}, "'orders' must be a non-empty subset"),
    ({"orders": ()}, "'orders' must be a non-empty subset"),
    ({"orders": ("first", "first")}, "without repeats"),
    ({"method": "saltelli"}, "'method' must be one of"),
    ({"budget": 50}, r"'budget' \(50\) is too small: .* costs 5 model runs"),
    ({"budget": 2.5e4}, "'budget' must be a positive int"),
    ({"weights": "uniform"}, "'weights' must be 'delta'"),
    ({"weights": [1.0, 2.0]}, "'weights' must have 8 entries"),
    ({"method": "pick-freeze", "weights": "relative"}, "'weights' applies to method 'aiscv'"),
    ({"method": "pick-freeze", "family": "gmm"}, "takes no options"),
    ({"colour": "red"}, r"unknown option\(s\) \['colour'\]"),
    ({"centre": float("nan")}, "'centre' must be a finite number"),
    ({"rng": "seed"}, "'rng' must be None, an int seed"),
])
def test_bad_input_is_refused_before_any_run(law3, kwargs, match):
    model = CountingModel(linear)
    args = {"budget": 5000} | kwargs
    with pytest.raises(ValueError, match=match):
        me.sobol_indices(model, law3, **args)
    assert model.runs == 0


def test_sequence_of_laws_refused(law3):
    with pytest.raises(ValueError, match="'law' must be one Law for Sobol' indices"):
        me.sobol_indices(linear, [law3, law3], budget=5000)


def test_vector_output_refused(law3):
    with pytest.raises(ValueError, match="'model' must return one output per point"):
        me.sobol_indices(lambda x: np.column_stack([x[:, 0], x[:, 1]]), law3, budget=500,
                         method="pick-freeze")


# ---------------------------------------------------------------------- results
def test_result_is_frozen_serialisable_and_exports_salib_keys(law3):
    res = me.sobol_indices(linear, law3, budget=2000, method="pick-freeze", rng=2)
    with pytest.raises(AttributeError):
        res.first_order = np.zeros(3)
    with pytest.raises(ValueError):
        res.first_order[0] = 1.0
    salib = res.to_salib()
    assert set(salib) == {"S1", "S1_conf", "ST", "ST_conf"}
    np.testing.assert_allclose(salib["S1"], res.first_order)
    np.testing.assert_allclose(salib["S1_conf"], 1.959963984540054 * res.first_order_stderr)
    np.testing.assert_allclose(salib["ST_conf"], 1.959963984540054 * res.total_order_stderr)
    low, high = res.confidence_interval(0.95)["first"]
    np.testing.assert_allclose(high - low, 2 * salib["S1_conf"])
    text = res.to_json()
    back = me.SobolResult.from_json(text)
    np.testing.assert_allclose(back.first_order, res.first_order)
    np.testing.assert_allclose(back.covariance, res.covariance)
    assert back.names == ("a", "b", "c") and back.orders == ("first", "total")
    assert json.loads(text)["type"] == "SobolResult"
    summary = res.summary()
    assert "S1" in summary and "ST" in summary and "b" in summary


def test_one_order_leaves_the_other_nan_and_out_of_salib(law3):
    res = me.sobol_indices(linear, law3, budget=2000, orders="first", method="pick-freeze",
                           rng=2)
    assert np.all(np.isnan(res.total_order))
    assert set(res.to_salib()) == {"S1", "S1_conf"}
    assert set(res.confidence_interval()) == {"first"}
    back = me.SobolResult.from_dict(json.loads(res.to_json()))
    assert np.all(np.isnan(back.total_order))
    est, se = res.indices("first")
    np.testing.assert_array_equal(est, res.first_order)
    np.testing.assert_array_equal(se, res.first_order_stderr)
    assert np.all(np.isnan(res.indices("total")[0]))
    with pytest.raises(ValueError, match=r"'order' must be 'first' or 'total', got 'second'"):
        res.indices("second")


@pytest.mark.parametrize("model", [lambda x: np.full(len(x), 3.0),
                                   lambda x: np.maximum(x[:, 0] - 3.5, 0.0)])
def test_outputs_without_spread_on_the_pilot_give_undefined_indices_not_a_crash(model):
    """A constant output, or one that moves only beyond 3.5 standard deviations (no pilot
    run reaches it), has no spread on aISCV's pilot: its indices there are NaN. The pilot's
    adjustment ratios are then 0 for every index (they were dropped, and the study ended
    with a numpy broadcasting error after its runs); the result says why its indices are
    NaN."""
    law = me.Law([stats.norm()] * 3)
    res = me.sobol_indices(model, law, budget=2000, rng=1)
    assert res.n_evaluations > 0
    assert res.variance == 0.0 and np.all(np.isnan(res.first_order))
    assert "the indices are undefined" in res.summary()


@pytest.mark.parametrize("kwargs", [{"orders": ("first",), "method": "pick-freeze",
                                     "sampling": "rqmc"}, {}])
def test_an_index_every_replicate_gives_alike_gets_a_bound_not_a_zero_width_interval(kwargs):
    """``1{x_1 > 0}`` on nets of 8 points: each net holds exactly half its points on each
    side, so every replicate gives ``S_1 = 1`` and ``S_2 = S_3 = 0`` exactly (standard
    errors 0 before). Such an index takes the inert inputs' rule-of-three bound, and the
    result says so."""
    law = me.Law([stats.norm()] * 3)
    res = me.sobol_indices(lambda x: (x[:, 0] > 0).astype(float), law, budget=500, rng=7,
                           **kwargs)
    low, high = res.confidence_interval()["first"]
    assert np.all(high - low > 0)
    assert np.all(res.first_order_stderr > 0)
    assert "S1 x1" in res.diagnostics["tied_indices"]
    assert "every replicate gave the same value" in res.summary()


@pytest.mark.parametrize("kwargs, name", [({"centre": "a"}, "'centre'"),
                                          ({"centre": [1.0, 2.0]}, "'centre'"),
                                          ({"centre": float("inf")}, "'centre'"),
                                          ({"adjust": "no"}, "'adjust'")])
def test_bad_centre_and_adjust_are_named_before_any_run(kwargs, name):
    law = me.Law([stats.norm()] * 3)
    model = CountingModel(lambda x: x.sum(axis=1))
    with pytest.raises(ValueError, match=name):
        me.sobol_indices(model, law, budget=500, rng=1, **kwargs)
    assert model.runs == 0


def test_indices_resting_on_a_few_moving_points_are_flagged():
    """``max(x_1 - 3.5, 0)``: at 2000 runs one pick-freeze point of aISCV's RQMC final
    stage moves the output, and its runs alone make ``S_1 = 2.5`` with a standard error of
    0.003 (the ratio of two sums of the same point: the delta method sees no spread). The
    result counts the points whose runs differ and flags indices resting on fewer than
    ``FEW_HITS`` of them, in ``summary()`` and in the CLI report's notes."""
    from multiexpect.cli.kinds.sobol import notes
    from multiexpect.intervals import FEW_HITS

    law = me.Law([stats.norm()] * 3)
    res = me.sobol_indices(lambda x: np.maximum(x[:, 0] - 3.5, 0.0), law, budget=2000,
                           rng=1, sampling="rqmc")
    assert 0 < res.diagnostics["moving_points"] < FEW_HITS
    assert "not to be trusted" in res.summary()
    assert any("not to be trusted" in note for note in notes(res))
    # an ordinary model: every point moves, no flag
    ok = me.sobol_indices(linear, law, budget=2000, rng=1)
    assert ok.diagnostics["moving_points"] >= ok.n_evaluations // 5 - 1
    assert "not to be trusted" not in ok.summary()


def test_an_input_of_infinite_variance_is_flagged():
    """A Student t on 2 degrees of freedom has no finite variance: an output that moves
    with it has none either, so its Sobol' indices are undefined, whatever finite numbers
    a sample gives (S1 = 1.24 above ST = 0.998 on this seed). ``summary()`` says so; a t on
    3 degrees of freedom is not flagged."""
    def model(x):
        return x[:, 0] + x[:, 1] * x[:, 2]

    heavy = me.Law([stats.t(2), stats.norm(), stats.norm()], names=["a", "b", "c"])
    res = me.sobol_indices(model, heavy, budget=8000, rng=1)
    assert res.diagnostics["infinite_variance_inputs"] == ["a"]
    assert "! a: no finite variance under the law" in res.summary()
    light = me.Law([stats.t(3), stats.norm(), stats.norm()], names=["a", "b", "c"])
    assert "infinite_variance_inputs" not in me.sobol_indices(model, light, budget=8000,
                                                              rng=1).diagnostics


def test_a_heavy_tailed_pilot_says_the_intervals_may_be_too_narrow():
    """A product of ten factors of mixed inputs (a lognormal, a gamma, a Student t5 among
    them) at 3072 runs: the pilot's variance is known to 0.79 (relative s.e.), and the
    indices' intervals covered 0.71-0.85 over 100 seeds; ``summary()`` says they may be
    too narrow. Ishigami's pilot, with a light tail, gets no such note."""
    marginals = [stats.uniform(0, 1), stats.norm(1, 2), stats.lognorm(0.5),
                 stats.beta(2, 5), stats.gamma(2.0), stats.t(5)]
    margs = [marginals[i % 6] for i in range(10)]
    mu = np.array([m.mean() for m in margs])
    c = 0.6 * np.random.default_rng(42).uniform(0.3, 1.0, 10) / np.array([m.std() for m in margs])
    res = me.sobol_indices(lambda x: np.prod(1 + c * (x - mu), axis=1), me.Law(margs),
                           budget=3072, rng=2000)
    assert res.diagnostics["pilot_tail_statistic"] > 0.5
    assert "may be too narrow" in res.summary()
    light = me.sobol_indices(tf.ishigami, tf.ishigami_law(), budget=5000, rng=1)
    assert light.diagnostics["pilot_tail_statistic"] < 0.5
    assert "may be too narrow" not in light.summary()

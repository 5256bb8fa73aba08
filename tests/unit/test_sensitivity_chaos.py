"""The polynomial chaos control variate of RQMC pick-freeze (``surrogate="chaos"``): one net
and replicates."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect import polychaos
from multiexpect.polychaos import chaos_record
from multiexpect.sensitivity import chaos
from tests.helpers import CountingModel

ONE_NET = {"method": "pick-freeze", "sampling": "rqmc", "replicates": 1}


def sum_and_product(x):
    """``x_1 + x_2 x_3``: degree 1 in the uniform input, a Hermite product in the normal
    ones, so a chaos of degree 2 reproduces it."""
    return x[:, 0] + x[:, 1] * x[:, 2]


LAW = me.Law([stats.uniform(0, 1), stats.norm(0, 1), stats.norm(0, 1)])
#: Var = 1/12 + 1; x_1 alone carries 1/12, the product 1 (no first-order part)
FIRST = np.array([1.0, 0.0, 0.0]) / 13.0
TOTAL = np.array([1.0, 12.0, 12.0]) / 13.0


def test_a_model_the_chaos_reproduces_is_estimated_to_rounding_with_a_nonzero_interval():
    res = me.sobol_indices(sum_and_product, LAW, budget=5 * 2**11, rng=3,
                           surrogate="chaos", **ONE_NET)
    np.testing.assert_allclose(res.first_order, FIRST, atol=1e-9)
    np.testing.assert_allclose(res.total_order, TOTAL, atol=1e-9)
    se = np.concatenate([res.first_order_stderr, res.total_order_stderr])
    assert np.all(se > 0) and np.all(se < 1e-8)  # the arithmetic's floor, never zero
    record = res.diagnostics["surrogate"]  # the shape of the final stage's record
    assert record["surrogate"] == "chaos" and record["residual_share"] < 1e-20
    # 2 (2048 - 128) fit rows allow 192 terms: degree 8 in 3 inputs (165), not 9 (220);
    # its basis holds Hermite polynomials, so no input is raised
    assert (record["degree"], record["terms"], record["raised"]) == (8, 165, [])
    assert "polynomial chaos of degree 8 (165 terms)" in res.summary()
    again = type(res).from_dict(res.to_dict())  # the record survives JSON
    assert again.diagnostics["surrogate"] == record
    plain = me.sobol_indices(sum_and_product, LAW, budget=5 * 2**11, rng=3, **ONE_NET)
    assert "chaos" not in plain.summary()
    assert np.max(np.abs(plain.first_order - FIRST)) > 1e-6  # the net alone is not exact


def test_same_seed_same_result_and_the_runs_are_the_plain_nets():
    model = CountingModel(lambda x: np.sin(x[:, 0]) + x[:, 1] ** 2 * x[:, 2])
    a = me.sobol_indices(model, LAW, budget=5 * 2**10 + 7, rng=5, surrogate="chaos",
                         **ONE_NET)
    assert model.runs == a.n_evaluations == 5 * (2**10 + 1)  # every point the budget allows
    b = me.sobol_indices(model, LAW, budget=5 * 2**10 + 7, rng=5, surrogate="chaos",
                         **ONE_NET)
    assert np.array_equal(a.first_order, b.first_order)
    assert np.array_equal(a.total_order_stderr, b.total_order_stderr)
    plain_model = CountingModel(model.model)
    plain = me.sobol_indices(plain_model, LAW, budget=5 * 2**10 + 7, rng=5, **ONE_NET)
    assert np.array_equal(np.concatenate(plain_model.inputs), np.concatenate(model.inputs[:1]))
    assert plain.mean != a.mean or plain.variance != a.variance  # the control moved them


@pytest.mark.parametrize("kwargs, match", [
    ({"surrogate": "pce", **ONE_NET}, "'surrogate' must be None or one of"),
    ({"surrogate": "chaos"}, "'surrogate' needs method='pick-freeze'"),
    ({"surrogate": "chaos", "method": "aiscv", "sampling": "rqmc"},
     "'surrogate' needs method='pick-freeze'.*surrogate='auto', the default"),
    ({"surrogate": "chaos", "method": "pick-freeze"}, "'surrogate' needs method='pick-freeze' "
                                                       "and sampling='rqmc', got "
                                                       "method='pick-freeze' without RQMC"),
    ({"surrogate": "chaos", "method": "pick-freeze", "sampling": "rqmc", "replicates": 32},
     "'surrogate' needs at least 64 points a block: 1024 points in 32 blocks give 32"),
])
def test_bad_surrogate_is_refused_before_any_run(kwargs, match):
    model = CountingModel(sum_and_product)
    with pytest.raises(ValueError, match=match):
        me.sobol_indices(model, LAW, budget=5 * 2**10, rng=1, **kwargs)
    assert model.runs == 0


def test_blocks_too_small_for_the_chaos_are_refused_before_any_run():
    model = CountingModel(sum_and_product)
    with pytest.raises(ValueError, match="'surrogate' needs at least 64 points a block"):
        me.sobol_indices(model, LAW, budget=5 * 2**9, rng=1, surrogate="chaos", **ONE_NET)
    assert model.runs == 0
    res = me.sobol_indices(model, LAW, budget=5 * 2**9, rng=1, surrogate="chaos", blocks=8,
                           **ONE_NET)
    assert res.diagnostics["blocks"] == 8


def test_too_many_inputs_for_the_net_are_refused_before_any_run():
    law = me.Law([stats.norm()] * 100)
    model = CountingModel(lambda x: x.sum(axis=1))
    with pytest.raises(ValueError, match="'surrogate' needs at least 2020 fit runs for a "
                                         "degree-1 chaos in 100 inputs, got 1920"):
        me.sobol_indices(model, law, budget=102 * 2**10, rng=1, surrogate="chaos", **ONE_NET)
    assert model.runs == 0


@pytest.mark.parametrize("dim, degree", [(2, 10), (3, 10), (8, 3), (15, 2), (20, 2),
                                         (30, 1)])
def test_the_degree_is_the_largest_within_the_terms_cap(dim, degree):
    assert chaos.chaos_degree(dim, 10**7) == degree
    assert chaos.chaos_degree(dim, 10**7) <= chaos.MAX_DEGREE


def test_too_few_fit_rows_for_degree_one_are_refused():
    with pytest.raises(ValueError, match="'surrogate' needs at least"):
        chaos.chaos_degree(10, 100)
    assert chaos.chaos_degree(3, 20 * 10) == 2  # degree 2 in 3 inputs: 10 terms, 200 rows
    assert chaos.chaos_degree(3, 20 * 10 - 1) == 1


@pytest.mark.parametrize("orders", ["first", "total"])
def test_one_order_alone_is_controlled_too(orders):
    res = me.sobol_indices(sum_and_product, LAW, budget=5 * 2**11, rng=4, orders=orders,
                           surrogate="chaos", **ONE_NET)
    est, se = res.indices(orders)
    np.testing.assert_allclose(est, FIRST if orders == "first" else TOTAL, atol=1e-9)
    assert np.all(se > 0)


@pytest.mark.parametrize("orders", [("first", "total"), "first", "total"])
def test_replicates_are_controlled_too_each_by_the_chaos_of_the_other_nets(orders):
    """``sampling="rqmc"`` with replicates: each net corrected by the chaos fitted on the
    others; exact on a model the chaos reproduces (first order alone: the centred form
    ``Y Y^(i)`` of ``d + 1`` runs), Student's t on ``R - 1``."""
    runs_per_point = 5 if len(orders) == 2 else 4  # first alone: the centred d + 1 form
    res = me.sobol_indices(sum_and_product, LAW, budget=runs_per_point * 8 * 128, rng=6,
                           orders=orders,
                           method="pick-freeze", sampling="rqmc", surrogate="chaos")
    assert res.diagnostics["replicates"] == 8 and res.diagnostics["dof"] == 7
    assert res.diagnostics["surrogate"]["surrogate"] == "chaos"
    assert "cross-fitted by replicate" in res.summary()
    for order in (orders,) if isinstance(orders, str) else orders:
        est, se = res.indices(order)
        np.testing.assert_allclose(est, FIRST if order == "first" else TOTAL, atol=1e-9)
        assert np.all(se > 0)


def _same(a, b):
    """Two Sobol' results agree to the bit in every index and standard error."""
    for order in ("first", "total"):
        for x, y in zip(a.indices(order), b.indices(order)):
            assert np.array_equal(x, y, equal_nan=True)


def _beam_like(x):
    """A smooth non-polynomial model: the chaos follows it without reproducing it."""
    return np.exp(0.3 * x[:, 0]) + x[:, 1] * np.sin(x[:, 2])


@pytest.mark.parametrize("orders", [("first", "total"), "first"])
def test_auto_law_route_takes_the_chaos_of_pick_freeze_rqmc_on_the_same_nets(orders):
    """``surrogate="auto"``: aISCV's law route of ``sampling="auto"`` is
    ``method="pick-freeze", sampling="rqmc", surrogate="chaos"`` on the same nets, bit for
    bit, and the same runs as without the control."""
    budget = 5 * 8 * 256
    auto_model, plain_model = CountingModel(_beam_like), CountingModel(_beam_like)
    auto = me.sobol_indices(auto_model, LAW, budget=budget, rng=11, orders=orders,
                            surrogate="auto")
    plain = me.sobol_indices(plain_model, LAW, budget=budget, rng=11, orders=orders,
                             surrogate=None)
    assert auto.diagnostics["route"] == "law-rqmc" == plain.diagnostics["route"]
    assert auto.diagnostics["surrogate"]["surrogate"] == "chaos"
    assert "surrogate" not in plain.diagnostics
    assert auto_model.runs == plain_model.runs
    np.testing.assert_array_equal(np.concatenate(auto_model.inputs),
                                  np.concatenate(plain_model.inputs))
    reference = me.sobol_indices(_beam_like, LAW, budget=budget, rng=11, orders=orders,
                                 method="pick-freeze", sampling="rqmc", surrogate="chaos")
    _same(auto, reference)
    _, first_se = auto.indices("first")
    _, plain_se = plain.indices("first")
    assert np.all(first_se > 0)
    assert np.sum(first_se**2) < np.sum(plain_se**2)  # the control works on this model


def test_auto_law_route_on_nets_too_small_for_the_chaos_stays_plain():
    """Nets under 64 points: the law route stays plain pick-freeze RQMC, bit for bit."""
    budget = 5 * 8 * 32
    auto = me.sobol_indices(_beam_like, LAW, budget=budget, rng=12)  # "auto", the default
    plain = me.sobol_indices(_beam_like, LAW, budget=budget, rng=12, surrogate=None)
    assert auto.diagnostics["route"] == "law-rqmc"
    assert "surrogate" not in auto.diagnostics
    _same(auto, plain)


@pytest.mark.parametrize("kwargs", [{"method": "pick-freeze"},
                                    {"method": "pick-freeze", "sampling": "rqmc"},
                                    {"sampling": "mc"}])
def test_auto_surrogate_acts_on_the_law_route_alone(kwargs):
    """``surrogate="auto"`` outside aISCV's ``sampling="auto"``: no control, bit for bit."""
    auto = me.sobol_indices(_beam_like, LAW, budget=5 * 2**10, rng=13, surrogate="auto",
                            **kwargs)
    plain = me.sobol_indices(_beam_like, LAW, budget=5 * 2**10, rng=13, surrogate=None,
                             **kwargs)
    assert "surrogate" not in auto.diagnostics
    _same(auto, plain)


def _saturating(x):
    """Bounded in normal inputs: a Hermite chaos of high degree grows in the tails, beyond
    the runs (the tail check cuts its degree)."""
    return np.tanh(3.0 * x[:, 0]) + x[:, 1] * np.tanh(2.0 * x[:, 2])


def test_quantities_the_chaos_would_make_worse_stay_plain():
    """A quantity keeps the control only where it leaves at most ``MAX_SHARE`` of the plain
    values' variance. On this saturating model of normal inputs the chaos (its degree cut
    to 6 by the tail check) helps two of the eight pick-freeze quantities; the six others
    are plain pick-freeze RQMC's (to the last bits: the blocks' means are summed in another
    order)."""
    law = me.Law([stats.norm()] * 3)
    kwargs = {"budget": 50_000, "rng": 3, "method": "pick-freeze", "sampling": "rqmc"}
    res = me.sobol_indices(_saturating, law, surrogate="chaos", **kwargs)
    plain = me.sobol_indices(_saturating, law, **kwargs)
    controlled = np.array(res.diagnostics["surrogate"]["controlled"])
    assert 0 < controlled.sum() < controlled.size
    ours = np.array(res.diagnostics["quantity_estimate"])
    theirs = np.array(plain.diagnostics["quantity_estimate"])
    np.testing.assert_allclose(ours[~controlled], theirs[~controlled], rtol=1e-12,
                               atol=1e-15)
    assert not np.allclose(ours[controlled], theirs[controlled], rtol=1e-9)
    assert (f"controlled on {controlled.sum()} of {controlled.size} pick-freeze quantities"
            in res.summary())


def test_a_model_close_to_a_polynomial_is_covered_at_the_resolution_floor():
    """``10 + x_1 + 2 exp(0.3 z_2)``: the degree-10 chaos follows it closer than the
    arithmetic of the estimate, whose errors the floor, ``RESOLUTION`` of the values, must
    cover (method.md, "The chaos control variate")."""
    law = me.Law([stats.norm(1.0, 1.0), stats.lognorm(0.3)])
    var_b = stats.lognorm(0.3).var()
    truth = np.array([1.0, 4.0 * var_b]) / (1.0 + 4.0 * var_b)
    for seed in range(5):
        res = me.sobol_indices(lambda x: 10.0 + x @ np.array([1.0, 2.0]), law,
                               budget=4 * 8 * 512, rng=seed, method="pick-freeze",
                               sampling="rqmc", surrogate="chaos")
        assert all(res.diagnostics["surrogate"]["controlled"])
        for order in ("first", "total"):
            est, se = res.indices(order)
            assert np.all(se > 0)
            assert np.all(np.abs(est - truth) <= 2.0 * se), (seed, est - truth, se)


def test_the_chaos_values_in_chunks_equal_those_at_once(monkeypatch):
    """A block's runs take the chaos :data:`CHUNK_RUNS` at a time (memory): the result is
    the same to the bit as at once."""
    kwargs = {"budget": 5 * 8 * 256, "rng": 14, "method": "pick-freeze", "sampling": "rqmc",
              "surrogate": "chaos"}
    whole = me.sobol_indices(_beam_like, LAW, **kwargs)
    monkeypatch.setattr(polychaos, "CHUNK_RUNS", 100)  # 1280 runs a block: 13 chunks
    _same(me.sobol_indices(_beam_like, LAW, **kwargs), whole)


def test_the_fit_in_chunks_agrees_with_the_fit_at_once(monkeypatch):
    """The fit's normal equations are summed :data:`FIT_CHUNK_ROWS` rows at a time
    (memory): another summation order, so the indices agree to rounding, not to the bit,
    and the fit is the same (degree, terms, which quantities are controlled)."""
    kwargs = {"budget": 5 * 8 * 256, "rng": 14, "method": "pick-freeze", "sampling": "rqmc",
              "surrogate": "chaos"}
    whole = me.sobol_indices(_beam_like, LAW, **kwargs)
    monkeypatch.setattr(polychaos, "FIT_CHUNK_ROWS", 100)  # 512 fit rows a block: 6 chunks
    chunked = me.sobol_indices(_beam_like, LAW, **kwargs)
    for order in ("first", "total"):
        for x, y in zip(chunked.indices(order), whole.indices(order)):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-14)
    record, before = chunked.diagnostics["surrogate"], whole.diagnostics["surrogate"]
    assert (record["degree"], record["terms"], record["controlled"]) == (
        before["degree"], before["terms"], before["controlled"])



def test_a_result_saved_in_the_older_flat_shape_still_names_its_chaos():
    """Sobol' results saved before both chaos controls filed one record under
    ``"surrogate"`` kept its keys at the top level of the diagnostics: they are read as the
    record (``polychaos.chaos_record``), and the summary words the control as before."""
    res = me.sobol_indices(sum_and_product, LAW, budget=5 * 2**11, rng=3,
                           surrogate="chaos", **ONE_NET)
    data = res.to_dict()
    data["diagnostics"] = {**{k: v for k, v in data["diagnostics"].items()
                              if k != "surrogate"}, **data["diagnostics"]["surrogate"]}
    old = type(res).from_dict(data)
    assert old.diagnostics["surrogate"] == "chaos"  # the flat shape
    assert chaos_record(old.diagnostics)["terms"] == 165
    assert old.summary() == res.summary() and old.interval_note() == res.interval_note()
    assert chaos_record({"surrogate": None}) is None and chaos_record({}) is None


def _periodic(x):
    return np.sin(x[:, 0]) + 7.0 * np.sin(x[:, 1]) ** 2


def test_a_chaos_that_grows_where_the_runs_are_sparse_is_cut_to_a_consistent_degree():
    """``sin(x_1) + 7 sin^2(x_2)`` of normal inputs: high-degree Hermite polynomials follow
    it on the runs but grow beyond them, so their exact variance exceeds the runs'. The
    degree is cut until the two agree (``chaos.TAIL_Z``), and the defaults' indices are
    within 4 standard errors of the exact ones on every seed."""
    law = me.Law([stats.norm()] * 3)
    v1 = (1 - np.exp(-2.0)) / 2
    v2 = 49.0 * ((1 + np.exp(-8.0)) / 2 - np.exp(-4.0)) / 4
    truth = np.array([v1, v2, 0.0]) / (v1 + v2)
    for seed in range(4):
        res = me.sobol_indices(_periodic, law, budget=4 * 4096, rng=seed, orders="first")
        assert res.diagnostics["route"] == "law-rqmc"
        est, se = res.indices("first")
        assert np.all(np.abs(est - truth) <= 4.0 * se), (seed, (est - truth) / se)
    # the Hermite chaos alone: its degree is cut (the Legendre basis is kept above)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((8192, 2))
    y = _periodic(z)
    alphas = polychaos.multi_indices(2, 10)
    gram, moment = polychaos.normal_equations(z, y, np.zeros(2, dtype=bool), alphas)
    assert chaos._tail_consistent_degree(gram, moment, alphas, y) < 10
    legendre = polychaos.normal_equations(z, y, np.ones(2, dtype=bool), alphas)
    assert chaos._tail_consistent_degree(*legendre, alphas, y) == 10


def _kinked(x):
    return np.abs(x[:, 0]) + x[:, 1]


def test_a_kinked_model_of_normal_inputs_takes_the_legendre_basis_and_covers():
    """``|x_1| + x_2`` of normal inputs. The net integrates the kink far better than the
    points' variance says, and a Hermite chaos adds tails the net integrates badly. The
    chaos also tries Legendre polynomials of ``u = Φ(z)`` and keeps the basis whose
    corrected block means spread less: here Legendre, and every index is within 4 s.e.
    on every seed."""
    law = me.Law([stats.norm()] * 2)
    v = np.array([1 - 2 / np.pi, 1.0])
    truth = v / v.sum()  # additive: first and total orders equal
    for seed in range(8):
        res = me.sobol_indices(_kinked, law, budget=4 * 4096, rng=seed)
        assert res.diagnostics["surrogate"]["basis"] == "legendre"
        for order in ("first", "total"):
            est, se = res.indices(order)
            assert np.all(np.abs(est - truth) <= 4.0 * se), (seed, order, (est - truth) / se)


def test_a_model_the_hermite_chaos_follows_keeps_it():
    """The beam's normal inputs under Hermite polynomials: the law's own basis spreads
    less and is kept (bit for bit the single-basis result: the golden file's demo)."""
    from multiexpect import testfunctions as tf

    res = me.sobol_indices(tf.cantilever_beam, tf.cantilever_law(), budget=7 * 8 * 512,
                           rng=4, method="pick-freeze", sampling="rqmc", surrogate="chaos")
    assert res.diagnostics["surrogate"]["basis"] == "hermite"


def _exp_first(x):
    return np.exp(x[:, 0]) + x[:, 1] + 0.5 * x[:, 2]


def test_a_chaos_whose_fits_disagree_beyond_the_runs_is_not_used():
    """``exp(x_1) + x_2 + x_3 / 2`` of normal inputs, seed 4 (the law route): the Hermite
    chaos of degree 10 follows the runs to rounding, but 0.6% of the variance of
    ``exp(x_1)`` lies beyond ``x_1 = 4.5``, where no run goes, and the blocks'
    leave-one-out fits disagree there by several times the precision the control would
    claim (``chaos.EXTRAPOLATION_Z``). Every quantity then stays plain: the estimate is the
    plain law route's, to rounding (it was 78 standard errors off with the control)."""
    law = me.Law([stats.norm()] * 3)
    res = me.sobol_indices(_exp_first, law, budget=5 * 4096, rng=4)
    plain = me.sobol_indices(_exp_first, law, budget=5 * 4096, rng=4, surrogate=None)
    assert res.diagnostics["route"] == "law-rqmc"
    record = res.diagnostics["surrogate"]
    assert record["extrapolation"] > chaos.EXTRAPOLATION_Z
    assert not any(record["controlled"])
    np.testing.assert_allclose(res.first_order, plain.first_order, rtol=1e-12)
    np.testing.assert_allclose(res.total_order_stderr, plain.total_order_stderr, rtol=1e-9)


def test_the_extrapolation_ratio_of_a_reproduced_polynomial_is_rounding():
    """Where the chaos reproduces the model (``x_1 + x_2 x_3``), every leave-one-out fit
    is the same polynomial, so its unseen second moment does not move between fits."""
    res = me.sobol_indices(sum_and_product, LAW, budget=5 * 2**11, rng=3,
                           surrogate="chaos", **ONE_NET)
    assert res.diagnostics["surrogate"]["extrapolation"] < 1e-3
    assert all(res.diagnostics["surrogate"]["controlled"])
    # the statistic itself: a jackknife over identical fits is zero
    block_of = np.repeat(np.arange(4), 8)
    s_values = np.arange(32.0)
    assert chaos._extrapolation_ratio(np.full(4, 0.3), s_values, block_of, 4, 0.0) == 0.0


def test_the_raised_basis_adds_one_degree_in_the_inputs_that_interact_most():
    """``polychaos.raised_indices``: the total-degree basis stays its first rows, then every
    monomial of degree ``p + 1`` in the ``k`` inputs with the most interaction variance,
    ``k`` the largest the cap allows; unchanged at ``MAX_DEGREE`` or without room."""
    alphas = polychaos.multi_indices(6, 2)  # 28 terms
    coef = np.zeros(alphas.shape[0])
    pair = np.flatnonzero((alphas[:, 2] == 1) & (alphas[:, 4] == 1))[0]
    coef[pair] = 3.0  # x_3 x_5 interact
    coef[np.flatnonzero((alphas[:, 0] == 2) & (alphas.sum(axis=1) == 2))[0]] = 1.0
    coef[1:7] = [5.0, 4.0, 0.0, 3.0, 0.0, 0.0]  # linear terms: the order after the pair
    wider, raised = polychaos.raised_indices(alphas, coef, cap=28 + 20)
    assert raised.tolist() == [0, 1, 2, 4]  # C(4 + 2, 3) = 20 fits, C(5 + 2, 3) = 35 does not
    np.testing.assert_array_equal(wider[:28], alphas)
    added = wider[28:]
    assert added.shape[0] == 20 and np.all(added.sum(axis=1) == 3)
    assert np.all(added[:, [3, 5]] == 0) and len({tuple(a) for a in wider}) == 48
    assert polychaos.raised_indices(alphas, coef, cap=28)[1].size == 0  # no room
    top = polychaos.multi_indices(2, polychaos.MAX_DEGREE)
    same, none = polychaos.raised_indices(top, np.ones(top.shape[0]), cap=10**6)
    assert same is top and none.size == 0


def _product_and_sum(x):
    """``(1 + x_1)(1 + x_2)(1 + x_3) + x_4 + ... + x_8`` on ``U(0, 1)^8``: a third-order
    interaction that a total-degree-2 chaos cannot hold."""
    return np.prod(1.0 + x[:, :3], axis=1) + x[:, 3:].sum(axis=1)


def test_the_raised_chaos_reproduces_a_third_order_interaction_a_degree_2_basis_misses():
    """At 1024 points in 16 blocks the fit rows allow 96 terms: total degree 2 in 8 inputs
    (45), and degree 3 in the five inputs that interact most (35 more); the product's
    inputs interact, so the chaos holds the model and the indices come out to rounding.
    Exact: each factor ``1 + x`` has mean 3/2 and variance 1/12; ``Var P = (7/3)^3 -
    (3/2)^6``, ``V_i = (9/4)^2 / 12``, ``V_Ti = Var P - (9/4) ((7/3)^2 - (3/2)^4)``."""
    var_p = (7 / 3) ** 3 - 1.5**6
    first_p, total_p = 1.5**4 / 12, var_p - 2.25 * ((7 / 3) ** 2 - 1.5**4)
    var = var_p + 5 / 12
    first = np.array([first_p] * 3 + [1 / 12] * 5) / var
    total = np.array([total_p] * 3 + [1 / 12] * 5) / var
    law = me.Law([stats.uniform(0, 1)] * 8)
    res = me.sobol_indices(_product_and_sum, law, budget=10 * 2**10, rng=5,
                           surrogate="chaos", **ONE_NET)
    record = res.diagnostics["surrogate"]
    assert (record["degree"], record["terms"]) == (3, 80)
    assert set(record["raised"]) >= {0, 1, 2} and record["residual_share"] < 1e-20
    np.testing.assert_allclose(res.first_order, first, atol=1e-9)
    np.testing.assert_allclose(res.total_order, total, atol=1e-9)

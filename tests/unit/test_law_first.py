"""``sampling="auto"``: the pilot's route is recorded, its batches are keyed once and
replayed exactly, and bad input is refused before any run."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.engine import AiscvOptions, EngineSetup
from multiexpect.engine.common_nets import GROWN_NETS, probe_plan
from multiexpect.engine.law_first import (
    ADAPTIVE_GAIN,
    ADAPTIVE_ROUTE,
    COMMON_ROUTE,
    GROWN_PILOT_REPLICATES,
    LAW_MARGIN,
    LAW_ROUTE,
    law_plan,
    law_points,
    variance_uncertainty,
)
from multiexpect.intervals import subset_mean_interval
from multiexpect.sampling import replicate_plan
from tests.helpers import (
    NORM2,
    Interrupting,
    assert_resumes_bit_for_bit,
    exp_and_sine,
    exp_and_sine_shifts,
    smooth,
)


def _moments(x):
    return x[:, [0]] ** np.array([2, 4, 6, 8])


def test_law_route_is_plain_rqmc_of_the_law_and_says_why():
    res = me.expectations(smooth, NORM2, budget=4000, rng=3, sampling="auto")
    diag = res.diagnostics
    reps, n = replicate_plan(4000, 8)
    assert (diag["route"], diag["interval"]) == (LAW_ROUTE, "subset-means")
    assert diag["dof"] == reps - 1
    assert "RQMC of the law predicted" in diag["route_reason"]
    assert LAW_MARGIN * diag["law_rqmc_error"] <= diag["adaptive_error"]
    assert (diag["replicates"], diag["points_per_replicate"]) == (reps, n)
    # the nets, then the edge probe's 6 d runs (.edge_probe), nothing singular found
    probe = diag["edge_probe"]
    assert probe["runs"] == 12 and probe["singular"] == []
    assert res.n_evaluations == reps * n + 12 <= 4000 and res.settings["sampling"] == "auto"
    values = np.asarray(diag["replicate_values"])
    assert np.allclose(values.mean(axis=0), res.estimate)
    assert np.allclose(res.confidence_interval(0.9), subset_mean_interval(values, 0.9))


@pytest.mark.parametrize("budget", [4000, 3000])  # a power of 2 per net or not
def test_law_route_is_plain_rqmc_bit_for_bit(budget):
    # the same nets of the law from the same seed: the same estimates and standard errors,
    # to the last bit, so that comparing auto with plain RQMC is a tie by construction
    # (here the nets' chaos control is not kept: test_law_chaos.py tests where it is)
    kwargs = {"budget": budget, "rng": 5}
    auto = me.expectations(smooth, NORM2, sampling="auto", **kwargs)
    plain = me.expectations(smooth, NORM2, method="mc", sampling="rqmc", **kwargs)
    assert auto.diagnostics["route"] == LAW_ROUTE
    assert not any(auto.diagnostics["surrogate"]["controlled"])
    assert np.array_equal(auto.estimate, plain.estimate)
    assert np.array_equal(auto.stderr, plain.stderr)
    # the same nets, and the edge probe's runs beside them
    assert auto.n_evaluations == plain.n_evaluations + auto.diagnostics["edge_probe"]["runs"]
    assert auto.diagnostics["dof"] == plain.diagnostics["dof"]


def test_heavy_tail_takes_the_adaptive_route_and_says_why():
    law = me.Law([stats.norm(0, 1)])
    res = me.expectations(_moments, law, budget=4000, rng=3, sampling="auto")
    diag = res.diagnostics
    assert diag["route"] == "adaptive" and "heavy tail" in diag["route_reason"]
    assert len(res.history) > 1  # it adapted
    # no event: the final stage is R = 8 RQMC replicates, the stages kept apart; fewer than
    # R runs of the budget may be left unspent
    assert diag["replicates"] == 8 and diag["dof"] == 7 and diag["n_pooled"] == 0
    assert diag["interval"] == "subset-means" and 4000 - 8 < res.n_evaluations <= 4000
    assert diag["n_final"] == 8 * diag["points_per_replicate"]


def test_adaptive_route_keeps_the_iid_final_for_an_event():
    """An event quantity ends i.i.d.: the spread of a weighted 0/1 column over a few
    replicates is skewed, small more often than not, and its intervals under-cover."""
    law = me.Law([stats.norm(0, 1)])
    res = me.expectations(lambda x: np.column_stack([_moments(x), x[:, 0] > 2.5]), law,
                          budget=4000, rng=3, sampling="auto")
    assert res.diagnostics["route"] == "adaptive" and len(res.history) > 1
    assert "dof" not in res.diagnostics and res.n_evaluations == 4000


def test_rare_event_takes_the_adaptive_route():
    law = me.Law([stats.norm(0, 1)] * 2)
    res = me.expectations(lambda x: (x[:, 0] > 3.0).astype(float), law, budget=4000,
                          rng=1, sampling="auto")
    assert res.diagnostics["route"] == "adaptive"
    assert "hits" in res.diagnostics["route_reason"]


class KeyRecorder:
    """An ``evaluate(x, key)`` that records its keys."""

    def __init__(self, model):
        self.model, self.keys = model, []

    def __call__(self, x, key):
        self.keys.append(key)
        return self.model(x)


def test_law_route_batches_are_the_pilot_nets_then_the_law_replicates():
    recorder = KeyRecorder(smooth)
    res = me.expectations(smooth, NORM2, budget=4000, rng=3, sampling="auto",
                          evaluate=recorder)
    reps, nets = res.diagnostics["replicates"], res.diagnostics["pilot_replicates"]
    assert nets == GROWN_PILOT_REPLICATES  # the smooth case's pilot grew (no lead to adapt)
    pilot = [0] + [-(10**6 + r) for r in range(1, nets)]
    probe = [-4 * 10**6]  # the edge probe (.edge_probe), once the law route is chosen
    assert recorder.keys == pilot + probe + list(range(1, reps - nets + 1))


def test_several_laws_nets_pick_each_law_equally():
    laws = [me.Law([stats.norm(m, 1.0), stats.norm(0, 2.0)]) for m in (0.0, 1.0, 2.0)]
    setup = EngineSetup.build(laws, smooth, budget=1000, seed=0, options=AiscvOptions())
    z = law_points(setup, 256, 0)
    x = setup.sampling.to_inputs(z)
    # the three laws' means of x_1 are 0, 1, 2: the mixture's is 1, each law's share 1/3
    # up to the net's stratification of the picking coordinate (at most one point off)
    assert abs(np.mean(x[:, 0]) - 1.0) < 0.2
    assert z.shape == (256, 2) and np.all(np.isfinite(z))


def test_variance_uncertainty_tells_a_heavy_tail():
    rng = np.random.default_rng(0)
    normal = rng.standard_normal((4096, 1))
    assert variance_uncertainty(normal) < 0.05
    assert variance_uncertainty(normal**8) > 0.3
    # weighted: a heavy quantity that weighs little in the criterion does not decide alone
    both = np.column_stack([normal, normal**8 / np.std(normal**8)])
    assert variance_uncertainty(both, np.array([1.0, 1e-6])) < 0.05
    assert variance_uncertainty(both, np.array([1.0, 1.0])) > 0.2


@pytest.mark.parametrize("limit", [1, 4])  # in the pilot nets; in the law's replicates
def test_resumed_auto_study_is_bit_identical(limit):
    kwargs = {"budget": 4000, "rng": 11, "sampling": "auto", "study_id": "auto"}
    whole = me.expectations(smooth, NORM2, **kwargs)
    assert whole.diagnostics["route"] == LAW_ROUTE
    assert_resumes_bit_for_bit(smooth, NORM2, whole, limit, **kwargs)


@pytest.mark.parametrize("limit", [3, 8])  # in the adaptive batches; in the final replicates
def test_resumed_auto_study_on_the_adaptive_route_is_bit_identical(limit):
    law = me.Law([stats.norm(0, 1)])
    kwargs = {"budget": 4000, "rng": 11, "sampling": "auto", "study_id": "auto-heavy"}
    counted = Interrupting(_moments)
    whole = me.expectations(counted, law, **kwargs)
    assert whole.diagnostics["route"] == "adaptive" and whole.diagnostics["replicates"] == 8
    # the final stage's 8 replicates are the last 8 model calls
    assert (limit < counted.calls - 8) == (limit == 3)
    assert_resumes_bit_for_bit(_moments, law, whole, limit, **kwargs)


class NeverRun:
    """A model that fails the test if it is ever run."""

    def __call__(self, x):
        raise AssertionError("the model ran before the input was refused")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "mc"}, "'sampling' 'auto' is not available for method 'mc'"),
    ({"method": "separate-is"}, "'sampling' 'auto' is not available"),
    ({"keep_sample": True}, "'keep_sample' needs sampling 'mc'"),
    ({"budget": 30, "replicates": 16}, "'budget' \\(30\\) is too small for sampling 'auto'"),
    ({"replicates": 1}, "'replicates' must be an int >= 2"),
    ({"budget": 10**6, "replicates": 2}, "'replicates' \\(2\\) is too small for sampling"),
    ({"sampling": "Auto"}, "'sampling' must be one of"),
])
def test_bad_auto_input_is_refused_before_any_run(kwargs, match):
    call = {"budget": 4000, "rng": 1, "sampling": "auto"} | kwargs
    with pytest.raises(ValueError, match=match):
        me.expectations(NeverRun(), NORM2, **call)


def test_sobol_pick_freeze_refuses_auto_before_any_run():
    with pytest.raises(ValueError, match="'sampling' 'auto' is not available for method "
                                         "'pick-freeze'"):
        me.sobol_indices(NeverRun(), NORM2, budget=4000, rng=1, sampling="auto",
                         method="pick-freeze")
    with pytest.raises(ValueError, match="'budget'"):
        me.sobol_indices(NeverRun(), NORM2, budget=40, rng=1, sampling="auto", replicates=16)


def _linear3(x):
    return x @ np.array([1.0, 2.0, 3.0])


LINEAR3_FIRST = np.array([1.0, 4.0, 9.0]) / 14.0


def test_sobol_auto_takes_the_law_route_on_a_linear_model():
    """A linear model of normal inputs: RQMC pick-freeze of the law, replicates, t intervals."""
    law = me.Law([stats.norm()] * 3)
    res = me.sobol_indices(_linear3, law, budget=20_000, rng=5, sampling="auto")
    diag = res.diagnostics
    assert (diag["route"], diag["interval"]) == (LAW_ROUTE, "student-t")
    assert diag["dof"] == diag["replicates"] - 1 >= 7
    assert np.all(np.abs(res.first_order - LINEAR3_FIRST) < 5 * res.first_order_stderr)
    assert np.all(res.first_order_stderr > 0)


def test_sobol_auto_law_route_covers():
    """Over 100 seeds (all on the law route at this budget) the 95% intervals of the three
    first-order indices of plain pick-freeze RQMC (``surrogate=None``) cover (binomial s.e.
    of 300 correlated intervals about 0.02) and the mean error is within 4 of its standard
    errors; with the default chaos control, which reproduces this linear model, every
    interval covers at the arithmetic's resolution, never zero-width."""
    law = me.Law([stats.norm()] * 3)
    for seed in range(10):
        res = me.sobol_indices(_linear3, law, budget=5 * 4096, rng=seed, orders="first")
        low, high = res.confidence_interval(0.95)["first"]
        record = res.diagnostics["surrogate"]
        assert record["surrogate"] == "chaos" and all(record["controlled"])
        assert np.all((low <= LINEAR3_FIRST) & (LINEAR3_FIRST <= high))
        assert np.all((high - low > 0) & (high - low < 1e-7))
    cover, errors = [], []
    for seed in range(100):
        res = me.sobol_indices(_linear3, law, budget=5 * 4096, rng=seed, sampling="auto",
                               orders="first", surrogate=None)
        assert res.diagnostics["route"] == LAW_ROUTE
        low, high = res.confidence_interval(0.95)["first"]
        cover.append((low <= LINEAR3_FIRST) & (LINEAR3_FIRST <= high))
        errors.append(res.first_order - LINEAR3_FIRST)
    assert 0.88 <= np.mean(cover) <= 0.995
    errors = np.array(errors)
    assert np.all(np.abs(errors.mean(axis=0)) <= 4 * errors.std(axis=0) / np.sqrt(100))


def test_small_predicted_gain_over_iid_points_takes_the_law_route():
    """Sobol' g of 8 uniforms at no_regret's budget and seed 1004: the two pilot nets differ
    by chance (``E_law`` 4 times ``E_iid``), so the margin alone sends it to adaptation;
    adaptation predicts a gain of only 1.5 over i.i.d. points of the law: the law route,
    and the reason says so (it took the adaptive route before ``ADAPTIVE_GAIN``)."""
    law = me.Law([stats.uniform(0, 1)] * 8)
    res = me.sobol_indices(tf.sobol_g, law, budget=9 * 2000, rng=1004, orders="first")
    diag = res.diagnostics
    assert diag["route"] == LAW_ROUTE and "gain over i.i.d. points" in diag["route_reason"]
    assert LAW_MARGIN * diag["law_rqmc_error"] > diag["adaptive_error"]
    assert diag["law_iid_error"] <= ADAPTIVE_GAIN * diag["adaptive_error"]


def test_law_plan_needs_a_net_after_the_pilot():
    plan = law_plan(10_000, 8)
    assert (plan.replicates, plan.points, plan.pilot_replicates) == (9, 1024, 2)
    with pytest.raises(ValueError, match="'budget'"):
        law_plan(2, 3)
    with pytest.raises(ValueError, match="'replicates'"):  # no budget gives 4 nets of 2
        law_plan(10**6, 2)


def test_perturbed_law_indices_take_auto():
    """The laws' nets, then RQMC or adaptation; ``mc`` refuses ``auto``. A mean shift of a
    linear model takes the laws' common nets: separate RQMC (``method="mc",
    sampling="rqmc"``) to the last bit, whose index errors nearly cancel."""
    law = me.Law([stats.norm()] * 2, names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)

    def model(x):
        return 3 + x[:, 0] + 0.2 * x[:, 1]

    res = me.perturbed_law_indices(model, law, pert, budget=8000, rng=0, sampling="auto")
    assert res.diagnostics["route"] == COMMON_ROUTE
    exact = np.array([0.5, -0.5, 0.1, -0.1]) / 3
    assert np.all(np.abs(res.indices - exact) < 5 * res.stderr)
    separate = me.perturbed_law_indices(model, law, pert, budget=8000, rng=0, method="mc",
                                        sampling="rqmc")
    for field in ("indices", "stderr", "quantities", "quantities_stderr", "covariance"):
        assert np.array_equal(getattr(res, field), getattr(separate, field)), field
    assert res.n_evaluations == separate.n_evaluations
    assert np.array_equal(res.confidence_interval(), separate.confidence_interval())
    with pytest.raises(ValueError, match="'sampling' 'auto' is not available for method 'mc'"):
        me.perturbed_law_indices(NeverRun(), law, pert, budget=8000, rng=0,
                                 sampling="auto", method="mc")


@pytest.mark.parametrize("kwargs", [{"quantity": ("exceedance", 1.0)},
                                    {"weights": "relative"}])
def test_common_nets_only_for_the_mean_on_delta_weights(kwargs):
    """An exceedance's indicators do not cancel between laws, and weights other than
    ``"delta"`` ask for the quantities, not the indices: the mixture's nets as before."""
    law = me.Law([stats.norm()] * 2, names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)
    res = me.perturbed_law_indices(lambda x: 3 + x[:, 0] + 0.2 * x[:, 1], law, pert,
                                   budget=8000, rng=0, **kwargs)
    assert res.diagnostics["route"] in (LAW_ROUTE, ADAPTIVE_ROUTE)
    assert "common nets" not in res.diagnostics["route_reason"]


def _oscillating(x):
    return np.sin(40 * x[:, 0]) + 2


def test_common_nets_not_taken_where_the_mixture_leads():
    """Where the laws' points do not move together (``sin(40 x)`` under shifts of half a
    standard deviation) the probe's common nets do not promise enough: the study goes on
    as for one mixture with the budget left and a seed of its own, saying why, its runs
    and the probe's within the budget."""
    law = me.Law([stats.norm()] * 2, names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)
    res = me.perturbed_law_indices(_oscillating, law, pert, budget=4000, rng=2)
    diag = res.diagnostics
    assert diag["route"] == LAW_ROUTE
    assert "common nets predicted" in diag["route_reason"]
    assert "not taken" in diag["route_reason"]
    assert 0 < diag["common_nets"]["runs"] < res.n_evaluations <= 4000
    assert np.all(np.abs(res.indices) < 5 * res.stderr)  # every Q_k is 2 (to 1e-300)


@pytest.mark.parametrize(("model", "limit"), [(None, 1), (None, 6),
                                              ("oscillating", 1), ("oscillating", 4)])
def test_common_nets_resume_bit_for_bit(model, limit):
    """A study stopped after ``limit`` model calls resumes from its store to the bit,
    running only what was not stored: on the common nets (in the probe, in the route) and
    after a probe not taken (in the probe, in the study after it)."""
    law = me.Law([stats.norm()] * 2, names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)

    def smooth_model(x):
        return 3 + x[:, 0] + 0.2 * x[:, 1] ** 2

    f = _oscillating if model == "oscillating" else smooth_model

    def study(m, laws, **kwargs):
        return me.perturbed_law_indices(m, laws, pert, vectorized=True, **kwargs)

    whole = study(f, law, budget=4000, rng=3)
    taken = whole.diagnostics["route"] == COMMON_ROUTE
    assert taken == (model is None)
    assert_resumes_bit_for_bit(f, law, whole, limit, study=study,
                               fields=("indices", "stderr"), budget=4000, rng=3)


def test_common_nets_plan_counts_every_law():
    """A net of ``n`` points costs ``n L`` runs: the plan is separate RQMC's, on
    ``budget // L``. A budget that gives no net of 4 points of every law (or too little
    for the study after the probe) does not try them: the study is the mixture's, from
    the smallest budget it takes (no run spent on a probe)."""
    plan = law_plan(10_000, 8, 5)
    assert (plan.replicates, plan.points) == (15, 128 * 5)
    assert probe_plan(10_000, 8, 5) == plan
    assert probe_plan(150, 8, 5) is None
    law = me.Law([stats.norm()] * 2, names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)
    res = me.perturbed_law_indices(lambda x: 3 + x[:, 0], law, pert, budget=60, rng=0)
    assert res.diagnostics["route"] in (LAW_ROUTE, ADAPTIVE_ROUTE)
    assert "common_nets" not in res.diagnostics and res.n_evaluations <= 60


@pytest.mark.parametrize(("orders", "budget"), [(("first", "total"), 20_000),
                                                ("first", 7000), ("total", 5 * 4096)])
@pytest.mark.parametrize("surrogate", [None, "chaos"])
def test_sobol_law_route_is_pick_freeze_rqmc_bit_for_bit(orders, budget, surrogate):
    """The law route of Sobol' ``"auto"`` is ``method="pick-freeze", sampling="rqmc"`` on
    the same nets (the pilot's two the first replicates): the same indices, standard
    errors and covariance to the last bit, so that comparing them is a tie by construction;
    with its default chaos control (``surrogate="auto"``), pick-freeze RQMC's with
    ``surrogate="chaos"``."""
    law = me.Law([stats.norm()] * 3)
    kwargs = {"budget": budget, "rng": 11, "orders": orders}
    auto = me.sobol_indices(_linear3, law, sampling="auto",
                            surrogate=None if surrogate is None else "auto", **kwargs)
    plain = me.sobol_indices(_linear3, law, method="pick-freeze", sampling="rqmc",
                             surrogate=surrogate, **kwargs)
    assert auto.diagnostics["route"] == LAW_ROUTE
    for field in ("first_order", "total_order", "first_order_stderr", "total_order_stderr",
                  "covariance"):
        assert np.array_equal(getattr(auto, field), getattr(plain, field), equal_nan=True)
    assert (auto.mean, auto.variance, auto.mean_stderr) == (plain.mean, plain.variance,
                                                            plain.mean_stderr)
    assert auto.n_evaluations == plain.n_evaluations
    assert auto.diagnostics["dof"] == plain.diagnostics["dof"]
    assert auto.diagnostics["quantity_estimate"] == plain.diagnostics["quantity_estimate"]


def test_resumed_sobol_auto_study_on_the_law_route_is_bit_identical():
    """The law route's estimate is read from every net's runs, stored or not: a study
    interrupted after four nets and resumed gives the uninterrupted indices (the default's
    chaos control fitted on every net's runs too)."""
    law = me.Law([stats.norm()] * 3)
    kwargs = {"budget": 20_000, "rng": 5, "sampling": "auto", "study_id": "sobol-auto"}
    whole = me.sobol_indices(_linear3, law, **kwargs)
    assert whole.diagnostics["route"] == LAW_ROUTE
    assert whole.diagnostics["surrogate"]["surrogate"] == "chaos"  # the default's, refitted
    # interrupted after the pilot's two nets and two more
    assert_resumes_bit_for_bit(_linear3, law, whole, 4, study=me.sobol_indices,
                               fields=("first_order", "total_order_stderr"), **kwargs)


def test_the_law_is_counted_ten_times_against_an_rqmc_final():
    """When the adaptive route would end on RQMC replicates, ``E_ad`` (an i.i.d. figure)
    overstates it, so the law must be predicted 10 times better: the same pilot that the
    margin 0.5 sends to the law goes to adaptation."""
    from multiexpect.engine.law_first import (
        LAW_MARGIN,
        RQMC_FINAL_LAW_MARGIN,
        choose_route,
        draw_law_pilot,
        law_plan,
    )
    from multiexpect.engine.pilot import init

    law = me.Law([stats.norm()] * 2)
    setup = EngineSetup.build(
        [law], lambda x, key: np.exp(0.5 * x[:, :1] + 0.3 * x[:, 1:]), budget=10_000, seed=0)
    plan = law_plan(10_000, 8)
    state = init(setup, draw_law_pilot(setup, plan))
    iid, rqmc = choose_route(state, plan), choose_route(state, plan, rqmc_final=True)
    assert LAW_MARGIN * iid.law_error <= iid.adaptive_error < RQMC_FINAL_LAW_MARGIN * iid.law_error
    assert iid.law and not rqmc.law and "x10" in rqmc.reason
    # the default study: no event, so the margin 10 and the adaptive route
    res = me.expectations(lambda x: np.exp(0.5 * x[:, 0] + 0.3 * x[:, 1]), law,
                          budget=10_000, rng=0)
    assert res.diagnostics["route"] == "adaptive" and "x10" in res.diagnostics["route_reason"]


def _exp_linear(x):
    return np.exp(0.5 * x[:, 0] + 0.3 * x[:, 1])


def test_pilot_grows_and_the_law_route_stays_plain_rqmc_bit_for_bit():
    """Adaptation does not lead by 3 on the two nets: the pilot grows to the law route's
    next two nets, which then decide; taking the law costs nothing (the same nets)."""
    law, kwargs = me.Law([stats.norm()] * 2), {"budget": 4000, "rng": 7}
    auto = me.expectations(_exp_linear, law, **kwargs)
    plain = me.expectations(_exp_linear, law, method="mc", sampling="rqmc", **kwargs)
    diag = auto.diagnostics
    assert (diag["route"], diag["pilot_replicates"]) == (LAW_ROUTE, GROWN_PILOT_REPLICATES)
    assert "the pilot grown to 4 nets; on 2:" in diag["route_reason"]
    assert auto.estimate.tobytes() == plain.estimate.tobytes()
    assert auto.stderr.tobytes() == plain.stderr.tobytes()
    assert auto.n_evaluations == plain.n_evaluations + diag["edge_probe"]["runs"]


def test_pilot_grows_then_adapts_within_the_budget_with_the_cap_raised():
    """The grown nets are the law route's runs, not the adaptation's: with a cap of 1200
    runs, four nets of 256 points leave no batch of 400 unless the cap is raised by the two
    extra nets (to 1712), and then one batch runs before the 8 final replicates."""
    law = me.Law([stats.norm()] * 2)
    counted = Interrupting(_exp_linear)
    res = me.expectations(counted, law, budget=4000, rng=0, adaptation_cap=1200)
    diag = res.diagnostics
    assert replicate_plan(4000, 8)[1] == 256
    assert (diag["route"], diag["pilot_replicates"]) == ("adaptive", GROWN_PILOT_REPLICATES)
    assert counted.calls == GROWN_PILOT_REPLICATES + 1 + 8  # the nets, one batch, the final
    assert counted.runs == res.n_evaluations <= 4000
    assert np.all(np.isfinite(res.stderr)) and np.all(res.stderr > 0)


def test_no_growth_where_adaptation_leads_or_the_final_is_iid():
    from multiexpect.engine.law_first import PILOT_GROWTH_LOW, Route, grows

    plan = law_plan(10_000, 8)
    values = np.zeros((2, 1))
    lead = Route(False, "", 1.0, 0.99 * PILOT_GROWTH_LOW, 1.0, values)
    close = Route(False, "", 1.0, PILOT_GROWTH_LOW, 1.0, values)
    guarded = Route(False, "", 1.0, np.nan, 1.0, values)
    marginal = Route(False, "", 1.0, np.nan, 1.0, values, marginal_tail=True)
    assert not grows(lead, plan, True) and grows(close, plan, True)
    assert not grows(close, plan, False) and not grows(guarded, plan, True)
    assert grows(marginal, plan, False) and grows(marginal, plan, True)


def test_marginal_tail_with_little_to_gain_grows_and_takes_the_law_route_bit_for_bit():
    """The borehole's pilot on two nets reads its tail statistic at 0.31, just over the
    guard, while adaptation promises less than i.i.d. points of the law: read again on four
    nets, the guard lets it through and the law route is pick-freeze RQMC bit for bit."""
    kwargs = {"budget": 18_000, "rng": 1183, "orders": ("first",)}
    auto = me.sobol_indices(tf.borehole, tf.borehole_law(), **kwargs)
    plain = me.sobol_indices(tf.borehole, tf.borehole_law(), method="pick-freeze",
                             sampling="rqmc", surrogate="chaos", **kwargs)
    diag = auto.diagnostics
    assert (diag["route"], diag["pilot_replicates"]) == (LAW_ROUTE, GROWN_PILOT_REPLICATES)
    assert "on 2: a heavy tail" in diag["route_reason"]
    assert auto.first_order.tobytes() == plain.first_order.tobytes()
    assert auto.first_order_stderr.tobytes() == plain.first_order_stderr.tobytes()


def test_marginal_tail_with_much_to_gain_adapts_without_growing():
    """The moments x^2 .. x^8 of a normal input (seed 1) read a tail statistic just over
    the guard, but adaptation promises far more than i.i.d. points of the law: the guard's
    adaptive route at once, as before, no growth."""
    from multiexpect.engine.adapt import propose
    from multiexpect.engine.law_first import (
        ADAPTIVE_GAIN,
        MARGINAL_TAIL,
        TAIL_GUARD,
        choose_route,
        draw_law_pilot,
        grows,
    )
    from multiexpect.engine.pilot import init

    setup = EngineSetup.build([me.Law([stats.norm()])], lambda x, key: _moments(x),
                              budget=20_000, seed=1)
    plan = law_plan(20_000, 8)
    state = init(setup, draw_law_pilot(setup, plan))
    route = choose_route(state, plan, rqmc_final=True)
    tail = variance_uncertainty(state.pilot_summands, state.weights)
    assert TAIL_GUARD < tail <= MARGINAL_TAIL * TAIL_GUARD
    assert not route.law and not route.marginal_tail and "heavy tail" in route.reason
    adaptive_error = propose(state).criterion / (20_000 - state.runs_used)
    assert route.iid_error > ADAPTIVE_GAIN * adaptive_error
    assert not grows(route, plan, True)


@pytest.mark.parametrize("limit", [3, 6])  # in the grown nets; in the adaptive batches
def test_resumed_study_with_a_grown_pilot_is_bit_identical(limit):
    law = me.Law([stats.norm()] * 2)
    kwargs = {"budget": 4000, "rng": 0, "study_id": "grown"}
    whole = me.expectations(_exp_linear, law, **kwargs)
    assert whole.diagnostics["pilot_replicates"] == GROWN_PILOT_REPLICATES
    assert_resumes_bit_for_bit(_exp_linear, law, whole, limit, **kwargs)


def test_sobol_adaptive_route_does_not_keep_its_batches(monkeypatch):
    """The Sobol' wrapper keeps each batch's points and outputs for the law route only: the
    first adaptive stage drops what it kept and ends the record, so an adaptive study does
    not hold its runs to the end; a law-route study keeps exactly its ``R`` nets."""
    from multiexpect.sensitivity import sobol as sobol_module

    made = []

    class Kept(sobol_module._PickFreezeModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(sobol_module, "_PickFreezeModel", Kept)
    law = me.Law([stats.norm()] * 3)
    heavy = me.sobol_indices(lambda x: np.exp(2.5 * x[:, 0]) + x[:, 1], law,
                             budget=5 * 4096, rng=2)
    assert heavy.diagnostics["route"] == "adaptive"
    assert made[-1].nets == [] and not made[-1].record
    smooth_study = me.sobol_indices(_linear3, law, budget=5 * 4096, rng=2)
    assert smooth_study.diagnostics["route"] == LAW_ROUTE
    assert len(made[-1].nets) == smooth_study.diagnostics["replicates"]


def test_sobol_input_with_no_effect_is_no_event():
    """An input with no effect makes its pick-freeze quantities exactly 0 at every point.
    They are no event with no hit: the pilot is not extended for them, the study takes
    the law route, and the other indices are within 4 s.e."""
    law = me.Law([stats.norm()] * 3)
    v = np.array([1 - 2 / np.pi, 1.0, 0.0])
    truth = v / v.sum()
    for seed in range(5):
        res = me.sobol_indices(lambda x: np.abs(x[:, 0]) + x[:, 1], law, budget=5 * 4096,
                               rng=seed)
        assert res.diagnostics["route"] == LAW_ROUTE, res.diagnostics["route_reason"]
        for order in ("first", "total"):
            est, se = res.indices(order)
            assert est[2] == 0.0
            assert np.all(np.abs(est[:2] - truth[:2]) <= 4.0 * se[:2]), (seed, order)


def test_sobol_input_with_no_effect_gets_a_bound_not_a_zero_width_interval():
    """An inert input's indices are exactly 0, but no sample proves it has no effect: the
    95% interval reaches the rule of three's bound on the output's range, the summary says
    so, and the other indices are untouched."""
    law = me.Law([stats.norm()] * 3)
    model = lambda x: np.abs(x[:, 0]) + x[:, 1]  # noqa: E731
    res = me.sobol_indices(model, law, budget=5 * 4096, rng=1)
    assert res.diagnostics["inert_inputs"] == [law.names[2]]
    for low, high in res.confidence_interval(0.95).values():
        assert low[2] < 0.0 < high[2] < 0.05
    assert "no run moved the output" in res.summary()
    plain = me.sobol_indices(lambda x: np.abs(x[:, 0]) + x[:, 1] + 0.1 * x[:, 2], law,
                             budget=5 * 4096, rng=1)
    assert "inert_inputs" not in plain.diagnostics


def test_common_nets_exact_to_rounding_keep_an_interval():
    """``exp(a . x)`` under mean shifts of normal inputs: on common nets every net gives
    the same ``Q_k / Q_0`` (the shift is a constant factor), so the spread is rounding.
    The common nets are taken, and
    each index keeps an interval of the arithmetic's resolution that holds the exact index
    (a zero-width one missed it by an ulp), with ``summary()`` saying so."""
    a = np.array([0.5, 0.15, -0.2])
    law = me.Law([stats.norm()] * 3, names=["a", "b", "c"])
    pert = me.mean_shift_perturbations(law, delta=0.5)
    exact = np.array([np.exp(a[i // 2] * (0.5 if i % 2 == 0 else -0.5)) - 1 for i in range(6)])
    for seed in range(3):
        res = me.perturbed_law_indices(lambda x: np.exp(x @ a), law, pert, budget=2000,
                                       rng=seed)
        assert res.diagnostics["route"] == COMMON_ROUTE
        assert np.all(res.stderr >= 1e-12 * np.abs(1 + res.indices))
        low, high = res.confidence_interval()
        assert np.all((low <= exact) & (exact <= high))
        assert "the index took the same value on every net" in res.summary()


@pytest.mark.parametrize(("seed", "taken"), [(4, True), (34, False)])
def test_a_grown_probe(seed, taken):
    """Where the common nets pass the rule by less than ``GROWN_BAND`` on two nets, the
    probe grows to ``GROWN_NETS`` nets and decides again. Taken, the study is still
    separate RQMC to the bit (the grown nets are its next ones); not taken, the probe's
    four nets' runs are counted and the study goes on without them."""
    law, pert, _ = exp_and_sine_shifts()
    res = me.perturbed_law_indices(exp_and_sine, law, pert, budget=1200, rng=seed)
    assert f"the probe grown to {GROWN_NETS} nets" in res.diagnostics["route_reason"]
    assert (res.diagnostics["route"] == COMMON_ROUTE) == taken
    if taken:
        separate = me.perturbed_law_indices(exp_and_sine, law, pert, budget=1200, rng=seed,
                                            method="mc", sampling="rqmc")
        assert np.array_equal(res.indices, separate.indices)
        assert np.array_equal(res.stderr, separate.stderr)
    else:
        net = law_plan(1200, 8, len(pert) + 1).points
        assert res.diagnostics["common_nets"]["runs"] == GROWN_NETS * net
        assert res.n_evaluations <= 1200


def test_several_laws_whose_supports_differ_take_nets_of_each_law_where_they_pay():
    """Three shifted uniforms ``U(s, s + 1)^2`` of ``x_1^2 + x_2^2``: the mixture's summands
    ``phi f_l / f̄`` jump where a support ends, and its nets lost 205x to separate RQMC (60
    seeds); two nets of each law predict far less, and the law route runs the plan's other
    nets of each law (the pilot's runs not in the estimate). A step model of mean-shifted
    uniforms keeps the mixture's nets, which share each law's points with the others, after
    the probe's runs; laws of one support are not probed."""
    laws = [me.Law([stats.uniform(s, 1)] * 2) for s in (0.0, 0.5, 1.0)]
    truth = np.array([2 * ((s + 1) ** 3 - s**3) / 3 for s in (0.0, 0.5, 1.0)])
    res = me.expectations(lambda x: (x**2).sum(axis=1), laws, budget=3000, rng=0)
    diag = res.diagnostics
    assert diag["route"] == "common-nets" and "supports differ: their own" in diag["route_reason"]
    assert res.n_evaluations <= 3000
    assert np.all(np.abs(res.estimate - truth) <= 4 * res.stderr)
    assert np.all(res.stderr < 2e-3)  # the mixture's nets: an RMSE near 7e-3 a law
    law = me.Law([stats.uniform(0, 1)] * 3)
    shifted = [law, *me.mean_shift_perturbations(law, 0.5).values()]
    step = me.expectations(lambda x: (x[:, 0] + x[:, 1] > 1.0).astype(float) + x[:, 2],
                           shifted, budget=10_000, rng=0)
    assert step.diagnostics["route"] == LAW_ROUTE and step.n_evaluations <= 10_000
    assert "supports differ, but their own nets" in step.diagnostics["route_reason"]
    same = [me.Law([stats.norm(m, 1.0)] * 2) for m in (0.0, 0.5)]
    kept = me.expectations(lambda x: (x**2).sum(axis=1), same, budget=3000, rng=0)
    assert kept.diagnostics["route"] == LAW_ROUTE
    assert "supports differ" not in kept.diagnostics["route_reason"]

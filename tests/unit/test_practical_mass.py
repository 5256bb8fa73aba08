"""Points where the law has no practical mass (engine/practical.py): the box, the components'
mass outside it, and the rule end to end (the borehole's negative well radius)."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.engine.practical import STRAY_MASS, PracticalBox, practical_support
from multiexpect.problem import Problem
from multiexpect.proposals import Gaussian, Mixture
from multiexpect.proposals.student import StudentT
from multiexpect.testproblems.sensitivity import problem
from tests.helpers import flood_moments_and_event


def test_box_edges_are_the_marginal_quantiles_of_every_law():
    laws = [me.Law([stats.norm(0, 1), stats.uniform(0, 2)]),
            me.Law([stats.norm(1, 2), stats.uniform(0, 2)])]
    box = PracticalBox.build(laws, 1e-9, "standard")
    assert box.inputs[0, 0] == pytest.approx(stats.norm(1, 2).ppf(1e-9))  # the union
    assert box.inputs[0, 1] == pytest.approx(stats.norm(1, 2).isf(1e-9))
    assert box.inputs[1, 0] == pytest.approx(2e-9)
    # in the first law's scores the first input's upper edge is the second law's, mapped
    assert box.scores[0, 1] == pytest.approx(1 + 2 * stats.norm.isf(1e-9))
    assert PracticalBox.build(laws, 0.0, "standard") is None


def test_tail_mass_is_the_union_of_the_marginal_tails():
    law = me.Law([stats.norm()] * 3)
    box = PracticalBox.build([law], 1e-9, "standard")
    edge = stats.norm.isf(1e-9)
    g = Gaussian(np.zeros(3), np.diag([1.0, 4.0, 1.0]))
    assert box.tail_mass(g) == pytest.approx(4e-9 + 2 * stats.norm.sf(edge / 2), rel=1e-9)
    t = StudentT(np.array([1.0, 0, 0]), np.eye(3), dof=5)
    expected = stats.t(5).sf(edge - 1) + stats.t(5).cdf(-edge - 1) + 4 * stats.t(5).sf(edge)
    assert box.tail_mass(t) == pytest.approx(expected, rel=1e-9)
    # with a copula the scores' marginals of a component are those of L u
    corr = np.array([[1.0, 0.8, 0], [0.8, 1.0, 0], [0, 0, 1.0]])
    box_c = PracticalBox.build([me.Law([stats.norm()] * 3, correlation=corr)], 1e-9, "standard")
    assert box_c.tail_mass(Gaussian(np.zeros(3), np.eye(3))) == pytest.approx(6e-9, rel=1e-6)


def test_stray_points_are_dropped_only_when_every_fit_stays_inside():
    law = me.Law([stats.norm()] * 2)
    box = PracticalBox.build([law], 1e-9, "standard")
    x = np.array([[0.0, 0.0], [-7.0, 0.0], [1.0, 1.0]])
    support = np.ones(3, bool)
    narrow = Mixture([Gaussian(np.zeros(2), np.eye(2)), law], [0.9, 0.1])
    assert practical_support(box, narrow, x, support).tolist() == [True, False, True]
    wide = Mixture([Gaussian(np.zeros(2), 9 * np.eye(2)), law], [0.9, 0.1])
    assert box.tail_mass(wide.components[0]) > STRAY_MASS
    assert practical_support(box, wide, x, support).all()
    assert practical_support(box, None, x, support).all()  # the law's own draws


def test_borehole_negative_radius_is_not_run():
    """The published borehole law gives ``r_w < 0`` (the flow is NaN there) mass 3e-10; an
    adaptive proposal of this seed draws two such points: they are not run."""
    prob = problem("borehole")
    budget = 2**14 * (prob.dim + 2)
    res = me.sobol_indices(prob.model, prob.law, budget=budget, rng=6018, sampling="mc")
    assert res.diagnostics["points_not_run"] == 2
    assert np.all(np.isfinite(res.first_order))
    with pytest.raises(me.ModelEvaluationError, match="non-finite"):
        me.sobol_indices(prob.model, prob.law, budget=budget, rng=6018, practical_mass=0,
                         sampling="mc")


def test_heavy_integrand_beyond_the_box_is_run_in_full():
    """``x^20`` under N(0, 1) has 2% of its mass beyond 6 sd: its fitted component reaches
    there, so nothing is dropped."""
    law = me.Law([stats.norm()])
    res = me.expectations(lambda x: x ** np.arange(2, 22, 2), law, budget=20_000, rng=3)
    assert res.diagnostics["points_not_run"] == 0


def test_practical_mass_is_checked_before_any_run():
    calls = []
    law = me.Law([stats.norm()])
    with pytest.raises(ValueError, match="'practical_mass'"):
        me.expectations(lambda x: calls.append(1) or x[:, 0], law, budget=1000,
                        practical_mass=0.5)
    assert not calls


def test_summary_says_when_points_were_not_run():
    law = me.Law([stats.norm()])
    res = me.expectations(lambda x: x[:, 0] ** 2, law, budget=2000, rng=1)
    assert res.diagnostics["points_not_run"] == 0
    assert "not run" not in res.summary()
    marked = me.ExpectationResult.from_dict(
        res.to_dict() | {"diagnostics": res.diagnostics | {"points_not_run": 3}})
    assert "3 drawn points were not run" in marked.summary()


def test_points_on_a_support_bound_have_no_mass():
    """A point exactly on a finite bound of a marginal's support (probability 0) has no mass
    for that law; a point on one law's bound inside another's support keeps that law's."""
    law = me.Law([stats.truncnorm(-4, np.inf, loc=30, scale=7.5), stats.uniform(49, 2)])
    assert law.marginals[0].ppf(1e-20) == 0.0  # scipy rounds the quantile onto the bound
    x = np.array([[0.0, 50.0], [1e-12, 50.0], [30.0, 49.0], [30.0, 51.0], [30.0, 50.0]])
    assert law.on_support_bounds(x).tolist() == [True, False, True, True, False]
    assert not me.Law([stats.norm()]).on_support_bounds(np.array([[0.0], [1e300]])).any()
    # gamma(0.01)'s quantile is 0.0 on a mass of about 6e-4, no rounding: its bound is run
    tiny = me.Law([stats.gamma(0.01)])
    assert tiny.marginals[0].ppf(1e-4) == 0.0
    assert not tiny.on_support_bounds(np.array([[0.0]])).any()
    wide = me.Law([stats.norm(30, 7.5), stats.uniform(48, 4)])
    prob = Problem.build([law, wide], 2, space="input")
    logs = prob.law_logpdfs(x)
    assert prob.has_mass(x, logs).all()  # each point is inside the second law's support
    # gamma(0.01) and gamma(2) share a support, not its rounded bound: each law its own
    pair = Problem.build([me.Law([stats.gamma(2)]), me.Law([stats.gamma(0.01)])], 2,
                         space="input")
    zero = np.array([[0.0]])
    assert pair.has_mass(zero, np.zeros((1, 2)))  # gamma(0.01) holds 0.0 (mass 6e-4)
    assert not Problem.build([me.Law([stats.gamma(2)])], 1, space="input").has_mass(
        zero, np.zeros((1, 1)))
    alone = Problem.build([law], 1, space="input")
    assert alone.has_mass(x, alone.law_logpdfs(x)).tolist() == [False, True, False, False,
                                                                  True]


def test_points_rounded_onto_a_support_bound_are_not_run():
    """An adaptive proposal chasing the flood's event reaches normal scores whose quantile
    rounds onto ``Ks = 0`` (``truncnorm.ppf`` is exactly 0 below ``u`` about 1e-19), where
    ``H`` is infinite: those points are not run (the model's error on 22 of 60 seeds
    before), and the estimates agree with crude RQMC of the law."""
    law = problem("flood").law
    res = me.expectations(flood_moments_and_event, law, budget=10_000, rng=0)
    assert res.diagnostics["points_not_run"] >= 1
    ref = me.expectations(flood_moments_and_event, law, budget=2**20, method="mc",
                          sampling="rqmc", replicates=16, rng=1)
    t4 = stats.t.ppf(stats.norm.cdf(4.0), 15)  # Student's t on the reference's 15 dof
    assert np.all(np.abs(res.estimate - ref.estimate)
                  <= t4 * np.sqrt(res.stderr**2 + ref.stderr**2))


def test_a_bound_the_quantile_reaches_on_real_mass_is_run_and_fails_loudly():
    """``log x`` under gamma(0.01): the quantile is exactly 0 below ``u`` about 6e-4, where
    ``log x`` is undefined. Those points are run, and the model's error says so, as plain
    RQMC of the law does; dropping them gave -99.88 +- 0.08 against -100.56 (a fuzz)."""
    law = me.Law([stats.gamma(0.01)])
    for sampling in ("auto", "rqmc"):
        with pytest.raises(me.ModelEvaluationError, match="non-finite"):
            me.expectations(lambda x: np.log(x[:, 0]), law, budget=5000, rng=0,
                            sampling=sampling, **({"method": "mc"} if sampling == "rqmc"
                                                  else {}))


def test_a_point_rounded_onto_the_reference_laws_bound_has_no_nan_density():
    """In the first law's standard space a score of 8.75 maps onto its bound ``x = 1.2``
    (``uniform(0.8, 0.4)``), where no law's density ratio is defined: the other laws'
    densities there are -inf, not NaN (which reached every mixture density and made a
    study's estimates NaN: seed 5 below, a screen of laws nested in the first)."""
    narrow, wide = (me.Law([stats.uniform(0.9, 0.2)] * 3),
                    me.Law([stats.uniform(0.8, 0.4)] * 3))
    prob = Problem.build([wide, narrow], 1)
    assert prob.space == "standard"
    z = np.array([[1.5, -1.7, 8.75], [0.1, 0.2, 0.3]])
    assert prob.to_inputs(z)[0, 2] == wide.marginals[2].support()[1]
    logs = prob.law_logpdfs(z)
    assert np.isneginf(logs[0, 1]) and np.all(np.isfinite(logs[1]))
    assert logs[0, 0] == pytest.approx(stats.norm.logpdf(z[0]).sum(), rel=1e-12)
    res = me.expectations(lambda x: (x.sum(axis=1) > 3.45).astype(float), [wide, narrow],
                          budget=6000, rng=5)
    assert np.all(np.isfinite(res.estimate)) and res.estimate[1] == 0.0
    u = (3.45 - 2.4) / 0.4  # P(sum of three U(0.8, 1.2) > 3.45): Irwin-Hall's upper
    p = (3 - u) ** 3 / 6  # corner, the sum of three U(0, 1) beyond u > 2
    assert abs(res.estimate[0] - p) <= 4 * res.stderr[0]

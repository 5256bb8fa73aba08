"""The law route's edge probe (engine/edge_probe.py): the exponent, the rule, the route."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.engine.edge_probe import (
    EDGE_LEVELS,
    SINGULAR_EXPONENT,
    edge_exponents,
    probe_uniforms,
    singular_quantities,
)
from multiexpect.engine.law_first import LAW_ROUTE
from multiexpect.engine.law_split import SPLIT_ROUTE
from multiexpect.testproblems.sensitivity import problem
from tests.helpers import flood_moments_and_event

N = 1024
LEVELS = np.asarray(EDGE_LEVELS) / N


def _values(*columns):
    """Values ((1, 3, J)) of one edge at the probe's three levels."""
    return np.column_stack([f(LEVELS) for f in columns])[None]


@pytest.mark.parametrize("a", [0.1, 0.25, 0.3, 0.45])
def test_the_exponent_of_a_power_is_exact(a):
    values = _values(lambda u: 2.0 + 3.0 * u**-a)
    assert edge_exponents(values)[0, 0] == pytest.approx(a, abs=1e-9)


def test_bounded_and_slowly_growing_edges_read_below_the_threshold():
    values = _values(lambda u: 1.0 + u, np.log, lambda u: np.exp(0.5 * stats.norm.isf(u)))
    a = edge_exponents(values)[0]
    assert a[0] == pytest.approx(-1.0, abs=1e-9)  # a linear edge
    assert abs(a[1]) < 1e-9  # log u: equal steps
    assert 0 < a[2] < SINGULAR_EXPONENT  # a lognormal's exp(σ z): slower than any power


def test_singular_needs_steepness_a_move_and_a_value_beyond_the_pilots():
    values = _values(lambda u: u**-0.3, lambda u: u**-0.3, lambda u: 1.0 + u,
                     lambda u: u**-0.3)
    move = abs(values[0, 2, 0] - values[0, 0, 0]) / N
    spread = np.array([move / 2, move * 2, 0.0, move / 2])
    seen = np.array([[0.0] * 4, [10.0, 10.0, 2.0, 100.0]])  # the last saw beyond the probe
    assert singular_quantities(values, spread, N, seen).tolist() == [True, False, False,
                                                                     False]
    values[0, 2, 2] = np.inf  # a probe the model could not evaluate: not to be trusted
    assert singular_quantities(values, spread, N, seen).tolist() == [True, False, True,
                                                                     False]


def test_a_bounded_oscillation_is_not_singular():
    """``cos(1.8 z)`` at the three levels of the lower edge of a normal input reads a steep
    exponent by chance (0.64; ``cos(2 z)`` read 0.76 in a fuzz), but never leaves the
    range the pilot saw."""
    values = _values(lambda u: np.cos(1.8 * stats.norm.ppf(u)))
    assert edge_exponents(values)[0, 0] > SINGULAR_EXPONENT
    seen = np.array([[-1.0], [1.0]])
    assert not singular_quantities(values, np.zeros(1), N, seen)[0]


def test_probe_points_sit_at_both_edges_of_each_coordinate():
    base = np.array([0.3, 0.6])
    points = probe_uniforms(base, N)
    assert points.shape == (4, 3, 2)
    assert np.array_equal(points[0, :, 0], LEVELS) and np.all(points[0, :, 1] == 0.6)
    assert np.array_equal(points[3, :, 1], 1.0 - LEVELS) and np.all(points[3, :, 0] == 0.3)


def _singular(x):
    return np.column_stack([x[:, 0] ** -0.3, x[:, 1] ** 2])


def test_a_singular_edge_sends_the_law_route_to_adaptation():
    """``u^-0.3`` at the edge of a uniform: the nets agree when they miss the corner, so the
    pilot picks the law route; the probe finds the edge and adaptation is taken."""
    law = me.Law([stats.uniform(0, 1)] * 2)
    routes, turned = [], 0
    for seed in range(6):
        res = me.expectations(_singular, law, budget=4000, rng=seed)
        diag = res.diagnostics
        routes.append(diag["route"])
        if "edge_probe" in diag:  # the pilot chose the law: the probe turned it
            assert diag["edge_probe"]["singular"] == [0]
            assert diag["edge_probe"]["exponent"][0] == pytest.approx(0.3, abs=1e-6)
            assert diag["route"] == "adaptive" and "edge probe" in diag["route_reason"]
            assert res.n_evaluations <= 4000
            turned += 1
    assert LAW_ROUTE not in routes and turned >= 1  # seeds 2 and 4 chose the law


def test_a_probe_that_does_not_fit_is_skipped_and_says_so():
    # 50 inputs: 300 probe runs, more than 1% of a budget of 10 000
    law = me.Law([stats.norm()] * 50)
    res = me.expectations(lambda x: x[:, :3].sum(axis=1), law, budget=10_000, rng=1)
    diag = res.diagnostics
    assert diag["route"] == LAW_ROUTE and "skipped" in diag["edge_probe"]
    assert res.n_evaluations == diag["replicates"] * diag["points_per_replicate"]


def test_sobol_indices_are_not_probed():
    res = me.sobol_indices(lambda x: x[:, 0] + 0.5 * x[:, 1],
                           me.Law([stats.uniform(0, 1)] * 2), budget=4000, rng=0)
    assert "edge_probe" not in res.diagnostics


def test_the_split_routes_singular_law_quantities_are_left_to_the_adaptive_final():
    """The flood's moments with a 1e-3 event: the split route keeps the moments light on
    the pilot for its nets; the probe finds ``(log H)^2`` and ``sqrt H`` singular at
    ``K_s -> 0`` (the nets covered them 0.85 and 0.90 over 300 seeds), which the adaptive
    final stage estimates; ``log H`` (a slowly growing edge) stays on the nets."""
    law = problem("flood").law
    res = me.expectations(flood_moments_and_event, law, budget=10_000, rng=2)
    diag = res.diagnostics
    assert diag["route"] == SPLIT_ROUTE and diag["law_quantities"] == [0]
    assert diag["edge_probe"]["singular"] == [1, 2] and "edge probe" in diag["route_reason"]
    assert res.n_evaluations <= 10_000
    ref = me.expectations(flood_moments_and_event, law, budget=2**20, method="mc",
                          sampling="rqmc", replicates=16, rng=1)
    t4 = stats.t.ppf(stats.norm.cdf(4.0), diag["dof"])  # the nets' dof, the widest
    assert np.all(np.abs(res.estimate - ref.estimate)
                  <= t4 * np.sqrt(res.stderr**2 + ref.stderr**2))


def test_a_budget_the_nets_fill_drops_a_net_for_the_probe():
    """A power-of-2 budget leaves no run beside the plan's nets: the last net makes room
    (the probe was skipped, and a fuzz found a singular ``x^-0.45`` of a truncated normal
    covering 0.74 at budget 8192 against 0.93 at 8000)."""
    law = me.Law([stats.norm()] * 2)
    res = me.expectations(lambda x: np.sin(x).sum(axis=1) + x[:, 0] ** 2, law, budget=4096,
                          rng=5)
    diag = res.diagnostics
    assert diag["route"] == LAW_ROUTE and diag["edge_probe"]["net_dropped"]
    assert (diag["replicates"], diag["points_per_replicate"]) == (7, 512)
    assert res.n_evaluations == 7 * 512 + 12
    trunc = me.Law([stats.truncnorm(0, 3), stats.norm()])
    adapted = me.expectations(lambda x: x[:, 0] ** -0.45 + x[:, 1] ** 2, trunc, budget=8192,
                              rng=1)
    probe = adapted.diagnostics["edge_probe"]
    assert probe["net_dropped"] and probe["singular"] == [0]
    assert adapted.diagnostics["route"] == "adaptive" and adapted.n_evaluations <= 8192


def test_several_laws_are_probed_through_every_law():
    """Three laws ``U(0, s) x U(0, 1)`` of ``x_1^-0.45 + x_2``: the mixture's nets missed the
    corner on 130 of 200 seeds and covered 0.78 unprobed; the probe's points go through every
    law (``6 d L`` runs) and find the edge on each; a smooth model keeps the law route."""
    laws = [me.Law([stats.uniform(0, s), stats.uniform(0, 1)]) for s in (1.0, 1.2, 1.5)]
    probed = 0
    for seed in range(3):
        res = me.expectations(lambda x: x[:, 0] ** -0.45 + x[:, 1], laws, budget=6000,
                              rng=seed)
        assert res.diagnostics["route"] == "adaptive" and res.n_evaluations <= 6000
        if "edge_probe" in res.diagnostics:  # the pilot chose the law: the probe turned it
            probe = res.diagnostics["edge_probe"]
            assert probe["runs"] == 6 * 2 * 3 and probe["singular"] == [0, 1, 2]
            assert probe["exponent"] == pytest.approx([0.45] * 3, abs=1e-6)
            probed += 1
    assert probed >= 1  # seeds 0 and 2
    smooth = me.expectations(lambda x: np.sin(x[:, 0]) + x[:, 1] ** 2, laws, budget=6000,
                             rng=0)
    diag = smooth.diagnostics
    assert diag["edge_probe"]["singular"] == [] and smooth.n_evaluations <= 6000
    # the law route goes on: the laws' supports differ, so it runs each law's nets where
    # two of them beat the mixture's (engine/common_nets.py, separate_result)
    assert diag["route"] in (LAW_ROUTE, "common-nets")

"""The public sensitivity problems: laws, models and exact indices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import multiexpect as me
from multiexpect.testproblems import sensitivity as sp


def test_truncated_gumbel_is_a_distribution():
    q_law = sp.problem("flood").law.marginals[0]
    assert q_law.support() == (0.0, np.inf)
    probs = np.array([1e-6, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-9])  # loc, scale cost precision below
    assert np.allclose(q_law.cdf(q_law.ppf(probs)), probs, rtol=1e-9, atol=0)
    assert np.allclose(q_law.sf(q_law.isf(probs)), probs, rtol=1e-9, atol=0)
    assert integrate.quad(q_law.pdf, 0, np.inf)[0] == pytest.approx(1.0, abs=1e-9)
    untruncated = stats.gumbel_r(loc=1013.0, scale=558.0)
    x = np.array([10.0, 1000.0, 5000.0])
    assert np.allclose(q_law.pdf(x), untruncated.pdf(x) / untruncated.sf(0.0))


def test_dirichlet_moments():
    """``E[Y] = 1`` and ``E[Y^2] = prod (1 + α_i^2)``: the kernels have mean 0 and mean
    square 1, which the exact indices assume."""
    prob = sp.problem("dirichlet")

    def moments(x):
        y = sp.dirichlet(x)
        return np.column_stack([y, y**2])

    res = me.expectations(moments, prob.law, budget=2**16, rng=2, method="mc",
                          sampling="rqmc", replicates=16)
    truth = np.array([1.0, np.prod(1.0 + np.asarray(sp.DIRICHLET_ALPHA) ** 2)])
    assert np.all(np.abs(res.estimate - truth) <= 5 * res.stderr), (res.estimate, res.stderr)


@pytest.mark.parametrize("name", sp.PROBLEMS)
def test_models_are_vectorised_and_finite(name):
    prob = sp.problem(name)
    x = prob.law.sample(500, 3)
    y = prob.model(x)
    assert y.shape == (500,) and np.all(np.isfinite(y))
    assert np.allclose(prob.model(x[:7]), y[:7])
    if prob.exact:
        assert prob.first.shape == prob.total.shape == (prob.dim,)
        assert np.all(prob.first <= prob.total + 1e-12)


@pytest.mark.parametrize("name", [p.name for p in sp.problems() if p.exact])
def test_exact_indices_match_pick_freeze_rqmc(name):
    prob = sp.problem(name)
    res = me.sobol_indices(prob.model, prob.law, budget=2**13 * (prob.dim + 2), rng=5,
                           method="pick-freeze", sampling="rqmc")
    for order, exact in (("first", prob.first), ("total", prob.total)):
        est, se = res.indices(order)
        assert np.all(np.abs(est - exact) <= 6 * se + 1e-9), (order, est - exact, se)


def test_unknown_problem():
    with pytest.raises(ValueError, match="'name' must be one of"):
        sp.problem("nope")

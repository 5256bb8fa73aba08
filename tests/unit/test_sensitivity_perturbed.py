"""Perturbed-law indices: perturbations, formulas, run accounting, validation, results."""

import json

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.sensitivity.perturbed_laws import _indices


@pytest.fixture
def law():
    return me.Law([stats.norm(1.0, 2.0), stats.lognorm(0.2, scale=3.0)], names=["a", "b"])


def test_mean_shift_perturbations_shift_means_by_delta_sd(law):
    pert = me.mean_shift_perturbations(law, delta=[0.5, 1.0])
    assert list(pert) == ["a+0.5sd", "a-0.5sd", "a+1sd", "a-1sd",
                          "b+0.5sd", "b-0.5sd", "b+1sd", "b-1sd"]
    mean, std = law.mean(), law.std()
    for label, lw in pert.items():
        i = law.names.index(label[0])
        sign = 1.0 if label[1] == "+" else -1.0
        delta = float(label[2:-2])
        expect = mean.copy()
        expect[i] += sign * delta * std[i]
        np.testing.assert_allclose(lw.mean(), expect, rtol=1e-12)
        np.testing.assert_allclose(lw.std(), std, rtol=1e-12)
        assert lw.names == law.names


def test_mean_shift_keeps_the_copula():
    law = me.Law([stats.norm(), stats.norm()], correlation=[[1, 0.3], [0.3, 1]])
    pert = me.mean_shift_perturbations(law, delta=1.0, inputs=[1])
    assert list(pert) == ["x2+1sd", "x2-1sd"]
    np.testing.assert_allclose(pert["x2+1sd"].correlation, law.correlation)


@pytest.mark.parametrize("kwargs, match", [
    ({"delta": -1.0}, "'delta' must be positive"),
    ({"inputs": ["zz"]}, "'inputs' names an unknown input 'zz'"),
    ({"inputs": [5]}, "'inputs' must hold input names or indices"),
])
def test_mean_shift_bad_input(law, kwargs, match):
    with pytest.raises(ValueError, match=match):
        me.mean_shift_perturbations(law, **kwargs)


@pytest.mark.parametrize("form", ["ratio", "signed"])
def test_index_formula_and_jacobian(form):
    q = np.array([2.0, 3.0, 1.5])
    s, jac = _indices(q, form)
    assert s[0] == pytest.approx(0.5)
    assert s[1] == pytest.approx(-0.25 if form == "ratio" else 1 - 2.0 / 1.5)
    eps = 1e-7
    for j in range(3):
        step = q.copy()
        step[j] += eps
        np.testing.assert_allclose(jac[:, j], (_indices(step, form)[0] - s) / eps,
                                   rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["aiscv", "mixture-mc", "mc"])
def test_n_evaluations_equals_counted_runs(law, method):
    calls = []

    def model(x):
        calls.append(x.shape[0])
        return x[:, 0] + x[:, 1]

    pert = me.mean_shift_perturbations(law)
    res = me.perturbed_law_indices(model, law, pert, budget=1_003, method=method, rng=1)
    assert res.n_evaluations == sum(calls) <= 1_003
    assert res.indices.shape == (4,) and res.covariance.shape == (4, 4)


def test_result_round_trip_and_summary(law):
    pert = me.mean_shift_perturbations(law)
    res = me.perturbed_law_indices(lambda x: x[:, 0] + x[:, 1], law, pert, budget=2_000,
                                   method="mixture-mc", rng=1)
    back = me.PerturbedLawResult.from_json(res.to_json())
    np.testing.assert_allclose(back.indices, res.indices)
    np.testing.assert_allclose(back.covariance, res.covariance)
    assert back.names == res.names
    assert json.loads(res.to_json())["type"] == "PerturbedLawResult"
    assert "a+1sd" in res.summary()
    # the interval is the index +- 1.96 s.e., and the indices are right: Y = a + b, so the
    # perturbed mean is Q0 +- delta sd_k and S_k = +-sd_k / Q0 (ratio form)
    low, high = res.confidence_interval()
    assert np.all(res.stderr > 0)
    np.testing.assert_allclose((high - low) / 2, stats.norm.ppf(0.975) * res.stderr)
    np.testing.assert_allclose((high + low) / 2, res.indices)
    q0 = law.mean().sum()
    truth = np.array([(1 if "+" in n else -1) * law.std()[law.names.index(n[0])] / q0
                      for n in res.names])
    assert np.all(np.abs(res.indices - truth) < 4 * res.stderr), (res.indices, truth)


@pytest.mark.parametrize("kwargs, match", [
    ({"quantity": "median"}, r"'quantity' must be 'mean' or \('exceedance', t\)"),
    ({"quantity": ("exceedance", np.inf)}, "threshold of 'quantity' must be finite"),
    ({"form": "log"}, "'form' must be one of"),
    ({"method": "is"}, "'method' must be one of"),
    ({"budget": 0}, r"'budget' must be at least 2 model runs, got 0"),
    ({"budget": 2.5}, r"'budget' must be a positive int \(model runs\), got 2.5"),
    ({"method": "mc", "budget": 9}, r"'budget' \(9\) must give at least 2 runs to each of 5 "
                                    r"laws for method 'mc', so budget >= 10"),
    ({"perturbations": []}, "'perturbations' must hold at least one"),
    ({"perturbations": 3}, "'perturbations' must be a mapping"),
    ({"weights": "equal"}, "'weights' must be 'delta'"),
    ({"method": "mc", "family": "gmm"}, "takes no options"),
])
def test_bad_input_refused_before_any_run(law, kwargs, match):
    calls = []

    def model(x):
        calls.append(x.shape[0])
        return x[:, 0]

    args = {"perturbations": me.mean_shift_perturbations(law), "budget": 1_000} | kwargs
    pert = args.pop("perturbations")
    with pytest.raises(ValueError, match=match):
        me.perturbed_law_indices(model, law, pert, **args)
    assert not calls


@pytest.mark.parametrize("seed, flag", [(3005, "few hits"), (3001, "no hit")])
def test_a_rare_exceedance_is_flagged_and_gets_no_zero_width_interval(seed, flag):
    """P(x1 + x2 + x3 > 6) = 2.7e-4 at 2000 runs (a fuzz): on seed 3005 the nominal
    probability rests on one effective hit and every index came out with a standard error
    of 0-2e-7, its interval of zero width around a value twice the truth; on 3001 no run
    hit, and the NaN indices came without a word."""
    law = me.Law([stats.norm()] * 3)
    res = me.perturbed_law_indices(lambda x: x.sum(axis=1), law,
                                   me.mean_shift_perturbations(law, 0.5), budget=2000,
                                   rng=seed, quantity=("exceedance", 6.0))
    assert res.trust == (flag,) * 6
    low, high = res.confidence_interval(0.95)
    assert np.isnan(low).all() and np.isnan(high).all()
    assert res.trust_notes() and res.trust_notes()[0] in res.summary()
    # a common exceedance is not flagged and keeps its intervals
    res = me.perturbed_law_indices(lambda x: x.sum(axis=1), law,
                                   me.mean_shift_perturbations(law, 0.5), budget=2000,
                                   rng=1, quantity=("exceedance", 2.0))
    assert res.trust == ("",) * 6 and not res.trust_notes()
    low, high = res.confidence_interval(0.95)
    assert np.all(high - low > 0)


def test_a_mean_without_spread_says_so():
    """A constant model, and an input the model ignores, on the laws' common nets: the
    standard errors are 0 to rounding, and ``summary()`` says the intervals hold the runs'
    values only (a zero-width interval is no claim of certainty)."""
    law2 = me.Law([stats.norm(), stats.lognorm(0.5)], names=["a", "b"])
    pert = me.mean_shift_perturbations(law2, delta=0.5)
    flat = me.perturbed_law_indices(lambda x: np.full(len(x), 3.0), law2, pert,
                                    budget=3000, rng=0)
    assert np.all(flat.quantities == 3.0) and np.all(flat.quantities_stderr == 0.0)
    assert np.all(flat.stderr == 1e-12)  # the indices: the arithmetic's resolution, not 0
    assert "no spread" in flat.summary() and "rule of three" in flat.summary()
    inert = me.perturbed_law_indices(lambda x: 3 + x[:, 0], law2, pert, budget=3000, rng=0)
    notes = inert.trust_notes()
    assert len(notes) == 1
    assert notes[0].startswith("b+0.5sd, b-0.5sd: the index took the same value on every net")
    assert np.all(inert.stderr[2:] >= 1e-12)  # the arithmetic's resolution, never 0
    assert np.all(inert.stderr[:2] > 1e-6)  # the input that moves the output: a real error


def test_every_trust_note_of_a_mean_is_given():
    """A nominal mean within two standard errors of 0 and an input the model ignores: both
    notes (only the first was returned before)."""
    law2 = me.Law([stats.norm(), stats.lognorm(0.5)], names=["a", "b"])
    pert = me.mean_shift_perturbations(law2, delta=0.5)
    res = me.perturbed_law_indices(lambda x: x[:, 0] + 0.1 * np.sin(x[:, 0]), law2, pert,
                                   budget=3000, rng=1)
    notes = res.trust_notes()
    assert len(notes) == 2 and notes[0].startswith("! the nominal mean")
    assert notes[1].startswith("b+0.5sd, b-0.5sd: the index took the same value")
    assert all(note in res.summary() for note in notes)

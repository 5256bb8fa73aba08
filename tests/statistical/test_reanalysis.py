"""Reanalysis of a finished study by importance reweighting: no model run, honest errors."""

import os
import re
import warnings

import numpy as np
import pytest
from scipy import integrate, stats

import multiexpect as me

#: base seed of the repetition test (``MULTIEXPECT_TEST_SEED0`` re-runs it at other seeds)
SEED0 = int(os.environ.get("MULTIEXPECT_TEST_SEED0", "100"))
LAW_A = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
LAW_B = me.Law([stats.norm(0.2, 1.1), stats.norm(0, 1)], names=["a", "b"])
LAW_FAR = me.Law([stats.norm(4.0, 0.3), stats.norm(0, 1)], names=["a", "b"])


class Counted:
    """``y1 = a + b^2``, ``y2 = exp(a / 2)``, counting its runs."""

    def __init__(self):
        self.runs = 0

    def __call__(self, x):
        self.runs += x.shape[0]
        return np.column_stack([x[:, 0] + x[:, 1] ** 2, np.exp(0.5 * x[:, 0])])


def truth(mean_a, sd_a):
    """Exact ``E[a + b^2]`` and ``E[exp(a/2)]`` for ``a ~ N(m, s^2)``, ``b ~ N(0, 1)``."""
    return np.array([mean_a + 1.0, np.exp(0.5 * mean_a + 0.125 * sd_a**2)])


@pytest.fixture(scope="module")
def study_a():
    model = Counted()
    res = me.expectations(model, LAW_A, budget=3000, rng=1, keep_sample=True)
    return res, model


def test_final_sample_is_kept_in_input_space(study_a):
    res, _ = study_a
    s = res.sample
    assert isinstance(s, me.FinalSample)
    assert s.x.shape == (s.n, 2) and s.outputs.shape == (s.n, 2) and s.log_f.shape == (s.n, 1)
    assert s.n == res.diagnostics["n_final"]
    np.testing.assert_allclose(s.outputs, Counted()(s.x))
    np.testing.assert_allclose(s.log_f[:, 0], LAW_A.logpdf(s.x))
    # E_g[f/g] = 1 exactly: the mean weight is within 4 s.e. of 1
    w = np.exp(s.log_f[:, 0] - s.log_g)
    assert abs(w.mean() - 1.0) < 4 * w.std(ddof=1) / np.sqrt(s.n)


def test_same_law_reanalysis_agrees_with_the_study(study_a):
    res, model = study_a
    runs = model.runs
    out = me.reanalyse(res)
    assert model.runs == runs and out.n_evaluations == 0 and out.method == "reanalysis"
    assert out.names == res.names
    se = np.hypot(out.stderr, res.stderr)
    assert np.all(np.abs(out.estimate - res.estimate) < 4 * se)
    assert np.all(np.abs(out.estimate - truth(0.0, 1.0)) < 4 * out.stderr)


def test_nearby_law_agrees_with_a_fresh_study(study_a):
    res, model = study_a
    runs = model.runs
    out = me.reanalyse(res, law=LAW_B)
    assert model.runs == runs
    fresh = me.expectations(Counted(), LAW_B, budget=3000, rng=2)
    se = np.hypot(out.stderr, fresh.stderr)
    assert np.all(np.abs(out.estimate - fresh.estimate) < 4 * se)
    assert np.all(np.abs(out.estimate - truth(0.2, 1.1)) < 4 * out.stderr)
    assert min(out.diagnostics["ess"]) > out.diagnostics["ess_threshold"]
    # the weight as a control variate: same answer, smaller standard errors here
    ctl = me.reanalyse(res, law=LAW_B, control=True)
    se = np.hypot(ctl.stderr, fresh.stderr)
    assert np.all(np.abs(ctl.estimate - fresh.estimate) < 4 * se)
    assert np.all(ctl.stderr < out.stderr)


def test_far_law_warns_about_the_effective_sample_size(study_a):
    res, _ = study_a
    with pytest.warns(UserWarning) as caught:
        out = me.reanalyse(res, law=LAW_FAR)
    messages = [str(w.message) for w in caught]
    assert any(re.search(r"effective sample size of the importance weights is [0-9.]+ of "
                         r"\d+ points for law 0", m) for m in messages)
    assert any("heavy tail" in m for m in messages)  # a few points carry it: both fire
    assert out.diagnostics["ess_per_law"][0] < out.diagnostics["ess_threshold"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        me.reanalyse(res, law=LAW_B)  # a nearby law does not warn


def test_a_law_with_heavier_tails_than_the_proposal_warns_and_is_flagged(study_a):
    """``a ~ N(0, 3^2)`` reweighted from a proposal fitted to ``N(0, 1)``: ``w ~ exp(c a^2)``
    has an infinite variance and ``E[exp(a / 2)]``'s summands a heavier tail still. The
    effective sample size of the weights can look fine (hundreds), the sample standard
    error does not measure the error, and the estimate is typically low by several of them.
    The summands' Pareto tail index (``pareto_k``) is above ``PARETO_K_MAX``: a warning; the
    nearby law's is well below it (``test_far_law_warns...`` checks it does not warn)."""
    from multiexpect.reanalysis import PARETO_K_MAX

    res, _ = study_a
    wide = me.Law([stats.norm(0, 3), stats.norm(0, 1)], names=["a", "b"])
    with pytest.warns(UserWarning, match=r"heavy tail \(Pareto index"):
        out = me.reanalyse(res, law=wide)
    assert max(out.diagnostics["pareto_k"]) > PARETO_K_MAX
    near = me.reanalyse(res, law=LAW_B)
    assert max(near.diagnostics["pareto_k"]) < PARETO_K_MAX
    assert min(near.diagnostics["effective_points"]) > 100


def test_new_quantity_exceedance_agrees_with_truth(study_a):
    res, _ = study_a
    t = 3.0
    out = me.reanalyse(res, phi=lambda y: y[:, 0] > t, names=["P(y1 > 3)"])
    exact = integrate.quad(lambda b: stats.norm.sf(t - b * b) * stats.norm.pdf(b),
                           -np.inf, np.inf)[0]
    assert out.names == ("P(y1 > 3)",)
    assert abs(out.estimate[0] - exact) < 4 * out.stderr[0]
    # and under the new law at once
    both = me.reanalyse(res, law=LAW_B, phi=lambda y: y[:, 0] > t)
    exact_b = integrate.quad(
        lambda b: stats.norm.sf(t - b * b, loc=0.2, scale=1.1) * stats.norm.pdf(b),
        -np.inf, np.inf)[0]
    assert abs(both.estimate[0] - exact_b) < 4 * both.stderr[0]


def test_several_laws_and_input_space():
    laws = [LAW_A, LAW_B]
    res = me.expectations(lambda x: x[:, 0] + x[:, 1] ** 2, laws, budget=3000, rng=3,
                          keep_sample=True, space="input", names=["A", "B"])
    assert res.sample.space == "input" and res.sample.log_f.shape[1] == 2
    out = me.reanalyse(res)
    assert out.names == ("A", "B")
    exact = np.array([1.0, 1.2])
    assert np.all(np.abs(out.estimate - exact) < 4 * out.stderr)
    law_c = me.Law([stats.norm(0.1, 1.05), stats.norm(0, 1)])
    new = me.reanalyse(res, law=[law_c, LAW_A])
    assert np.all(np.abs(new.estimate - [1.1, 1.0]) < 4 * new.stderr)


@pytest.mark.slow
def test_reanalysis_is_unbiased_and_covers():
    """40 independent studies for A, each reanalysed for B: z-scores of the truth."""
    exact = truth(0.2, 1.1)
    z = []
    for seed in range(40):
        res = me.expectations(Counted(), LAW_A, budget=600, rng=SEED0 + seed,
                              keep_sample=True)
        plain = me.reanalyse(res, law=LAW_B)
        ctl = me.reanalyse(res, law=LAW_B, control=True)
        z.append(np.concatenate([(plain.estimate - exact) / plain.stderr,
                                 (ctl.estimate - exact) / ctl.stderr]))
    z = np.array(z)
    coverage = np.mean(np.abs(z) < 1.96, axis=0)
    spread = z.std(axis=0, ddof=1)
    # 95% nominal: P(Binomial(40, 0.95) < 34) < 0.5%; heavy-tailed weights may undercover
    # a little, a wrong density or a biased estimator would not stay above 0.85. Intervals
    # too wide cover everything, so coverage has no useful upper bound at 40 runs; the
    # spread of the z-scores has: for honest standard errors it is about 1 (the sample sd of
    # 40 normal z-scores has sd 0.11), and an interval 1.6x too wide gives 0.6
    print("coverage (plain y1, y2, control y1, y2):", coverage, "mean z:", z.mean(axis=0),
          "sd z:", spread)
    assert np.all(coverage >= 0.85), coverage
    assert np.all(spread > 0.65), spread
    assert np.all(np.abs(z.mean(axis=0)) < 4 / np.sqrt(40) + 0.2), z.mean(axis=0)


def test_json_round_trip_keeps_the_sample(study_a):
    res, _ = study_a
    back = me.ExpectationResult.from_json(res.to_json())
    np.testing.assert_array_equal(back.sample.log_g, res.sample.log_g)
    np.testing.assert_array_equal(back.sample.x, res.sample.x)
    np.testing.assert_array_equal(me.reanalyse(back, law=LAW_B).estimate,
                                  me.reanalyse(res, law=LAW_B).estimate)
    plain = me.expectations(Counted(), LAW_A, budget=200, rng=1)
    assert plain.sample is None and "sample" not in plain.to_dict()


def test_store_replay_gives_the_sample_without_runs():
    store = me.InMemoryStore()
    first = Counted()
    # an i.i.d. study: keep_sample=True replays it (an "auto" study is another study)
    me.expectations(first, LAW_A, budget=400, rng=9, store=store, sampling="mc")
    again = Counted()
    res = me.expectations(again, LAW_A, budget=400, rng=9, store=store, keep_sample=True)
    assert first.runs == 400 and again.runs == 0
    assert res.sample is not None and res.sample.n == res.diagnostics["n_final"]


def test_bad_input_is_named(study_a):
    res, _ = study_a
    plain = me.expectations(Counted(), LAW_A, budget=200, rng=1)
    with pytest.raises(ValueError, match=r"'result' must be an ExpectationResult with a kept "
                                         r"final sample"):
        me.reanalyse(plain)
    with pytest.raises(ValueError, match=r"'keep_sample' needs method 'aiscv', got method "
                                         r"'mc'"):
        me.expectations(Counted(), LAW_A, budget=200, method="mc", keep_sample=True)
    with pytest.raises(ValueError, match=r"'law' has dimension 1 but the study's inputs have "
                                         r"dimension 2"):
        me.reanalyse(res, law=me.Law([stats.norm()]))
    with pytest.raises(ValueError, match=r"'phi' must return shape \(\d+,\) or \(\d+, k\)"):
        me.reanalyse(res, phi=lambda y: y[:5, 0])
    with pytest.raises(ValueError, match=r"'phi' returned 1 non-finite values"):
        me.reanalyse(res, phi=lambda y: np.where(np.arange(len(y)) == 0, np.nan, y[:, 0]))
    with pytest.raises(ValueError, match=r"'level' must lie in \(0, 1\)"):
        me.reanalyse(res, level=1.5)
    with pytest.raises(ValueError, match=r"'names' must have 2 entries"):
        me.reanalyse(res, names=["only one"])
    # inputs are matched by position: a law naming them in another order is refused
    swapped = me.Law([stats.norm(0, 1), stats.norm(0.2, 1.1)], names=["b", "a"])
    with pytest.raises(ValueError, match=r"'law' names its inputs \['b', 'a'\] but the "
                                         r"study's law has \['a', 'b'\]"):
        me.reanalyse(res, law=swapped)
    with pytest.raises(ValueError, match=r"'perturbations\[0\]' names its inputs"):
        me.perturbed_law_indices(Counted(), LAW_A, [swapped], budget=200, rng=1)
    unnamed = me.Law([stats.norm(0.2, 1.1), stats.norm(0, 1)])  # x1, x2: by position
    np.testing.assert_array_equal(me.reanalyse(res, law=unnamed).estimate,
                                  me.reanalyse(res, law=LAW_B).estimate)


def test_new_law_outside_the_study_support_is_refused():
    law = me.Law([stats.uniform(0, 1)])
    res = me.expectations(lambda x: x[:, 0] ** 2, law, budget=400, rng=0, keep_sample=True)
    with pytest.raises(ValueError, match=r"'law' \[0\] puts about .*% of its mass outside the "
                                         r"support of the study's law"):
        me.reanalyse(res, law=me.Law([stats.uniform(0, 1.2)]))
    inside = me.reanalyse(res, law=me.Law([stats.beta(2, 2)]))
    # E[X^2] for Beta(2, 2) = var + mean^2 = 0.05 + 0.25
    assert abs(inside.estimate[0] - 0.3) < 4 * inside.stderr[0]


def test_tiny_weights_give_a_nonzero_standard_error(study_a):
    """A law so far from the proposal that every weight is below 2^-400: the summands'
    squares would underflow to a standard error of 0 (a zero-width interval); they are
    scaled by a power of two first, and the estimate is flagged (few effective points)."""
    res, _ = study_a
    far = me.Law([stats.norm(40.0, 1.0), stats.norm(0, 1)], names=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = me.reanalyse(res, law=far)
    assert np.all(out.stderr > 0) and np.all(out.estimate < 1e-100)
    assert all(flag == "few points" for flag in out.trust)

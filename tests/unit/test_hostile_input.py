"""Hostile or careless input to the library (issue 15): each case is refused with one line
naming the argument, before any model run, or answered with a clear diagnostic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me


# ---------------------------------------------------------------------- degenerate laws
@pytest.mark.parametrize("dist, pattern", [
    (stats.uniform(0, 0), r"'marginals\[1\]' \(b\) uniform.*outside scipy's domain"),
    (stats.gumbel_r(0, -1), r"'marginals\[1\]' \(b\) gumbel_r.*outside scipy's domain"),
    (stats.norm(0, -1), r"'marginals\[1\]' \(b\) norm.*scale <= 0"),
    (stats.norm(0, 1e308), r"'marginals\[1\]' \(b\) norm.*quantiles overflow"),
    (stats.lognorm(1.0, scale=1e308), r"'marginals\[1\]' \(b\).*quantiles overflow"),
])
def test_degenerate_marginals_are_refused_at_law(dist, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        me.Law([stats.norm(), dist], names=["a", "b"])
    assert "\n" not in str(info.value)


def test_heavy_but_valid_marginals_are_accepted():
    law = me.Law([stats.t(1.0), stats.pareto(1.5), stats.cauchy(0, 1e100)])
    assert np.all(np.isfinite(law.sample(200, rng=0)))


# ---------------------------------------------------------------------- reanalysis from JSON
def _study_lognormal():
    law = me.Law([stats.lognorm(0.25)], names=["b"])
    return me.expectations(lambda x: x[:, :1], law, budget=300, rng=3, keep_sample=True)


def test_reanalysis_from_json_keeps_the_support_check():
    res = _study_lognormal()
    outside = me.Law([stats.uniform(-1, 3)], names=["b"])
    with pytest.raises(ValueError, match="outside the support"):
        me.reanalyse(res, law=outside)
    back = me.ExpectationResult.from_json(res.to_json())
    assert len(back.sample.laws) == 1
    with pytest.raises(ValueError, match="outside the support"):
        me.reanalyse(back, law=outside)
    inside = me.Law([stats.lognorm(0.26)], names=["b"])
    np.testing.assert_array_equal(me.reanalyse(back, law=inside).estimate,
                                  me.reanalyse(res, law=inside).estimate)


def test_reanalysis_refuses_a_new_law_when_the_study_laws_are_unknown():
    res = _study_lognormal()
    data = res.to_dict()
    del data["sample"]["laws"]            # a file written before the laws were kept
    back = me.ExpectationResult.from_dict(data)
    with pytest.raises(ValueError, match="study's laws are unknown"):
        me.reanalyse(back, law=me.Law([stats.lognorm(0.3)], names=["b"]))
    # the study's own laws need no support check
    assert np.isfinite(me.reanalyse(back).estimate).all()


# ---------------------------------------------------------------------- extreme magnitudes
@pytest.mark.parametrize("scale", [1e160, 1e-200, 1e-300])
def test_streaming_moments_keep_extreme_magnitudes(scale):
    from multiexpect.estimators.importance import StreamingMoments

    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 1.0, size=(1000, 2))
    plain = StreamingMoments(2, covariance=True)
    extreme = StreamingMoments(2, covariance=True)
    for chunk in np.array_split(values, 7):
        plain.update(chunk)
        extreme.update(chunk * [scale, 1.0])
    assert np.all(np.isfinite(extreme.stderr)) and np.all(extreme.stderr > 0)
    np.testing.assert_allclose(extreme.mean / [scale, 1.0], plain.mean, rtol=1e-12)
    np.testing.assert_allclose(extreme.stderr / [scale, 1.0], plain.stderr, rtol=1e-12)
    # the unscaled column is bit for bit what it was
    assert extreme.mean[1] == plain.mean[1] and extreme.stderr[1] == plain.stderr[1]
    assert extreme.scale[1] == 1.0 and 0.25 <= np.max(np.abs(values[:, 0])) * scale \
        / extreme.scale[0] < 2.0


def test_mixture_mc_interval_of_tiny_and_huge_outputs():
    law = me.Law([stats.norm(), stats.norm()])
    for scale in (1e160, 1e-200):
        res = me.expectations(lambda x, s=scale: s * (x[:, :1] + 3.0), [law, law],
                              budget=400, rng=1, method="mixture-mc")
        assert np.all(np.isfinite(res.stderr)) and np.all(res.stderr > 0)
        assert np.all(np.abs(res.estimate / scale - 3.0) < 5 * res.stderr / scale)


@pytest.mark.parametrize("method", ["aiscv", "mc", "mixture-mc", "separate-is"])
def test_every_method_keeps_tiny_and_huge_outputs_finite(method):
    """Columns beyond 2^±400 are scaled by a power of two before any estimator sees them:
    the result is the one of the ordinary-magnitude model, times the scale (on main the
    standard errors were inf/NaN at 1e160 and 0 at 1e-200 for every method but mixture-mc)."""
    law = me.Law([stats.norm(), stats.norm()])

    def run(scale):
        return me.expectations(
            lambda x: np.column_stack([scale * np.exp(x[:, 0]), scale * x[:, 1] ** 2]), law,
            budget=1000, rng=1, method=method)

    plain = run(1.0)
    for scale in (1e160, 1e-200):
        res = run(scale)
        assert np.all(np.isfinite(res.stderr)) and np.all(res.stderr > 0)
        np.testing.assert_allclose(res.estimate / scale, plain.estimate, rtol=1e-9)
        np.testing.assert_allclose(res.stderr / scale, plain.stderr, rtol=1e-9)
        assert res.diagnostics["output_exponents"] != [0, 0]
        # the criterion does not depend on the scale, though the weights in the model's
        # units leave the doubles' range (1e-200: 1e400)
        np.testing.assert_allclose(res.weighted_variance, plain.weighted_variance, rtol=1e-9)
    assert "output_exponents" not in plain.diagnostics  # ordinary outputs: untouched


@pytest.mark.parametrize("kwargs", [{}, {"method": "mc", "sampling": "rqmc"},
                                    {"method": "mixture-mc", "sampling": "rqmc"}])
def test_rqmc_intervals_of_tiny_and_huge_outputs_are_in_the_model_units(kwargs):
    """The replicates' subset-means interval reads ``diagnostics["replicate_values"]``:
    they are scaled back with the estimate (before, at 1e-300 the interval of an estimate
    of 2e-300 was [0.669, 0.670], the scaled units)."""
    law = me.Law([stats.uniform(), stats.uniform()])

    def run(scale):
        res = me.expectations(lambda x: scale * (1.0 + x.sum(axis=1)), law, budget=256,
                              rng=1, **kwargs)
        return res.estimate / scale, np.array(res.confidence_interval()) / scale

    estimate, interval = run(1.0)
    for scale in (1e-300, 1e200):
        scaled_estimate, scaled_interval = run(scale)
        np.testing.assert_allclose(scaled_estimate, estimate, rtol=1e-12)
        np.testing.assert_allclose(scaled_interval, interval, rtol=1e-12)
        assert scaled_interval[0] <= scaled_estimate <= scaled_interval[1]


def test_a_mixture_weight_step_into_nothing_warns_nobody():
    """The flood's water height has a tail the mixture's components barely cover: on this
    seed a step of α's solver reaches points where the mixture's density is at its floor,
    and its objective overflows. The solver steps back (and ``optimise_alpha`` keeps its
    start unless the end is finite and better), so a user gets no RuntimeWarning."""
    import warnings

    from multiexpect.testproblems import sensitivity as sp

    def model(x):  # the no-regret suite's flood_log: log H, (log H)^2, sqrt H
        q, ks, zv, zm, _, _, length, width = x.T
        h = (q / (ks * width * np.sqrt((zm - zv) / length))) ** 0.6
        return np.column_stack([np.log(h), np.log(h) ** 2, np.sqrt(h)])

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = me.expectations(model, sp.problem("flood").law, budget=10_000, rng=6,
                              sampling="mc")
    assert np.all(np.isfinite(res.estimate)) and np.all(res.stderr > 0)


@pytest.mark.parametrize("kwargs", [{"method": "pick-freeze"}, {}])
def test_sobol_indices_of_tiny_and_huge_outputs(kwargs):
    """Sobol' indices do not depend on the output's scale: outputs beyond 2^±400 are
    divided by a power of two on the first batch (their squares left the doubles: the
    indices were NaN at 1e200), the mean comes back in the model's units."""
    from multiexpect.testfunctions import ishigami, ishigami_law

    plain = me.sobol_indices(ishigami, ishigami_law(), budget=5000, rng=1, **kwargs)
    for scale in (1e200, 1e-300):
        res = me.sobol_indices(lambda x, s=scale: s * ishigami(x), ishigami_law(),
                               budget=5000, rng=1, **kwargs)
        np.testing.assert_allclose(res.first_order, plain.first_order, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.total_order, plain.total_order, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.first_order_stderr, plain.first_order_stderr,
                                   rtol=1e-9)
        np.testing.assert_allclose(res.mean / scale, plain.mean, rtol=1e-12)
        assert res.diagnostics["output_exponent"] != 0
        assert "undefined" not in res.summary()  # its variance in the model's units is 0
    assert "output_exponent" not in plain.diagnostics  # ordinary outputs: untouched


def test_a_model_with_more_outputs_than_a_study_holds_is_refused_at_its_first_batch():
    """3000 output columns are 3000 quantities: more than ``MAX_QUANTITIES`` (the engine's
    ``J x J`` matrices; 3000 thresholds of a curve took 2.2 GB at 300 runs)."""
    law = me.Law([stats.norm(), stats.norm()])
    with pytest.raises(ValueError, match=r"'model' gives 3000 quantities, more than the 2048"):
        me.expectations(lambda x: np.repeat(x[:, :1], 3000, axis=1), law, budget=300, rng=1)


def test_a_quantity_without_spread_says_its_interval_is_the_runs_value_only():
    """A constant output's interval is [3, 3]: a zero-width interval would claim certainty.
    ``summary()`` says it holds the runs' value only (the rule of three bounds how often the
    law gives another value, nothing bounds how far); a quantity with spread gets no note."""
    law = me.Law([stats.norm(), stats.norm()])
    res = me.expectations(lambda x: np.column_stack([np.full(len(x), 3.0), x[:, 0]]), law,
                          budget=1000, rng=1)
    notes = [line for line in res.summary().splitlines() if "no spread" in line]
    assert len(notes) == 1 and notes[0].startswith("I1: no spread")


def test_more_laws_than_a_study_holds_are_refused_before_any_run():
    law = me.Law([stats.norm(), stats.norm()])

    def never_run(x):
        raise AssertionError("the model must not run")

    with pytest.raises(ValueError, match=r"'law' gives 2049 quantities, more than the 2048"):
        me.expectations(never_run, [law] * 2049, budget=5000, rng=1)


# ---------------------------------------------------------------------- several laws
def test_a_quantity_declared_for_several_laws_is_named_per_law_before_any_run():
    """One declared exceedance under three laws: three quantities named per law (a
    ValueError after 512 runs before, the declaration's one name for three quantities);
    declarations neither one nor one per law, or names of the wrong count, are refused
    before any run."""
    laws = [me.Law([stats.norm(m, 1.0)] * 2) for m in (0.0, 0.2, -0.2)]
    calls = []

    def model(x):
        calls.append(len(x))
        return x.sum(axis=1)

    res = me.expectations(model, laws, budget=4000, rng=1, quantities=[me.Exceedance(0, 5.2)])
    assert res.names == tuple(f"P(y1 > 5.2) [law {law}]" for law in range(3))
    truth = [stats.norm.sf(5.2, 2 * m, np.sqrt(2)) for m in (0.0, 0.2, -0.2)]
    assert np.all(np.abs(res.estimate - truth) <= 4 * res.stderr)
    calls.clear()
    with pytest.raises(ValueError, match="'quantities' declares 2 quantities for 3 laws"):
        me.expectations(model, laws, budget=4000, rng=1,
                        quantities=[me.Exceedance(0, 5.2), me.Exceedance(0, 4.0)])
    with pytest.raises(ValueError, match="'names' must have 3 entries"):
        me.expectations(model, laws, budget=4000, rng=1, quantities=[me.Exceedance(0, 5.2)],
                        names=["p"])
    assert calls == []


def test_a_quantile_scipy_cannot_find_is_the_supports_end_not_a_nan_input():
    """``beta(2, 5).isf`` is NaN beyond a normal score of 26.2 (a mass of 1e-152): the
    support's end there, a point of no mass that is not run; a study whose Student t
    component reached such a score sent ``[0.042, nan]`` to the model (seed 94, a fuzz)."""
    from scipy.special import ndtr
    assert np.isnan(stats.beta(2, 5).isf(ndtr(-26.3)))  # scipy's, the cause
    x = me.Law([stats.beta(2, 5), stats.beta(5, 2)]).from_standard([[27.0, -27.0], [0, 0]])
    assert x[0].tolist() == [1.0, 0.0] and np.all((x[1] > 0) & (x[1] < 1))
    laws = [me.Law([stats.beta(2, 5)] * 2), me.Law([stats.beta(5, 2)] * 2)]
    seen = []

    def model(x):
        seen.append(np.isfinite(x).all())
        return (x[:, 0] > 0.97).astype(float) + 0.0 * x[:, 1]

    res = me.expectations(model, laws, budget=4000, rng=94)
    assert all(seen) and np.all(np.isfinite(res.estimate))
    assert res.diagnostics["points_not_run"] >= 1

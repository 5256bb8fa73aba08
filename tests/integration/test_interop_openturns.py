"""OpenTURNS laws and models against the real openturns package."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.interop import as_law, as_model
from multiexpect.interop.openturns import (
    OpenTURNSLaw,
    OpenTURNSModel,
    from_openturns,
    to_openturns,
)
from multiexpect.testfunctions import cantilever_beam, cantilever_law

ot = pytest.importorskip("openturns")

MARGINALS = {
    "Normal": lambda: ot.Normal(1.0, 2.0),
    "LogNormal": lambda: ot.LogNormal(0.2, 0.5, 1.0),
    "Uniform": lambda: ot.Uniform(-1.0, 2.0),
    "Gumbel": lambda: ot.Gumbel(2.0, 1.0),
    "WeibullMin": lambda: ot.WeibullMin(2.0, 1.5, 0.5),
    "Beta": lambda: ot.Beta(2.0, 3.0, -1.0, 1.0),
    "TruncatedNormal": lambda: ot.TruncatedNormal(0.5, 1.0, -1.0, 2.0),
    "Triangular": lambda: ot.Triangular(0.0, 1.0, 3.0),
    "Exponential": lambda: ot.Exponential(2.0, 0.5),
    "Gamma": lambda: ot.Gamma(2.5, 1.5, 0.1),
    "LogUniform": lambda: ot.LogUniform(0.0, 1.0),
    "LogNormalMuSigma": lambda: ot.ParametrizedDistribution(
        ot.LogNormalMuSigma(556.8, 44.5, 0.0)),
}


def _ot_logpdf(dist, x):
    return np.asarray(dist.computeLogPDF(ot.Sample(x)), dtype=float).reshape(-1)


def _correlated_joint():
    corr = ot.CorrelationMatrix(3, [1.0, 0.3, -0.2, 0.3, 1.0, 0.4, -0.2, 0.4, 1.0])
    return ot.JointDistribution([ot.Normal(0.0, 1.0), ot.Gamma(2.0, 1.0, 0.0),
                                 ot.Uniform(0.0, 1.0)], ot.NormalCopula(corr))


@pytest.mark.parametrize("kind", sorted(MARGINALS))
def test_known_marginal_converts_to_native_law_with_same_density(kind):
    dist = MARGINALS[kind]()
    native = as_law(dist)
    generic = from_openturns(dist, native=False)
    assert isinstance(native, me.Law) and isinstance(generic, OpenTURNSLaw)
    x = native.sample(200, 3)
    ref = _ot_logpdf(dist, x)
    np.testing.assert_allclose(native.logpdf(x), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(generic.logpdf(x), ref, rtol=1e-10, atol=1e-12)
    # same standard-space maps, hence the same points from the same seed
    np.testing.assert_allclose(generic.to_standard(x), native.to_standard(x), atol=1e-9)
    np.testing.assert_allclose(generic.sample(200, 3), x, rtol=1e-9, atol=1e-12)


def test_normal_copula_joint_converts_with_its_correlation():
    dist = _correlated_joint()
    native = as_law(dist)
    assert isinstance(native, me.Law)
    np.testing.assert_allclose(native.correlation, np.array(dist.getCopula().getShapeMatrix()))
    generic = from_openturns(dist, native=False)
    assert not generic.is_independent
    x = native.sample(300, 5)
    np.testing.assert_allclose(native.logpdf(x), _ot_logpdf(dist, x), rtol=1e-10)
    np.testing.assert_allclose(generic.logpdf(x), _ot_logpdf(dist, x), rtol=1e-10)
    np.testing.assert_allclose(generic.to_standard(x), native.to_standard(x), atol=1e-9)


def test_other_copula_uses_generic_adapter_with_exact_standard_space():
    dist = ot.JointDistribution([ot.Normal(0.0, 1.0), ot.Exponential(1.0, 0.0)],
                                ot.ClaytonCopula(2.0))
    law = as_law(dist)
    assert isinstance(law, OpenTURNSLaw)
    assert law.correlation is None and not law.is_independent
    x = law.sample(4000, 11)
    # round trip of the iso-probabilistic transformation
    np.testing.assert_allclose(law.from_standard(law.to_standard(x)), x, atol=1e-7)
    np.testing.assert_allclose(law.logpdf(x), _ot_logpdf(dist, x), rtol=1e-12)
    # our draws follow the law: means within 4 standard errors of OpenTURNS's means
    se = x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - np.asarray(dist.getMean())) < 4 * se)
    # Kendall's tau of a Clayton(theta) copula is theta / (theta + 2) = 0.5
    assert abs(stats.kendalltau(x[:, 0], x[:, 1]).statistic - 0.5) < 0.03
    # outside the support: -inf, not OpenTURNS's -1.8e308
    assert law.logpdf(np.array([[0.0, -1.0]]))[0] == -np.inf


def test_sampling_uses_our_generator_not_openturns_global_rng():
    law = from_openturns(_correlated_joint(), native=False)
    ot.RandomGenerator.SetSeed(1)
    a = law.sample(50, 7)
    ot.RandomGenerator.SetSeed(2)
    b = law.sample(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, law.sample(50, 8))


def test_native_true_refuses_inexact_conversion_and_student_is_refused():
    clayton = ot.JointDistribution([ot.Normal(), ot.Normal()], ot.ClaytonCopula(2.0))
    with pytest.raises(ValueError, match=r"'law' \(JointDistribution\) has no exact native"):
        from_openturns(clayton, native=True)
    student = ot.Student(3.0, [0.0, 0.0], [1.0, 1.0], ot.CorrelationMatrix(2))
    with pytest.raises(ValueError, match=r"non-normal standard space \(Student\)"):
        as_law(student)
    with pytest.raises(ValueError, match=r"'law' must be a multiexpect\.Law, got list"):
        as_law([1, 2])


def test_same_law_native_or_through_openturns_gives_same_estimates():
    """The cantilever beam law written with OpenTURNS: same seed, same estimates."""
    law = cantilever_law(correlations=(0.3, 0.0, -0.2))
    dist = to_openturns(law)
    assert isinstance(as_law(dist), me.Law)
    ref = me.expectations(cantilever_beam, law, budget=600, rng=4)
    for candidate in (dist, from_openturns(dist, native=False)):
        res = me.expectations(cantilever_beam, candidate, budget=600, rng=4)
        np.testing.assert_allclose(res.estimate, ref.estimate, rtol=1e-10)
        np.testing.assert_allclose(res.stderr, ref.stderr, rtol=1e-8)


def _beam_function():
    return ot.SymbolicFunction(
        ["FX", "FY", "E", "w", "t", "L"],
        ["4 * L^3 / (E * 1e9 * w * t) * sqrt((FX / w^2)^2 + (FY / t^2)^2)"])


def test_openturns_function_as_model_evaluates_whole_samples():
    law = cantilever_law()
    calls = []

    def beam_sample(xs):
        calls.append(len(xs))
        return np.asarray(cantilever_beam(np.asarray(xs)))[:, None]

    counted = ot.PythonFunction(6, 1, func_sample=beam_sample)
    model = as_model(counted)
    assert isinstance(model, OpenTURNSModel) and model.input_dim == 6
    res = me.expectations(counted, law, budget=500, rng=2, sampling="mc")
    ref = me.expectations(cantilever_beam, law, budget=500, rng=2, sampling="mc")
    sym = me.expectations(_beam_function(), law, budget=500, rng=2, sampling="mc")
    np.testing.assert_allclose(res.estimate, ref.estimate, rtol=1e-12)
    np.testing.assert_allclose(sym.estimate, ref.estimate, rtol=1e-10)
    assert sum(calls) == res.n_evaluations == 500
    assert len(calls) < 30  # one call per batch, never one per point


def test_openturns_function_dimension_is_checked_before_any_run():
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)])
    f = ot.SymbolicFunction(["a", "b", "c"], ["a + b + c"])
    with pytest.raises(ValueError, match=r"the model takes 3 inputs but 'law' has dimension 2"):
        me.expectations(f, law, budget=100, rng=0)


def test_reanalysis_accepts_an_openturns_law():
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
    model = ot.SymbolicFunction(["a", "b"], ["a + b^2"])
    res = me.expectations(model, law, budget=2000, rng=3, keep_sample=True)
    new = ot.JointDistribution([ot.Normal(0.1, 1.0), ot.Normal(0.0, 1.05)])
    out = me.reanalyse(res, law=new)
    truth = 0.1 + 1.05**2
    assert abs(out.estimate[0] - truth) < 4 * out.stderr[0]

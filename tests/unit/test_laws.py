"""``Law``: marginals, Gaussian copula, maps to and from standard space, validation."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

# every marginal kind the issue names, with parameters that make the tails matter
MARGINALS = {
    "norm": stats.norm(1.5, 2.0),
    "lognorm": stats.lognorm(0.4, scale=3.0),
    "lognorm_loc": stats.lognorm(0.3, loc=-1.0, scale=2.0),
    "uniform": stats.uniform(-2.0, 5.0),
    "gumbel_r": stats.gumbel_r(loc=1.0, scale=0.5),
    "weibull_min": stats.weibull_min(1.8, scale=2.0),
    "truncnorm": stats.truncnorm(-1.0, 2.0, loc=0.5, scale=1.5),
    "beta": stats.beta(2.0, 5.0),
}


@pytest.mark.parametrize("kind", sorted(MARGINALS))
def test_single_marginal_logpdf_sample_and_maps(kind):
    dist = MARGINALS[kind]
    law = me.Law([dist])
    rng = np.random.default_rng(11)
    x = law.sample(20_000, rng)
    assert x.shape == (20_000, 1)
    # sample moments within 5 standard errors of the distribution's
    mean, std = dist.mean(), dist.std()
    assert abs(x.mean() - mean) < 5 * std / np.sqrt(x.shape[0])
    assert abs(x.std() / std - 1.0) < 0.03
    # the sample follows the marginal (Kolmogorov-Smirnov, fixed seed)
    assert stats.kstest(x[:, 0], dist.cdf).pvalue > 1e-3
    # log-density is the marginal's own, inside the support
    pts = dist.ppf(np.linspace(0.001, 0.999, 101))[:, None]
    np.testing.assert_allclose(law.logpdf(pts), dist.logpdf(pts[:, 0]), rtol=1e-10, atol=1e-10)
    # to_standard / from_standard are inverse, and to_standard gives N(0, 1) scores
    u = law.to_standard(pts)
    np.testing.assert_allclose(u[:, 0], stats.norm.ppf(np.linspace(0.001, 0.999, 101)),
                               rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(law.from_standard(u), pts, rtol=1e-9, atol=1e-9)
    assert stats.kstest(law.to_standard(x)[:, 0], "norm").pvalue > 1e-3


@pytest.mark.parametrize("kind", sorted(MARGINALS))
def test_from_standard_far_tails_stay_finite_and_ordered(kind):
    """Points deep in the standard-space tails map inside the support, monotonically."""
    law = me.Law([MARGINALS[kind]])
    u = np.linspace(-8.0, 8.0, 81)[:, None]
    x = law.from_standard(u)
    assert np.all(np.isfinite(x))
    assert np.all(np.diff(x[:, 0]) >= 0)
    # away from the bounds, the maps stay inverse (upper tail uses the survival function)
    inner = np.abs(u[:, 0]) <= 6.0
    back = law.to_standard(x[inner])
    np.testing.assert_allclose(back, u[inner], atol=1e-6)


def test_outside_support_logpdf_is_minus_inf():
    law = me.Law([stats.lognorm(0.5), stats.uniform(0, 1), stats.beta(2, 3)])
    x = np.array([[-1.0, 0.5, 0.5], [1.0, 2.0, 0.5], [1.0, 0.5, 1.5], [1.0, 0.5, 0.5]])
    out = law.logpdf(x)
    assert np.all(np.isneginf(out[:3]))
    assert np.isfinite(out[3])


def test_independent_logpdf_is_sum_of_marginals():
    dists = [MARGINALS[k] for k in sorted(MARGINALS)]
    law = me.Law(dists)
    x = law.sample(500, 3)
    expected = sum(d.logpdf(x[:, i]) for i, d in enumerate(dists))
    np.testing.assert_allclose(law.logpdf(x), expected, rtol=1e-10)
    assert law.is_independent and law.correlation is None
    assert law.dim == len(dists)
    np.testing.assert_allclose(law.mean(), [d.mean() for d in dists])
    np.testing.assert_allclose(law.std(), [d.std() for d in dists])


CORR = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])


def test_gaussian_copula_of_normals_is_multivariate_normal():
    means, sds = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, 3.0])
    law = me.Law([stats.norm(m, s) for m, s in zip(means, sds)], correlation=CORR)
    mvn = stats.multivariate_normal(means, CORR * np.outer(sds, sds))
    x = mvn.rvs(400, random_state=5)
    np.testing.assert_allclose(law.logpdf(x), mvn.logpdf(x), rtol=1e-10, atol=1e-10)
    # sample moments: mean and covariance of the copula sample
    sample = law.sample(40_000, np.random.default_rng(8))
    assert np.all(np.abs(sample.mean(axis=0) - means) < 5 * sds / np.sqrt(40_000))
    np.testing.assert_allclose(np.corrcoef(sample, rowvar=False), CORR, atol=0.02)
    np.testing.assert_allclose(sample.std(axis=0), sds, rtol=0.02)


def test_copula_maps_round_trip_and_whiten():
    dists = [stats.lognorm(0.3, scale=2.0), stats.gumbel_r(), stats.beta(2, 2)]
    law = me.Law(dists, correlation=CORR, names=["a", "b", "c"])
    assert law.names == ("a", "b", "c") and not law.is_independent
    x = law.sample(20_000, np.random.default_rng(4))
    u = law.to_standard(x)
    # u ~ N(0, I): uncorrelated standard normal coordinates
    np.testing.assert_allclose(np.cov(u, rowvar=False), np.eye(3), atol=0.03)
    np.testing.assert_allclose(law.from_standard(u), x, rtol=1e-8, atol=1e-8)
    # normal scores of the inputs have correlation CORR
    z = stats.norm.ppf(np.column_stack([d.cdf(x[:, i]) for i, d in enumerate(dists)]))
    np.testing.assert_allclose(np.corrcoef(z, rowvar=False), CORR, atol=0.02)
    # marginals untouched by the copula
    for i, d in enumerate(dists):
        assert stats.kstest(x[:, i], d.cdf).pvalue > 1e-3


def test_copula_logpdf_is_change_of_variables():
    """log f(x) = sum log f_i + log φ_R(z) - sum log φ(z_i) for the normal scores z."""
    dists = [stats.lognorm(0.3, scale=2.0), stats.weibull_min(2.0), stats.uniform(0, 2)]
    law = me.Law(dists, correlation=CORR)
    x = law.sample(300, 6)
    z = stats.norm.ppf(np.column_stack([d.cdf(x[:, i]) for i, d in enumerate(dists)]))
    expected = (sum(d.logpdf(x[:, i]) for i, d in enumerate(dists))
                + stats.multivariate_normal(np.zeros(3), CORR).logpdf(z)
                - stats.norm.logpdf(z).sum(axis=1))
    np.testing.assert_allclose(law.logpdf(x), expected, rtol=1e-8, atol=1e-8)


def test_standard_logpdf_is_standard_normal():
    law = me.Law([stats.lognorm(0.3)] * 4, correlation=None)
    u = np.random.default_rng(0).standard_normal((50, 4))
    np.testing.assert_allclose(law.standard_logpdf(u),
                               stats.multivariate_normal(np.zeros(4)).logpdf(u))


def test_high_dimension_logpdf_does_not_underflow():
    law = me.Law([stats.norm(0, 1)] * 25 + [stats.lognorm(0.5)] * 25)
    x = law.sample(100, 1)
    out = law.logpdf(x)
    assert np.all(np.isfinite(out)) and np.all(out < -30)


def test_sample_accepts_seed_and_generator_reproducibly():
    law = me.Law([stats.norm(0, 1), stats.gumbel_r()])
    np.testing.assert_array_equal(law.sample(10, 3), law.sample(10, 3))
    np.testing.assert_array_equal(law.sample(10, np.random.default_rng(3)),
                                  law.sample(10, np.random.default_rng(3)))
    assert law.sample(0, 1).shape == (0, 2)


def test_describe_and_repr():
    law = me.Law([stats.norm(1, 2), stats.lognorm(0.3, scale=2.0)], names=["p", "q"])
    info = law.describe()
    assert info["names"] == ["p", "q"]
    assert [m["dist"] for m in info["marginals"]] == ["norm", "lognorm"]
    assert "p~norm" in repr(law) and "q~lognorm" in repr(law)


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("corr, match", [
    (np.array([[1.0, 0.9], [0.5, 1.0]]), "'correlation' must be symmetric"),
    (np.array([[2.0, 0.0], [0.0, 1.0]]), "'correlation' must have a unit diagonal"),
    (np.array([[1.0, 1.0], [1.0, 1.0]]), "'correlation' must be positive definite"),
    (np.array([[1.0, 1.5], [1.5, 1.0]]), "'correlation' must be positive definite"),
    (np.eye(3), r"'correlation' must have shape \(2, 2\)"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "'correlation' must be finite"),
])
def test_bad_correlation_is_rejected(corr, match):
    with pytest.raises(ValueError, match=match):
        me.Law([stats.norm(), stats.norm()], correlation=corr)


def test_not_positive_definite_three_by_three():
    # every pairwise correlation is valid, the matrix is not
    corr = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(ValueError, match="'correlation' must be positive definite"):
        me.Law([stats.norm()] * 3, correlation=corr)


@pytest.mark.parametrize("marginals, match", [
    ([], "'marginals' must hold at least one distribution"),
    ("norm", "'marginals' must be a sequence"),
    ([stats.norm(), stats.poisson(3.0)], r"'marginals\[1\]' must be a frozen scipy.stats"),
    ([stats.norm], r"'marginals\[0\]' must be a frozen scipy.stats continuous"),
    ([1.0], r"'marginals\[0\]' must be a frozen"),
])
def test_bad_marginals_are_rejected(marginals, match):
    with pytest.raises(ValueError, match=match):
        me.Law(marginals)


def test_bad_names_are_rejected():
    with pytest.raises(ValueError, match="'names' must have 2 entries"):
        me.Law([stats.norm(), stats.norm()], names=["a"])
    with pytest.raises(ValueError, match="'names' must be distinct"):
        me.Law([stats.norm(), stats.norm()], names=["a", "a"])


def test_bad_points_and_sizes_are_rejected():
    law = me.Law([stats.norm(), stats.norm()])
    with pytest.raises(ValueError, match=r"'x' must have shape \(n, 2\)"):
        law.logpdf(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"'u' must have shape \(n, 2\)"):
        law.from_standard(np.zeros(4))
    with pytest.raises(ValueError, match="'n' must be a non-negative int"):
        law.sample(-1, 0)
    with pytest.raises(ValueError, match="'n' must be a non-negative int"):
        law.sample(2.5, 0)
    with pytest.raises(ValueError, match="'rng' must be None, an int seed or a numpy"):
        law.sample(3, np.random.RandomState(0))


def test_far_standard_points_map_to_finite_inputs():
    # a Student-t proposal in standard space reaches |u| > 37, where Φ(u) underflows and
    # the t marginal's ppf(0) is -inf: the map must stay finite (and monotone)
    law = me.Law([stats.t(5), stats.pareto(4.5), stats.gumbel_r()])
    u = np.array([[-80.0, -80.0, -80.0], [-30.0, -30.0, -30.0], [-8.0, -8.0, -8.0],
                  [8.0, 8.0, 8.0], [30.0, 30.0, 30.0], [80.0, 80.0, 80.0]])
    x = law.from_standard(u)
    assert np.all(np.isfinite(x))
    assert np.all(np.diff(x, axis=0) >= 0)
    # inside |u| <= 30 the map is the exact quantile transform
    assert np.isclose(x[2, 0], stats.t(5).ppf(stats.norm.cdf(-8.0)))
    assert np.isclose(x[3, 0], stats.t(5).isf(stats.norm.sf(8.0)))


def test_sample_laws_equals_each_law_sampled_in_turn():
    """The stacked sampler of several laws gives the bits of each law's own sampler, one
    after the other on the same generator: closed-form laws with correlation (the
    vectorised marginal maps) and a mix of kinds (law by law)."""
    from multiexpect import testfunctions as tf
    from multiexpect.laws import sample_laws

    laws, _ = tf.cantilever_laws()
    mixed = [me.Law([stats.norm(1, 2), stats.lognorm(0.5, 1.0, 2.0)]),
             me.Law([stats.uniform(0, 1), stats.norm(0, 1)])]
    for group in (list(laws[:20]), mixed):
        counts = np.random.default_rng(1).multinomial(500, np.full(len(group), 1 / len(group)))
        counts[0] = 0  # a law without points
        got = sample_laws(group, counts, np.random.default_rng(7))
        rng = np.random.default_rng(7)
        want = np.concatenate([law.sample(int(k), rng) for law, k in zip(group, counts) if k])
        assert np.array_equal(got, want)

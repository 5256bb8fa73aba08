"""Proposal families: densities against scipy, weighted fits, effective sample size."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from multiexpect.proposals import (
    Gaussian,
    GaussianMixture,
    Mixture,
    StudentT,
    effective_sample_size,
    fit_gaussian,
    fit_gmm,
    fit_regions,
    fit_student,
    fit_student_mixture,
    fit_widened_law,
    normalised_weights,
    scaled_reference,
    shrink_mean,
)

MEAN = np.array([1.0, -0.5, 2.0])
COV = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])


def test_gaussian_logpdf_matches_scipy():
    g = Gaussian(MEAN, COV)
    z = np.random.default_rng(0).normal(size=(200, 3)) * 3
    np.testing.assert_allclose(g.logpdf(z), stats.multivariate_normal(MEAN, COV).logpdf(z),
                               rtol=1e-10)
    assert g.dim == 3
    assert g.describe()["family"] == "gaussian"


def test_gaussian_logpdf_far_out_in_high_dimension_is_finite():
    d = 60
    g = Gaussian(np.zeros(d), np.eye(d))
    z = np.full((3, d), 10.0)
    out = g.logpdf(z)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, stats.multivariate_normal(np.zeros(d)).logpdf(z))


def test_gaussian_sample_moments():
    g = Gaussian(MEAN, COV)
    z = g.sample(50_000, np.random.default_rng(1))
    assert z.shape == (50_000, 3)
    np.testing.assert_allclose(z.mean(axis=0), MEAN, atol=5 * np.sqrt(2.0 / 50_000))
    np.testing.assert_allclose(np.cov(z, rowvar=False), COV, atol=0.05)


def test_diagonal_gaussian_logpdf_matches_scipy():
    cov = np.diag(np.diag(COV))
    g = Gaussian(MEAN, cov)
    z = np.random.default_rng(2).normal(size=(100, 3))
    expected = stats.norm(MEAN, np.sqrt(np.diag(COV))).logpdf(z).sum(axis=1)
    np.testing.assert_allclose(g.logpdf(z), expected, rtol=1e-10)


def _gmm():
    comps = [Gaussian([-2.0, 0.0], [[0.5, 0.1], [0.1, 0.3]]),
             Gaussian([2.0, 1.0], [[1.0, -0.4], [-0.4, 0.8]])]
    return GaussianMixture(comps, [0.3, 0.7])


def test_gmm_logpdf_matches_scipy_sum():
    mix = _gmm()
    z = np.random.default_rng(3).normal(size=(300, 2)) * 3
    dens = (0.3 * stats.multivariate_normal([-2, 0], [[0.5, 0.1], [0.1, 0.3]]).pdf(z)
            + 0.7 * stats.multivariate_normal([2, 1], [[1.0, -0.4], [-0.4, 0.8]]).pdf(z))
    np.testing.assert_allclose(mix.logpdf(z), np.log(dens), rtol=1e-10)


def test_gmm_sample_weights_and_moments():
    mix = _gmm()
    z = mix.sample(40_000, np.random.default_rng(4))
    # P(z_1 < 0) under the mixture, and the mixture mean and covariance
    p_left = 0.3 * stats.norm(-2, np.sqrt(0.5)).cdf(0) + 0.7 * stats.norm(2, 1).cdf(0)
    assert abs(np.mean(z[:, 0] < 0) - p_left) < 5 * np.sqrt(p_left * (1 - p_left) / 40_000)
    mean = 0.3 * np.array([-2.0, 0.0]) + 0.7 * np.array([2.0, 1.0])
    np.testing.assert_allclose(z.mean(axis=0), mean, atol=0.04)
    second = (0.3 * (np.array([[0.5, 0.1], [0.1, 0.3]]) + np.outer([-2, 0], [-2, 0]))
              + 0.7 * (np.array([[1.0, -0.4], [-0.4, 0.8]]) + np.outer([2, 1], [2, 1])))
    np.testing.assert_allclose(np.cov(z, rowvar=False), second - np.outer(mean, mean), atol=0.08)


def test_mixture_logpdf_and_sample():
    comps = [Gaussian([0.0], [[1.0]]), Gaussian([4.0], [[0.25]])]
    mix = Mixture(comps, [0.25, 0.75])
    z = np.linspace(-3, 6, 50)[:, None]
    expected = np.log(0.25 * stats.norm(0, 1).pdf(z[:, 0]) + 0.75 * stats.norm(4, 0.5).pdf(z[:, 0]))
    np.testing.assert_allclose(mix.logpdf(z), expected, rtol=1e-10)
    logs = mix.component_logpdfs(z)
    np.testing.assert_allclose(mix.logpdf_from_components(logs), expected, rtol=1e-10)
    draw = mix.sample(20_000, np.random.default_rng(5))
    assert abs(np.mean(draw[:, 0] > 2.0) - 0.75) < 0.02
    with pytest.raises(ValueError, match="'alpha' must have one weight per component"):
        Mixture(comps, [1.0])


def test_mixture_with_zero_weight_component():
    comps = [Gaussian([0.0], [[1.0]]), Gaussian([4.0], [[0.25]])]
    mix = Mixture(comps, [1.0, 0.0])
    z = np.linspace(-3, 3, 7)[:, None]
    np.testing.assert_allclose(mix.logpdf(z), stats.norm.logpdf(z[:, 0]))
    assert np.all(mix.sample(100, np.random.default_rng(0)) < 5)


def test_weighted_gaussian_fit_recovers_target():
    """Points from N(0, 4I) weighted by N(m, S)/N(0, 4I): the fit recovers (m, S)."""
    rng = np.random.default_rng(6)
    target = stats.multivariate_normal(MEAN, COV)
    z = rng.normal(scale=2.0, size=(100_000, 3))
    log_w = target.logpdf(z) - stats.multivariate_normal(np.zeros(3), 4 * np.eye(3)).logpdf(z)
    g, n_eff = fit_gaussian(z, log_w, reference_cov=np.eye(3))
    assert 0.05 * z.shape[0] < n_eff < z.shape[0]
    np.testing.assert_allclose(g.mean, MEAN, atol=0.03)
    np.testing.assert_allclose(g.cov, COV, atol=0.05)
    gd, _ = fit_gaussian(z, log_w, reference_cov=np.eye(3), diagonal=True)
    np.testing.assert_allclose(gd.cov, np.diag(np.diag(COV)), atol=0.05)
    assert np.count_nonzero(gd.cov - np.diag(np.diag(gd.cov))) == 0


def test_gaussian_fit_with_few_effective_points_stays_regular():
    """Two non-zero weights in d = 5: the covariance is shrunk, still positive definite."""
    z = np.random.default_rng(7).normal(size=(50, 5))
    log_w = np.full(50, -np.inf)
    log_w[[3, 9]] = 0.0
    g, n_eff = fit_gaussian(z, log_w, reference_cov=np.eye(5))
    assert n_eff == pytest.approx(2.0)
    np.testing.assert_allclose(g.mean, z[[3, 9]].mean(axis=0))
    assert np.min(np.linalg.eigvalsh(g.cov)) > 0.1
    assert np.all(np.isfinite(g.logpdf(z)))


def test_widened_law_is_centred_covers_both_tails_and_bounds_the_ratio():
    """Hits of P(|z1| > 2.5) in standard space, one tail only: the widened law stays at the
    law's centre with the hits' second moment along z1 (about 7.6, so the unseen tail gets
    as much mass as the seen one), is never narrower than the law, and bounds
    ``f / g`` by ``det(S)^{1/2}``."""
    rng = np.random.default_rng(8)
    z = rng.normal(size=(200_000, 2))
    hit = z[:, 0] > 2.5  # the pilot saw one side only
    log_w = np.where(hit, 0.0, -np.inf)
    g, n_eff = fit_widened_law(z, log_w, centre=np.zeros(2), reference_cov=np.eye(2))
    second = np.mean(z[hit, 0] ** 2)
    assert n_eff == pytest.approx(hit.sum())
    np.testing.assert_array_equal(g.mean, np.zeros(2))
    assert g.cov[0, 0] == pytest.approx(second, rel=0.01)
    assert g.cov[1, 1] == pytest.approx(1.0, abs=4 * np.sqrt(2 / hit.sum()))
    assert abs(g.cov[0, 1]) < 4 * np.sqrt(second / hit.sum())  # sampling noise of E[z1 z2]
    assert second > 7.0
    assert np.min(np.linalg.eigvalsh(g.cov - np.eye(2))) > -1e-9
    grid = np.column_stack([np.linspace(-8, 8, 161), np.linspace(8, -8, 161)])
    log_ratio = stats.multivariate_normal(np.zeros(2)).logpdf(grid) - g.logpdf(grid)
    assert np.max(log_ratio) <= 0.5 * np.linalg.slogdet(g.cov)[1] + 1e-12
    mass = [np.mean(s * g.sample(100_000, rng)[:, 0] > 2.5) for s in (1, -1)]
    assert mass[1] == pytest.approx(mass[0], abs=0.01)
    assert mass[1] > 20 * stats.norm.sf(2.5)  # the law puts 0.006 on each tail


def test_widened_law_in_input_space_follows_the_reference_frame():
    """With a non-identity reference (input space) ``S - Σ_ref`` is positive semi-definite
    and ``S`` is the shrunk second moment wherever that is wider than the reference."""
    rng = np.random.default_rng(9)
    z = rng.multivariate_normal(MEAN, COV, size=5_000)
    log_w = np.zeros(z.shape[0])
    g, _ = fit_widened_law(z, log_w, centre=MEAN, reference_cov=COV)
    np.testing.assert_array_equal(g.mean, MEAN)
    assert np.min(np.linalg.eigvalsh(g.cov - COV)) > -1e-9
    far, _ = fit_widened_law(z * 3.0, log_w, centre=np.zeros(3), reference_cov=COV)
    moment = (z * 3.0).T @ (z * 3.0) / z.shape[0]
    np.testing.assert_allclose(far.cov, moment, rtol=0.01)


def test_mean_pulled_toward_the_centre_bounds_the_noise_of_few_points():
    """Four equal-weight points of N(0, I_50): their mean has noise energy ~ 50/4; pulled,
    ``n d / (n + d)^2 <= 1/4`` on average; many points are barely pulled."""
    rng = np.random.default_rng(10)
    d = 50
    z = rng.normal(size=(4, d))
    g, n_eff = fit_gaussian(z, np.zeros(4), reference_cov=np.eye(d), reference_mean=np.zeros(d))
    t, _ = fit_student(z, np.zeros(4), reference_cov=np.eye(d), reference_mean=np.zeros(d))
    expected = 4.0 / (4.0 + d) * z.mean(axis=0)
    np.testing.assert_allclose(g.mean, expected)
    np.testing.assert_allclose(shrink_mean(z.mean(axis=0), n_eff, np.zeros(d)), expected)
    assert np.sum(z.mean(axis=0) ** 2) > 6.0 and np.sum(g.mean**2) < 0.25
    assert np.sum(t.mean**2) < 0.25
    np.testing.assert_array_equal(shrink_mean(expected, 4.0, None), expected)  # no pull
    many = rng.normal(loc=1.0, size=(20_000, 2))
    far, _ = fit_gaussian(many, np.zeros(20_000), reference_cov=np.eye(2),
                          reference_mean=np.zeros(2))
    np.testing.assert_allclose(far.mean, many.mean(axis=0) * 20_000 / 20_002)


def test_weighted_gmm_fit_recovers_two_modes():
    rng = np.random.default_rng(8)
    z = np.concatenate([rng.normal(-3.0, 0.5, size=(3000, 2)),
                        rng.normal(3.0, 1.0, size=(7000, 2))])
    mix, n_eff = fit_gmm(z, np.zeros(len(z)), reference_cov=np.eye(2), n_components=2,
                         rng=np.random.default_rng(9))
    assert n_eff == pytest.approx(len(z))
    assert isinstance(mix, GaussianMixture)
    order = np.argsort([c.mean[0] for c in mix.components])
    means = np.array([mix.components[i].mean for i in order])
    np.testing.assert_allclose(means, [[-3, -3], [3, 3]], atol=0.1)
    np.testing.assert_allclose(mix.weights[order], [0.3, 0.7], atol=0.02)
    np.testing.assert_allclose(np.diag(mix.components[order[0]].cov), [0.25, 0.25], atol=0.05)


def test_gmm_fit_falls_back_to_one_gaussian_with_few_points():
    z = np.random.default_rng(10).normal(size=(5, 3))
    comp, n_eff = fit_gmm(z, np.zeros(5), reference_cov=np.eye(3), n_components=2,
                          rng=np.random.default_rng(0))
    assert isinstance(comp, Gaussian) and n_eff == pytest.approx(5.0)


def test_scaled_reference_follows_the_points_spread_across_their_offset():
    """40 points of N(m, diag(0.04, 0.81, ..., 0.81)) in d = 50 (far fewer than d^2), m = 4
    e_1 off the centre: the target is 0.81 across the points' mean offset (within its
    sampling error sqrt(2 / (n (d - 1)))) and the reference's 1 along it."""
    rng = np.random.default_rng(12)
    d, n = 50, 40
    sd = np.full(d, 0.9)
    sd[0] = 0.2
    points = sd * rng.standard_normal((n, d))
    points[:, 0] += 4.0
    target = scaled_reference(points, np.zeros(n), np.eye(d), np.zeros(d))
    u_hat = points.mean(axis=0) / np.linalg.norm(points.mean(axis=0))  # about e_1
    scale = (np.trace(target) - u_hat @ target @ u_hat) / (d - 1)
    assert abs(scale - 0.81 * (n - 1) / n) <= 4 * 0.81 * np.sqrt(2.0 / (n * (d - 1)))
    assert u_hat @ target @ u_hat == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(target, target.T)
    # in the reference's frame: with 4 I, the reference's 4 along the offset, the same
    # measured spread across it
    wide = scaled_reference(points, np.zeros(n), 4 * np.eye(d), np.zeros(d))
    assert u_hat @ wide @ u_hat == pytest.approx(4.0, rel=1e-12)
    assert (np.trace(wide) - u_hat @ wide @ u_hat) / (d - 1) == pytest.approx(scale, rel=1e-10)


def test_regions_fit_one_gaussian_per_separate_region():
    """Elite points of the four half-spaces ``|x_1| > 4``, ``|x_2| > 4`` (the weights of a
    ladder fit) get four Gaussians, each at its region; those of one half-space get one."""
    rng = np.random.default_rng(11)
    d, n = 4, 150
    signs = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    points = []
    for s in signs:
        z = rng.standard_normal((n, d))
        axis = int(np.flatnonzero(s)[0])
        z[:, axis] = s[axis] * (4.0 + rng.exponential(0.25, n))
        points.append(z)
    points = np.concatenate(points)
    comps, shares, n_eff = fit_regions(points, np.zeros(len(points)), reference_cov=np.eye(d),
                                       max_components=4, rng=np.random.default_rng(0))
    assert n_eff == pytest.approx(len(points)) and len(comps) == 4
    assert shares.sum() == pytest.approx(1.0) and np.all(np.abs(shares - 0.25) < 0.05)
    found = sorted(tuple(np.round(c.mean[:2] / 4.0).astype(int)) for c in comps)
    assert found == sorted(tuple(s) for s in signs)
    one, share, _ = fit_regions(points[:n], np.zeros(n), reference_cov=np.eye(d),
                                max_components=4, rng=np.random.default_rng(0))
    assert len(one) == 1 and share.tolist() == [1.0]
    np.testing.assert_allclose(one[0].mean[0], 4.25, atol=0.1)


def test_weighted_student_mixture_fit_recovers_two_t_clusters():
    """Two t_5 clusters (scale matrices 0.25 I and I), drawn with their own sampler, and
    the weights of a skewed resampling: the fit recovers locations, scales and shares."""
    rng = np.random.default_rng(11)
    left = StudentT(np.array([-4.0, -4.0]), 0.25 * np.eye(2), 5.0)
    right = StudentT(np.array([4.0, 4.0]), np.eye(2), 5.0)
    z = np.concatenate([left.sample(3000, rng), right.sample(3000, rng)])
    # weights 1 on the left, 7/3 on the right: shares 0.3, 0.7 as a weighted sample
    log_w = np.where(z[:, 0] < 0, 0.0, np.log(7.0 / 3.0))
    mix, n_eff = fit_student_mixture(z, log_w, reference_cov=np.eye(2), n_components=2,
                                     rng=np.random.default_rng(12), dof=5.0)
    assert isinstance(mix, GaussianMixture) and n_eff < len(z)
    assert all(isinstance(c, StudentT) and c.dof == 5.0 for c in mix.components)
    assert mix.describe()["family"] == "student-mixture"
    order = np.argsort([c.mean[0] for c in mix.components])
    means = np.array([mix.components[i].mean for i in order])
    np.testing.assert_allclose(means, [[-4, -4], [4, 4]], atol=0.1)
    np.testing.assert_allclose(mix.weights[order], [0.3, 0.7], atol=0.02)
    np.testing.assert_allclose(np.diag(mix.components[order[0]].cov), [0.25, 0.25], atol=0.05)
    np.testing.assert_allclose(np.diag(mix.components[order[1]].cov), [1.0, 1.0], atol=0.15)
    # the density is the weighted sum of the two t densities
    pts = rng.normal(size=(50, 2)) * 4
    expected = logsumexp(np.column_stack([np.log(w) + c.logpdf(pts) for w, c in
                                          zip(mix.weights, mix.components)]), axis=1)
    np.testing.assert_allclose(mix.logpdf(pts), expected, rtol=1e-12)


def test_student_mixture_falls_back_to_one_t_with_few_points():
    z = np.random.default_rng(13).normal(size=(5, 3))
    comp, _ = fit_student_mixture(z, np.zeros(5), reference_cov=np.eye(3), n_components=2,
                                  rng=np.random.default_rng(0), dof=4.0)
    assert isinstance(comp, StudentT) and comp.dof == 4.0


def test_effective_sample_size_and_normalised_weights():
    assert effective_sample_size(np.zeros(40)) == pytest.approx(40.0)
    assert effective_sample_size(np.array([0.0, -np.inf, -np.inf])) == pytest.approx(1.0)
    # huge log-weights are handled in log space
    lw = np.array([1000.0, 1000.0 + np.log(3.0)])
    w = normalised_weights(lw)
    np.testing.assert_allclose(w, [0.25, 0.75])
    assert effective_sample_size(lw) == pytest.approx(1.0 / (0.25**2 + 0.75**2))
    lw = np.random.default_rng(0).normal(size=100)
    np.testing.assert_allclose(normalised_weights(lw), np.exp(lw - logsumexp(lw)))
    assert effective_sample_size(np.full(3, -np.inf)) == 0.0
    with pytest.raises(ValueError, match="every weight is zero"):
        normalised_weights(np.full(3, -np.inf))


def _fit_context(**changes):
    from multiexpect.proposals.families import FitContext

    base = dict(reference_cov=np.eye(2), centre=np.zeros(2), pull=True, dof=5.0,
                n_components=2, event_components=1, student_iter=30, event_widened=0.25,
                rng=np.random.default_rng(0))
    base.update(changes)
    return FitContext(**base)


def test_every_family_fits_with_one_signature_and_shares_sum_to_one():
    from multiexpect.engine import FAMILY_NAMES
    from multiexpect.proposals.families import FAMILIES

    assert FAMILY_NAMES == tuple(FAMILIES)
    rng = np.random.default_rng(3)
    points = rng.standard_normal((400, 2)) + np.array([2.0, 0.0])
    log_w = np.log(rng.random(400))
    for name, family in FAMILIES.items():
        for event in (False, True):
            fitted = family.fit(points, log_w, _fit_context().for_quantity(event))
            assert fitted.n_eff > 0, name
            assert abs(sum(p.share for p in fitted.parts) - 1.0) < 1e-12, name
            for part in fitted.parts:
                assert part.component.logpdf(points).shape == (400,), name


def test_auto_delegates_events_to_a_t_with_a_declared_widened_law():
    from multiexpect.proposals.families import FAMILIES

    rng = np.random.default_rng(4)
    points = rng.standard_normal((300, 2)) * 0.5 + np.array([3.0, 0.0])
    log_w = np.zeros(300)
    auto = FAMILIES["auto"]
    plain = auto.fit(points, log_w, _fit_context().for_quantity(False))
    assert [type(p.component) for p in plain.parts] == [Gaussian]
    event = auto.fit(points, log_w, _fit_context().for_quantity(True))
    assert [type(p.component) for p in event.parts] == [StudentT, Gaussian]
    assert [p.share for p in event.parts] == [0.75, 0.25]
    assert [p.widened for p in event.parts] == [False, True]
    np.testing.assert_array_equal(event.parts[1].component.mean, np.zeros(2))
    # on the ladder: Gaussians (one per region), the widened law beside them
    ladder = auto.fit(points, log_w, replace(_fit_context(), gaussian_event=True)
                      .for_quantity(True))
    assert [type(p.component) for p in ladder.parts] == [Gaussian, Gaussian]
    assert [p.share for p in ladder.parts] == [0.75, 0.25]
    # no widened law when its share is 0; the t gets the whole part
    alone = auto.fit(points, log_w, _fit_context(event_widened=0.0).for_quantity(True))
    assert [(type(p.component), p.share) for p in alone.parts] == [(StudentT, 1.0)]


def test_logsumexp_rows_is_scipys_to_rounding():
    from multiexpect.logspace import logsumexp_rows

    rng = np.random.default_rng(9)
    for n, k in [(500, 1), (500, 2), (2000, 11), (300, 201)]:
        a = rng.normal(size=(n, k)) * rng.choice([1.0, 30.0, 700.0], size=(n, 1))
        a[rng.random((n, k)) < 0.1] = -np.inf
        a[0] = -np.inf  # no mass
        a[1, :] = 5.0  # ties at the maximum
        a[2, 0] = np.inf
        for rows in (a, a[::3]):
            got, want = logsumexp_rows(rows), logsumexp(rows, axis=1)
            finite = np.isfinite(want)
            np.testing.assert_array_equal(got[~finite], want[~finite])  # -inf, +inf rows
            np.testing.assert_allclose(got[finite], want[finite], rtol=1e-14, atol=1e-14)


def test_row_max_and_one_column_logsumexp_are_numpys_to_the_bit():
    from multiexpect.logspace import logsumexp_rows, row_max

    rng = np.random.default_rng(11)
    for k in (1, 2, 11, 16, 17, 40):
        a = rng.normal(size=(400, k)) * 50.0
        a[rng.random((400, k)) < 0.1] = -np.inf
        a[0] = -np.inf
        a[1, 0] = np.nan
        a[2, -1] = np.inf
        np.testing.assert_array_equal(row_max(a), a.max(axis=1))
    column = np.concatenate([rng.normal(size=50) * 300.0, [-np.inf, np.inf, np.nan, 0.0]])
    shift = np.log([0.25])
    for got, want in [(logsumexp_rows(column[:, None]), column + 0.0),
                      (logsumexp_rows(column[:, None], shift), column + shift[0])]:
        np.testing.assert_array_equal(got, want)  # NaN where NaN, the same bits elsewhere
        assert got.tobytes() == want.tobytes()


def test_batched_component_logpdfs_kept_forms_give_the_same_bits():
    from multiexpect.proposals import batched

    rng = np.random.default_rng(12)
    comps = [Gaussian(rng.normal(size=3), COV * (1 + k)) for k in range(5)]
    z1, z2 = rng.normal(size=(300, 3)), rng.normal(size=(200, 3)) * 3.0
    first = batched.component_logpdfs(comps, z1)  # forms made, then kept
    again = batched.component_logpdfs(comps, z2)
    batched._kept_forms.cache_clear()
    np.testing.assert_array_equal(batched.component_logpdfs(comps, z2), again)
    np.testing.assert_array_equal(batched.component_logpdfs(comps, z1), first)
    for _ in range(2 * batched.FORMS_KEPT):  # never more than the last few lists
        batched.component_logpdfs([Gaussian(MEAN, COV)], z1)
    assert batched._kept_forms.cache_info().currsize <= batched.FORMS_KEPT


def test_batched_component_logpdfs_equal_the_per_component_ones():
    from multiexpect.proposals.batched import component_logpdfs

    rng = np.random.default_rng(10)
    comps = [Gaussian(MEAN, COV), StudentT(MEAN + 1.0, 0.5 * COV, 4.0),
             GaussianMixture([Gaussian(MEAN, COV), Gaussian(-MEAN, 2 * COV)], [0.3, 0.7]),
             Gaussian(np.zeros(3), np.eye(3)), StudentT(np.full(3, 5.0), COV, 9.0)]
    z = rng.normal(size=(700, 3)) * 4.0
    expected = np.column_stack([c.logpdf(z) for c in comps])
    np.testing.assert_allclose(component_logpdfs(comps, z), expected, rtol=1e-12, atol=1e-12)
    gaussians = [comps[0], comps[3]]  # every column from the product, written into `out`
    out = np.full((700, 3), 7.0)
    component_logpdfs(gaussians, z, out=out)
    np.testing.assert_allclose(out[:, :2], expected[:, [0, 3]], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out[:, 2], 7.0)


def test_quadratic_forms_equal_the_direct_ones():
    from multiexpect.quadratic_forms import QuadraticForms

    rng = np.random.default_rng(11)
    means = rng.normal(size=(7, 4)) * 3.0
    roots = rng.normal(size=(7, 4, 4))
    precisions = roots @ roots.transpose(0, 2, 1) + 0.1 * np.eye(4)
    shift, scale = rng.normal(size=7), rng.normal(size=7)
    z = rng.normal(size=(5000, 4)) * 4.0  # several chunks of rows
    diff = z[:, None, :] - means[None]
    direct = np.einsum("nka,kab,nkb->nk", diff, precisions, diff) * scale + shift
    np.testing.assert_allclose(QuadraticForms(means, precisions, shift, scale)(z), direct,
                               rtol=1e-12, atol=1e-9)


def test_exp_inplace_is_numpys_exp_bit_for_bit():
    from multiexpect.logspace import exp_inplace

    x = np.concatenate([np.linspace(-800.0, 10.0, 10001), [-np.inf, np.inf, np.nan, -745.1,
                                                          -745.2, -746.0, -746.1]])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(exp_inplace(x.copy()), np.exp(x))


def test_mixture_and_ratios_equal_the_two_step_path_to_rounding():
    from multiexpect.estimators.importance import log_ratio_exp
    from multiexpect.logspace import logsumexp_rows, mixture_and_ratios

    rng = np.random.default_rng(12)
    for n, k in [(500, 1), (2000, 11), (300, 201)]:
        a = rng.normal(size=(n, k)) * rng.choice([1.0, 30.0, 700.0], size=(n, 1))
        a[rng.random((n, k)) < 0.1] = -np.inf
        a[0] = -np.inf  # no mass: the two-step path
        a[1, :] = 5.0
        weights = rng.dirichlet(np.ones(k))
        weights[0] = 0.0 if k > 1 else 1.0  # a weightless component still has its ratio
        log_g, ratios = mixture_and_ratios(a, weights)
        with np.errstate(divide="ignore", over="ignore"):  # a weightless one may overflow
            want_g = logsumexp_rows(a + np.log(weights))
            want = log_ratio_exp(a, want_g[:, None])
        assert log_g[0] == -np.inf and np.all(ratios[0] == 0.0)
        np.testing.assert_allclose(log_g, want_g, rtol=1e-14, atol=1e-14)
        # the same to rounding (``exp`` of arguments up to ~2000: 1e-11 relative), or both
        # negligible beside 1 (a control is the ratio minus 1)
        np.testing.assert_allclose(ratios, want, rtol=1e-11, atol=1e-200)


def test_fit_gaussians_equal_the_one_by_one_fits():
    from multiexpect.proposals.gaussian import fit_gaussian, fit_gaussians

    rng = np.random.default_rng(14)
    points = rng.normal(size=(3000, 4)) * 2.0 + 1.0  # several blocks of rows
    log_w = rng.normal(size=(5, 3000)) * 3.0
    log_w[1, rng.random(3000) < 0.9] = -np.inf  # few effective points: shrunk
    log_w[2] = -0.5 * np.sum((points - 4.0) ** 2, axis=1)  # a far cluster
    ref = np.diag([1.0, 2.0, 0.5, 1.5])
    for diagonal, centre in [(False, None), (True, np.zeros(4)), (False, np.ones(4))]:
        many = fit_gaussians(points, log_w, reference_cov=ref, diagonal=diagonal,
                             reference_mean=centre)
        for row, (comp, n_eff) in zip(log_w, many):
            one, n_one = fit_gaussian(points, row, reference_cov=ref, diagonal=diagonal,
                                      reference_mean=centre)
            np.testing.assert_allclose(n_eff, n_one, rtol=1e-12)
            np.testing.assert_allclose(comp.mean, one.mean, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(comp.cov, one.cov, rtol=1e-10, atol=1e-12)

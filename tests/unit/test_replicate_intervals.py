"""Hartigan's subset-means interval of RQMC replicates: exact for symmetric replicates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from multiexpect.intervals import subset_mean_interval


@pytest.mark.parametrize("reps", [6, 9, 12])
def test_subset_means_cover_exactly_for_symmetric_heavy_tailed_replicates(reps):
    # symmetric about 0, heavy-tailed (Student's t on 2 dof, as scrambled nets' errors):
    # the chance is exactly 1 - 2k / 2^R; 3000 draws x 3 columns, tolerance 4 binomial s.e.
    k = int(np.floor(0.05 * 2 ** (reps - 1)))
    level = 1.0 - 2.0 * k / 2**reps
    rng = np.random.default_rng(reps)
    draws = rng.standard_t(2, size=(3000, reps, 3))
    cover = np.mean([np.mean((lo <= 0) & (0 <= hi)) for lo, hi in
                     (subset_mean_interval(x, 0.95) for x in draws)])
    assert level >= 0.95
    assert abs(cover - level) <= 4 * np.sqrt(level * (1 - level) / 9000)


def test_subset_means_are_shorter_than_students_t_on_heavy_tailed_replicates():
    # the reason for the rule: on symmetric heavy-tailed replicates t's spread is inflated
    # by the outlying one, so t is wider (and over-covers) where subset means cover exactly
    rng = np.random.default_rng(1)
    draws = rng.standard_t(1.5, size=(3000, 9))
    t_half = stats.t.ppf(0.975, 8) * draws.std(axis=1, ddof=1) / 3.0
    low, high = subset_mean_interval(draws.T, 0.95)
    assert np.mean(np.abs(draws.mean(axis=1)) <= t_half) > 0.96
    assert abs(np.mean((low <= 0) & (0 <= high)) - 0.953) < 0.016
    assert np.mean(high - low) < 0.9 * np.mean(2 * t_half)


@pytest.mark.parametrize("reps", [2, 5, 17])
def test_subset_means_refuse_too_few_or_too_many_replicates(reps):
    assert subset_mean_interval(np.arange(float(reps))[:, None], 0.95) is None


def test_subset_means_check_the_level():
    with pytest.raises(ValueError, match="'level'"):
        subset_mean_interval(np.ones((9, 1)), 1.5)


def test_the_interval_named_is_the_one_given_at_each_level():
    # 6 replicates: subset means at 95% (k = 1), Student's t at 99% (k = 0): the line under
    # summary()'s table names the interval confidence_interval(level) gives at that level
    import multiexpect as me
    from multiexpect.intervals import normal_interval

    res = me.expectations(lambda x: x[:, :1] ** 2, me.Law([stats.norm()] * 2), budget=384,
                          method="mc", sampling="rqmc", replicates=6, rng=3)
    assert "subset means" in res.interval_note(0.95)
    assert "subset means" in res.summary(0.95)
    t_low, t_high = normal_interval(res.estimate, res.stderr, 0.99, dof=5)
    low, high = res.confidence_interval(0.99)
    assert np.allclose(low, t_low) and np.allclose(high, t_high)
    assert "Student's t on 5 degrees of freedom" in res.interval_note(0.99)
    assert "subset means" not in res.summary(0.99)
    assert not np.allclose(res.confidence_interval(0.95)[0],
                           normal_interval(res.estimate, res.stderr, 0.95, dof=5)[0])

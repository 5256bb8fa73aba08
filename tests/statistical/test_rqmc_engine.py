"""Repetition tests of aISCV with an RQMC final stage: unbiasedness and t-interval coverage.

Each case is run ``REPS`` times with seeds ``SEED0 + r``; with ``m`` the mean of the
estimates and ``s.e. = std / sqrt(REPS)``, every quantity must satisfy ``|m - I| < 4 s.e.``,
and the 95% intervals (Student's t on ``R - 1`` degrees of freedom, the result's own
``confidence_interval``) must cover the truth in 92%-98% of the runs, pooled over the
quantities (at least 600 intervals). The one-net form (``replicates=1``) has a conservative
interval by design: its coverage must be at least 0.93 and its mean ``se²`` at most 9 times
the estimates' variance (a width within 3x of the error).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import multiexpect as me

SEED0 = 41_000
REPS = 200


def _check(runs, truth, conservative=False):
    estimates, truth = np.array([r.estimate for r in runs]), np.asarray(truth)
    sem = estimates.std(axis=0, ddof=1) / np.sqrt(estimates.shape[0])
    z = (estimates.mean(axis=0) - truth) / sem
    assert np.all(np.abs(z) < 4), z
    lows = np.array([r.confidence_interval()[0] for r in runs])
    highs = np.array([r.confidence_interval()[1] for r in runs])
    covered = (lows <= truth) & (truth <= highs)
    assert covered.size >= 600
    if conservative:
        assert covered.mean() >= 0.93, covered.mean(axis=0)
        se2 = np.mean([r.stderr**2 for r in runs], axis=0)
        assert np.all(se2 <= 9 * estimates.var(axis=0, ddof=1)), se2 / estimates.var(axis=0)
        return
    assert 0.92 <= covered.mean() <= 0.98, covered.mean(axis=0)


def _moments(x):
    return x[:, [0]] ** np.array([2, 4, 6])


def test_gaussian_moments_rqmc_aiscv_unbiased_and_covers():
    law = me.Law([stats.norm(0, 1)])
    runs = [me.expectations(_moments, law, budget=2000, rng=SEED0 + r, sampling="rqmc")
            for r in range(REPS)]
    _check(runs, [1.0, 3.0, 15.0])


def _quadratic(x):
    return x[:, 0] ** 2 + x[:, 1]


LAWS = [me.Law([stats.norm(m, s), stats.norm(1.0, 0.5)])
        for m, s in ((0.0, 1.0), (0.5, 0.8), (-0.3, 1.3))]
LAWS_TRUTH = np.array([0.0 + 1.0 + 1.0, 0.25 + 0.64 + 1.0, 0.09 + 1.69 + 1.0])


def test_several_laws_rqmc_aiscv_unbiased_and_covers():
    runs = [me.expectations(_quadratic, LAWS, budget=2000, rng=SEED0 + r, sampling="rqmc")
            for r in range(REPS)]
    _check(runs, LAWS_TRUTH)


def test_one_net_rqmc_aiscv_unbiased_and_covers_conservatively():
    runs = [me.expectations(_quadratic, LAWS, budget=2000, rng=SEED0 + r, sampling="rqmc",
                            replicates=1) for r in range(REPS)]
    _check(runs, LAWS_TRUTH, conservative=True)
    _check([me.expectations(_moments, me.Law([stats.norm(0, 1)]), budget=2000,
                            rng=SEED0 + r, sampling="rqmc", replicates=1)
            for r in range(REPS)], [1.0, 3.0, 15.0], conservative=True)

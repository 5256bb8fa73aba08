import numpy as np

import multiexpect as me
from tests.conftest import GAUSSIAN_MOMENTS, gaussian_moments


def test_aiscv_gaussian_moments_within_four_standard_errors(normal_law):
    res = me.expectations(gaussian_moments, normal_law, budget=4000, rng=3)
    assert res.n_evaluations <= 4000
    assert np.all(np.abs(res.estimate - GAUSSIAN_MOMENTS) < 4 * res.stderr)

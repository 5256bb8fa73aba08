"""Shared fixtures and helpers for the test suite."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me


@pytest.fixture
def normal_law():
    return me.Law([stats.norm(0, 1)])


def gaussian_moments(x):
    """``x^(2j)``, j = 1..4, of the first input."""
    return x[:, :1] ** (2 * np.arange(1, 5))


GAUSSIAN_MOMENTS = np.array([1.0, 3.0, 15.0, 105.0])

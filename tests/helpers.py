"""Small models shared by several test files."""

from __future__ import annotations

import numpy as np
from scipy import stats

import multiexpect as me


class Interrupting:
    """A model that raises after ``limit`` calls (a crash mid-study); counts its runs."""

    def __init__(self, model, limit=None):
        self.model, self.limit, self.calls, self.runs = model, limit, 0, 0

    def __call__(self, x):
        self.calls += 1
        if self.limit is not None and self.calls > self.limit:
            raise KeyboardInterrupt("interrupted")
        self.runs += x.shape[0]
        return self.model(x)


def smooth(x):
    """Two smooth outputs of two inputs."""
    return np.column_stack([x[:, 0] + x[:, 1] ** 2, np.exp(0.3 * x[:, 0])])


#: two independent normal inputs
NORM2 = me.Law([stats.norm(0, 1), stats.norm(1, 2)])

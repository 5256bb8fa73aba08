"""The sensitivity suite's paired comparators give SALib (and OpenTURNS) our one net's runs
in their own row order: per point ``A, AB_1 .. AB_d, B``, ``AB_i`` = ``A`` with column
``i`` from ``B`` (SALib 1.6 ``sobol.sample`` with ``calc_second_order=False``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from multiexpect.testproblems.sensitivity import problem

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import sensitivity_suite as suite


def _one_net(name: str, n: int, seed: int):
    prob = problem(name)
    (x, y), _ = suite._one_net_run(prob, n, seed)
    return prob, x, y


def test_salib_rows_are_salibs_layout_of_our_net():
    prob, x, y = _one_net("ishigami", 64, 5)
    d, n = prob.dim, 64
    # each input column, reordered like the outputs, is SALib's design column
    design = np.stack([suite.salib_rows(x, x[:, j], d) for j in range(d)], axis=1)
    rows = design.reshape(n, d + 2, d)
    a, b = rows[:, 0], rows[:, d + 1]
    blocks = x.reshape(d + 2, n, d)
    np.testing.assert_array_equal(a, blocks[1])  # A: our X' (net columns :d)
    np.testing.assert_array_equal(b, blocks[0])  # B: our X (net columns d:)
    for i in range(d):
        expected = a.copy()
        expected[:, i] = b[:, i]
        np.testing.assert_array_equal(rows[:, 1 + i], expected)
    np.testing.assert_array_equal(suite.salib_rows(x, y, d), prob.model(design))


def test_salib_rows_refuse_another_layout():
    prob, x, y = _one_net("borgonovo", 32, 3)
    d, n = prob.dim, 32
    swapped = x.reshape(d + 2, n, d)[[1, 0, *range(2, d + 2)]].reshape(-1, d)
    with pytest.raises(RuntimeError, match="is not A with column"):
        suite.salib_rows(swapped, y, d)

"""The reliability test problems: exact references agree with crude Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from multiexpect.testproblems import reliability_problem, reliability_problems


def test_suite_spans_the_issue_range():
    problems = reliability_problems()
    probabilities = [p.probability for p in problems]
    assert len(problems) >= 12
    assert min(probabilities) <= 1e-8 * 1.01 and max(probabilities) >= 1e-2 * 0.9
    assert {p.dim for p in problems} >= {2, 100} and any(p.regions >= 4 for p in problems)
    assert len({p.name for p in problems}) == len(problems)


@pytest.mark.parametrize("name", [p.name for p in reliability_problems()
                                  if p.probability > 1e-4])
def test_reference_agrees_with_crude_monte_carlo(name):
    problem = reliability_problem(name)
    n = 400_000
    hits = problem.failure(problem.law().sample(n, np.random.default_rng(11)))
    se = np.sqrt(problem.probability * (1 - problem.probability) / n)
    assert abs(hits.mean() - problem.probability) < 4.0 * se


@pytest.mark.parametrize("name", ["four_branch", "paraboloid_d6", "rp107"])
def test_probability_at_zero_is_the_failure_probability(name):
    problem = reliability_problem(name)
    assert problem.probability_at(0.0) == pytest.approx(problem.probability, rel=1e-9)
    assert problem.probability_at(-1.0) < problem.probability < problem.probability_at(1.0)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="'name' must be one of"):
        reliability_problem("rp999")

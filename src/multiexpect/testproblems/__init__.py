"""Public test problems with known answers, for users, tests and benchmarks."""

from .reliability import ReliabilityProblem, reliability_problem, reliability_problems

__all__ = ["ReliabilityProblem", "reliability_problem", "reliability_problems"]

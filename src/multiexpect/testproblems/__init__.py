"""Public test problems with known or reference answers, for users, tests and benchmarks:
reliability (:mod:`.reliability`) and sensitivity (:mod:`.sensitivity`)."""

from .reliability import ReliabilityProblem, reliability_problem, reliability_problems

__all__ = ["ReliabilityProblem", "reliability_problem", "reliability_problems"]

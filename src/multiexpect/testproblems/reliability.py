"""Structural-reliability problems with exact failure probabilities.

Each problem is a limit state ``g`` of independent normal inputs; failure is ``g(x) <= 0``
and its probability ``p = P(g(X) <= 0)`` is known exactly, in closed form or by a 1-D
quadrature after a rotation of the standard normal inputs (no Monte Carlo reference). The
``RP`` problems are those of the black-box reliability challenge (Rozsas & Slobbe 2019),
as defined in OpenTURNS' ``otbenchmark``; where the challenge's published value differs
from the exact one, ``published`` keeps it. ``probability_at(t)`` gives ``P(g(X) <= t)``
for the problems used for exceedance curves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import integrate, stats

from ..laws import Law

__all__ = ["ReliabilityProblem", "reliability_problem", "reliability_problems"]

_NORMAL = stats.norm()


@dataclass(frozen=True)
class ReliabilityProblem:
    """A limit state, its input law and its exact failure probability.

    Attributes
    ----------
    name : str
    dim : int
    means, stds : tuple of float
        The independent normal marginals of the inputs.
    limit_state : callable
        ``(n, d)`` inputs -> ``(n,)`` values of ``g``; failure where ``g <= 0``.
    probability : float
        ``P(g(X) <= 0)``.
    reference : str
        How ``probability`` was computed (``"closed form"`` or ``"quadrature"``).
    regions : int
        Number of separate failure regions (branches of a series system).
    source : str
    published : float or None
        The value published with the problem, when it differs from ``probability``.
    probability_at : callable or None
        ``t -> P(g(X) <= t)``, for exceedance curves.
    """

    name: str
    dim: int
    means: tuple
    stds: tuple
    limit_state: Callable[[np.ndarray], np.ndarray]
    probability: float
    reference: str
    regions: int
    source: str
    published: float | None = None
    probability_at: Callable[[float], float] | None = None

    def law(self) -> Law:
        """The input law as a :class:`~multiexpect.Law` of independent normals."""
        return Law([stats.norm(m, s) for m, s in zip(self.means, self.stds)])

    def failure(self, x: np.ndarray) -> np.ndarray:
        """``1{g(x) <= 0}`` as floats: the event as a quantity for ``expectations``."""
        return (self.limit_state(np.asarray(x, dtype=float)) <= 0.0).astype(float)


def _standard(dim: int) -> tuple[tuple, tuple]:
    return (0.0,) * dim, (1.0,) * dim


# ---------------------------------------------------------------- limit states
def _linear(beta: float, dim: int) -> Callable:
    """``g = β - Σ x_i / √d``: a hyperplane at distance ``β``; ``P(g <= t) = Φ(t - β)``."""
    def g(x):
        return beta - x.sum(axis=1) / np.sqrt(dim)
    return g


def _rp22(x):
    return 2.5 - (x[:, 0] + x[:, 1]) / np.sqrt(2.0) + 0.1 * (x[:, 0] - x[:, 1]) ** 2


def _rp24(x):
    return 2.5 - 0.2357 * (x[:, 0] - x[:, 1]) + 0.00463 * (x[:, 0] + x[:, 1] - 20.0) ** 4


def _rp28(x):
    return x[:, 0] * x[:, 1] - 146.14


def _rp33(x):
    return np.minimum(-x[:, 0] - x[:, 1] - x[:, 2] + 3.0 * np.sqrt(3.0), 3.0 - x[:, 2])


def _rp63(x):
    return 0.1 * np.sum(x[:, 1:] ** 2, axis=1) - x[:, 0] - 4.5


def _rp75(x):
    return 3.0 - x[:, 0] * x[:, 1]


def _four_branch(x):
    """Waarts' four-branch series system (``k = 7``) in standard normal space."""
    a, b = x[:, 0], x[:, 1]
    quad = 3.0 + 0.1 * (a - b) ** 2
    return np.minimum.reduce([quad - (a + b) / np.sqrt(2.0), quad + (a + b) / np.sqrt(2.0),
                              (a - b) + 7.0 / np.sqrt(2.0), (b - a) + 7.0 / np.sqrt(2.0)])


def _four_region(beta: float) -> Callable:
    """``g = β - max(|x_1|, |x_2|)``: four half-spaces (``±x_1``, ``±x_2``) in series."""
    def g(x):
        return beta - np.maximum(np.abs(x[:, 0]), np.abs(x[:, 1]))
    return g


def _paraboloid(beta: float, kappa: float) -> Callable:
    """``g = β + (κ/2) Σ_{i<d} x_i² - x_d``: a paraboloid of curvature ``κ`` at distance ``β``."""
    def g(x):
        return beta + 0.5 * kappa * np.sum(x[:, :-1] ** 2, axis=1) - x[:, -1]
    return g


# ---------------------------------------------------------------- exact probabilities
def _quad(fun, a, b, points=None) -> float:
    value, _ = integrate.quad(fun, a, b, points=points, limit=500, epsabs=0.0, epsrel=1e-10)
    return float(value)


def _four_branch_at(t: float) -> float:
    """``P(g <= t)``: with ``u = (x_1 + x_2)/√2``, ``v = (x_1 - x_2)/√2`` independent,
    ``g <= t`` iff ``|v| >= c = 3.5 - t/√2`` or ``|u| >= 3 - t + v²/5``."""
    c = 3.5 - t / np.sqrt(2.0)
    if c <= 0:
        return 1.0
    inner = _quad(lambda v: 2.0 * _NORMAL.sf(max(3.0 - t + v * v / 5.0, 0.0)) * _NORMAL.pdf(v),
                  -c, c)
    return 2.0 * float(_NORMAL.sf(c)) + inner


def _paraboloid_at(beta: float, kappa: float, dim: int) -> Callable[[float], float]:
    """``P(g <= t) = ∫ Φ̄(β - t + κc/2) dχ²_{d-1}(c)``."""
    chi2 = stats.chi2(dim - 1)

    def prob(t: float) -> float:
        hi = float(chi2.isf(1e-16))
        return _quad(lambda c: _NORMAL.sf(beta - t + 0.5 * kappa * c) * chi2.pdf(c), 0.0, hi,
                     points=[dim - 1.0])
    return prob


def _rp22_probability() -> float:
    # a = (x1+x2)/√2, b = (x1-x2)/√2: g = 2.5 - a + 0.2 b²
    return _quad(lambda b: _NORMAL.sf(2.5 + 0.2 * b * b) * _NORMAL.pdf(b), -40.0, 40.0)


def _rp24_probability() -> float:
    # v = x1 + x2 ~ N(20, 3√2), w = x1 - x2 ~ N(0, 3√2), independent
    s = 3.0 * np.sqrt(2.0)
    return _quad(lambda v: _NORMAL.sf((2.5 + 0.00463 * (v - 20.0) ** 4) / 0.2357 / s)
                 * _NORMAL.pdf((v - 20.0) / s) / s, 20.0 - 40.0 * s, 20.0 + 40.0 * s,
                 points=[20.0])


def _rp28_probability() -> float:
    m1, s1, m2, s2 = 78064.4, 11709.7, 0.0104, 0.00156
    positive = _quad(lambda a: _NORMAL.cdf((146.14 / a - m2) / s2) * _NORMAL.pdf((a - m1) / s1)
                     / s1, 1e-12, m1 + 40.0 * s1, points=[m1 - 6 * s1, m1])
    # x1 < 0: x1 x2 <= 146.14 unless x2 < 146.14 / x1 (< -9e5 s.d.): probability Φ(-m1/s1)
    return positive + float(_NORMAL.cdf(-m1 / s1))


def _rp33_probability() -> float:
    rho = 1.0 / np.sqrt(3.0)
    both = stats.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]]).cdf([-3.0, -3.0])
    return float(2.0 * _NORMAL.sf(3.0) - both)


def _rp63_probability() -> float:
    chi2 = stats.chi2(99)
    return _quad(lambda c: _NORMAL.sf(0.1 * c - 4.5) * chi2.pdf(c), 0.0, 400.0,
                 points=[45.0, 99.0])


def _rp75_probability() -> float:
    return 2.0 * _quad(lambda a: _NORMAL.sf(3.0 / a) * _NORMAL.pdf(a), 1e-12, 40.0)


# ---------------------------------------------------------------- the suite
@lru_cache(maxsize=1)
def reliability_problems() -> tuple[ReliabilityProblem, ...]:
    """The suite: 13 problems, ``p`` from ``1e-2`` to ``1e-8``, ``d`` from 2 to 100."""
    bbrc = "black-box reliability challenge 2019"
    para_b, para_k = 2.8, 0.2
    para_at = _paraboloid_at(para_b, para_k, 6)
    return (
        ReliabilityProblem("rp75", 2, *_standard(2), _rp75, _rp75_probability(),
                           "quadrature", 2, f"RP75, {bbrc}", published=1.07e-2),
        ReliabilityProblem("rp22", 2, *_standard(2), _rp22, _rp22_probability(),
                           "quadrature", 1, f"RP22, {bbrc}", published=4.16e-3),
        ReliabilityProblem("rp24", 2, (10.0, 10.0), (3.0, 3.0), _rp24, _rp24_probability(),
                           "quadrature", 1, f"RP24, {bbrc}"),
        ReliabilityProblem("four_branch", 2, *_standard(2), _four_branch, _four_branch_at(0.0),
                           "quadrature", 4, "four-branch series system (Waarts 2000), k = 7",
                           probability_at=_four_branch_at),
        ReliabilityProblem("rp33", 3, *_standard(3), _rp33, _rp33_probability(),
                           "closed form", 2, f"RP33, {bbrc}"),
        ReliabilityProblem("rp28", 2, (78064.4, 0.0104), (11709.7, 0.00156), _rp28,
                           _rp28_probability(), "quadrature", 1, f"RP28, {bbrc}",
                           published=1.46e-7),
        ReliabilityProblem("paraboloid_d6", 6, *_standard(6), _paraboloid(para_b, para_k),
                           para_at(0.0), "quadrature", 1,
                           "paraboloid beta = 2.8, curvature 0.2 (SORM's test case)",
                           probability_at=para_at),
        ReliabilityProblem("rp107", 10, *_standard(10), _linear(5.0, 10),
                           float(_NORMAL.cdf(-5.0)), "closed form", 1, f"RP107, {bbrc}",
                           probability_at=lambda t: float(_NORMAL.cdf(t - 5.0))),
        ReliabilityProblem("four_region_d10", 10, *_standard(10), _four_region(4.0),
                           float(1.0 - (1.0 - 2.0 * _NORMAL.sf(4.0)) ** 2), "closed form", 4,
                           "series system of four half-spaces at beta = 4 (+-x1, +-x2)"),
        ReliabilityProblem("linear_d20", 20, *_standard(20), _linear(3.16, 20),
                           float(_NORMAL.cdf(-3.16)), "closed form", 1,
                           "hyperplane at beta = 3.16"),
        ReliabilityProblem("linear_d50", 50, *_standard(50), _linear(5.612, 50),
                           float(_NORMAL.cdf(-5.612)), "closed form", 1,
                           "hyperplane at beta = 5.612"),
        ReliabilityProblem("rp63", 100, *_standard(100), _rp63, _rp63_probability(),
                           "quadrature", 1, f"RP63, {bbrc}", published=3.79e-4),
        ReliabilityProblem("linear_d100", 100, *_standard(100), _linear(4.0, 100),
                           float(_NORMAL.cdf(-4.0)), "closed form", 1,
                           "hyperplane at beta = 4"),
    )


def reliability_problem(name: str) -> ReliabilityProblem:
    """The problem of the suite called ``name``."""
    for problem in reliability_problems():
        if problem.name == name:
            return problem
    names = [p.name for p in reliability_problems()]
    raise ValueError(f"'name' must be one of {names}, got {name!r}")

r"""The public Sobol' sensitivity benchmark problems, vectorised, with their input laws.

The eleven problems of the OpenTURNS benchmark collection (otbenchmark) and the literature
it cites, each a :class:`SensitivityProblem`: a vectorised model ``(n, d) -> (n,)``, a
:class:`~multiexpect.Law` and, where they are known in closed form, the exact first- and
total-order indices (``exact=True``). The others' published indices have two decimals; a
benchmark computes its own references (``benchmarks/sensitivity_suite.py --make-reference``:
RQMC pick-freeze at ``2^20`` points).

=================  ===  ==================================================================
problem            d    model, inputs
=================  ===  ==================================================================
gaussian-sum       2    ``x1 + x2 (+1)``, ``N(0, 1)``; ``S_i = ST_i = 1/2``
gaussian-product   2    ``x1 x2``, ``N(0, 1)``; ``S_i = 0``, ``ST_i = 1``
g-function         3    ``prod (|4 x_i - 2| + a_i) / (1 + a_i)``, ``a = (0, 9, 99)``, ``U(0,1)``
ishigami           3    ``sin x1 + 7 sin^2 x2 + 0.1 x3^4 sin x1``, ``U(-π, π)``
dirichlet          3    ``prod (1 + α_i d_i(x_i))``, Dirichlet kernels, ``α = (1/2, 1/3, 1/4)``
borgonovo          3    ``x1 x2 + x3``, ``U(0, 1)``
borehole           8    water flow (Worley 1987), ``r_w ~ N(0.1, 0.0161812)`` untruncated
flood              8    river overflow (Iooss & Lemaître 2015): truncated Gumbel flow, ...
morris             20   Morris (1991) 4th-order polynomial, ``U(0, 1)``
oakley-ohagan      15   ``a1'x + a2' sin x + a3' cos x + x' M x``, ``N(0, 1)`` (2004)
oscillator         8    nonlinear two-degree-of-freedom oscillator margin, lognormals
=================  ===  ==================================================================

The borehole law is the published one: its radius ``r_w`` is negative (the flow undefined)
with probability ``3e-10``, a point a method that samples far tails can reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..laws import Law
from ..testfunctions import ishigami, ishigami_indices, lognormal_from_mean_cv, sobol_g

__all__ = ["PROBLEMS", "SensitivityProblem", "problem", "problems"]


@dataclass(frozen=True)
class SensitivityProblem:
    """A model, its independent input law and its indices when exactly known.

    Attributes
    ----------
    name : str
    model : callable
        Vectorised, ``(n, d) -> (n,)``.
    law : Law
    first, total : (d,) ndarray or None
        Exact first- and total-order indices (None: not known in closed form).
    """

    name: str
    model: object
    law: Law
    first: np.ndarray | None = None
    total: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """Number of inputs."""
        return self.law.dim

    @property
    def exact(self) -> bool:
        """Whether the indices are known in closed form."""
        return self.first is not None


# ---------------------------------------------------------------------- closed forms
def gaussian_sum(x: np.ndarray) -> np.ndarray:
    """``1 + x1 + x2``."""
    return 1.0 + np.asarray(x, dtype=float).sum(axis=1)


def gaussian_product(x: np.ndarray) -> np.ndarray:
    """``x1 x2``."""
    return np.prod(np.asarray(x, dtype=float), axis=1)


G_COEFFICIENTS = (0.0, 9.0, 99.0)


def g_function(x: np.ndarray) -> np.ndarray:
    """Sobol' G function with ``a = (0, 9, 99)``."""
    return sobol_g(x, G_COEFFICIENTS)


def _g_indices(a) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float)
    v = 1.0 / (3.0 * (1.0 + a) ** 2)
    var = np.prod(1.0 + v) - 1.0
    return v / var, v * np.prod(1.0 + v) / (1.0 + v) / var


DIRICHLET_ALPHA = (1.0 / 2.0, 1.0 / 3.0, 1.0 / 4.0)


def dirichlet(x: np.ndarray) -> np.ndarray:
    """``prod_i (1 + α_i d_i(x_i))``, ``d_i(x) = (sin((2i+1) π x) / sin(π x) - 1) / sqrt(2i)``.

    ``d_i`` has mean 0 and mean square 1 on ``[0, 1]`` (Martinez 2008), so
    ``V = prod (1 + α_i^2) - 1``, ``S_i = α_i^2 / V``, ``ST_i = (1 + V) α_i^2 / ((1 + α_i^2) V)``.
    """
    x = np.asarray(x, dtype=float)
    out = np.ones(x.shape[0])
    for i, alpha in enumerate(DIRICHLET_ALPHA, start=1):
        factor = 2.0 * i + 1.0
        s = np.sin(np.pi * x[:, i - 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            kernel = np.where(np.abs(s) > 1e-300, np.sin(factor * np.pi * x[:, i - 1]) / s,
                              factor)
        out *= 1.0 + alpha * (kernel - 1.0) / np.sqrt(2.0 * i)
    return out


def _dirichlet_indices() -> tuple[np.ndarray, np.ndarray]:
    a2 = np.asarray(DIRICHLET_ALPHA) ** 2
    var = np.prod(1.0 + a2) - 1.0
    return a2 / var, (1.0 + var) / var * a2 / (1.0 + a2)


def borgonovo(x: np.ndarray) -> np.ndarray:
    """``x1 x2 + x3`` (Borgonovo 2017): ``S = (3, 3, 12) / 19``, ``ST = (4, 4, 12) / 19``."""
    x = np.asarray(x, dtype=float)
    return x[:, 0] * x[:, 1] + x[:, 2]


# ---------------------------------------------------------------------- engineering models
def borehole(x: np.ndarray) -> np.ndarray:
    """Water flow ``2π Tu (Hu - Hl) / (ln(r/rw) (1 + 2 L Tu / (ln(r/rw) rw^2 Kw) + Tu/Tl))``.

    NaN where ``rw <= 0`` (the flow is undefined there).
    """
    x = np.asarray(x, dtype=float)
    rw, r, tu, hu, tl, hl, length, kw = x.T
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.log(r / rw)
        return (2 * np.pi * tu * (hu - hl)
                / (log_ratio * (1 + 2 * length * tu / (log_ratio * rw**2 * kw) + tu / tl)))


def _borehole_law() -> Law:
    return Law([stats.norm(0.1, 0.0161812), stats.lognorm(1.0056, scale=np.exp(7.71)),
                stats.uniform(63070, 115600 - 63070), stats.uniform(990, 120),
                stats.uniform(63.1, 116 - 63.1), stats.uniform(700, 120),
                stats.uniform(1120, 560), stats.uniform(9855, 12045 - 9855)],
               names=("rw", "r", "Tu", "Hu", "Tl", "Hl", "L", "Kw"))


class _LowerTruncatedGumbel(stats.rv_continuous):
    """Gumbel (maximum) law truncated below at ``c`` (standardised units), for the flood."""

    def _argcheck(self, c):
        return np.isfinite(c)

    def _get_support(self, c):
        return c, np.inf

    @staticmethod
    def _mass(c):  # P(G > c) of the untruncated standard Gumbel
        return -np.expm1(-np.exp(-c))

    def _pdf(self, x, c):
        return np.exp(-x - np.exp(-x)) / self._mass(c)

    def _logpdf(self, x, c):
        return -x - np.exp(-x) - np.log(self._mass(c))

    def _cdf(self, x, c):  # (G(x) - G(c)) / mass without cancellation near c
        return np.exp(-np.exp(-c)) * np.expm1(np.exp(-c) - np.exp(-x)) / self._mass(c)

    def _sf(self, x, c):
        return -np.expm1(-np.exp(-x)) / self._mass(c)

    def _ppf(self, q, c):  # G(x) = G(c) + q mass, solved in log space
        return -np.log(np.exp(-c) - np.log1p(q * self._mass(c) / np.exp(-np.exp(-c))))

    def _isf(self, q, c):
        return -np.log(-np.log1p(-q * self._mass(c)))


_truncated_gumbel = _LowerTruncatedGumbel(name="truncated_gumbel", shapes="c")


def flood(x: np.ndarray) -> np.ndarray:
    """Overflow ``(Q / (Ks B sqrt((Zm - Zv) / L)))^(3/5) + Zv - Zb - Hd`` (metres)."""
    x = np.asarray(x, dtype=float)
    q, ks, zv, zm, hd, zb, length, width = x.T
    return (q / (ks * width * np.sqrt((zm - zv) / length))) ** 0.6 + zv - zb - hd


def _triangular(low: float, mode: float, high: float):
    return stats.triang((mode - low) / (high - low), loc=low, scale=high - low)


def _flood_law() -> Law:
    # Q: Gumbel (location 1013, scale 558) truncated to Q > 0; Ks: N(30, 7.5) truncated to > 0
    return Law([_truncated_gumbel(c=-1013.0 / 558.0, loc=1013.0, scale=558.0),
                stats.truncnorm(-30.0 / 7.5, np.inf, loc=30.0, scale=7.5),
                stats.uniform(49.0, 2.0), stats.uniform(54.0, 2.0), stats.uniform(7.0, 2.0),
                _triangular(55.0, 55.5, 56.0), _triangular(4990.0, 5000.0, 5010.0),
                _triangular(295.0, 300.0, 305.0)],
               names=("Q", "Ks", "Zv", "Zm", "Hd", "Zb", "L", "B"))


def oscillator(x: np.ndarray) -> np.ndarray:
    """Margin ``Fs - 3 ks sqrt(...)`` of a primary-secondary oscillator under white noise
    (Der Kiureghian & De Stefano 1991), inputs ``(Fs, mp, ms, kp, ks, ξp, ξs, S0)``."""
    x = np.asarray(x, dtype=float)
    fs, mp, ms, kp, ks, xip, xis, s0 = x.T
    omega_p, omega_s = np.sqrt(kp / mp), np.sqrt(ks / ms)
    omega_a = 0.5 * (omega_p + omega_s)
    gamma = ms / mp
    xi_a = 0.5 * (xip + xis)
    theta = (omega_p - omega_s) / omega_a
    t1 = np.pi * s0 / (4.0 * xis * omega_s**3)
    t2 = xi_a * xis / (xip * xis * (4.0 * xi_a**2 + theta**2) + gamma * xi_a**2)
    t3 = (xip * omega_p**3 + xis * omega_s**3) * omega_p / (4.0 * xi_a * omega_a**4)
    return fs - 3.0 * ks * np.sqrt(t1 * t2 * t3)


def _oscillator_law() -> Law:
    means = (21.5, 1.5, 0.01, 1.0, 0.01, 0.05, 0.02, 100.0)
    cvs = (0.1, 0.1, 0.1, 0.2, 0.2, 0.4, 0.5, 0.1)
    return Law([lognormal_from_mean_cv(m, c) for m, c in zip(means, cvs)],
               names=("Fs", "mp", "ms", "kp", "ks", "xip", "xis", "S0"))


# ---------------------------------------------------------------------- Morris (1991)
def _morris_coefficients():
    """Morris (1991): ``β_i = 20`` (i <= 10), ``β_ij = -15`` (i, j <= 6), ``β_ijl = -10``
    (<= 5), ``β_ijls = 5`` (<= 4); the other first- and second-order coefficients are
    standard normal draws, fixed here once (generator seed 1991)."""
    gen = np.random.default_rng(1991)
    b0 = float(gen.standard_normal())
    b1 = np.concatenate([np.full(10, 20.0), gen.standard_normal(10)])
    b2 = np.triu(gen.standard_normal((20, 20)), 1)
    b2[:6, :6] = np.triu(np.full((6, 6), -15.0), 1)
    return b0, b1, b2


_MORRIS = _morris_coefficients()


def morris(x: np.ndarray) -> np.ndarray:
    """``β0 + sum β_i w_i + sum β_ij w_i w_j + sum β_ijl w_i w_j w_l + sum β_ijls ...``.

    ``w_i = 2 (x_i - 1/2)``, except ``w_i = 2 (1.1 x_i / (x_i + 0.1) - 1/2)`` for
    ``i = 3, 5, 7``; the third- and fourth-order sums run over ``i < j < l (< s)``.
    """
    x = np.asarray(x, dtype=float)
    b0, b1, b2 = _MORRIS
    w = 2.0 * (x - 0.5)
    for i in (2, 4, 6):
        w[:, i] = 2.0 * (1.1 * x[:, i] / (x[:, i] + 0.1) - 0.5)
    y = b0 + w @ b1 + np.einsum("ni,ij,nj->n", w, b2, w)
    w5 = w[:, :5]  # e3 of the first five: (p1^3 - 3 p1 p2 + 2 p3) / 6
    p1, p2, p3 = w5.sum(axis=1), (w5**2).sum(axis=1), (w5**3).sum(axis=1)
    y += -10.0 * (p1**3 - 3.0 * p1 * p2 + 2.0 * p3) / 6.0
    return y + 5.0 * np.prod(w[:, :4], axis=1)


# ---------------------------------------------------------------------- Oakley & O'Hagan
_OAKLEY_A1 = (0.0118, 0.0456, 0.2297, 0.0393, 0.1177, 0.3865, 0.3897, 0.6061, 0.6159,
              0.4005, 1.0741, 1.1474, 0.7880, 1.1242, 1.1982)
_OAKLEY_A2 = (0.4341, 0.0887, 0.0512, 0.3233, 0.1489, 1.0360, 0.9892, 0.9672, 0.8977,
              0.8083, 1.8426, 2.4712, 2.3946, 2.0045, 2.2621)
_OAKLEY_A3 = (0.1044, 0.2057, 0.0774, 0.2730, 0.1253, 0.7526, 0.8570, 1.0331, 0.8388,
              0.7970, 2.2145, 2.0382, 2.4004, 2.0541, 1.9845)
_OAKLEY_M = (
    (-0.022482886, -0.18501666, 0.13418263, 0.36867264, 0.17172785, 0.13651143, -0.44034404,
     -0.081422854, 0.71321025, -0.44361072, 0.50383394, -0.024101458, -0.045939684,
     0.21666181, 0.055887417),
    (0.2565963, 0.053792287, 0.25800381, 0.23795905, -0.59125756, -0.081627077, -0.28749073,
     0.41581639, 0.49752241, 0.083893165, -0.11056683, 0.033222351, -0.13979497,
     -0.031020556, -0.22318721),
    (-0.055999811, 0.19542252, 0.095529005, -0.2862653, -0.14441303, 0.22369356, 0.14527412,
     0.28998481, 0.2310501, -0.31929879, -0.29039128, -0.20956898, 0.43139047, 0.024429152,
     0.044904409),
    (0.66448103, 0.43069872, 0.29924645, -0.16202441, -0.31479544, -0.39026802, 0.17679822,
     0.057952663, 0.17230342, 0.13466011, -0.3527524, 0.25146896, -0.018810529, 0.36482392,
     -0.32504618),
    (-0.121278, 0.12463327, 0.10656519, 0.046562296, -0.21678617, 0.19492172, -0.065521126,
     0.024404669, -0.09682886, 0.19366196, 0.33354757, 0.31295994, -0.083615456,
     -0.25342082, 0.37325717),
    (-0.2837623, -0.32820154, -0.10496068, -0.22073452, -0.13708154, -0.14426375,
     -0.11503319, 0.22424151, -0.030395022, -0.51505615, 0.017254978, 0.038957118,
     0.36069184, 0.30902452, 0.050030193),
    (-0.077875893, 0.003745656, 0.88685604, -0.26590028, -0.079325357, -0.042734919,
     -0.18653782, -0.35604718, -0.17497421, 0.088699956, 0.40025886, -0.055979693,
     0.13724479, 0.21485613, -0.011265799),
    (-0.09229473, 0.59209563, 0.031338285, -0.033080861, -0.24308858, -0.099798547,
     0.034460195, 0.095119813, -0.3380162, 0.0063860024, -0.61207299, 0.081325416,
     0.88683114, 0.14254905, 0.14776204),
    (-0.13189434, 0.52878496, 0.12652391, 0.045113625, 0.58373514, 0.37291503, 0.11395325,
     -0.29479222, -0.57014085, 0.46291592, -0.094050179, 0.13959097, -0.38607402,
     -0.4489706, -0.14602419),
    (0.058107658, -0.32289338, 0.093139162, 0.072427234, -0.56919401, 0.52554237,
     0.23656926, -0.011782016, 0.071820601, 0.078277291, -0.13355752, 0.22722721,
     0.14369455, -0.45198935, -0.55574794),
    (0.66145875, 0.34633299, 0.14098019, 0.51882591, -0.28019898, -0.1603226, -0.068413337,
     -0.20428242, 0.069672173, 0.23112577, -0.044368579, -0.16455425, 0.21620977,
     0.0042702105, -0.087399014),
    (0.31599556, -0.027551859, 0.13434254, 0.13497371, 0.05400568, -0.17374789, 0.17525393,
     0.060258929, -0.17914162, -0.31056619, -0.25358691, 0.025847535, -0.43006001,
     -0.62266361, -0.033996882),
    (-0.29038151, 0.03410127, 0.034903413, -0.12121764, 0.026030714, -0.33546274,
     -0.41424111, 0.05324838, -0.27099455, -0.026251302, 0.41024137, 0.26636349, 0.15582891,
     -0.18666254, 0.019895831),
    (-0.24388652, -0.44098852, 0.012618825, 0.24945112, 0.071101888, 0.24623792, 0.17484502,
     0.0085286769, 0.2514707, -0.14659862, -0.08462515, 0.36931333, -0.29955293, 0.1104436,
     -0.75690139),
    (0.041494323, -0.25980564, 0.46402128, -0.36112127, -0.94980789, -0.16504063,
     0.0030943325, 0.052792942, 0.22523648, 0.38390366, 0.45562427, -0.18631744,
     0.0082333995, 0.16670803, 0.16045688),
)


def oakley_ohagan(x: np.ndarray) -> np.ndarray:
    """``a1'x + a2' sin(x) + a3' cos(x) + x' M x`` (Oakley & O'Hagan 2004), ``x ~ N(0, I_15)``."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(_OAKLEY_M)
    return (x @ np.asarray(_OAKLEY_A1) + np.sin(x) @ np.asarray(_OAKLEY_A2)
            + np.cos(x) @ np.asarray(_OAKLEY_A3) + np.einsum("ni,ij,nj->n", x, m, x))


# ---------------------------------------------------------------------- the collection
def _standard_normal(d: int) -> Law:
    return Law([stats.norm(0.0, 1.0)] * d, names=[f"x{i + 1}" for i in range(d)])


def _unit_cube(d: int) -> Law:
    return Law([stats.uniform(0.0, 1.0)] * d, names=[f"x{i + 1}" for i in range(d)])


def problems() -> list[SensitivityProblem]:
    """The eleven problems, in the order of the module docstring's table."""
    ishi_first, ishi_total = ishigami_indices()
    g_first, g_total = _g_indices(G_COEFFICIENTS)
    dir_first, dir_total = _dirichlet_indices()
    return [
        SensitivityProblem("gaussian-sum", gaussian_sum, _standard_normal(2),
                           np.full(2, 0.5), np.full(2, 0.5)),
        SensitivityProblem("gaussian-product", gaussian_product, _standard_normal(2),
                           np.zeros(2), np.ones(2)),
        SensitivityProblem("g-function", g_function, _unit_cube(3), g_first, g_total),
        SensitivityProblem("ishigami", ishigami,
                           Law([stats.uniform(-np.pi, 2 * np.pi)] * 3,
                               names=("x1", "x2", "x3")), ishi_first, ishi_total),
        SensitivityProblem("dirichlet", dirichlet, _unit_cube(3), dir_first, dir_total),
        SensitivityProblem("borgonovo", borgonovo, _unit_cube(3),
                           np.array([3.0, 3.0, 12.0]) / 19.0, np.array([4.0, 4.0, 12.0]) / 19.0),
        SensitivityProblem("borehole", borehole, _borehole_law()),
        SensitivityProblem("flood", flood, _flood_law()),
        SensitivityProblem("morris", morris, _unit_cube(20)),
        SensitivityProblem("oakley-ohagan", oakley_ohagan, _standard_normal(15)),
        SensitivityProblem("oscillator", oscillator, _oscillator_law()),
    ]


PROBLEMS = tuple(p.name for p in problems())


def problem(name: str) -> SensitivityProblem:
    """The problem called ``name`` (one of :data:`PROBLEMS`)."""
    for item in problems():
        if item.name == name:
            return item
    raise ValueError(f"'name' must be one of {PROBLEMS}, got {name!r}")

"""OpenTURNS laws and models (``pip install 'multiexpect[openturns]'``).

Two paths for an OpenTURNS ``Distribution``:

1. **Native** (preferred, exact): a distribution whose marginals are of known kinds (Normal,
   LogNormal, Uniform, Gumbel, WeibullMin, Beta, TruncatedNormal, Triangular, Exponential,
   Gamma, LogUniform) and whose copula is independent or normal becomes a native
   :class:`~multiexpect.Law` with the same parameters. The conversion is checked: the native
   log-density must equal OpenTURNS's at test points of the law (relative 1e-9), otherwise
   the generic path is used.
2. **Generic**: :class:`OpenTURNSLaw` wraps any distribution whose standard space is
   normal. Densities come from ``computeLogPDF`` on a whole ``Sample``; the standard-space
   maps are the distribution's iso-probabilistic transformation and its inverse, evaluated on
   whole samples; sampling is ``from_standard(rng.standard_normal((n, d)))``, so randomness
   comes from our ``numpy.random.Generator`` and never from OpenTURNS's global generator.

An OpenTURNS ``Function`` becomes :class:`OpenTURNSModel`, which evaluates whole samples
(``f(ot.Sample(x))``, never point by point) and exposes ``input_dim``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .._rng import check_rng
from ..laws import Law, as_points, standard_normal_logpdf

__all__ = ["OpenTURNSLaw", "OpenTURNSModel", "from_openturns", "to_openturns"]

_INSTALL_HINT = "OpenTURNS support needs openturns: pip install 'multiexpect[openturns]'"
# OpenTURNS returns -SpecFunc::MaxScalar (about -1.8e308) for a log-density of zero
_LOG_ZERO = -1e300


def _ot():
    try:
        import openturns as ot
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from exc
    return ot


def _as_distribution(dist, name: str):
    ot = _ot()
    if isinstance(dist, ot.DistributionImplementation):
        return ot.Distribution(dist)
    if isinstance(dist, ot.Distribution):
        return dist
    raise ValueError(f"'{name}' must be an OpenTURNS Distribution, got {type(dist).__name__}")


def _class_name(dist) -> str:
    impl = getattr(dist, "getImplementation", None)
    return impl().getClassName() if callable(impl) else dist.getClassName()


# ---------------------------------------------------------------------------------------------
# marginal kinds: OpenTURNS parameters -> frozen scipy.stats distribution
def _scipy_marginal(marginal):
    """The frozen scipy.stats equivalent of a 1-d OpenTURNS distribution, or None."""
    kind = _class_name(marginal)
    if kind == "ParametrizedDistribution":    # e.g. LogNormalMuSigma: convert the underlying
        ot = _ot()
        impl = marginal.getImplementation() if hasattr(marginal, "getImplementation") \
            else marginal
        inner = ot.ParametrizedDistribution(impl).getDistributionParameters().getDistribution()
        return _scipy_marginal(inner)
    p = [float(v) for v in marginal.getParameter()]
    if kind == "Normal" and len(p) == 2:
        return stats.norm(p[0], p[1])
    if kind == "LogNormal":                     # muLog, sigmaLog, gamma
        return stats.lognorm(p[1], loc=p[2], scale=np.exp(p[0]))
    if kind == "Uniform":                       # a, b
        return stats.uniform(p[0], p[1] - p[0])
    if kind == "Gumbel":                        # beta (scale), gamma (mode)
        return stats.gumbel_r(loc=p[1], scale=p[0])
    if kind == "WeibullMin":                    # beta (scale), alpha (shape), gamma
        return stats.weibull_min(p[1], loc=p[2], scale=p[0])
    if kind == "Beta":                          # alpha, beta, a, b
        return stats.beta(p[0], p[1], loc=p[2], scale=p[3] - p[2])
    if kind == "TruncatedNormal":               # mu, sigma, a, b
        mu, sigma, a, b = p
        return stats.truncnorm((a - mu) / sigma, (b - mu) / sigma, loc=mu, scale=sigma)
    if kind == "Triangular":                    # a, m, b
        a, m, b = p
        return stats.triang((m - a) / (b - a), loc=a, scale=b - a)
    if kind == "Exponential":                   # lambda, gamma
        return stats.expon(loc=p[1], scale=1.0 / p[0])
    if kind == "Gamma":                         # k, lambda, gamma
        return stats.gamma(p[0], loc=p[2], scale=1.0 / p[1])
    if kind == "LogUniform":                    # aLog, bLog
        return stats.loguniform(np.exp(p[0]), np.exp(p[1]))
    return None


def _copula_correlation(dist):
    """``(ok, R)``: R is None for independence, the correlation of a normal copula, and
    ``ok`` is False for any other copula."""
    if dist.getDimension() == 1 or dist.hasIndependentCopula():
        return True, None
    copula = dist.getCopula()
    if _class_name(copula) != "NormalCopula":
        return False, None
    shape = np.array(copula.getShapeMatrix())
    return True, shape


def _native_law(dist, names):
    """A native Law equal to ``dist``, or None when not exact."""
    d = dist.getDimension()
    marginals = [_scipy_marginal(dist.getMarginal(i)) for i in range(d)]
    if any(m is None for m in marginals):
        return None
    ok, corr = _copula_correlation(dist)
    if not ok:
        return None
    try:
        law = Law(marginals, correlation=corr, names=names)
    except ValueError:
        return None
    # check the conversion where it matters: at points of the law itself
    ot = _ot()
    u = np.random.default_rng(20240607).standard_normal((64, d))
    x = law.from_standard(u)
    ref = np.asarray(dist.computeLogPDF(ot.Sample(x)), dtype=float).reshape(-1)
    mine = law.logpdf(x)
    if not np.allclose(mine, ref, rtol=1e-9, atol=1e-9):
        return None
    return law


def _names(dist, names, d):
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != d:
            raise ValueError(f"'names' must have {d} entries, got {len(names)}")
        return names
    desc = [str(s) for s in dist.getDescription()]
    if len(desc) == d and len(set(desc)) == d and all(desc):
        return desc
    return [f"x{i + 1}" for i in range(d)]


def from_openturns(dist, *, native: bool | None = None, names=None, name: str = "law"):
    """An OpenTURNS ``Distribution`` as a law of this package.

    Parameters
    ----------
    dist : openturns.Distribution
        Any continuous distribution (e.g. ``ot.JointDistribution([...], copula)``).
    native : bool, optional
        ``None`` (default): a native :class:`~multiexpect.Law` when the conversion is exact,
        else :class:`OpenTURNSLaw`. ``True``: native or ValueError. ``False``: always the
        generic adapter.
    names : sequence of str, optional
        Input names; by default the distribution's description.
    name : str
        Argument name used in error messages.

    Returns
    -------
    Law or OpenTURNSLaw
    """
    dist = _as_distribution(dist, name)
    d = dist.getDimension()
    names = _names(dist, names, d)
    if native is not False:
        law = _native_law(dist, names)
        if law is not None:
            return law
        if native:
            raise ValueError(
                f"'{name}' ({_class_name(dist)}) has no exact native equivalent: supported "
                f"marginals are Normal, LogNormal, Uniform, Gumbel, WeibullMin, Beta, "
                f"TruncatedNormal, Triangular, Exponential, Gamma, LogUniform with an "
                f"independent or normal copula"
            )
    return OpenTURNSLaw(dist, names=names, name=name)


def to_openturns(law: Law):
    """A native :class:`~multiexpect.Law` as an OpenTURNS ``JointDistribution`` (for the
    marginal kinds :func:`from_openturns` converts; others raise ValueError)."""
    ot = _ot()
    marginals = []
    for i, m in enumerate(law.marginals):
        name = m.dist.name
        loc, scale = m.kwds.get("loc", 0.0), m.kwds.get("scale", 1.0)
        shape_args = list(m.args)
        if name == "norm":
            marginals.append(ot.Normal(float(m.mean()), float(m.std())))
        elif name == "uniform":
            lo, hi = m.support()
            marginals.append(ot.Uniform(float(lo), float(hi)))
        elif name == "lognorm" and shape_args:
            marginals.append(ot.LogNormal(float(np.log(scale)), float(shape_args[0]), float(loc)))
        else:
            raise ValueError(f"'law' marginal {i} ({name}) has no OpenTURNS conversion here "
                             f"(normal, uniform and lognormal only)")
    dist = ot.JointDistribution(marginals)
    if law.correlation is not None:
        dist.setCopula(ot.NormalCopula(ot.CorrelationMatrix(law.correlation.tolist())))
    dist.setDescription(list(law.names))
    return dist


class OpenTURNSLaw:
    """The Law interface over an OpenTURNS ``Distribution`` (generic path).

    Parameters
    ----------
    dist : openturns.Distribution
        A continuous distribution whose standard space is normal (every distribution but the
        non-normal elliptical ones, e.g. a multivariate Student).
    names : sequence of str, optional
        Input names; by default the distribution's description.

    Notes
    -----
    With ``T`` the iso-probabilistic transformation (Nataf or Rosenblatt, as OpenTURNS
    chooses), ``u = T(x) ~ N(0, I)`` exactly when ``x`` follows ``dist``; ``from_standard``
    is ``T^{-1}``. Every call works on a whole ``ot.Sample``.
    """

    def __init__(self, dist, names=None, name: str = "law"):
        ot = _ot()
        dist = _as_distribution(dist, name)
        if not dist.isContinuous():
            raise ValueError(f"'{name}' must be a continuous OpenTURNS distribution, got "
                             f"{_class_name(dist)}")
        standard = dist.getStandardDistribution()
        d = dist.getDimension()
        if _class_name(standard) != "Normal" or not standard.hasIndependentCopula():
            raise ValueError(
                f"'{name}' ({_class_name(dist)}) has a non-normal standard space "
                f"({_class_name(standard)}); only distributions whose iso-probabilistic "
                f"transformation maps to N(0, I) are supported"
            )
        self._dist = dist
        self._ot = ot
        self._dim = d
        self._names = tuple(_names(dist, names, d))
        self._to_std = dist.getIsoProbabilisticTransformation()
        self._from_std = dist.getInverseIsoProbabilisticTransformation()
        ok, corr = _copula_correlation(dist)
        self._correlation = corr if ok else None
        self._independent = bool(d == 1 or dist.hasIndependentCopula())

    # ------------------------------------------------------------------ properties
    @property
    def distribution(self):
        """The wrapped OpenTURNS distribution."""
        return self._dist

    @property
    def dim(self) -> int:
        """Number of inputs ``d``."""
        return self._dim

    @property
    def names(self) -> tuple[str, ...]:
        """Input names."""
        return self._names

    @property
    def correlation(self) -> np.ndarray | None:
        """Correlation of a normal copula; None for independence or another copula."""
        return self._correlation

    @property
    def is_independent(self) -> bool:
        """True when the inputs are independent."""
        return self._independent

    def __repr__(self) -> str:
        return f"OpenTURNSLaw({_class_name(self._dist)}, d={self._dim})"

    def describe(self) -> dict:
        """A JSON-able description (class and OpenTURNS's text form)."""
        return {"type": "openturns", "class": _class_name(self._dist), "names": list(self._names),
                "repr": str(self._dist)}

    # ------------------------------------------------------------------ maps
    def _apply(self, fn, pts: np.ndarray) -> np.ndarray:
        if pts.shape[0] == 0:
            return np.empty((0, self._dim))
        return np.array(fn(self._ot.Sample(pts)), dtype=float).reshape(pts.shape[0], self._dim)

    def to_standard(self, x) -> np.ndarray:
        """Map inputs ``x`` ((n, d)) to standard normal points ``u`` ((n, d))."""
        return self._apply(self._to_std, as_points(x, self._dim, "x"))

    def from_standard(self, u) -> np.ndarray:
        """Map standard normal points ``u`` ((n, d)) to inputs ``x`` ((n, d))."""
        return self._apply(self._from_std, as_points(u, self._dim, "u"))

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Draw ``n`` points ((n, d)) with our generator ``rng``: ``T^{-1}(N(0, I))``."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"'n' must be a non-negative int, got {n!r}")
        gen = check_rng(rng)
        return self.from_standard(gen.standard_normal((int(n), self._dim)))

    def logpdf(self, x) -> np.ndarray:
        """Log-density at the rows of ``x`` ((n, d) -> (n,)); ``-inf`` outside the support."""
        x = as_points(x, self._dim, "x")
        if x.shape[0] == 0:
            return np.empty(0)
        out = np.array(self._dist.computeLogPDF(self._ot.Sample(x)), dtype=float).reshape(-1)
        out[(out <= _LOG_ZERO) | np.isnan(out)] = -np.inf
        return out

    def standard_logpdf(self, u) -> np.ndarray:
        """Log-density of this law's image in standard space: exactly ``N(0, I)``."""
        return standard_normal_logpdf(as_points(u, self._dim, "u"))

    def shifted(self, index: int, shift: float) -> OpenTURNSLaw:
        """This law with marginal ``index`` translated by ``shift`` (copula and names kept).

        The marginal becomes OpenTURNS's ``marginal + shift`` and the law
        ``JointDistribution(marginals, copula)`` with this law's copula (Sklar's theorem:
        the same law with one marginal moved). Used by
        :func:`~multiexpect.mean_shift_perturbations`.
        """
        ot = self._ot
        if not 0 <= int(index) < self._dim:
            raise ValueError(f"'index' must lie in [0, {self._dim}), got {index!r}")
        if not np.isfinite(shift):
            raise ValueError(f"'shift' must be finite, got {shift!r}")
        marginals = [self._dist.getMarginal(i) for i in range(self._dim)]
        marginals[int(index)] = marginals[int(index)] + float(shift)
        joint = ot.JointDistribution(marginals, self._dist.getCopula())
        return OpenTURNSLaw(joint, names=self._names)

    def mean(self) -> np.ndarray:
        """Marginal means."""
        return np.asarray(self._dist.getMean(), dtype=float)

    def std(self) -> np.ndarray:
        """Marginal standard deviations."""
        return np.asarray(self._dist.getStandardDeviation(), dtype=float)


class OpenTURNSModel:
    """An OpenTURNS ``Function`` as a vectorised model: ``(n, d) -> (n, m)``.

    Each call evaluates the whole batch as one ``ot.Sample`` (OpenTURNS may parallelise
    symbolic and compiled functions internally). ``input_dim`` lets
    :func:`~multiexpect.expectations` check the dimension against the law before any run.
    """

    def __init__(self, function):
        ot = _ot()
        if not isinstance(function, ot.Function):
            raise ValueError(f"'model' must be an OpenTURNS Function, got "
                             f"{type(function).__name__}")
        self.function = function
        self.input_dim = int(function.getInputDimension())
        self.output_dim = int(function.getOutputDimension())
        self.__name__ = str(function.getName()) or "openturns_function"

    def __call__(self, x) -> np.ndarray:
        ot = _ot()
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None] if self.input_dim == 1 else x[None, :]
        if x.shape[0] == 0:
            return np.empty((0, self.output_dim))
        if x.shape[1] != self.input_dim:
            raise ValueError(f"the OpenTURNS function takes {self.input_dim} inputs, got "
                             f"points of dimension {x.shape[1]}")
        return np.array(self.function(ot.Sample(x)), dtype=float)

    def __getstate__(self):
        return {"function": self.function}

    def __setstate__(self, state):
        self.__init__(state["function"])

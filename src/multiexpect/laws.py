"""Joint input laws: independent marginals tied by an optional Gaussian copula.

A :class:`Law` is built from frozen univariate continuous ``scipy.stats`` distributions and an
optional correlation matrix ``R`` of a Gaussian copula. With ``z_i = Φ^{-1}(F_i(x_i))`` the
normal scores and ``L`` the Cholesky factor of ``R``, the maps to and from *standard normal
space* are

    u = L^{-1} z      (to_standard),        x_i = F_i^{-1}(Φ((L u)_i))   (from_standard),

and ``u ~ N(0, I)`` exactly when ``x`` follows the law. The log-density is

    log f(x) = sum_i log f_i(x_i) - 1/2 z^T (R^{-1} - I) z - 1/2 log det R .
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from scipy import stats
from scipy.special import ndtr, ndtri

from ._rng import check_rng
from .quadratic_forms import QuadraticForms

__all__ = ["Law", "as_points", "check_marginal", "check_same_inputs", "closed_form_kinds",
           "correlated_scores", "describe_law", "inputs_of_laws", "law_from_description",
           "logpdfs_of_laws", "sample_laws", "standard_normal_logpdf"]

_LOG_2PI = np.log(2.0 * np.pi)
#: The largest tail mass of a marginal whose quantile rounds onto its support's bound for a
#: point there to count as a rounding artefact (:meth:`Law.on_support_bounds`).
ROUNDED_MASS = 1e-12
_MAX_SCORE = 30.0  # ndtr(-30) = 4.9e-198: scipy quantiles are still finite there (t, Pareto)
_CHECK_TAIL = 1e-12  # a marginal's quantiles at this tail probability must be finite


def standard_normal_logpdf(u: np.ndarray) -> np.ndarray:
    """Log-density of ``N(0, I)`` at the rows of ``u`` ((n, d) -> (n,))."""
    u = np.asarray(u, dtype=float)
    return -0.5 * np.einsum("ij,ij->i", u, u) - 0.5 * u.shape[1] * _LOG_2PI


def as_points(x, dim: int, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float (n, dim) array, or raise a ValueError naming ``name``."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"'{name}' must have shape (n, {dim}), got {np.shape(x)}")
    return arr


def _is_frozen_continuous(dist) -> bool:
    return isinstance(getattr(dist, "dist", None), stats.rv_continuous) and hasattr(dist, "ppf")


def check_marginal(dist) -> str | None:
    """Why the frozen distribution ``dist`` cannot be an input law, or ``None`` when it can.

    Refused: parameters outside scipy's domain (a scale <= 0, a bad shape: scipy then
    answers NaN everywhere), a law whose quantiles at tail probability ``1e-12`` overflow
    (e.g. ``scale=1e308``: the model would receive ``inf``) and a law whose quantiles there
    are equal (a point mass such as a zero-width uniform). Each would send NaN or inf inputs
    to the model, which would then be blamed. The answer is cached by distribution and
    parameters (laws are often rebuilt from the same marginals, e.g. perturbed laws).
    """
    try:
        key = (dist.dist.name, tuple(dist.args), tuple(sorted(dist.kwds.items())))
        hash(key)
    except TypeError:  # array-valued parameters: not cached
        return _marginal_problem(dist)
    if key not in _CHECKED:
        if len(_CHECKED) >= _MAX_CHECKED:
            _CHECKED.pop(next(iter(_CHECKED)))
        _CHECKED[key] = _marginal_problem(dist)
    return _CHECKED[key]


_CHECKED: dict = {}
_MAX_CHECKED = 4096


def _marginal_problem(dist) -> str | None:
    with np.errstate(all="ignore"):
        try:
            low, high = (float(v) for v in dist.support())
            q = np.asarray(dist.ppf([_CHECK_TAIL, 1.0 - _CHECK_TAIL]), dtype=float)
        except (TypeError, ValueError, ArithmeticError) as exc:
            return f"scipy cannot evaluate it ({type(exc).__name__}: {exc})"
    if np.isnan(low) or np.isnan(high) or np.any(np.isnan(q)):
        return "its parameters are outside scipy's domain (e.g. a scale <= 0)"
    if not np.all(np.isfinite(q)):
        return ("its quantiles overflow (not finite at tail probability "
                f"{_CHECK_TAIL:g}): rescale the input")
    if not q[0] < q[1]:
        return "it is degenerate (a point mass: zero width)"
    return None


def _is_standard_normal(dist) -> bool:
    if getattr(dist.dist, "name", "") != "norm":
        return False
    mean, std = dist.mean(), dist.std()
    return bool(mean == 0.0 and std == 1.0)


class _GaussianTransform:
    """Exact closed forms for normal and lognormal marginals: ``z = (T(x) - m) / s``.

    ``T`` is the identity (normal) or ``log(x - loc)`` (lognormal). scipy's generic
    ``cdf``/``ppf``/``logpdf`` give the same numbers far more slowly; these marginals are the
    commonest in engineering laws.
    """

    def __init__(self, dist):
        name = dist.dist.name
        loc, scale = dist.kwds.get("loc", 0.0), dist.kwds.get("scale", 1.0)
        args = list(dist.args)
        if name == "norm":
            loc = args[0] if args else loc
            scale = args[1] if len(args) > 1 else scale
            self.log, self.loc, self.m, self.s = False, 0.0, float(loc), float(scale)
        else:  # lognorm(s, loc, scale)
            shape = args[0] if args else dist.kwds["s"]
            loc = args[1] if len(args) > 1 else loc
            scale = args[2] if len(args) > 2 else scale
            self.log, self.loc = True, float(loc)
            self.m, self.s = float(np.log(scale)), float(shape)
        self.scale = float(scale)

    @staticmethod
    def applies(dist) -> bool:
        name = getattr(dist.dist, "name", "")
        if name == "norm":
            return True
        return name == "lognorm" and (dist.args or "s" in dist.kwds)

    def shifted(self, x):
        """``(log(x - loc), x > loc)``, what a lognormal's score and density share."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x - self.loc), x > self.loc

    def score(self, x, shifted=None):
        """``z = (T(x) - m) / s`` (``-inf`` below a lognormal's support); ``shifted``:
        :meth:`shifted` of ``x`` if already known."""
        if not self.log:
            return (x - self.m) / self.s
        t, inside = self.shifted(x) if shifted is None else shifted
        return np.where(inside, (t - self.m) / self.s, -np.inf)

    def inverse(self, z):
        t = self.m + self.s * z
        return self.loc + np.exp(t) if self.log else t

    def support(self) -> tuple[float, float]:
        """The marginal's support as scipy's ``support()`` computes it (the same bits):
        ``(a scale + loc, inf)`` with ``a = -inf`` (normal) or ``0`` (lognormal)."""
        lower = 0.0 if self.log else -np.inf
        return (lower * self.scale + (self.loc if self.log else self.m), np.inf)

    def quantile(self, z):
        """``F^{-1}(Φ(z))`` as scipy's ``ppf``/``isf`` compute it (the same bits):
        ``z scale + loc`` (normal), ``exp(s z) scale + loc`` (lognormal)."""
        if self.log:
            return np.exp(self.s * z) * self.scale + self.loc
        return z * self.s + self.m

    def logpdf_and_score(self, x, shifted=None):
        """The marginal's log-density and normal score at ``x``."""
        if self.log and shifted is None:
            shifted = self.shifted(x)
        z = self.score(x, shifted)
        out = -0.5 * z * z - 0.5 * np.log(2 * np.pi) - np.log(self.s)
        if self.log:
            t, inside = shifted
            with np.errstate(invalid="ignore"):
                out = np.where(inside, out - t, -np.inf)
        return out, z


class Law:
    """A joint law of ``d`` inputs: marginals and an optional Gaussian copula.

    Parameters
    ----------
    marginals : sequence of frozen ``scipy.stats`` continuous distributions
        One per input, e.g. ``[stats.norm(0, 1), stats.lognorm(0.1, scale=2.0)]``.
    correlation : (d, d) array_like, optional
        Correlation matrix of the Gaussian copula (symmetric, unit diagonal, positive
        definite). ``None`` means independent inputs.
    names : sequence of str, optional
        Input names; ``x1 .. xd`` by default.

    Notes
    -----
    Tails are mapped with the survival functions where ``z > 0`` so that standard-space
    points far in the upper tail do not round to the upper bound of the support.
    """

    def __init__(self, marginals: Sequence, correlation=None, names: Sequence[str] | None = None):
        if isinstance(marginals, (str, bytes)) or not isinstance(marginals, Sequence):
            raise ValueError(
                "'marginals' must be a sequence of frozen scipy.stats continuous distributions"
            )
        marginals = list(marginals)
        if not marginals:
            raise ValueError("'marginals' must hold at least one distribution")
        for i, dist in enumerate(marginals):
            if not _is_frozen_continuous(dist):
                raise ValueError(
                    f"'marginals[{i}]' must be a frozen scipy.stats continuous distribution "
                    f"(e.g. scipy.stats.norm(0, 1)), got {type(dist).__name__}"
                )
            problem = check_marginal(dist)
            if problem is not None:
                label = f" ({names[i]})" if names is not None and i < len(names) else ""
                raise ValueError(f"'marginals[{i}]'{label} {_describe(dist)}: {problem}")
        self._marginals = tuple(marginals)
        d = len(marginals)
        if names is None:
            names = [f"x{i + 1}" for i in range(d)]
        names = [str(n) for n in names]
        if len(names) != d:
            raise ValueError(f"'names' must have {d} entries (one per marginal), got {len(names)}")
        if len(set(names)) != d:
            raise ValueError(f"'names' must be distinct, got {names}")
        self._names = tuple(names)
        self._correlation = None
        self._chol = None
        if correlation is not None:
            corr = np.array(correlation, dtype=float)
            if corr.shape != (d, d):
                raise ValueError(f"'correlation' must have shape ({d}, {d}), got {corr.shape}")
            if not np.all(np.isfinite(corr)):
                raise ValueError("'correlation' must be finite")
            if not np.allclose(corr, corr.T, atol=1e-12):
                raise ValueError("'correlation' must be symmetric")
            if not np.allclose(np.diag(corr), 1.0, atol=1e-12):
                raise ValueError("'correlation' must have a unit diagonal")
            try:
                chol = np.linalg.cholesky(corr)
            except np.linalg.LinAlgError as exc:
                raise ValueError("'correlation' must be positive definite") from exc
            if np.min(np.linalg.eigvalsh(corr)) <= 1e-12:
                raise ValueError("'correlation' must be positive definite")
            if not np.allclose(corr, np.eye(d)):
                corr.setflags(write=False)
                self._correlation = corr
                self._chol = chol
                self._corr_inv_minus_eye = np.linalg.inv(corr) - np.eye(d)
                self._half_logdet = float(np.sum(np.log(np.diag(chol))))
        self._standard = tuple(_is_standard_normal(m) for m in self._marginals)
        self._fast = tuple(_GaussianTransform(m) if _GaussianTransform.applies(m) else None
                           for m in self._marginals)
        # what closed_form_kinds compares: the kinds of the marginals, when all closed form
        self._closed_kinds = (None if any(f is None for f in self._fast) else
                              (d, self._standard, tuple(f.log for f in self._fast)))
        self._support_box: np.ndarray | None = None  # read once, on first use
        self._rounded_bounds: np.ndarray | None = None  # likewise (on_support_bounds)

    @classmethod
    def from_salib(cls, problem) -> Law:
        """The law of a SALib problem dict (``names``, ``bounds``, ``dists``).

        See :mod:`multiexpect.salib_problem` for the meaning of ``bounds``
        per distribution (``unif``, ``logunif``, ``triang``, ``norm``, ``truncnorm``,
        ``lognorm``, ``weibull``, as in SALib); an unknown distribution is a ValueError
        naming it.
        """
        from .salib_problem import salib_marginals

        marginals, names = salib_marginals(problem)
        return cls(marginals, names=names)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Number of inputs ``d``."""
        return len(self._marginals)

    @property
    def names(self) -> tuple[str, ...]:
        """Input names."""
        return self._names

    @property
    def marginals(self) -> tuple:
        """The frozen scipy.stats marginals."""
        return self._marginals

    @property
    def support_box(self) -> np.ndarray:
        """(d, 2) bounds of the marginals' supports (read once per law; normal and lognormal
        marginals in closed form)."""
        if self._support_box is None:
            box = np.array([m.support() if fast is None else fast.support()
                            for m, fast in zip(self._marginals, self._fast)], dtype=float)
            box.setflags(write=False)
            self._support_box = box
        return self._support_box

    @property
    def rounded_bounds(self) -> np.ndarray:
        """(d, 2) bool: the finite bounds of the marginals' supports that their quantiles
        reach only by rounding, the quantile at :data:`ROUNDED_MASS` of the tail still off
        the bound (read once per law)."""
        if self._rounded_bounds is None:
            box = self.support_box
            inner = self.practical_box(ROUNDED_MASS)  # the quantiles at ROUNDED_MASS
            rounded = np.isfinite(box) & (inner != box)
            rounded.setflags(write=False)
            self._rounded_bounds = rounded
        return self._rounded_bounds

    def on_support_bounds(self, x: np.ndarray) -> np.ndarray:
        """Which rows ((n,) bool) of ``x`` ((n, d)) lie exactly on a bound of a marginal's
        support that its quantile reaches only by rounding (:attr:`rounded_bounds`;
        ``method.md``, practical mass): a set of probability 0 for these continuous
        marginals. A bound the quantile reaches on more mass (``gamma(0.01)``'s quantile is
        0.0 below ``u`` about 6e-4) is not one: its points are run."""
        box, rounded = self.support_box, self.rounded_bounds
        x = np.asarray(x, dtype=float)
        return np.any(((x == box[:, 0]) & rounded[:, 0]) | ((x == box[:, 1]) & rounded[:, 1]),
                      axis=1)

    def practical_box(self, mass: float) -> np.ndarray:
        """(d, 2) bounds ``[F_i^{-1}(mass), F_i^{-1}(1 - mass)]`` of each marginal: the law
        has mass at most ``2 d mass`` outside this box (``docs/method.md``, practical mass);
        normal and lognormal marginals in closed form (scipy's generic calls are slow)."""
        z = float(ndtri(mass))
        return np.array([[m.ppf(mass), m.isf(mass)] if fast is None else
                         [fast.quantile(z), fast.quantile(-z)]
                         for m, fast in zip(self._marginals, self._fast)], dtype=float)

    @property
    def correlation(self) -> np.ndarray | None:
        """Gaussian-copula correlation matrix, or ``None`` for independent inputs."""
        return self._correlation

    @property
    def is_independent(self) -> bool:
        """True when the inputs are independent."""
        return self._correlation is None

    def __repr__(self) -> str:
        parts = [f"{n}~{_describe(m)}" for n, m in zip(self._names, self._marginals)]
        extra = "" if self.is_independent else ", gaussian copula"
        return f"Law({', '.join(parts)}{extra})"

    def describe(self) -> dict:
        """A JSON-able description (marginal names and parameters, correlation)."""
        return {
            "names": list(self._names),
            "marginals": [
                {"dist": m.dist.name, "args": [float(a) for a in m.args],
                 "kwds": {k: float(v) for k, v in m.kwds.items()}}
                for m in self._marginals
            ],
            "correlation": None if self._correlation is None else self._correlation.tolist(),
        }

    # ------------------------------------------------------------------ marginal maps
    def _scores_to_inputs(self, z: np.ndarray) -> np.ndarray:
        """Normal scores ``z`` -> inputs, marginal by marginal, tails by survival functions."""
        x = np.empty_like(z)
        for i, dist in enumerate(self._marginals):
            zi = z[:, i]
            if self._standard[i]:
                x[:, i] = zi
                continue
            if self._fast[i] is not None:
                x[:, i] = self._fast[i].inverse(zi)
                continue
            # far out, the tail probability underflows (or ppf loses accuracy) and gives the
            # support's end (-inf for a t marginal); points beyond |z| = 30 have law density
            # below 1e-196 and only a heavy proposal reaches them: map them to |z| = 30
            zi = np.clip(zi, -_MAX_SCORE, _MAX_SCORE)
            upper = zi > 0
            xi = np.empty_like(zi)
            xi[~upper] = dist.ppf(ndtr(zi[~upper]))
            xi[upper] = dist.isf(ndtr(-zi[upper]))
            # scipy's root finding gives up far in some tails (beta(2, 5)'s isf is NaN
            # beyond z = 26.2, a mass of 1e-152): the support's end there, a point the law
            # gives probability 0 and that is not run (Problem.has_mass), not a NaN input
            lost = np.isnan(xi) & ~np.isnan(zi)
            if np.any(lost):
                low, high = dist.support()
                xi[lost] = np.where(upper[lost], high, low)
            x[:, i] = xi
        return x

    def _inputs_to_scores(self, x: np.ndarray) -> np.ndarray:
        z = np.empty_like(x)
        for i, dist in enumerate(self._marginals):
            xi = x[:, i]
            if self._standard[i]:
                z[:, i] = xi
                continue
            if self._fast[i] is not None:
                z[:, i] = self._fast[i].score(xi)
                continue
            z[:, i] = _generic_score(dist, xi)
        return z

    # ------------------------------------------------------------------ public maps
    def from_standard(self, u) -> np.ndarray:
        """Map standard normal points ``u`` ((n, d)) to inputs ``x`` ((n, d))."""
        u = as_points(u, self.dim, "u")
        z = u if self._chol is None else u @ self._chol.T
        return self._scores_to_inputs(z)

    def to_standard(self, x) -> np.ndarray:
        """Map inputs ``x`` ((n, d)) to standard normal points ``u`` ((n, d))."""
        x = as_points(x, self.dim, "x")
        z = self._inputs_to_scores(x)
        if self._chol is None:
            return z
        from scipy.linalg import solve_triangular

        return solve_triangular(self._chol, z.T, lower=True).T

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Draw ``n`` i.i.d. points ((n, d)) with the generator ``rng`` (or an int seed)."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"'n' must be a non-negative int, got {n!r}")
        gen = check_rng(rng)
        return self.from_standard(gen.standard_normal((int(n), self.dim)))

    def logpdf(self, x) -> np.ndarray:
        """Log-density at the rows of ``x`` ((n, d) -> (n,)); ``-inf`` outside the support."""
        return logpdfs_of_laws([self], x)[:, 0]

    def standard_logpdf(self, u) -> np.ndarray:
        """Log-density of this law's image in standard space: exactly ``N(0, I)``."""
        return standard_normal_logpdf(as_points(u, self.dim, "u"))

    def mean(self) -> np.ndarray:
        """Marginal means."""
        return np.array([m.mean() for m in self._marginals])

    def std(self) -> np.ndarray:
        """Marginal standard deviations."""
        return np.array([m.std() for m in self._marginals])


def _generic_score(dist, xi: np.ndarray) -> np.ndarray:
    """Normal scores ``Φ^{-1}(F(x))`` of one marginal, the upper half by the survival
    function (no rounding of ``F`` to 1 in the upper tail)."""
    cdf = dist.cdf(xi)
    upper = cdf > 0.5
    zi = np.empty_like(xi)
    zi[~upper] = ndtri(cdf[~upper])
    zi[upper] = -ndtri(dist.sf(xi[upper]))
    return zi


def check_same_inputs(names: Sequence[str], law: Law, what: str, of: str) -> None:
    """A law meant for the same inputs as the laws named ``names`` (in order) is matched to
    them by position. Where one of its input names is one of ``names`` at another position
    (``["b", "a"]`` for ``["a", "b"]``), it would be matched to the wrong input: a
    ValueError naming ``what`` (``of`` names the other). Other names (the defaults
    ``x1 .. xd``, OpenTURNS' ``X0``, anything else) are taken by position."""
    names = [str(n) for n in names]
    moved = [n for i, n in enumerate(law.names) if n in names and names[i] != n]
    if moved:
        raise ValueError(f"'{what}' names its inputs {list(law.names)} but {of} has "
                         f"{names} ({', '.join(moved)} at another position): inputs are "
                         f"matched by position; give them in the same order")


def sample_laws(laws: Sequence, counts: Sequence[int], rng: np.random.Generator
                ) -> np.ndarray:
    """``laws[l].sample(counts[l], rng)`` for every law with a positive count, stacked in
    order: the same bits. Each law draws its normals and takes its correlation product in
    turn (the same stream); when every law's marginals are normal or lognormal with the same
    kinds per input, the marginal maps run once over all rows (:func:`inputs_of_laws`)."""
    parts = [(law, int(k)) for law, k in zip(laws, counts) if k]
    if not parts or not isinstance(rng, np.random.Generator) or not closed_form_kinds(
            [law for law, _ in parts]):
        return np.concatenate([law.sample(k, rng) for law, k in parts], axis=0)
    z = np.concatenate([correlated_scores(law, rng.standard_normal((k, law.dim)))
                        for law, k in parts], axis=0)
    row_law = np.repeat(np.arange(len(parts)), [k for _, k in parts])
    return inputs_of_laws([law for law, _ in parts], row_law, z)


def closed_form_kinds(laws: Sequence) -> bool:
    """Whether every law is a :class:`Law` of one dimension whose marginals are all normal
    or lognormal, with the same kinds (standard, normal, lognormal) per input: what
    :func:`inputs_of_laws` maps."""
    kinds = {law._closed_kinds if isinstance(law, Law) else None for law in laws}
    return len(kinds) == 1 and None not in kinds


def inputs_of_laws(laws: Sequence, row_law: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The inputs ((n, d)) of correlated normal scores ``z`` ((n, d)), row ``i`` a point of
    ``laws[row_law[i]]`` (laws of :func:`closed_form_kinds`): the marginal maps ``m + s z``
    (normal) and ``loc + exp(m + s z)`` (lognormal) once over all rows with each row's
    parameters, element by element the same operations as :meth:`Law.from_standard` law by
    law (the same bits), rather than once per law and input."""
    first = laws[0]
    x = np.empty_like(z)
    for i, standard in enumerate(first._standard):
        if standard:
            x[:, i] = z[:, i]
            continue
        m = np.array([law._fast[i].m for law in laws])[row_law]
        s = np.array([law._fast[i].s for law in laws])[row_law]
        t = m + s * z[:, i]
        if first._fast[i].log:
            t = np.array([law._fast[i].loc for law in laws])[row_law] + np.exp(t)
        x[:, i] = t
    return x


def correlated_scores(law: Law, u: np.ndarray) -> np.ndarray:
    """The normal scores of ``law`` from independent ones ``u``, as
    :meth:`Law.from_standard` forms them."""
    return u if law._chol is None else u @ law._chol.T


def logpdfs_of_laws(laws: Sequence, x) -> np.ndarray:
    """``log f_l(x_i)`` of every law at the rows of ``x``, as an (n, L) array.

    Several :class:`Law` objects whose marginals are all normal or lognormal are quadratic
    forms in the same transformed inputs, evaluated together (:func:`_closed_form_laws`,
    equal to :meth:`Law.logpdf` up to rounding). For the other :class:`Law` objects what
    they share is computed once: ``log(x_i - loc)`` of a lognormal marginal (the same for
    every lognormal with that ``loc``) and each law's normal scores, which its marginal
    densities and its Gaussian copula's quadratic form both use (the same operations, point
    by point, as :meth:`Law.logpdf` alone, so the same bits). Other law objects answer their
    own ``logpdf``.
    """
    first = next((law for law in laws if isinstance(law, Law)), None)
    points = np.asarray(x, dtype=float) if first is None else as_points(x, first.dim, "x")
    laws = tuple(laws)
    try:
        dims, closed = _law_plan(laws)
    except TypeError:  # a law object that cannot be hashed: planned afresh
        dims, closed = _law_plan.__wrapped__(laws)
    for _, dim in dims:
        if dim != points.shape[1]:
            raise ValueError(f"'x' must have shape (n, {dim}), got {np.shape(x)}")
    if len(closed) == 1 and closed[0][1] == tuple(range(len(laws))):
        transforms, ks = closed[0]  # every law in one group: its columns are the result
        return _closed_form_laws(laws, points, transforms)
    out = np.empty((points.shape[0], len(laws)))
    logs: dict = {}
    grouped = {k for _, ks in closed for k in ks}
    for k, law in enumerate(laws):
        if k in grouped:
            continue
        out[:, k] = _law_logpdf(law, points, logs) if isinstance(law, Law) else law.logpdf(x)
    for transforms, ks in closed:
        out[:, list(ks)] = _closed_form_laws([laws[k] for k in ks], points, transforms)
    return out


@functools.lru_cache(maxsize=8)
def _law_plan(laws: tuple) -> tuple[tuple, tuple]:
    """What :func:`logpdfs_of_laws` does with each law, found once per group of laws (a
    study evaluates the same laws at every batch): the dimension of each :class:`Law`
    (``(k, d)`` pairs) and the groups of several laws of normal and lognormal marginals,
    ``(transforms, indices)`` by their transforms, in order of first appearance."""
    dims, closed = [], {}
    for k, law in enumerate(laws):
        if isinstance(law, Law):
            dims.append((k, law.dim))
            if len(laws) > 1 and all(fast is not None for fast in law._fast):
                closed.setdefault(tuple((f.log, f.loc) for f in law._fast), []).append(k)
    return tuple(dims), tuple((t, tuple(ks)) for t, ks in closed.items())


def _closed_form_laws(laws: Sequence[Law], x: np.ndarray, transforms: tuple) -> np.ndarray:
    """``log f_l(x)`` ((n, L)) of laws whose marginals are normal or lognormal with the
    same ``T_i`` (``(log, loc)`` per input), as quadratic forms in ``u = T(x)``: with ``z_l
    = D_l^{-1} (u - m_l)`` (``D_l``: the marginals' ``s``) and ``R_l`` the copula's
    correlation,

        log f_l(x) = -1/2 (u - m_l)^T D_l^{-1} R_l^{-1} D_l^{-1} (u - m_l)
                     - sum_i log s_li - d/2 log(2π) - 1/2 log det R_l - sum_{i lognormal} u_i,

    every law in one product (:class:`~multiexpect.quadratic_forms.QuadraticForms`);
    ``-inf`` outside a lognormal's support."""
    n = x.shape[0]
    u = x.copy()
    jacobian = np.zeros(n)
    inside = np.ones(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, (log, loc) in enumerate(transforms):
            if log:
                above = x[:, i] > loc
                t = np.where(above, np.log(np.where(above, x[:, i] - loc, 1.0)), 0.0)
                u[:, i] = t
                jacobian += t
                inside &= above
    out = _closed_forms(tuple(laws))(u)
    out -= jacobian[:, None]
    out[~inside] = -np.inf
    out[np.isnan(out)] = -np.inf
    return out


@functools.lru_cache(maxsize=8)
def _closed_forms(laws: tuple[Law, ...]) -> QuadraticForms:
    """The quadratic forms of :func:`_closed_form_laws` (``-1/2`` times each law's
    ``(u - m_l)^T D_l^{-1} R_l^{-1} D_l^{-1} (u - m_l)`` plus its constant), built once per
    group of laws and kept for the last 8 groups (a study evaluates the same laws at every
    batch; a :class:`Law` is not changed after it is made and compares by identity)."""
    d = laws[0].dim
    means = np.array([[f.m for f in law._fast] for law in laws])
    inv_s = 1.0 / np.array([[f.s for f in law._fast] for law in laws])
    precisions = np.empty((len(laws), d, d))
    shift = np.empty(len(laws))
    for k, law in enumerate(laws):
        inv_corr = np.eye(d) if law._chol is None else law._corr_inv_minus_eye + np.eye(d)
        precisions[k] = inv_s[k][:, None] * inv_corr * inv_s[k][None, :]
        shift[k] = (np.sum(np.log(inv_s[k])) - 0.5 * d * np.log(2 * np.pi)
                    - (0.0 if law._chol is None else law._half_logdet))
    return QuadraticForms(means, precisions, shift, np.full(len(laws), -0.5))


def _law_logpdf(law: Law, x: np.ndarray, logs: dict) -> np.ndarray:
    """``sum_i log f_i(x_i)`` added marginal by marginal, then the copula's ``-1/2 z^T
    (R^{-1} - I) z - 1/2 log det R``; ``logs`` caches ``log(x_i - loc)`` by ``(i, loc)``."""
    out = np.zeros(x.shape[0])
    scores = np.empty_like(x) if law._chol is not None else None
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, dist in enumerate(law.marginals):
            fast = law._fast[i]
            if fast is None:
                out += dist.logpdf(x[:, i])
                if scores is not None:
                    scores[:, i] = x[:, i] if law._standard[i] else _generic_score(dist, x[:, i])
                continue
            log_density, score = _closed_form(fast, x[:, i], i, logs)
            out += log_density
            if scores is not None:
                scores[:, i] = score
    if scores is not None:
        finite = np.isfinite(out)
        every = bool(finite.all())
        z = scores if every else scores[finite]
        quad = np.einsum("ij,ij->i", z @ law._corr_inv_minus_eye, z)
        if every:
            out += -0.5 * quad - law._half_logdet
        else:
            out[finite] += -0.5 * quad - law._half_logdet
    out[np.isnan(out)] = -np.inf
    return out


def _closed_form(fast: _GaussianTransform, xi: np.ndarray, i: int, logs: dict):
    """A normal or lognormal marginal's log-density and normal score at ``xi``, a
    lognormal's ``log(x_i - loc)`` taken from (or put in) ``logs``."""
    if not fast.log:
        return fast.logpdf_and_score(xi)
    key = (i, fast.loc)
    if key not in logs:
        logs[key] = fast.shifted(xi)
    return fast.logpdf_and_score(xi, logs[key])


def _describe(dist) -> str:
    args = ", ".join(f"{a:.4g}" for a in dist.args)
    kwds = ", ".join(f"{k}={v:.4g}" for k, v in dist.kwds.items())
    return f"{dist.dist.name}({', '.join(p for p in (args, kwds) if p)})"


def describe_law(law) -> dict:
    """JSON-able description of a law (its ``describe()``, else its type name): what a
    study's settings record to tell one law from another in a store."""
    describe = getattr(law, "describe", None)
    return describe() if callable(describe) else {"type": type(law).__name__}


def law_from_description(description) -> Law:
    """The :class:`Law` written by :meth:`Law.describe` (the inverse, for a JSON round trip).

    Raises
    ------
    ValueError
        ``description`` is not a :meth:`Law.describe` dict (e.g. a law of another type,
        recorded by :func:`describe_law` as its type name only), or names an unknown
        distribution or parameters scipy refuses.
    """
    if not isinstance(description, dict) or not isinstance(description.get("marginals"),
                                                            list):
        raise ValueError(f"cannot rebuild a law from {description!r}: not a Law.describe()")
    marginals = []
    for i, spec in enumerate(description["marginals"]):
        name = spec.get("dist") if isinstance(spec, dict) else None
        dist = getattr(stats, name, None) if isinstance(name, str) else None
        if not isinstance(dist, stats.rv_continuous):
            raise ValueError(f"cannot rebuild marginal {i} of a law: unknown scipy.stats "
                             f"distribution {name!r}")
        try:
            marginals.append(dist(*[float(a) for a in spec.get("args", [])],
                                  **{str(k): float(v) for k, v in spec.get("kwds", {}).items()}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot rebuild marginal {i} ({name}) of a law: {exc}") from exc
    return Law(marginals, description.get("correlation"), names=description.get("names"))

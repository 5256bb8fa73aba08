r"""Randomised quasi-Monte Carlo (RQMC): scrambled Sobol' nets and honest error by replicates.

**Points.** A replicate is one scrambled Sobol' point set (``scipy.stats.qmc.Sobol``,
``scramble=True``: a linear matrix scramble and a digital shift of 30 bits, scipy's default)
of ``n`` points in ``[0, 1)^d``, each coordinate then moved uniformly within its cell of
width ``2^-30`` (so the points are continuous, never 0, and still a net), the scrambling and
the moves drawn from a generator derived from the study's seed and the replicate's batch
key, so a replicate is replayed exactly. The errors of scrambled nets are heavy-tailed over
scramblings (on a smooth 6-dimensional integrand at ``2^14`` points: median 1e-9, RMS 6e-6,
4% of scramblings above 1e-6): one net's error says little, replicates measure it. Every
point of a scrambled net is marginally uniform on ``[0, 1)^d``, so any estimator that is
unbiased for i.i.d. uniform points stays unbiased on a net; the net only lowers the
variance. ``n`` need not be a power of 2 (the first ``n`` points of the sequence, scipy's
warning silenced), but the baselines use whole nets: ``n`` the largest power of 2 that
leaves at least the requested number of replicates, the rest of the budget spent on more
replicates (:func:`replicate_plan`).

**Maps.** Uniforms become standard normal scores ``z = Φ^{-1}(u)``, with ``u`` clipped to
``[2^-53, 1 - 2^-53]`` (``|z| <= 8.2``; the clipped mass, ``2^-52``, is far below any
error reported); then

* a law: ``x = law.from_standard(z)``;
* a Gaussian ``N(μ, L L^T)``: ``x = μ + L z``;
* a Student ``t_ν(μ, L L^T)``: ``x = μ + L z / sqrt(w / ν)`` with ``w = F_{χ²_ν}^{-1}(u_{d+1})``,
  one extra coordinate for the radial chi-square part (so the net has ``d + 1`` dimensions).

**Replicates.** With ``R`` independent scramblings and replicate estimates ``Î_r``,

    Î = (1/R) sum_r Î_r,    se = sd(Î_1..Î_R) / sqrt(R),

and the interval is Hartigan's subset-means interval of the ``Î_r`` for 6 to 16 replicates
(exact when they are symmetric about ``I``, as scrambled nets' heavy-tailed errors nearly
are: :func:`~multiexpect.intervals.subset_mean_interval`), else ``Î ± t_{R-1, (1+level)/2}
se`` (Student's t on ``R - 1`` degrees of freedom: ``se`` is estimated from ``R`` numbers
only; also for indices, smooth functions of replicate means). One replicate is one batch of
the evaluation layer, so a resumed study replays the same nets.

**One net** (``replicates=1``, Sobol' pick-freeze only). The whole budget is ONE scrambled
sequence of ``n`` points (a whole net when ``n`` is a power of 2; otherwise its first ``n``
points, which on the cantilever beam were 1.25x-1.4x more precise than the ``2^m``-point
net inside them and never measured worse): its estimate is the mean, which on smooth
integrands is far more precise than the mean of ``R`` nets of ``n / R`` points (an RQMC
variance falling like ``n^-a`` loses ``R^(a-1)`` to replicates). Its interval is of another
kind (``"net-blocks"``): the net is cut into ``B`` consecutive blocks of ``floor(n / B)``
points (``B = 2^k``; for ``n`` a power of 2 each block of a Sobol' sequence is itself a
net), and with block means ``Î_b``,

    Î = (1/B) sum_b Î_b,    se = sd(Î_1..Î_B) / sqrt(B),   Student's t on ``B - 1``,

the standard error the blocks would have as ``B`` independent replicates. The blocks share
one scrambling, so they are not independent and no theorem makes this interval exact: it
is an empirical, mostly conservative rule (too wide where the whole net beats its blocks,
too narrow where it does not), chosen and judged by measurement (docs/benchmarks.md).

**Mixtures.** A mixture ``sum_k α_k g_k`` is sampled with a deterministic allocation
``n_k`` (:func:`allocate`), each component on its own net; the realised fractions
``n_k / n`` replace ``α_k`` in the density ``ḡ = sum_k (n_k / n) g_k`` of the
deterministic-mixture estimator ``(1/n) sum_k sum_{i <= n_k} φ f / ḡ (x_{ki})``, whose
expectation is ``sum_k (n_k/n) ∫ φ f g_k / ḡ = ∫ φ f = I`` exactly, for any ``n``.

References: Owen, *Monte Carlo theory, methods and examples*, ch. 17; L'Ecuyer & Lemieux,
*Recent advances in randomized quasi-Monte Carlo methods* (2002).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import ndtri
from scipy.stats import qmc

from ..intervals import subset_means_apply
from ..polychaos import LAW_NETS, chaos_record

__all__ = [
    "AUTO_BY_DEFAULT",
    "DEFAULT_BLOCKS",
    "DEFAULT_REPLICATES",
    "INTERVAL_KINDS",
    "INTERVAL_NET_BLOCKS",
    "INTERVAL_POOLED",
    "INTERVAL_REPLICATES",
    "INTERVAL_SUBSET_MEANS",
    "ONE_NET",
    "SAMPLINGS",
    "TIE_CONFIDENCE",
    "ReplicateEstimate",
    "allocate",
    "block_estimate",
    "blocks_option",
    "check_blocks",
    "check_replicates",
    "check_sampling",
    "default_sampling",
    "describe_interval",
    "gaussian_from_normal",
    "index_diagnostics",
    "interval_line",
    "joined_record",
    "law_from_uniform",
    "normal_from_uniform",
    "one_net_plan",
    "replicate_estimate",
    "replicate_plan",
    "replicates_for",
    "resolve_sampling",
    "sobol_normal",
    "sobol_uniform",
    "student_from_uniform",
    "tie_departure",
]

#: the values of the ``sampling`` argument: i.i.d. points, scrambled nets, or (the adaptive
#: engine only) the pilot on nets of the law deciding between RQMC of the law and adaptation
SAMPLINGS = ("mc", "rqmc", "auto")
#: the methods whose default ``sampling`` is ``"auto"`` (the adaptive method of every public
#: function); every other method (the textbook baselines) defaults to i.i.d. points
AUTO_BY_DEFAULT = ("aiscv",)
#: independent scramblings by default (chosen by measurement, docs/benchmarks.md)
DEFAULT_REPLICATES = 8
#: ``replicates=1``: one net of the whole budget (its interval from the net's blocks)
ONE_NET = 1
#: consecutive blocks of the one net whose spread gives its standard error (by measurement)
DEFAULT_BLOCKS = 16
#: the interval kinds of an RQMC result (``diagnostics["interval"]``): Student's t over
#: ``R`` independent scramblings, or over the ``B`` blocks of one scrambled net
INTERVAL_REPLICATES = "student-t"
INTERVAL_NET_BLOCKS = "net-blocks"
#: the mean of ``R`` replicates with Hartigan's subset-means interval
#: (:func:`~multiexpect.intervals.subset_mean_interval`; Student's t at a level it cannot give)
INTERVAL_SUBSET_MEANS = "subset-means"
#: aISCV's RQMC final stage pooled with its adaptive stages: Student's t on the
#: Welch–Satterthwaite degrees of freedom of the combination (:mod:`multiexpect.engine.
#: rqmc_pooling`)
INTERVAL_POOLED = "student-t-welch"
INTERVAL_KINDS = (INTERVAL_REPLICATES, INTERVAL_NET_BLOCKS, INTERVAL_POOLED,
                  INTERVAL_SUBSET_MEANS)
#: tied replicates: the confidence of the upper bound on the chance that a replicate departs
#: from the common value (:func:`replicate_estimate`)
TIE_CONFIDENCE = 0.95
_U_MIN = 2.0**-53
_BITS = 30


def check_sampling(sampling) -> str:
    """``sampling`` itself, or a one-line ValueError naming the argument."""
    if not isinstance(sampling, str) or sampling not in SAMPLINGS:
        raise ValueError(f"'sampling' must be one of {SAMPLINGS}, got {sampling!r}")
    return sampling


def default_sampling(method: str, keep_sample: bool = False) -> str:
    """The ``sampling`` a call without one runs with: ``"auto"`` for the adaptive method
    (the pilot on nets of the law chooses RQMC of the law or adaptation), ``"mc"`` for the
    baselines (the textbook estimators; their RQMC versions by name) and with
    ``keep_sample`` (the kept final sample is an i.i.d. one)."""
    return "auto" if method in AUTO_BY_DEFAULT and not keep_sample else "mc"


def resolve_sampling(sampling, method: str, keep_sample: bool = False) -> str:
    """``sampling`` checked (:func:`check_sampling`), or :func:`default_sampling` of
    ``method`` when it is ``None``."""
    if sampling is None:
        return default_sampling(method, keep_sample)
    return check_sampling(sampling)


def check_replicates(replicates, one_net: bool = False) -> int:
    """The number of replicates ``R >= 2`` (``None``: the default), or a ValueError;
    ``one_net``: the method also takes ``R = 1`` (:data:`ONE_NET`)."""
    if replicates is None:
        return DEFAULT_REPLICATES
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) \
            or (replicates < 2 and not (one_net and replicates == ONE_NET)):
        also = " or 1 (one net)" if one_net else ""
        raise ValueError(f"'replicates' must be an int >= 2 (independent scramblings){also}, "
                         f"got {replicates!r}")
    return int(replicates)


def check_blocks(blocks) -> int:
    """The blocks ``B`` of one net: a power of 2 ``>= 4`` (``None``: the default)."""
    if blocks is None:
        return DEFAULT_BLOCKS
    if isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) or blocks < 4 \
            or blocks & (blocks - 1):
        raise ValueError(f"'blocks' must be a power of 2 >= 4 (sub-nets of the one RQMC "
                         f"net), got {blocks!r}")
    return int(blocks)


def blocks_option(replicates: int | None, options: dict) -> int | None:
    """The blocks of the one net (popped from ``options``, :func:`check_blocks`) when
    ``replicates`` is 1, else None; a ValueError when ``blocks`` is given without
    ``replicates=1``."""
    if replicates == ONE_NET:
        return check_blocks(options.pop("blocks", None))
    if "blocks" in options:
        raise ValueError(f"'blocks' needs sampling='rqmc' and replicates=1 (one net), got "
                         f"replicates={replicates!r}")
    return None


def replicates_for(sampling, method: str, supported: tuple[str, ...], options: dict,
                   one_net: tuple[str, ...] = (), auto: tuple[str, ...] = ()) -> int | None:
    """Check ``sampling`` for ``method``; the replicates to draw (popped from ``options``).

    ``None`` for ``sampling="mc"``; for ``"rqmc"`` (``"auto"``) a ValueError when ``method``
    is not in ``supported`` (``auto``), else :func:`check_replicates` of the ``replicates``
    option (``1`` allowed for the methods in ``one_net``).
    """
    sampling = check_sampling(sampling)
    if sampling == "mc":
        return None
    methods = supported if sampling == "rqmc" else auto
    if method not in methods:
        only = f"only {', '.join(map(repr, methods))}" if methods else "no method here"
        avail = "not yet available" if sampling == "rqmc" else "not available"
        raise ValueError(f"'sampling' {sampling!r} is {avail} for method {method!r} ({only})")
    return check_replicates(options.pop("replicates", None),
                            one_net=sampling == "rqmc" and method in one_net)


def one_net_plan(n_total: int, blocks: int, what: str = "budget") -> int:
    """``n_total``: the one net spends every point the budget allows (the first ``n_total``
    points of one scrambled sequence, a whole net when ``n_total`` is a power of 2), at
    least 2 per block; a ValueError naming ``what`` when ``n_total`` is too small."""
    n_total, blocks = int(n_total), int(blocks)
    if n_total < 2 * blocks:
        raise ValueError(f"'{what}' ({n_total}) is too small for one RQMC net of {blocks} "
                         f"blocks of at least 2 points (lower 'blocks' or raise the budget)")
    return n_total


def block_estimate(values, blocks: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean, covariance of the mean and degrees of freedom of one net's point ``values``
    ((n, J)) by its ``blocks`` consecutive blocks.

    The mean is over all ``n`` points; the blocks are the first ``B floor(n / B)`` points cut
    into ``B`` equal runs (sub-nets when ``n`` is a power of 2), the covariance that of their
    means over ``B`` (``"net-blocks"`` interval, module docstring); ``B - 1`` degrees of
    freedom.
    """
    values = np.asarray(values, dtype=float)
    n, width = values.shape
    size = n // blocks if blocks >= 2 else 0
    if size < 1:
        raise ValueError(f"'blocks' ({blocks}) must be >= 2 and at most the net's {n} points")
    means = values[:blocks * size].reshape(blocks, size, width).mean(axis=1)
    cov = np.atleast_2d(np.cov(means, rowvar=False)) / blocks
    return values.mean(axis=0), cov, blocks - 1


def replicate_plan(n_total: int, replicates: int, what: str = "budget") -> tuple[int, int]:
    """``(R, n)``: ``R`` replicates of ``n`` points each, ``n`` a power of 2, from ``n_total``.

    ``n = 2^floor(log2(n_total / replicates))`` (a whole net: measured more precise than the
    first ``1.5 n`` points of a longer sequence, docs/benchmarks.md), and the rest of the
    budget buys more replicates: ``R = n_total // n``, so ``replicates <= R < 2 replicates``
    and fewer than ``n`` of the ``n_total`` points (less than ``1 / replicates`` of them) are
    not drawn. Raises a ValueError naming ``what`` when ``n_total < replicates``.
    """
    n_total, replicates = int(n_total), int(replicates)
    if n_total < replicates:
        raise ValueError(f"'{what}' ({n_total}) is too small for {replicates} RQMC replicates: "
                         f"each needs at least one point")
    n = 1 << ((n_total // replicates).bit_length() - 1)
    return n_total // n, n


def sobol_uniform(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The first ``n`` points ((n, dim)) of a Sobol' sequence scrambled with ``rng``.

    A power of 2 is a whole net (``random_base2``); any other ``n`` is the sequence's first
    ``n`` points. Each coordinate is moved uniformly within its ``2^-30`` cell, then clipped
    to ``[2^-53, 1 - 2^-53]``.
    """
    engine = qmc.Sobol(int(dim), scramble=True, rng=rng, bits=_BITS)
    n = int(n)
    if n > 0 and n & (n - 1) == 0:
        u = engine.random_base2(n.bit_length() - 1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            u = engine.random(n)
    u = u + rng.random(u.shape) * 2.0**-_BITS  # uniform within each 2^-30 cell
    return np.clip(u, _U_MIN, 1.0 - _U_MIN)


def normal_from_uniform(u: np.ndarray) -> np.ndarray:
    """Standard normal scores ``Φ^{-1}(u)`` of uniforms (clipped away from 0 and 1)."""
    return ndtri(np.clip(np.asarray(u, dtype=float), _U_MIN, 1.0 - _U_MIN))


def sobol_normal(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` scrambled Sobol' points mapped to ``N(0, I_dim)`` ((n, dim))."""
    return normal_from_uniform(sobol_uniform(n, dim, rng))


def law_from_uniform(law, u: np.ndarray) -> np.ndarray:
    """Inputs ``law.from_standard(Φ^{-1}(u))``: the law's points from uniforms ((n, d))."""
    return law.from_standard(normal_from_uniform(u))


def gaussian_from_normal(z: np.ndarray, mean, chol) -> np.ndarray:
    """``μ + L z``: points of ``N(μ, L L^T)`` from standard normal scores ``z`` ((n, d))."""
    return np.asarray(mean, dtype=float) + np.asarray(z, dtype=float) @ np.asarray(chol).T


def student_from_uniform(u: np.ndarray, mean, chol, dof: float) -> np.ndarray:
    """Points of ``t_ν(μ, L L^T)`` from uniforms ``u`` with ``d + 1`` columns.

    ``x = μ + L z / sqrt(w / ν)``, ``z = Φ^{-1}(u_{1..d})``, ``w = F_{χ²_ν}^{-1}(u_{d+1})``.
    """
    u = np.asarray(u, dtype=float)
    z = normal_from_uniform(u[:, :-1])
    w = stats.chi2.ppf(np.clip(u[:, -1], _U_MIN, 1.0 - _U_MIN), dof)
    scaled = z / np.sqrt(w / dof)[:, None]
    return gaussian_from_normal(scaled, mean, chol)


def allocate(n: int, alpha) -> np.ndarray:
    """Deterministic allocation of ``n`` points to mixture components of weights ``alpha``.

    ``n_k = floor(n α_k)``, then the points left go one each to the largest remainders
    ``n α_k - floor(n α_k)`` (the lowest index first among ties): ``sum n_k = n`` and
    ``|n_k - n α_k| < 1``. The realised fractions ``n_k / n`` (not ``α``) are the weights
    of the mixture density that keeps the estimator exactly unbiased; a component given 0
    points leaves the density.
    """
    alpha = np.asarray(alpha, dtype=float).reshape(-1)
    if alpha.size == 0 or np.any(~np.isfinite(alpha)) or np.any(alpha < 0) or alpha.sum() <= 0:
        raise ValueError(f"'alpha' must be non-negative weights with a positive sum, "
                         f"got {alpha.tolist()}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"'n' must be a non-negative int, got {n!r}")
    share = int(n) * alpha / alpha.sum()
    counts = np.floor(share).astype(int)
    left = int(n) - int(counts.sum())
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:left]] += 1
    return counts


@dataclass(frozen=True)
class ReplicateEstimate:
    """The mean of ``R`` replicate estimates, its standard error and degrees of freedom;
    ``tied`` marks the quantities whose replicates all gave the same value, so that their
    standard error is the bound of :func:`replicate_estimate` rather than the spread."""

    estimate: np.ndarray
    stderr: np.ndarray
    dof: int
    tied: np.ndarray | None = None
    values: np.ndarray | None = None

    def tied_quantities(self) -> list[int]:
        """The indices of the tied quantities (``diagnostics["tied_replicates"]``)."""
        return [] if self.tied is None else np.flatnonzero(self.tied).tolist()

    def record(self) -> dict:
        """The diagnostics a result's interval reads: its kind (``interval``: the subset
        means where :func:`~multiexpect.intervals.subset_means_apply` at 95%, else Student's
        t), ``dof``, ``tied_replicates`` and ``replicate_values`` (the ``R`` replicate
        estimates)."""
        subset = self.values is not None and subset_means_apply(self.dof + 1)
        return {"interval": INTERVAL_SUBSET_MEANS if subset else INTERVAL_REPLICATES,
                "dof": self.dof, "tied_replicates": self.tied_quantities(),
                "replicate_values": None if self.values is None else self.values.tolist()}

    def covariance(self, values) -> np.ndarray:
        """The replicates' sample covariance over ``R``, its diagonal ``se²`` where tied
        (a tied quantity's row is zero there, so the matrix stays positive semi-definite)."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        cov = np.atleast_2d(np.cov(values, rowvar=False)) / values.shape[0]
        if self.tied is not None and np.any(self.tied):
            idx = np.flatnonzero(self.tied)
            cov[idx, idx] = self.stderr[idx] ** 2
        return cov


def describe_interval(diagnostics: dict, level: float = 0.95) -> str:
    """A sentence naming the interval kind of a result's ``diagnostics`` (``interval``, with
    its ``replicates`` and ``dof``) at ``level`` for ``summary()`` and the report, or ``""``
    for an i.i.d. result or a kind it does not know. The subset means are named only where
    they give ``R = dof + 1`` replicates an interval at ``level`` (Student's t otherwise, as
    :meth:`~multiexpect.results.ExpectationResult.confidence_interval` does)."""
    kind, dof = diagnostics.get("interval"), diagnostics.get("dof")
    replicates, nets = diagnostics.get("replicates"), diagnostics.get("nets")
    reps = f"{replicates} RQMC replicates" if replicates else "RQMC replicates"
    net = "one scrambled net" if not nets or nets == 1 else f"{nets} scrambled nets"
    if diagnostics.get("blocks"):
        reps = f"the blocks of {net}"
    if kind == INTERVAL_SUBSET_MEANS:
        if dof is None or subset_means_apply(dof + 1, level):
            return f"Hartigan's subset means of {reps}, exact for symmetric replicates"
        kind = INTERVAL_REPLICATES
    if dof is None:
        return f"Student's t from {reps}" if kind == INTERVAL_REPLICATES else ""
    if kind == INTERVAL_REPLICATES:
        return f"Student's t on {dof:g} degrees of freedom from {reps}"
    if kind == INTERVAL_POOLED:
        return f"Student's t on Welch's {dof:.3g} degrees of freedom, {reps} pooled with " \
               f"the adaptive stages"
    if kind == INTERVAL_NET_BLOCKS:
        return f"Student's t on {dof:g} degrees of freedom from the blocks of {net}"
    return ""


def interval_line(diagnostics: dict, level: float = 0.95, which: str = "",
                  also: str = "", final_chaos: bool = True) -> str:
    """The line under a result's table naming its interval kind at ``level`` (``which``:
    `` of`` the quantities it applies to, ``also``: what follows), ``""`` for an i.i.d.
    result: :func:`describe_interval` as ``summary()`` and the report print it; with
    ``final_chaos``, the final stage's chaos control when the diagnostics record one (Sobol'
    results word their own control)."""
    text = describe_interval(diagnostics, level)
    chaos = chaos_record(diagnostics) if final_chaos else None
    on_nets = chaos is not None and chaos.get("form") == LAW_NETS
    if text and chaos is not None and (any(chaos["controlled"]) or not on_nets):
        where = "the law's nets" if on_nets else "the final stage"
        text += (f", {where} with a degree-{chaos['degree']} polynomial chaos "
                 f"control on {sum(chaos['controlled'])} of {len(chaos['controlled'])} "
                 f"quantities")
        products = sum(chaos.get("by_products", ()))
        if products:
            text += f" ({products} by products of the others' chaos)"
        widened = sum(v > 1.0 for v in diagnostics.get("cross_fit_scale", ()))
        if widened:
            text += (f", {widened} widened for the covariance of the cross-fitted nets "
                     f"(up to x{max(diagnostics['cross_fit_scale']):.2f})")
    return f"intervals{which}: {text}{also}" if text else ""


def index_diagnostics(diagnostics: dict | None) -> dict:
    """``diagnostics`` for estimates that are smooth functions of the replicates' means
    (Sobol' and perturbed-law indices, by the delta method): their interval is Student's t
    on the same degrees of freedom, so the subset-means kind becomes ``"student-t"`` and the
    quantities' replicate values, which are not the indices', are left out."""
    out = {k: v for k, v in (diagnostics or {}).items() if k != "replicate_values"}
    if out.get("interval") == INTERVAL_SUBSET_MEANS:
        out["interval"] = INTERVAL_REPLICATES
    return out


def joined_record(records: list[dict]) -> dict:
    """The RQMC diagnostics of quantities estimated by separate studies (``records``: each
    study's, quantity ``j`` study ``j``'s only one): one ``dof`` for the result, the smallest
    of theirs (Student's t, conservative for the others; Welch's kind when any study pooled
    its adaptive stages), no subset means (their replicate values are per study), and the
    quantities whose replicates tied."""
    pooled = any(r.get("interval") == INTERVAL_POOLED for r in records)
    return {"sampling": "rqmc", "replicates": records[0].get("replicates"),
            "interval": INTERVAL_POOLED if pooled else INTERVAL_REPLICATES,
            "dof": min(r["dof"] for r in records),
            "tied_replicates": [j for j, r in enumerate(records) if r.get("tied_replicates")]}


def tie_departure(replicates: int, confidence: float = TIE_CONFIDENCE) -> float:
    """``q = 1 - (1 - confidence)^(1/R)``: the upper confidence bound on the chance that a
    replicate departs from a value all ``R`` replicates gave (the "rule of three": ``R``
    agreeing draws have probability ``(1 - q)^R``, which is ``1 - confidence`` at ``q``)."""
    return 1.0 - (1.0 - confidence) ** (1.0 / int(replicates))


def replicate_estimate(values, squares=None, points: int | None = None,
                       spans=None) -> ReplicateEstimate:
    """Combine the replicate estimates ``values`` ((R, J)): mean, ``sd / sqrt(R)``, ``R - 1``.

    Replicates that all give the same value (a quantity of few levels, such as a 0/1 event,
    on nets of few points: each net's count of hits is ``floor`` or ``ceil`` of ``n p``) show
    the nets' resolution, not certainty: their spread 0 would make a zero-width interval.
    There (with ``squares`` ((R, J), each net's mean of the squared values) and ``points``
    per net, ``N = R n`` points in all) the standard error is bounded instead:

    * the i.i.d. one of the ``N`` points, ``se_iid = sqrt(s² / N)`` (an RQMC error is no
      larger on such integrands);
    * with ``spans`` ((J,), the range ``max - min`` of the points' *unweighted* summands),
      also by the spread of a replicate that departs from the common value by one lattice
      step ``h = span / n`` (one point moving between the extreme levels) with chance
      ``q`` (:func:`tie_departure`, the 95% upper bound given ``R`` agreeing replicates):
      ``se_tie = min(se_iid, h sqrt(q (1 - q) / R))``.

    Weighted summands (importance weights) have no lattice step: they keep ``se_iid``.
    ``tied`` in the result marks those quantities.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    reps = values.shape[0]
    if reps < 2:
        raise ValueError(f"replicate estimates need at least 2 replicates, got {reps}")
    mean = values.mean(axis=0)
    stderr = values.std(axis=0, ddof=1) / np.sqrt(reps)
    tied = None
    if squares is not None and points is not None:
        n_total = reps * int(points)
        second = np.atleast_2d(np.asarray(squares, dtype=float)).mean(axis=0)
        variance = np.maximum(second - mean**2, 0.0) * n_total / max(n_total - 1, 1)
        tied = (stderr == 0) & (variance > 0)
        bound = np.sqrt(variance / n_total)
        if spans is not None:
            q = tie_departure(reps)
            step = np.asarray(spans, dtype=float) / int(points)
            bound = np.minimum(bound, step * np.sqrt(q * (1.0 - q) / reps))
        stderr = np.where(tied, bound, stderr)
    return ReplicateEstimate(mean, stderr, reps - 1, tied, values)

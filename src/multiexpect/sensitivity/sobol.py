r"""First- and total-order Sobol' indices by pick-freeze, from one budget of model runs.

Pick-freeze (method.md section 4). Let ``X, X'`` be two independent draws of the input law
(independent inputs), ``Y = φ(X)``, ``Y' = φ(X')`` and, for each input ``i``,
``Y^(i) = φ(X_i, X'_{-i})`` (input ``i`` from ``X``, the others from ``X'``). Then
``Y`` and ``Y^(i)`` share only ``X_i`` and ``Y'`` and ``Y^(i)`` share everything but ``X_i``:

    Cov(Y, Y^(i))              = V_i       (first-order partial variance),
    E[(Y' - Y^(i))^2] / 2      = V_Ti      (total-order partial variance, Jansen 1999),
    E[Y (Y^(i) - Y')]          = V_i       (Saltelli et al. 2010).

The output is centred, ``Ỹ = Y - c`` for every run (method.md section 6: uncentred products
can be 20x less precise). Quantities, one column each, all estimated together from one
sample of ``Z = (U, U') ~ N(0, I_2d)`` (``X = law.from_standard(U)``):

* first order alone (``d + 1`` runs per point: ``Y, Y^(1..d)``):
  ``P_i = Ỹ Ỹ^(i)``, and ``S_i = (P_i - M^2) / (S - M^2)`` (the paper's estimator);
* total order alone (``d + 1`` runs: ``Y', Y^(1..d)``): ``T_i = (Ỹ' - Ỹ^(i))^2 / 2`` and
  ``S_Ti = T_i / (S - M^2)``;
* both (``d + 2`` runs: ``Y, Y', Y^(1..d)``): ``F_i = Ỹ (Ỹ^(i) - Ỹ')`` (Saltelli 2010) and
  ``T_i`` (Jansen), ``S_i = F_i / (S - M^2)``, ``S_Ti = T_i / (S - M^2)``;

where ``M`` and ``S`` are the means of ``Ỹ`` and ``Ỹ^2`` over all the runs of a point (each run
is marginally a draw of ``Y``), so ``Var Y = S - M^2``. Standard errors follow from the delta
method: with ``θ̂`` the quantity estimates, ``Σ̂`` their joint covariance and ``G`` the Jacobian
of the indices, ``Cov(Ŝ) ≈ G Σ̂ G^T``.

``method="aiscv"`` estimates the quantities with the adaptive engine (:class:`~multiexpect.AISCV`)
in standard normal space of dimension ``2d``; the centre ``c`` is the mean output of the
engine's pilot (batch 0, a crude-MC sample of the law that the final stage does not reuse,
unless the engine falls back to the law itself, in which case pilot and final sample are
pooled, as crude MC would), and the criterion's weights are by default the delta-method
sensitivities ``w_j = sum_k (∂S_k/∂θ_j)^2`` at the pilot estimates (method.md section 6).
**Adjusted numerators** (``adjust=True``, aiscv only). The engine minimises
``sum_j w_j Var(θ̂_j)`` and ignores covariances, while ``Var(Ŝ_k) ≈ Var(Q̂_k - S_k Ŝ) / V^2``.
So instead of each numerator ``Q_k`` (``P_i``, ``F_i`` or ``T_i``) the engine estimates
``R_k = Q_k - r_k S``, with ``r_k`` the pilot's estimate of index ``k`` (fixed before the
adaptive batches, so the estimate stays unbiased for ``R_k``); then ``Q_k = R_k + r_k S``
exactly, and the delta-method weight of ``S`` nearly vanishes. Measured on the cantilever
beam (4 repetitions, mean predicted s.e.^2 summed): 1.21e-4 without, 1.09e-4 with.

``method="pick-freeze"`` is plain Monte Carlo of the same quantities at the same number of
runs: Saltelli 2010 first order and Jansen total order (or the centred Sobol' estimator for
first order alone), the classical baseline. With ``sampling="rqmc"`` its points ``Z`` are
``R`` scrambled Sobol' nets of dimension ``2d`` (:mod:`multiexpect.sampling.rqmc`; net ``r``
:func:`~multiexpect.estimators.monte_carlo.law_net`'s, the nets of ``sampling="auto"``), one
batch each: ``θ̂`` is the mean of the replicates' quantity means, ``Σ̂`` their covariance over
``R``, and the intervals Student's t on ``R - 1`` degrees of freedom (``diagnostics["dof"]``):
``g^T θ̂`` is the mean of ``R`` independent replicate values for any fixed ``g``, so the
delta-method standard error is the replicates' own. With ``replicates=1`` the points are ONE
scrambled Sobol' sequence of ``n = budget // runs_per_point`` points (a net when ``n`` is a
power of 2), laid out as SALib's: its first ``d`` coordinates are ``U'`` (the base of the
``d`` mixed runs and of ``Y'``), the last ``d`` are ``U`` (the early coordinates of a Sobol'
net are its best, and ``U'`` enters ``d + 1`` of the ``d + 2`` runs); ``θ̂`` is the mean over
the points and ``Σ̂`` the covariance of the means of its ``B`` consecutive blocks over ``B``
(option ``blocks``), intervals Student's t on ``B - 1`` degrees of freedom,
``diagnostics["interval"] = "net-blocks"``
(:mod:`multiexpect.sampling.rqmc`: an empirical rule, not an exact one).

**The one-net form** of the estimators (``replicates=1`` only; both orders or either):
every point has ``Y`` and ``Y'`` (``d + 2`` runs, also for first order alone: Saltelli's
``F_i`` with ``Y'`` beats the centred ``P_i`` of ``d + 1`` runs on a net), and

    S_i  = F_i / V_i,    V_i  = mean((Ỹ² + Ỹ^(i)²) / 2) - mean((Ỹ + Ỹ^(i)) / 2)^2,
    S_Ti = T_i / (S - M^2),

the first-order denominator the variance over the two runs that share ``X_i`` (``Y`` and
``Y^(i)``): on a net the errors of numerator and denominator then come from the same runs
and partly cancel in the ratio (measured: docs/benchmarks.md). The total order keeps the
variance over all runs (over its pair ``Y', Y^(i)`` it measured 12x worse on Morris,
d = 20). Both are ratios of unbiased means, consistent like the i.i.d. forms.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from .. import batch_keys
from ..engine import run_engine
from ..engine.law_first import LAW_ROUTE, check_law_first
from ..engine.rqmc_final import check_rqmc_final
from ..estimators.monte_carlo import law_net
from ..evaluation.config import Evaluation
from ..interop import as_one_law
from ..laws import Law, describe_law
from ..output_scale import column_exponents
from ..prepare import prepare
from ..results import z_value
from ..sampling.rqmc import (
    INTERVAL_NET_BLOCKS,
    INTERVAL_REPLICATES,
    ONE_NET,
    block_estimate,
    blocks_option,
    index_diagnostics,
    normal_from_uniform,
    one_net_plan,
    replicate_plan,
    replicates_for,
    resolve_sampling,
    sobol_normal,
)
from ..vocabulary import (
    AUTO_SOBOL_METHODS,
    RQMC_ONE_NET_SOBOL_METHODS,
    RQMC_SOBOL_METHODS,
    SENSITIVITY_WEIGHTS,
    SOBOL_SURROGATES,
)
from ..vocabulary import SOBOL_METHODS as METHODS
from ._common import floored_delta_weights
from .chaos import chaos_fits, check_chaos, controlled_values
from .results import SobolResult

__all__ = ["METHODS", "PickFreezeLayout", "sobol_indices"]

ORDERS = ("first", "total")
_MIN_POINTS_AISCV = 20
_CHUNK_POINTS = 10_000


class PickFreezeLayout:
    """Which runs a pick-freeze point needs, and the quantities and indices built from them.

    Parameters
    ----------
    dim : int
        Number of inputs ``d``.
    orders : tuple of str
        Subset of ``("first", "total")``.
    one_net : bool
        The one-net form (module docstring): ``Y`` and ``Y'`` in every point (``d + 2``
        runs, Saltelli 2010's first order even alone), and the denominator of ``S_i`` the
        variance over the two runs that share ``X_i``, ``Y`` and ``Y^(i)`` (columns
        ``Mf_i, Sf_i``).
    """

    def __init__(self, dim: int, orders: tuple[str, ...], one_net: bool = False):
        self.dim = int(dim)
        self.first = "first" in orders
        self.total = "total" in orders
        self.orders = tuple(o for o in ORDERS if o in orders)
        self.one_net = bool(one_net)
        self.uses_y = self.first
        self.uses_y_prime = self.total or (self.first and self.one_net)
        self.saltelli = self.uses_y and self.uses_y_prime
        self.pair_variance = self.first and self.one_net
        self.runs_per_point = self.dim + int(self.uses_y) + int(self.uses_y_prime)
        d = self.dim
        kinds = []  # (kind, input index or None), one per quantity column
        if self.first:
            kinds += [("F" if self.saltelli else "P", i) for i in range(d)]
        if self.total:
            kinds += [("T", i) for i in range(d)]
        if self.pair_variance:
            kinds += [("Mf", i) for i in range(d)] + [("Sf", i) for i in range(d)]
        self.quantity_kinds = (*kinds, ("M", None), ("S", None))
        self.quantity_names = tuple(k if i is None else f"{k}{i + 1}"
                                    for k, i in self.quantity_kinds)
        self.n_quantities = len(self.quantity_names)

    # ------------------------------------------------------------------ runs
    def stack(self, x: np.ndarray, x_prime: np.ndarray) -> np.ndarray:
        """The ``runs_per_point * n`` model inputs of ``n`` points, block by block.

        Blocks: ``X`` (if first order), ``X'`` (if total order), then ``(X_i, X'_{-i})`` for
        ``i = 1..d``.
        """
        n, d = x.shape
        mixed = np.broadcast_to(x_prime, (d, n, d)).copy()
        ar = np.arange(d)
        mixed[ar, :, ar] = x.T
        blocks = [x] * self.uses_y + [x_prime] * self.uses_y_prime + [mixed.reshape(d * n, d)]
        return np.concatenate(blocks, axis=0)

    def quantities(self, y: np.ndarray, centre: float) -> np.ndarray:
        """Quantity values ((n, J)) from the stacked outputs ``y`` ((runs_per_point * n,))."""
        runs = (np.asarray(y, dtype=float).reshape(self.runs_per_point, -1) - centre)
        k = 0
        y0 = yp = None
        if self.uses_y:
            y0, k = runs[k], k + 1
        if self.uses_y_prime:
            yp, k = runs[k], k + 1
        mixed = runs[k:]  # (d, n)
        cols = []
        if self.first:
            cols.append((y0 * (mixed - yp)).T if self.saltelli else (y0 * mixed).T)
        if self.total:
            cols.append(0.5 * ((yp - mixed) ** 2).T)
        if self.pair_variance:  # the pair (Y, Y^(i)): means of y and y^2
            cols.append((0.5 * (y0 + mixed)).T)
            cols.append((0.5 * (y0**2 + mixed**2)).T)
        cols.append(runs.mean(axis=0)[:, None])
        cols.append((runs**2).mean(axis=0)[:, None])
        return np.concatenate(cols, axis=1)

    # ------------------------------------------------------------------ indices
    def indices(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First-order, total-order indices (NaN if not computed) and their Jacobian.

        Returns
        -------
        first, total : (d,) arrays
        jacobian : (2d, J) array
            ``∂(first, total) / ∂θ``.
        """
        d = self.dim
        theta = np.asarray(theta, dtype=float)
        m, s = theta[-2], theta[-1]
        var = s - m * m
        first = np.full(d, np.nan)
        total = np.full(d, np.nan)
        jac = np.full((2 * d, self.n_quantities), np.nan)
        k = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.first:
                q = theta[k:k + d]
                block = np.zeros((d, self.n_quantities))
                if self.pair_variance:  # F_i / V_i, V_i over Y and Y^(i)
                    first, block = self._pair_ratio(theta, q, k)
                elif self.saltelli:  # Saltelli 2010: F_i / V
                    first = q / var
                    block[:, k:k + d] = np.eye(d) / var
                    block[:, -2] = 2.0 * m * first / var
                    block[:, -1] = -first / var
                else:  # centred Sobol': (P_i - M^2) / V
                    first = (q - m * m) / var
                    block[:, k:k + d] = np.eye(d) / var
                    block[:, -2] = -2.0 * m * (1.0 - first) / var
                    block[:, -1] = -first / var
                jac[:d] = block
                k += d
            if self.total:
                q = theta[k:k + d]
                total = q / var
                block = np.zeros((d, self.n_quantities))
                block[:, k:k + d] = np.eye(d) / var
                block[:, -2] = 2.0 * m * total / var
                block[:, -1] = -total / var
                jac[d:] = block
        return first, total, jac

    def _pair_ratio(self, theta: np.ndarray, q: np.ndarray,
                    k: int) -> tuple[np.ndarray, np.ndarray]:
        """``q_i / V_i`` with ``V_i = Sf_i - Mf_i^2`` (the pair columns, just before ``M, S``),
        and its Jacobian rows (``q`` at column ``k``)."""
        d = self.dim
        j = self.n_quantities - 2 - 2 * d
        mp, sp = theta[j:j + d], theta[j + d:j + 2 * d]
        var = sp - mp * mp
        ratio = q / var
        block = np.zeros((d, self.n_quantities))
        block[:, k:k + d] = np.diag(1.0 / var)
        block[:, j:j + d] = np.diag(2.0 * mp * ratio / var)
        block[:, j + d:j + 2 * d] = np.diag(-ratio / var)
        return ratio, block

    def unadjust(self, ratios: np.ndarray | None) -> np.ndarray:
        """``L`` with ``θ = L θ_adj``: adjusted quantity ``k`` is ``θ_k - r_k S``.

        With ``r_k`` a pilot estimate of index ``k``, ``Q_k - r_k S`` estimates
        ``V (S_k - r_k) + ...`` (about 0): its estimation error is what moves ``Ŝ_k``, and
        the error of ``Ŝ`` alone hardly does (method notes in the module docstring).
        """
        lmat = np.eye(self.n_quantities)
        if ratios is not None:
            lmat[:-2, -1] = ratios
        return lmat

    def delta_weights(self, theta: np.ndarray, floor: float = 1e-3,
                      lmat: np.ndarray | None = None) -> np.ndarray:
        """``w_j = sum_k (∂S_k / ∂θ_j)^2`` at ``theta``, each at least ``floor * max w``.

        The weights of the engine's criterion ``sum_j w_j Var(θ̂_j)``: the diagonal part of the
        delta-method variance of the indices. With ``lmat`` (:meth:`unadjust`), ``theta``
        holds adjusted quantities and the Jacobian is taken with respect to them.
        """
        lmat = np.eye(self.n_quantities) if lmat is None else lmat
        _, _, jac = self.indices(lmat @ theta)
        with np.errstate(invalid="ignore"):  # NaN rows (no spread yet) are dropped below
            jac = jac @ lmat
        return floored_delta_weights(jac[np.all(np.isfinite(jac), axis=1)], floor)


class _PickFreezeModel:
    """``evaluate(u, batch)`` of the ``2d``-dimensional standard-space problem.

    Maps ``(U, U')`` to ``(X, X')`` with ``law.from_standard``, sends the stacked
    ``runs_per_point * n`` inputs to the model in ONE call, and returns the quantity columns.
    The centre is fixed on the first batch seen (the engine's pilot, batch 0) unless given.
    With ``record``, each call's points and outputs are kept in ``nets``, in call order: on
    the law route of ``sampling="auto"`` the calls are the law's nets ``0 .. R - 1``, which
    are pick-freeze RQMC's replicates; on the adaptive route the first adaptive stage ends
    the record (:meth:`stage_seen`).
    """

    def __init__(self, law, layout: PickFreezeLayout, evaluate: Callable, centre=None,
                 adjust: bool = False, record: bool = False):
        self.law = law
        self.layout = layout
        self.evaluate = evaluate
        self.centre = None if centre is None else float(centre)
        self.adjust = adjust
        self.ratios: np.ndarray | None = None
        self.record = record
        self.nets: list[tuple[np.ndarray, np.ndarray]] = []
        self.low, self.high = np.inf, -np.inf  # the outputs' range so far
        #: the binary exponent ``e`` the outputs are divided by (``2^e``), fixed on the first
        #: call (:func:`~multiexpect.output_scale.column_exponents`: 0 unless they lie beyond
        #: ``2^±400``, where their squares leave the doubles); the centre, the range and
        #: the quantities are in the scaled units, the indices do not depend on them
        self.exponent: int | None = None
        #: points whose runs are not all equal (the only ones the indices rest on)
        self.moving = 0

    def stage_seen(self, stage) -> None:
        """The engine's ``observe``: an adaptive stage (index 1 or more) means the law route
        was not taken, so the nets kept so far are dropped and no more are kept (the
        adaptive route's batches would otherwise be held to the end)."""
        if stage.index > 0 and self.record:
            self.record = False
            self.nets.clear()

    @property
    def lmat(self) -> np.ndarray:
        """``θ = L θ_adj`` (identity without adjustment)."""
        return self.layout.unadjust(self.ratios)

    def outputs(self, u: np.ndarray, batch: int = 0) -> np.ndarray:
        """The stacked runs' outputs ((runs_per_point * n,)) of the points ``u`` ((n, 2d));
        the centre is fixed on the first call unless given."""
        d = self.layout.dim
        x = self.law.from_standard(u[:, :d])
        x_prime = self.law.from_standard(u[:, d:])
        inputs = self.layout.stack(x, x_prime)
        out = np.asarray(self.evaluate(inputs, batch), dtype=float)
        if out.ndim == 2 and out.shape[1] != 1:
            raise ValueError(
                f"'model' must return one output per point for Sobol' indices, got "
                f"{out.shape[1]} columns"
            )
        y = out.reshape(-1)
        if self.exponent is None:  # outputs beyond 2^±400: scaled by a power of 2
            self.exponent = int(column_exponents(y[:, None])[0])
            if self.centre is not None:
                self.centre = float(np.ldexp(self.centre, -self.exponent))
        if self.exponent:
            y = np.ldexp(y, -self.exponent)
        if self.centre is None:
            self.centre = float(np.mean(y))
        if y.size:
            self.low, self.high = min(self.low, float(y.min())), max(self.high, float(y.max()))
            self.moving += int(np.count_nonzero(np.ptp(
                y.reshape(self.layout.runs_per_point, -1), axis=0) > 0))
        return y

    def __call__(self, u: np.ndarray, batch: int = 0) -> np.ndarray:
        if u.shape[0] == 0:
            return np.empty((0, self.layout.n_quantities))
        y = self.outputs(u, batch)
        values = self.layout.quantities(y, self.centre)
        if self.record:
            self.nets.append((u, y))
        if self.adjust and self.ratios is None:
            first, total, _ = self.layout.indices(values.mean(axis=0))
            # one ratio per index computed, 0 where the pilot's is not finite (outputs
            # without spread)
            ratios = np.concatenate([first] * self.layout.first + [total] * self.layout.total)
            self.ratios = np.where(np.isfinite(ratios), ratios, 0.0)
        if self.ratios is not None:
            values = values.copy()
            values[:, :-2] -= self.ratios[None, :] * values[:, -1:]
        return values


# ---------------------------------------------------------------------- validation
def _check_orders(orders) -> tuple[str, ...]:
    if isinstance(orders, str):
        orders = (orders,)
    try:
        orders = tuple(orders)
    except TypeError as exc:
        raise ValueError(
            f"'orders' must be 'first', 'total' or a sequence of them, got {orders!r}"
        ) from exc
    if not orders or any(o not in ORDERS for o in orders) or len(set(orders)) != len(orders):
        raise ValueError(
            f"'orders' must be a non-empty subset of {ORDERS} without repeats, got {orders!r}"
        )
    return tuple(o for o in ORDERS if o in orders)


def _check_centre(centre) -> None:
    """``centre`` is None or a finite real number; a ValueError naming it otherwise."""
    if centre is None:
        return
    try:
        finite = np.isfinite(float(centre))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        raise ValueError(f"'centre' must be a finite number, got {centre!r}")


def _check_law(law) -> Law:
    law = as_one_law(law, "Law for Sobol' indices")
    correlation = getattr(law, "correlation", None)
    if correlation is not None or not getattr(law, "is_independent", True):
        copula = "a Gaussian copula" if correlation is not None else "a non-independent copula"
        raise ValueError(
            f"Sobol' indices assume independent inputs, but 'law' has dependent inputs "
            f"({copula}): the pick-freeze estimators would ignore the dependence. "
            f"Use a law with independent inputs, or indices for dependent inputs (e.g. "
            f"Shapley effects), which this library does not compute."
        )
    return law


def _check_surrogate(surrogate, method: str, replicates: int | None) -> None:
    """``surrogate`` is None or one of :data:`~multiexpect.vocabulary.SOBOL_SURROGATES`;
    ``"chaos"`` only for RQMC pick-freeze (its replicates, or its one net's blocks, cross-fit
    it), ``"auto"`` anywhere (it acts on aISCV's law route alone)."""
    if surrogate is None:
        return
    if surrogate not in SOBOL_SURROGATES:
        raise ValueError(f"'surrogate' must be None or one of {SOBOL_SURROGATES}, got "
                         f"{surrogate!r}")
    if surrogate == "chaos" and (method != "pick-freeze" or replicates is None):
        raise ValueError(f"'surrogate' needs method='pick-freeze' and sampling='rqmc', got "
                         f"method={method!r}"
                         + ("" if replicates is not None else " without RQMC")
                         + ("; aISCV's law route takes the chaos with surrogate='auto', the "
                            "default" if method == "aiscv" else ""))


# ---------------------------------------------------------------------- the public function
def sobol_indices(model: Callable, law, *, budget: int, orders=("first", "total"),
                  method: str = "aiscv", rng=None, weights="delta", centre=None,
                  adjust: bool = True, vectorized: bool = True, evaluate: Callable | None = None,
                  evaluation: Evaluation | None = None, sampling: str | None = None,
                  surrogate: str | None = "auto", **options) -> SobolResult:
    r"""First- and total-order Sobol' indices from one budget of model runs.

    Parameters
    ----------
    model : callable or openturns.Function
        Scalar output: ``(n, d)`` inputs -> ``(n,)`` outputs (one point -> a scalar with
        ``vectorized=False``). The runs of a batch of pick-freeze points reach the model in
        one call of the stacked input matrices. An OpenTURNS ``Function`` (one output) is
        evaluated on whole samples (:func:`multiexpect.interop.as_model`); its input
        dimension is checked against the law before any run.
    law : Law or openturns.Distribution
        Independent inputs (a law with dependent inputs, e.g. a Gaussian copula, raises a
        ValueError). An OpenTURNS ``Distribution`` goes through
        :func:`multiexpect.interop.as_law` (a native Law when the conversion is exact).
    budget : int
        Model runs in all; one pick-freeze point costs ``d + 1`` runs for one order, ``d + 2``
        for both (and for first order alone on one net, ``replicates=1``). The number of
        points is ``budget // runs_per_point``.
    orders : "first", "total" or a sequence of them
        Which indices.
    method : {"aiscv", "pick-freeze"}
        The adaptive estimator of the pick-freeze quantities, or plain Monte Carlo of the
        same quantities (Saltelli 2010 first order, Jansen total order) as the baseline.
    rng : None, int or numpy.random.Generator
        Randomness; the same seed gives the same result.
    weights : "delta", "relative", "absolute" or array_like
        ``aiscv`` only: weights of the engine's criterion over the ``J`` pick-freeze
        quantities. ``"delta"``: ``sum_k (∂S_k/∂θ_j)^2`` at the pilot estimates.
    centre : float, optional
        The centre ``c`` of the output; by default the mean output on the first batch (the
        engine's pilot for ``aiscv``, the first chunk for ``pick-freeze``).
    adjust : bool
        ``aiscv`` only: estimate ``Q_k - r_k S`` instead of each index numerator ``Q_k``,
        with ``r_k`` the pilot's estimate of index ``k`` (see the module docstring).
    vectorized : bool
        Whether ``model`` takes a whole batch.
    evaluate : callable, optional
        ``evaluate(x, batch) -> outputs`` replacing the in-process evaluation of the stacked
        inputs.
    evaluation : Evaluation, optional
        Where and how the model runs (executor, store, retries, progress bar):
        :class:`~multiexpect.Evaluation`, or its fields as keywords.
    sampling : {"mc", "rqmc", "auto"} or None
        ``None`` (the default): ``"auto"`` for ``aiscv``, ``"mc"`` for ``pick-freeze``
        (:func:`~multiexpect.sampling.rqmc.default_sampling`). ``"mc"``: i.i.d. points.
        ``"rqmc"``: for ``pick-freeze`` the points are ``R`` independent scrambled Sobol' nets
        of dimension ``2d`` (option ``replicates``: at least ``R``, 8 by default), or with
        ``replicates=1`` ONE scrambled sequence of the whole budget whose interval
        is the spread of its ``blocks`` consecutive sub-nets (option ``blocks``, 16 by
        default; ``diagnostics["interval"]`` says which kind); for
        ``aiscv`` the adaptive stages stay i.i.d. and the final stage is ``R`` (exactly)
        replicates of the frozen proposal (:mod:`multiexpect.engine.rqmc_final`; with
        ``replicates=1``, two long sequences cut into ``blocks``, as for
        :func:`~multiexpect.expectations`); intervals Student's t on ``R - 1`` (``B - 1``)
        degrees of freedom. ``"auto"`` (``aiscv`` only): the pilot
        is drawn on scrambled nets of the ``2d``-dimensional pick-freeze law and decides, as
        for :func:`~multiexpect.expectations`, between RQMC pick-freeze of the law over the
        whole budget and adaptation (:mod:`multiexpect.engine.law_first`;
        ``diagnostics["route"]`` says which). The pilot's nets are the first two replicates
        of ``method="pick-freeze", sampling="rqmc"``, and the law route is that estimator
        on the same nets, bit for bit (plain quantities centred on net 0, ``R``
        replicates, Student t; with its chaos control under ``surrogate="auto"``, the
        default).
    surrogate : {None, "auto", "chaos"}
        ``"chaos"`` (``method="pick-freeze", sampling="rqmc"`` only): a polynomial chaos of
        the inputs, fitted on the runs and cross-fitted by replicate (or by the one net's
        blocks, ``replicates=1``), serves as a control variate of every pick-freeze quantity
        (:mod:`multiexpect.sensitivity.chaos`); ``diagnostics`` gives its degree, its terms
        and the share of the output's spread it leaves (``residual_share``). The runs are
        the same as without it. ``"auto"`` (the default): the same control on the law route
        of ``method="aiscv", sampling="auto"`` (its nets are pick-freeze RQMC's replicates)
        where every net has at least 64 points and a degree-1 chaos fits, nothing
        elsewhere. ``None``: no control. Either form controls a quantity only where the
        chaos leaves at most half its plain values' variance and does not widen the spread
        of its block means more than fourfold (``diagnostics["surrogate"]["controlled"]``);
        its degree is lowered until its exact variance agrees with the runs', and for a
        law with an unbounded input the basis is the one, Hermite or Legendre of the
        uniform scores, whose controlled block means spread less (``["basis"]``); a
        Hermite basis whose blocks' fits disagree beyond the runs
        (``["extrapolation"]`` above :data:`~.chaos.EXTRAPOLATION_Z`) is not used.
    **options
        The :class:`~multiexpect.Evaluation` keywords, and, ``aiscv`` only, fields of
        :class:`~multiexpect.AiscvOptions`, in pick-freeze *points* (e.g. ``batch_size``).

    Returns
    -------
    SobolResult

    Notes
    -----
    Estimators and their algebra are in the module docstring
    (:mod:`multiexpect.sensitivity.sobol`). The engine works in standard normal space of
    dimension ``2d``: ``Z = (U, U') ~ N(0, I_2d)``, ``X = law.from_standard(U)``,
    ``X' = law.from_standard(U')`` (Demange-Chryst, Bachoc & Morio 2023,
    doi:10.1007/s11222-023-10270-2, section 5.3). Indices are not clipped to ``[0, 1]``.

    References: Saltelli et al. (2010), doi:10.1016/j.cpc.2009.09.018; Jansen (1999),
    doi:10.1016/S0010-4655(98)00154-4; Janon et al. (2014), doi:10.1051/ps/2013040.

    Examples
    --------
    >>> import multiexpect as me
    >>> from multiexpect.testfunctions import ishigami, ishigami_law
    >>> res = me.sobol_indices(ishigami, ishigami_law(), budget=50_000, rng=3)
    >>> res.first_order.shape, res.n_evaluations <= 50_000
    ((3,), True)
    """
    orders = _check_orders(orders)
    law = _check_law(law)
    _check_centre(centre)
    if not isinstance(adjust, (bool, np.bool_)):
        raise ValueError(f"'adjust' must be True or False, got {adjust!r}")
    sampling = resolve_sampling(sampling, method)
    replicates = replicates_for(sampling, method, RQMC_SOBOL_METHODS, options,
                                one_net=RQMC_ONE_NET_SOBOL_METHODS, auto=AUTO_SOBOL_METHODS)
    law_first = sampling == "auto"
    blocks = blocks_option(replicates, options)
    _check_surrogate(surrogate, method, replicates)
    # "auto" acts on aISCV's law route alone; "chaos" on pick-freeze RQMC
    net_chaos = "chaos" if surrogate == "chaos" else None
    # the one-net form of the pick-freeze estimators; aISCV's one net is its final stage's
    layout = PickFreezeLayout(law.dim, orders,
                              one_net=blocks is not None and method == "pick-freeze")
    minimum = _MIN_POINTS_AISCV if method == "aiscv" else 3
    extra = {"analysis": "sobol", "orders": list(orders), "law": describe_law(law)}
    if replicates is not None:  # an RQMC study is another study than its MC twin
        extra.update(sampling=sampling, replicates=replicates)
    if blocks is not None:
        extra["blocks"] = blocks
    prepared = prepare(
        model, dim=law.dim, method=method, methods=METHODS, budget=budget, rng=rng,
        weights=weights, weight_names=SENSITIVITY_WEIGHTS, n_quantities=layout.n_quantities,
        baseline_weights="delta", options=options, evaluation=evaluation, evaluate=evaluate,
        vectorized=vectorized, scalar_for="Sobol' indices", settings=extra,
        min_budget=minimum * layout.runs_per_point,
        budget_need=f"is too small: with d = {law.dim} inputs and orders {orders} one "
                    f"pick-freeze point costs {layout.runs_per_point} model runs and this "
                    f"method needs at least {minimum} points",
        runs_per_point=layout.runs_per_point)
    budget, seed, settings = prepared.budget, prepared.seed, prepared.settings
    points = budget // layout.runs_per_point
    if law_first:
        check_law_first(points, replicates)
    elif replicates is not None and method == "aiscv":
        check_rqmc_final(points, prepared.options, replicates, blocks)
    elif blocks is not None:
        n_net = one_net_plan(points, blocks, f"budget // {layout.runs_per_point}")
        if net_chaos is not None:
            check_chaos(n_net, blocks, law.dim)
    elif replicates is not None:
        reps, n_net = replicate_plan(points, replicates, f"budget // {layout.runs_per_point}")
        if net_chaos is not None:
            check_chaos(reps * n_net, reps, law.dim)

    with prepared.evaluation_context() as counter:
        wrapper = _PickFreezeModel(law, layout, counter, centre,
                                   adjust=bool(adjust) and method == "aiscv", record=law_first)
        if method == "aiscv":
            theta, cov, diag = _run_aiscv(wrapper, layout, points, seed, prepared.weights,
                                          prepared.options, replicates, law_first, blocks)
            diag = index_diagnostics(diag)
            if diag.get("route") == LAW_ROUTE:  # pick-freeze RQMC of the same runs
                theta, cov, extra = _law_route_moments(wrapper, layout, diag["replicates"],
                                                       chaos=surrogate == "auto")
                diag.update(extra)
                diag["ratios"] = None  # the plain quantities: nothing adjusted
            else:
                lmat = wrapper.lmat  # back from adjusted to plain quantities
                theta, cov = lmat @ theta, lmat @ cov @ lmat.T
                diag["ratios"] = None if wrapper.ratios is None else wrapper.ratios.tolist()
        elif blocks is not None:
            theta, cov, diag = _run_pick_freeze_net(wrapper, layout, points, seed, blocks,
                                                    net_chaos)
        elif replicates is not None:
            theta, cov, diag = _run_pick_freeze_rqmc(wrapper, layout, points, seed, replicates,
                                                     net_chaos)
        else:
            theta, cov, diag = _run_pick_freeze(wrapper, layout, points, seed)

        first, total, jac = layout.indices(theta)
        index_cov = _sandwich(jac, cov)
        se = np.sqrt(np.clip(np.diag(index_cov), 0.0, None))
        se = _bounded_stderr(se, np.concatenate([first, total]), layout, wrapper, law,
                             theta, cov, counter.n_runs // layout.runs_per_point, diag)
        m, s = theta[-2], theta[-1]
        grad_var = np.zeros(layout.n_quantities)
        grad_var[-2], grad_var[-1] = -2.0 * m, 1.0
        var_se = float(np.sqrt(max(grad_var @ cov @ grad_var, 0.0)))
        e = wrapper.exponent or 0  # mean and variance back in the model's units (a variance
        if e:  # beyond the doubles' range becomes inf, or 0)
            diag["output_exponent"] = e
        if not s - m * m > 0:  # no spread in any run: the indices are undefined
            diag["no_spread"] = True
        diag["moving_points"] = wrapper.moving  # fewer than FEW_HITS: not to be trusted
        heavy = _infinite_variance_inputs(law)
        if heavy:  # the output's variance may be infinite: the indices then are undefined
            diag["infinite_variance_inputs"] = heavy
        with np.errstate(over="ignore", under="ignore"):
            variance = float(np.ldexp(s - m * m, 2 * e))
            variance_se = float(np.ldexp(var_se, 2 * e))
        diag.update({"centre": float(np.ldexp(wrapper.centre, e)),
                     "runs_per_point": layout.runs_per_point,
                     "quantity_names": list(layout.quantity_names),
                     "quantity_estimate": theta.tolist(),
                     "quantity_stderr": np.sqrt(np.clip(np.diag(cov), 0, None)).tolist()})
        return SobolResult(
            first_order=first, first_order_stderr=se[:law.dim] if layout.first
            else np.full(law.dim, np.nan),
            total_order=total, total_order_stderr=se[law.dim:] if layout.total
            else np.full(law.dim, np.nan),
            names=law.names, method=method, n_evaluations=counter.n_runs, budget=budget,
            mean=float(np.ldexp(m + wrapper.centre, e)),
            variance=variance, mean_stderr=float(np.ldexp(np.sqrt(max(cov[-2, -2], 0.0)), e)),
            variance_stderr=variance_se,
            orders=orders, covariance=index_cov, diagnostics=diag, settings=settings)


def _infinite_variance_inputs(law) -> list[str]:
    """The inputs whose marginal has no finite variance (a Student t on 2 or fewer degrees
    of freedom, a Cauchy, ...): where the model moves with one, the output's variance is
    infinite and Sobol' indices, shares of it, are undefined; a sample still gives finite
    numbers, which say nothing (``SobolResult.trust_notes``)."""
    try:
        spread = np.asarray(law.std(), dtype=float)
    except (AttributeError, NotImplementedError, ValueError):
        return []
    return [name for name, sd in zip(law.names, spread) if not np.isfinite(sd)]


def _bounded_stderr(se: np.ndarray, indices: np.ndarray, layout: PickFreezeLayout,
                    wrapper: _PickFreezeModel, law: Law, theta: np.ndarray, cov: np.ndarray,
                    points: int, diag: dict) -> np.ndarray:
    """The indices' standard errors, never 0 from a sample: an inert input's indices
    (:func:`_inert_inputs`) and an index every replicate (or point) gave alike (a net that
    integrates an indicator exactly) take the rule of three's bound (:func:`_inert_bound`,
    a bound, not an error), recorded in ``diag`` (``"inert_inputs"``, ``"tied_indices"``)."""
    inert = _inert_inputs(layout, theta, cov)
    both = np.concatenate([inert, inert])
    tied = (se == 0) & np.isfinite(indices) & ~both
    if np.any(both) or np.any(tied):
        floor = _inert_bound(wrapper, points, float(theta[-1] - theta[-2] ** 2))
        floor /= z_value(0.95, diag.get("dof"))
        se = np.where(both | tied, np.maximum(se, floor), se)
    if np.any(inert):
        diag["inert_inputs"] = [law.names[i] for i in np.flatnonzero(inert)]
    if np.any(tied):
        diag["tied_indices"] = [f"{'S1' if k < law.dim else 'ST'} {law.names[k % law.dim]}"
                                for k in np.flatnonzero(tied)]
    return se


def _inert_inputs(layout: PickFreezeLayout, theta: np.ndarray,
                  cov: np.ndarray) -> np.ndarray:
    """Per input, whether no run moved the output when the input alone changed: its
    total-order quantity ``T_i``, a mean of squares, is exactly 0 with no spread (all
    ``False`` without total order)."""
    inert = np.zeros(layout.dim, dtype=bool)
    for k, (kind, i) in enumerate(layout.quantity_kinds):
        if kind == "T":
            inert[i] = theta[k] == 0.0 and cov[k, k] == 0.0
    return inert


def _inert_bound(wrapper: _PickFreezeModel, points: int, variance: float) -> float:
    """The 95% upper bound on an inert input's total-order index: no run of ``points``
    points moved the output, so a point moves it with probability at most
    ``q = 1 - 0.05^(1 / points)`` (the rule of three), and a move is at most the outputs'
    range ``r`` (the tied replicates' rule, :func:`~multiexpect.sampling.rqmc.
    replicate_estimate`): ``S_Ti = E[(Y - Y^(i))^2] / (2 V) <= q r^2 / (2 V)``, and
    ``|S_i| <= S_Ti``."""
    q = 1.0 - 0.05 ** (1.0 / max(points, 1))
    spread = wrapper.high - wrapper.low
    if not (variance > 0 and np.isfinite(spread)):
        return 1.0
    return float(min(1.0, q * spread**2 / (2.0 * variance)))


def _sandwich(jac: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``G Σ G^T`` with rows of ``G`` that are NaN (orders not computed) left NaN."""
    out = np.full((jac.shape[0], jac.shape[0]), np.nan)
    rows = np.all(np.isfinite(jac), axis=1)
    g = jac[rows]
    out[np.ix_(rows, rows)] = g @ cov @ g.T
    return out


def _run_aiscv(wrapper, layout, points, seed, weights, opts, replicates=None,
               law_first=False, blocks=None):
    """The pick-freeze quantities by aISCV in ``2d``-dimensional standard space (its final
    stage on ``replicates`` RQMC replicates when given, in the one-net form with ``blocks``;
    ``law_first``: the pilot on nets of the law chooses between RQMC of the law and
    adaptation)."""
    space_law = Law([stats.norm(0.0, 1.0)] * (2 * layout.dim),
                    names=[f"u{i + 1}" for i in range(layout.dim)]
                    + [f"u'{i + 1}" for i in range(layout.dim)])
    if isinstance(weights, str) and weights == "delta":
        # evaluated by the engine at its pilot estimate of the pick-freeze quantities
        def spec(theta):
            return layout.delta_weights(theta, lmat=wrapper.lmat)
    else:
        spec = weights
    out = run_engine([space_law], wrapper, budget=points, seed=seed, weights=spec,
                     options=opts, names=layout.quantity_names, replicates=replicates,
                     law_first=law_first, blocks=blocks,
                     observe=wrapper.stage_seen if law_first else None,
                     events=False)  # pick-freeze quantities are no event probabilities
    # the covariance of the estimate: final stage and pooled earlier stages together
    cov = np.atleast_2d(np.asarray(out.covariance, dtype=float))
    diag = {"n_points": out.runs_used, "n_final": int(out.n_final),
            "n_pooled": int(out.n_pooled), "chosen_stage": int(out.chosen_stage),
            "points_not_run": int(out.points_not_run),
            "criterion_weights": np.asarray(out.weights).tolist(),
            "engine_stderr": np.asarray(out.stderr).tolist(),
            "history": list(out.history_records())} | (out.rqmc or {}) | (out.route or {})
    return np.asarray(out.estimate, dtype=float), cov, diag


def _run_pick_freeze(wrapper, layout, points, seed):
    """Plain Monte Carlo of the same quantities: ``points`` i.i.d. pick-freeze points."""
    parts = []
    left, chunk = points, 0
    while left > 0:
        n = min(left, _CHUNK_POINTS)
        key = batch_keys.pick_freeze_chunk(chunk)
        u = batch_keys.generator(seed, key).standard_normal((n, 2 * layout.dim))
        parts.append(wrapper(u, key))
        left -= n
        chunk += 1
    values = np.concatenate(parts)
    cov = np.atleast_2d(np.cov(values, rowvar=False)) / values.shape[0]
    return values.mean(axis=0), cov, {"n_points": int(values.shape[0])}


def _run_pick_freeze_rqmc(wrapper, layout, points, seed, replicates, surrogate=None):
    """Pick-freeze on ``R`` scrambled Sobol' nets of ``n`` points in ``2d`` dimensions.

    Replicate ``r`` is batch ``r``, its points net ``r`` of the ``2d``-dimensional law
    (:func:`~multiexpect.estimators.monte_carlo.law_net`, the nets ``sampling="auto"``
    draws: its law route is this estimator); returns the mean of the replicate means, their
    covariance over ``R`` and the degrees of freedom ``R - 1`` in the diagnostics.
    ``surrogate="chaos"``: the chaos control, cross-fitted by replicate
    (:func:`_chaos_replicates`).
    """
    reps, n = replicate_plan(points, replicates)
    nets = (normal_from_uniform(law_net(seed, r, n, 2 * layout.dim)) for r in range(reps))
    if surrogate is not None:
        nets = list(nets)
        outputs = [wrapper.outputs(u, batch_keys.rqmc_replicate(r))
                   for r, u in enumerate(nets)]
        theta, cov, extra = _chaos_replicates(wrapper, layout, nets, outputs)
    else:
        means = np.stack([wrapper(u, batch_keys.rqmc_replicate(r)).mean(axis=0)
                          for r, u in enumerate(nets)])
        (theta, cov), extra = _replicate_moments(means), {}
    return theta, cov, {"n_points": reps * n, "sampling": "rqmc",
                        "interval": INTERVAL_REPLICATES, "replicates": reps,
                        "points_per_replicate": n, "dof": reps - 1, **extra}


def _chaos_replicates(wrapper, layout, nets: list,
                      outputs: list) -> tuple[np.ndarray, np.ndarray, dict]:
    """The replicates' estimate with the chaos control (:mod:`.chaos`), cross-fitted by
    replicate: net ``r``'s points are corrected by the chaos fitted on the other nets, and
    the estimate is the mean of the corrected replicate means, its covariance theirs over
    ``R`` (each replicate mean is unbiased given the other nets). ``outputs[r]`` are the
    stacked runs' outputs of the points ``nets[r]``."""
    runs = layout.runs_per_point
    y = np.concatenate([out.reshape(runs, -1) for out in outputs],
                       axis=1).reshape(-1)  # the layout's stacked order, all nets
    theta, cov, _, extra = _chaos_estimate(wrapper, layout, np.concatenate(nets), y,
                                           len(nets))
    return theta, cov, extra


def _chaos_estimate(wrapper, layout, u, y, blocks):
    """Mean, covariance, degrees of freedom and diagnostics (the fit's record under
    ``"surrogate"``, :func:`~multiexpect.polychaos.chaos_record`) of the chaos-controlled
    values of the points ``u`` cut into ``blocks`` equal blocks
    (:func:`.chaos.controlled_values`);
    the covariance never below the arithmetic's resolution
    (:data:`~multiexpect.polychaos.RESOLUTION`) on the controlled quantities."""
    values, floor, extra = controlled_values(layout, wrapper.law, u, y,
                                             layout.quantities(y, wrapper.centre),
                                             wrapper.centre, blocks)
    theta, cov, dof = block_estimate(values, blocks)
    return theta, cov + np.diag(floor**2), dof, {"surrogate": extra}


def _replicate_moments(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The estimate from ``R`` replicate means ((R, J)): their mean and its covariance, the
    replicates' covariance over ``R`` (pick-freeze RQMC and the law route of ``"auto"``)."""
    reps = means.shape[0]
    return means.mean(axis=0), np.atleast_2d(np.cov(means, rowvar=False)) / reps


def _law_route_moments(wrapper, layout, replicates: int,
                       chaos: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """The law route of ``sampling="auto"``: the engine ran the law's nets ``0 .. R - 1``
    (the pilot's two, then the rest) through ``wrapper``, which kept each net's points and
    outputs; the means of their plain (not adjusted) quantities, by
    :func:`_replicate_moments`, are
    ``method="pick-freeze", sampling="rqmc"``'s estimate from the same nets, bit for bit
    (the engine's own estimate of the adjusted quantities, ``Q_k - r_k S``, is the same mean
    up to rounding). With ``chaos``, where the nets are large enough
    (:func:`~.chaos.chaos_fits`), the estimate is ``surrogate="chaos"``'s on the same nets
    (:func:`_chaos_replicates`), bit for bit too; the third value is its record."""
    if len(wrapper.nets) != replicates:
        raise RuntimeError(f"the law route ran {len(wrapper.nets)} batches for {replicates} "
                           f"replicates")
    nets = [u for u, _ in wrapper.nets]
    outputs = [y for _, y in wrapper.nets]
    if chaos and chaos_fits(sum(u.shape[0] for u in nets), replicates, layout.dim):
        return _chaos_replicates(wrapper, layout, nets, outputs)
    means = np.stack([layout.quantities(y, wrapper.centre).mean(axis=0) for y in outputs])
    return *_replicate_moments(means), {}


def _run_pick_freeze_net(wrapper, layout, points, seed, blocks, surrogate=None):
    """Pick-freeze on ONE scrambled Sobol' sequence of ``points`` points (batch 0; a net
    when ``points`` is a power of 2).

    The net's first ``d`` coordinates are ``U'``, its last ``d`` are ``U`` (SALib's layout);
    the estimate is the mean over all points, its covariance that of the ``blocks`` block
    means over ``blocks`` (``"net-blocks"`` interval, ``blocks - 1`` degrees of freedom).
    ``surrogate="chaos"``: the point values carry the chaos control variate
    (:mod:`multiexpect.sensitivity.chaos`), cross-fitted by the same blocks.
    """
    n = one_net_plan(points, blocks)
    net = sobol_normal(n, 2 * layout.dim, batch_keys.rqmc_generator(seed, 0))
    u = np.roll(net, layout.dim, axis=1)
    if surrogate is None:
        theta, cov, dof = block_estimate(wrapper(u, batch_keys.rqmc_replicate(0)), blocks)
        extra = {}
    else:
        y = wrapper.outputs(u, batch_keys.rqmc_replicate(0))
        theta, cov, dof, extra = _chaos_estimate(wrapper, layout, u, y, blocks)
    return theta, cov, {"n_points": n, "sampling": "rqmc", "interval": INTERVAL_NET_BLOCKS,
                        "replicates": ONE_NET, "blocks": blocks, "points_per_replicate": n,
                        "points_per_block": n // blocks, "whole_net": n & (n - 1) == 0,
                        "dof": dof, **extra}

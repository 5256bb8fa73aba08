r"""A polynomial chaos control for the RQMC final stage (``surrogate="chaos"``).

Before the final stage, each quantity's values on every earlier run (the pilot and the
adaptive batches, less the points left unrun outside the practical box) are fitted by least
squares with a total-degree chaos ``p`` of the chaos inputs ``ζ`` (:mod:`multiexpect.
polychaos`; ``ζ = z`` in the standard space, ``T_0(x)`` the first law's standard map in
input space; the degree by :func:`~multiexpect.polychaos.chaos_degree`), and a column of
positive values also by ``exp`` of a chaos of its logarithm; ``s_j`` is the form with the
smaller predicted variance (:func:`fit_surrogate`), 0 where ``ζ`` is not finite. Then each
final row ``r`` (an RQMC replicate, or a block of the one net) estimates

    Î_r = (1/n) sum_i (phi_j - s_j)(x_i) f_j(x_i) / ḡ(x_i)  [ISCV controls as without]
          + p_0 + (1/M) sum_k [s_j(ζ_l(ξ_rk)) - p(ξ_rk)],

the first term the final stage's estimator of the residual ``phi_j - s_j``, the second the
law's mean of ``s_j`` on a scrambled net ``ξ_r`` of :data:`INTEGRATION_POINTS` standard
normal points of its own (no model run): ``p``'s exact mean ``p_0`` under the reference
law (:class:`~multiexpect.problem.Problem`'s; ``ζ`` is standard normal there and the basis
orthonormal) plus the net's mean of the difference, ``ζ_l(ξ)`` the chaos inputs of law
``l``'s point ``from_standard(ξ)``. ``s_j`` is fixed before the final points are drawn and
every point of a net is marginally its law, so every row stays exactly unbiased; the rows
stay independent, so their spread holds the integration's error too, and the interval
machinery is unchanged. The gain is the residual's: where the chaos follows the model,
``Var(phi - s)`` is a small share of ``Var(phi)``.

A quantity is left uncontrolled (``s_j = 0``) unless, on the kept proposal's own batch, the
chaos fitted on the other runs cuts the variance of its summands to at most
:data:`MAX_SHARE` of the plain ones' (an event's indicator, a heavy integrand the polynomial
cannot follow in the proposal's tails): a decision on the earlier runs alone, unbiased too.
Where the chaos reproduces the model, a controlled quantity's standard error is kept at the
arithmetic's resolution (:data:`RESOLUTION`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import batch_keys, polychaos
from ..estimators.importance import is_responses, log_ratio_exp
from ..polychaos import CHAOS, MAX_SHARE, RESOLUTION, ROWS_PER_TERM
from ..sampling.rqmc import sobol_normal
from ..vocabulary import EXPECTATION_SURROGATES
from .law_first import through_laws
from .sample import component_logpdfs

__all__ = ["AUTO_EVALUATIONS", "AUTO_MAX_DEGREE", "CAPPED", "EXP_MARGIN", "FULL", "GROWTH_CAP",
           "INTEGRATION_POINTS", "LEAST_POINTS", "ChaosForm", "FinalSurrogate", "check_surrogate",
           "controls_law_route", "fit_surrogate"]

#: Points of each law's integration net per final row (a power of 2: a whole net).
INTEGRATION_POINTS = 2048
#: ``surrogate="auto"`` (several laws) caps the laws' integration at this many basis
#: evaluations, terms x points x laws x rows (:meth:`ChaosForm.size`): the 100-law beam's
#: 210-term chaos on 2048 points comes down to 28 terms on 256 points.
AUTO_EVALUATIONS = 2**23
#: ... and its degree at this: a higher degree follows the fitted runs but extrapolates
#: into the other laws' tails and a kink's far side, where the batch's share does not look
#: (measured in docs/benchmarks.md, "The capped chaos").
AUTO_MAX_DEGREE = 2
#: ... halving the points down to this many before lowering the degree.
LEAST_POINTS = 256


@dataclass(frozen=True)
class ChaosForm:
    """How large the final stage's chaos may be: ``evaluations`` None for
    ``surrogate="chaos"`` (the degree the runs allow, :data:`INTEGRATION_POINTS` points a law
    and row), else the cap on the laws' integration cost (:meth:`size`), and the largest
    degree ``max_degree`` (None: the runs')."""

    evaluations: int | None
    max_degree: int | None = None

    @property
    def name(self) -> str:
        """``"full"`` or ``"capped"``, as the diagnostics say."""
        return "full" if self.evaluations is None else "capped"

    def size(self, degree: int, dim: int, laws: int, rows: int) -> tuple[int, int]:
        """``(degree, points)`` for a chaos the runs allow to ``degree`` in ``dim`` inputs,
        integrated under ``laws`` laws on ``rows`` final rows: at most ``max_degree``,
        and within the cap the points halved from :data:`INTEGRATION_POINTS` down to
        :data:`LEAST_POINTS`, then the degree lowered (to 1 at least)."""
        points = INTEGRATION_POINTS
        if self.max_degree is not None:
            degree = min(degree, self.max_degree)
        if self.evaluations is None:
            return degree, points
        while degree > 1 and polychaos.terms(dim, degree) * points * laws * rows > self.evaluations:
            if points > LEAST_POINTS:
                points //= 2
            else:
                degree -= 1
        return degree, points


#: ``surrogate="chaos"``.
FULL = ChaosForm(None)
#: ``surrogate="auto"``'s form for several laws.
CAPPED = ChaosForm(AUTO_EVALUATIONS, AUTO_MAX_DEGREE)


#: Most points of the laws' integration nets put through the chaos's basis in one call.
LAW_MEAN_ROWS = 4096
#: The exponential form replaces the polynomial for a column only where its predicted
#: variance is this many times smaller: :func:`_predicted`'s i.i.d. proxies understate the
#: integration of a heavy ``s`` on a net against the residual's gain on the final nets
#: (measured in docs/benchmarks.md).
EXP_MARGIN = 4.0


@dataclass(frozen=True)
class FinalSurrogate:
    """The fitted chaos: multi-indices ``alphas``, bounded inputs; per distinct quantity
    column of the model, the polynomial ``p``'s coefficients ``coef`` ((terms, m)) and the
    surrogate's ``coef_s``, of the logarithm where ``logged`` (``s = exp(...)``, else
    ``s = p``) and its clipping range ``[low, high]`` ((m,), :func:`_bounds`); each
    quantity's column ``column`` ((J,)), share (:func:`_batch_shares`), whether it is
    controlled (``s_j = 0`` where not) and its standard error's floor (:data:`RESOLUTION`)."""

    alphas: np.ndarray
    bounded: np.ndarray
    coef: np.ndarray
    coef_s: np.ndarray
    logged: np.ndarray
    column: np.ndarray
    low: np.ndarray
    high: np.ndarray
    share: np.ndarray
    used: np.ndarray
    floor: np.ndarray
    fit_rows: int
    points: int = INTEGRATION_POINTS
    form: str = "full"

    @property
    def degree(self) -> int:
        """The chaos's total degree."""
        return int(self.alphas.sum(axis=1).max())

    def _quantities(self, columns: np.ndarray, which=slice(None)) -> np.ndarray:
        """``s_j`` ((n, J), or of the quantities ``which``) from the columns' surrogates."""
        out = columns[:, self.column[which]]
        out[:, ~self.used[which]] = 0.0
        return out

    def _columns(self, z: np.ndarray, problem) -> np.ndarray:
        """Each distinct column's surrogate ((n, m)) at working points ``z``."""
        poly = _basis(z, problem, self.bounded, self.alphas) @ self.coef_s
        return _forms(poly, self.logged, self.low, self.high)

    def values(self, z: np.ndarray, problem) -> np.ndarray:
        """``s_j`` at working points ``z`` ((n, J))."""
        return self._quantities(self._columns(z, problem))

    def law_means(self, problem, seed: int, key: int, row: int) -> np.ndarray:
        """Each quantity's RQMC mean of ``s_j`` under its law ((J,)), from one net ``ξ`` of
        ``points`` standard normal points (:func:`~multiexpect.batch_keys.
        surrogate_generator` of ``(seed, key, row)``) shared by the laws: the polynomial
        ``p``'s exact mean under the reference law (its constant coefficient: ``ζ`` is then
        standard normal and the basis orthonormal) plus the net's mean of
        ``s_j(ζ_l(ξ)) - p(ξ)``, ``ζ_l(ξ)`` the chaos inputs of law ``l``'s point
        ``from_standard(ξ)``: unbiased, and small where ``s`` is near ``p`` and the laws
        near the first one."""
        rng = batch_keys.surrogate_generator(seed, key, row)
        xi = sobol_normal(self.points, problem.dim, rng)
        base = (polychaos.design(xi, self.bounded, self.alphas) @ self.coef).mean(axis=0)
        shift = (self.coef[0] - base)[self.column]
        means = np.zeros(self.column.size)
        laws = [law for law in range(len(problem.laws))
                if np.any((problem.law_index == law) & self.used)]
        m = xi.shape[0]
        step = max(1, LAW_MEAN_ROWS // m)
        for start in range(0, len(laws), step):
            # several laws' points in one basis (the surrogate is row by row), each law's
            # columns then averaged over its own contiguous rows
            chunk = laws[start:start + step]
            columns = self._columns(through_laws(problem, xi, chunk), problem)
            for k, law in enumerate(chunk):
                mine = problem.law_index == law
                means[mine] = (self._quantities(columns[k * m:(k + 1) * m], mine)
                               .mean(axis=0) + shift[mine])
        means[~self.used] = 0.0
        return means

    def record(self) -> dict:
        """JSON-able description for the result's diagnostics."""
        return {"surrogate": CHAOS, "form": self.form, "degree": self.degree,
                "terms": int(self.alphas.shape[0]), "integration_points": self.points,
                "fit_runs": self.fit_rows, "residual_share": self.share.tolist(),
                "controlled": self.used.tolist(),
                "logarithm": self.logged[self.column].tolist()}


def check_surrogate(surrogate, method: str, sampling: str, n_laws: int) -> ChaosForm | None:
    """``surrogate`` checked before any run and resolved to the final stage's chaos form, or
    None: ``"chaos"`` the :data:`FULL` form, for ``aiscv`` with an RQMC final stage
    (``sampling`` ``"rqmc"`` or ``"auto"``; a ValueError naming it otherwise); ``"auto"``
    (the default) the :data:`CAPPED` form there when the study has several laws (one fit
    serves every law), else none; a ValueError naming it for any other value."""
    if surrogate is None:
        return None
    if surrogate not in EXPECTATION_SURROGATES:
        raise ValueError(f"'surrogate' must be None or one of {EXPECTATION_SURROGATES}, got "
                         f"{surrogate!r}")
    rqmc_final = method == "aiscv" and sampling in ("rqmc", "auto")
    if surrogate == "auto":
        return CAPPED if rqmc_final and n_laws > 1 else None
    if not rqmc_final:
        raise ValueError(f"'surrogate' needs method 'aiscv' with sampling 'rqmc' or 'auto' "
                         f"(it controls the RQMC final stage), got method {method!r}, "
                         f"sampling {sampling!r}")
    return FULL


def controls_law_route(surrogate, method: str, sampling: str) -> bool:
    """Whether the law route of ``sampling="auto"`` takes the nets' chaos control
    (:mod:`.law_chaos`): for ``aiscv`` unless ``surrogate`` is None (``surrogate`` as
    given, checked by :func:`check_surrogate`)."""
    return surrogate is not None and method == "aiscv" and sampling == "auto"


def _chaos_inputs(z: np.ndarray, problem) -> np.ndarray:
    """The chaos inputs ``ζ`` of working points ``z``: ``z`` itself in the standard space,
    the first law's standard map of ``z`` in input space (non-finite outside its support)."""
    if problem.space == "standard":
        return z
    with np.errstate(all="ignore"):
        return problem.laws[0].to_standard(z)


def _basis(z: np.ndarray, problem, bounded: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """The chaos basis at working points ``z``, zero where ``ζ`` is not finite."""
    zeta = _chaos_inputs(z, problem)
    return _design_where(zeta, np.all(np.isfinite(zeta), axis=1), bounded, alphas)


def _design_where(zeta: np.ndarray, inside: np.ndarray, bounded: np.ndarray,
                  alphas: np.ndarray) -> np.ndarray:
    """The chaos basis at the chaos inputs ``zeta`` ((n, d)) on the rows ``inside``, zero on
    the others."""
    if np.all(inside):
        return polychaos.design(zeta, bounded, alphas)
    out = np.zeros((zeta.shape[0], alphas.shape[0]))
    if np.any(inside):
        out[inside] = polychaos.design(zeta[inside], bounded, alphas)
    return out


def fit_surrogate(state, best, final_rows: int, form: ChaosForm = FULL) -> FinalSurrogate:
    """Fit the chaos on every earlier run of ``state`` (module docstring) for the final stage
    of the kept candidate ``best`` in ``final_rows`` rows (replicates or blocks), its
    degree and integration points within the ``form``'s cap (:meth:`ChaosForm.size`).
    Where the earlier runs are too few for degree 1 the chaos is a constant and controls nothing:
    the study goes on as without the option (its runs are already paid for).

    Each column of positive values is fitted twice, the polynomial ``p`` of its values and
    ``s = exp`` of a polynomial of their logarithms (a model that grows like a power of its
    inputs), and keeps ``exp`` where its predicted variance summed over its quantities is
    :data:`EXP_MARGIN` times smaller (:func:`_predicted`: the residual's, from the shares of
    :func:`_batch_shares`, and for ``exp`` the law means' integration of ``s - p``); a
    quantity is controlled where its share is at most :data:`MAX_SHARE`."""
    problem, sample = state.problem, state.sample
    box = state.setup.practical
    z, phi = sample.z, sample.phi
    zeta = _chaos_inputs(z, problem)
    rows = np.all(np.isfinite(zeta), axis=1) & np.all(np.isfinite(phi), axis=1)
    x = problem.to_inputs(z)
    rows &= problem.has_mass(x, sample.log_laws)  # the points left unrun hold no output
    if box is not None:  # (nor, maybe, those outside the practical box)
        rows &= ~box.outside(x)
    valid, rows = rows, _thinned(rows, FIT_ROWS_CAP)
    bounded = polychaos.bounded_inputs(problem.reference_law)
    _, first, back = np.unique(problem.column, return_index=True, return_inverse=True)
    try:
        degree = polychaos.chaos_degree(problem.dim, int(rows.sum()))
    except ValueError:  # too few runs for degree 1: a constant, which controls nothing
        degree = 0
    degree, points = form.size(degree, problem.dim, len(problem.laws), final_rows)
    alphas = polychaos.multi_indices(problem.dim, degree)
    basis = _held_basis(zeta, valid, rows | _batch_mask(state, best), bounded, alphas)
    y = phi[:, first]
    positive = np.all(y[rows] > 0, axis=0)
    shares, before = _batch_shares(state, best, basis, y, rows, back, alphas, positive)
    fit_basis = basis(rows)
    coef = _fit(fit_basis, y[rows], np.zeros_like(positive))
    coef_log = _fit(fit_basis, y[rows], positive) if np.any(positive) else coef
    n_final = state.setup.budget - state.runs_used
    linear, exponential = _predicted(state, basis, y, rows, back, positive, coef, coef_log,
                                     shares, before, n_final, final_rows * points)
    logged = np.array([positive[c] and EXP_MARGIN * exponential[back == c].sum()
                       < linear[back == c].sum() for c in range(y.shape[1])], dtype=bool)
    share = np.where(logged[back], shares[1], shares[0])
    used = share <= MAX_SHARE
    coef_log = np.where(logged, coef_log, coef)
    low, high = _bounds(y[rows], logged)
    floor = np.where(used, RESOLUTION * np.sqrt(np.mean(y[rows] ** 2, axis=0))[back], 0.0)
    return FinalSurrogate(alphas, bounded, coef, coef_log, logged, back, low, high, share,
                          used, floor, int(rows.sum()), points, form.name)


#: Most earlier runs the chaos is fitted on: beyond it every ``k``-th run is kept (in run
#: order, so every stage keeps its share), so that the basis stays within about
#: ``FIT_ROWS_CAP x MAX_TERMS x 8`` bytes (120 MB) whatever the budget; 166 rows a term
#: at 300 terms, 8x :data:`~multiexpect.polychaos.ROWS_PER_TERM`.
FIT_ROWS_CAP = 50_000


def _thinned(rows: np.ndarray, cap: int) -> np.ndarray:
    """``rows`` ((n,) bool) with every ``k``-th of its ``True`` kept, ``k`` the least stride
    that leaves at most ``cap``; unchanged when it holds at most ``cap``."""
    held = np.flatnonzero(rows)
    if held.size <= cap:
        return rows
    out = np.zeros_like(rows)
    out[held[::-(-held.size // cap)]] = True
    return out


def _batch_mask(state, best) -> np.ndarray:
    """The rows ((n,) bool) of the kept candidate ``best``'s own batch."""
    batch = np.zeros(state.sample.n_points, dtype=bool)
    batch[state.sample.stage_rows(best.stage)] = True
    return batch


def _held_basis(zeta: np.ndarray, valid: np.ndarray, held: np.ndarray, bounded: np.ndarray,
                alphas: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The chaos basis held on the rows ``held`` only (the fit runs and the kept batch),
    zero on those outside ``valid`` (no finite chaos inputs or output, or unrun): a function
    of a row mask within ``held`` -> its rows of the basis, in run order (the same values as
    a basis of every run, without its memory)."""
    values = _design_where(zeta[held], valid[held], bounded, alphas)

    def at(mask: np.ndarray) -> np.ndarray:
        if np.any(mask & ~held):
            raise ValueError("the chaos basis is held on the fit runs and the kept batch only")
        return values[mask[held]]
    return at


#: The exponential form of a column is clipped to ``[0, GROWTH_CAP * max(y)]`` over its fit
#: runs (an exponential of a polynomial can blow up where the runs did not go; the
#: polynomial form is left as it is, which follows a smooth model beyond its runs).
GROWTH_CAP = np.e


def _predicted(state, basis, y, rows, back, positive, coef, coef_log, shares, before,
               n_final: int, integration: int) -> tuple[np.ndarray, np.ndarray]:
    """Each quantity's predicted final variance ((J,) twice) with the polynomial and with
    the exponential form, as if i.i.d.: ``share * v / n_F`` (``v`` the plain responses'
    variance on the batch, ``n_F`` the final points) and, for the exponential form, plus
    ``Var(s - p) / (M R)`` over the pilot's runs (a sample of the laws), the law means'
    integration on ``R`` rows of ``M`` points (``integration = M R``)."""
    linear = shares[0] * before / n_final
    pilot = np.zeros(rows.size, dtype=bool)
    pilot[state.sample.stage_rows(0)] = True
    pilot &= rows
    spread = np.full(y.shape[1], np.inf)
    if np.any(positive) and pilot.sum() > 1:
        pilot_basis = basis(pilot)
        exp_form = _forms(pilot_basis @ coef_log, positive, *_bounds(y[rows], positive))
        spread = np.where(positive, (exp_form - pilot_basis @ coef).var(axis=0), np.inf)
    exponential = shares[1] * before / n_final + spread[back] / integration
    return linear, exponential


def _forms(poly: np.ndarray, logged: np.ndarray, low: np.ndarray, high: np.ndarray
           ) -> np.ndarray:
    """The columns' surrogates from their polynomials' values ``poly`` ((n, m)): ``exp`` of
    them where ``logged`` (the exponent capped at 700), clipped to ``[low, high]``."""
    with np.errstate(over="ignore"):
        return np.clip(np.where(logged, np.exp(np.minimum(poly, 700.0)), poly), low, high)


def _bounds(y: np.ndarray, logged: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's clipping range: ``[0, GROWTH_CAP max y]`` where ``logged``, else
    unbounded."""
    low = np.where(logged, 0.0, -np.inf)
    high = np.where(logged, GROWTH_CAP * y.max(axis=0), np.inf)
    return low, high


def _fit(basis: np.ndarray, y: np.ndarray, logged: np.ndarray) -> np.ndarray:
    """Least-squares coefficients ((terms, m)) of the columns of ``y``, of their logarithms
    where ``logged``."""
    target = np.array(y, dtype=float)
    target[:, logged] = np.log(target[:, logged])
    return np.linalg.lstsq(basis, target, rcond=None)[0]


def _batch_shares(state, best, basis: Callable[[np.ndarray], np.ndarray], y: np.ndarray,
                  rows: np.ndarray, back: np.ndarray, alphas: np.ndarray,
                  positive: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Each quantity's share on ``best``'s own batch (drawn from the kept proposal ``g``),
    for the polynomial and for the ``exp`` of a polynomial (``inf`` where a column is not
    positive): the variance of its responses less ``s_j f_j / g``, ``s`` fitted on the
    other runs (clipped to their range), over that of its plain responses ``phi_j f_j / g``,
    each less its least-squares fit on ``g``'s controls (the final stage refits their
    coefficients on either); ``inf`` when too few runs are left for the chaos's terms or the
    plain responses are fitted exactly. Returns the two shares and that plain variance."""
    sample, problem = state.sample, state.problem
    batch = _batch_mask(state, best)
    train = rows & ~batch
    none = np.full(back.size, np.inf)
    if train.sum() < ROWS_PER_TERM * alphas.shape[0] // 2:
        return (none, none), none
    log_laws, log_g = sample.log_laws[batch], sample.log_props[best.stage][batch]
    plain = (best.batch_responses if best.batch_responses is not None
             else state.pilot_summands)
    if plain.shape[0] != int(batch.sum()):  # no responses of its own batch to read
        return (none, none), none
    regressors = np.ones((plain.shape[0], 1))
    if best.stage != 0:  # the kept mixture's controls: its components over g
        log_comp = component_logpdfs(best.proposal.components[:-1], sample.z[batch],
                                     state.setup.initial.logpdf_from_laws(log_laws))
        regressors = np.column_stack([regressors, log_ratio_exp(log_comp, log_g[:, None])])

    def left(values: np.ndarray) -> np.ndarray:
        """The variance of ``values`` less their least-squares fit on the regressors."""
        fit = regressors @ np.linalg.lstsq(regressors, values, rcond=None)[0]
        return (values - fit).var(axis=0)

    before = left(plain)
    batch_basis, train_basis = basis(batch), basis(train)
    out = []
    for logged in (np.zeros_like(positive), positive):
        if out and not np.any(logged):
            out.append(np.full(back.size, np.inf))
            continue
        poly = batch_basis @ _fit(train_basis, y[train], logged)
        fitted = _forms(poly, logged, *_bounds(y[train], logged))
        fitted = is_responses(fitted[:, back], log_laws, log_g, problem.law_index)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = left(plain - fitted) / before
        out.append(np.where((before > 0) & (logged[back] | ~np.any(logged)), share, np.inf))
    return (out[0], out[1]), before

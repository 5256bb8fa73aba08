"""One adaptive step: fit, weigh, draw a batch, regress (steps 2-4 of ``docs/method.md``).

1. cross-entropy fit of the components of each quantity's sign parts ``phi_j^±`` on every
   point so far, weighted by ``ω = phi_j^± f_j / h`` (``h``: the recycled sample's mixture),
   by the option's family (:data:`~multiexpect.proposals.families.FAMILIES`);
2. ``α`` minimising the convex criterion ``V(α) = mean_i sum_j w_j (a_ij - b_i β_j^T)^2 /
   (b_i α)`` on the recycled points, for the zero-variance coefficients ``β_jk = Î_j^±`` on
   the own components, each weight above ``alpha_floor`` times its start
   ``∝ sqrt(w_j) |Î_j^±|``, the law's above ``defensive``;
3. a batch from ``g_α`` (fitted on earlier points only, so its variance is an honest
   prediction), ``β`` by least squares of the responses on the controls ``g_k / g_α - 1``,
   and the predicted final error ``E_t = sum_j w_j σ̂_j^2 / (N - N_used)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import logsumexp

from .. import batch_keys
from ..estimators.control_variates import regress_controls
from ..estimators.importance import (
    StreamingMoments,
    iscv_summands,
    law_columns,
    law_ratios,
    log_ratio_exp,
    times_fresh,
)
from ..estimators.mixture_weights import optimise_alpha
from ..proposals import Mixture
from ..proposals.families import FAMILIES, FitContext, fit_parts
from .ladder import (
    climb_cap,
    climbed,
    extended,
    fitted_on_ladder,
    ladder_levels,
    ladder_note,
    ladder_phi,
    post_ladder_history,
    stepped_aside,
)
from .pilot import run_model_scored
from .sample import component_logpdfs
from .state import Candidate, EngineState, Stage

__all__ = ["MIN_CONTROL_ALPHA", "Proposal", "adapt", "adaptation_done", "balanced_weights",
           "component_specs", "control_mask", "propose"]

#: Lighter components are no control variate: their control is bounded only by ``1/α_k``.
MIN_CONTROL_ALPHA = 1e-3
#: A sign part carrying less of its quantity's mass does not decide the quantity's fit
#: effective points (:func:`_fit_ess`).
MINOR_PART = 0.05
#: Batch points a control's coefficient needs: a regression on a batch of ``n`` points fits
#: at most ``n / POINTS_PER_CONTROL`` coefficients per quantity (:func:`control_mask`).
POINTS_PER_CONTROL = 10


def adaptation_done(state: EngineState) -> bool:
    """Stop at the first stage whose ``E_t`` does not decrease, or when the next batch would
    pass the adaptation cap; while an exceedance climbs its level ladder and until its
    real level has been fitted twice, go on (the stages fitted on the ladder are not
    compared; :func:`~.ladder.extended`)."""
    opts = state.setup.options
    if extended(state):
        return state.runs_used + opts.batch_size > climb_cap(state.setup)
    if state.runs_used + opts.batch_size > opts.adaptation_cap:
        return True
    history = post_ladder_history(state)
    return len(history) >= 2 and not history[-1].predicted_error < history[-2].predicted_error


@dataclass(frozen=True)
class _Fits:
    """The fitted components, in mixture order (the law comes last, not listed)."""

    components: list
    ess: list
    labels: list
    shares: list
    specs: list  # (quantity, sign) of each component
    part_mass: list  # its part's share of its quantity's |phi_j| f_j mass (1 unsplit)


@dataclass(frozen=True)
class Proposal:
    """The next batch's mixture fitted on the recycled sample, before any of its runs:
    the fits, ``α`` and the optimiser's success, the intermediate levels, the rows fitted
    (``idx``) with the components' log-densities there, and ``criterion``, the in-sample
    ``V(α)`` (weighted variance per point of the summands with the zero-variance ``β``,
    estimated on the points the fits used: optimistic)."""

    fits: _Fits
    alpha: np.ndarray
    success: bool
    levels: np.ndarray
    idx: object
    log_comp: np.ndarray
    mixture: Mixture
    criterion: float


def propose(state: EngineState) -> Proposal:
    """Fit the next stage's mixture on the recycled sample (no model run)."""
    setup, problem = state.setup, state.problem
    t = state.sample.n_stages
    fit_gen = batch_keys.fit_generator(setup.seed, t)
    idx, log_h = _fit_points(state, fit_gen)
    sample = state.sample
    z, phi = sample.z[idx], sample.phi[idx]
    log_laws = sample.log_laws[idx]
    log_fq = law_columns(log_laws, problem.law_index)
    levels = ladder_levels(state)  # a rare exceedance is fitted to an intermediate level
    phi = ladder_phi(state, idx, phi, levels, log_fq, log_h)
    if np.any(state.weights == 0):  # a quantity served elsewhere (.law_split): no component
        phi = np.where(state.weights > 0, phi, 0.0)
    aside = stepped_aside(state, levels)  # at its real level while another climbs
    if np.any(aside):
        phi = np.where(aside, 0.0, phi)
    fits = _fit_components(state, z, phi, log_fq, log_h, _fit_context(state, fit_gen),
                           fitted_on_ladder(state, levels))
    log_comp = component_logpdfs(fits.components, z, sample.law_component(idx))
    alpha, success, criterion = _mixture_weights(state, fits, phi, log_laws, log_h, log_comp)
    return Proposal(fits, alpha, success, levels, idx, log_comp,
                    Mixture([*fits.components, setup.initial], alpha), criterion)


def adapt(state: EngineState, proposed: Proposal | None = None) -> tuple[EngineState, Stage]:
    """Fit a new mixture on the recycled sample (or take ``proposed``, :func:`propose` of
    this very state), draw its batch and record it as a candidate."""
    setup, problem = state.setup, state.problem
    t = state.sample.n_stages
    sample = state.sample
    step = propose(state) if proposed is None else proposed
    fits, alpha, success, levels = step.fits, step.alpha, step.success, step.levels
    idx, log_comp, proposal = step.idx, step.log_comp, step.mixture
    z_new = proposal.sample(int(setup.options.batch_size),
                            batch_keys.adaptive_generator(setup.seed, t))
    outputs, scores_new, log_laws_new, runs = run_model_scored(
        setup, z_new, batch_keys.adaptive(t), proposal=proposal)
    phi_new = problem.quantity_values(outputs)
    log_comp_new = component_logpdfs(fits.components, z_new,
                                     setup.initial.logpdf_from_laws(log_laws_new))
    log_g_new = proposal.logpdf_from_components(log_comp_new)
    beta, variance, moments, summands, responses = _regress(
        state, fits, alpha, phi_new, log_laws_new, log_comp_new, log_g_new)
    runs_used = state.runs_used + runs
    error = state.predicted_error(variance, runs_used)
    fit_ess = _fit_ess(fits, problem.n_quantities)
    candidate = Candidate(t, proposal, beta, error, own_score=float(state.weights @ variance),
                          fit_ess=fit_ess, on_ladder=bool(np.any(np.isfinite(levels))),
                          batch_summands=summands, response_mean=responses.mean(axis=0),
                          batch_responses=responses,
                          at_level=(fit_ess > 0) & ~np.isfinite(levels))
    stage = Stage(t, z_new.shape[0], runs, runs_used, error, alpha=alpha.tolist(),
                  component_ess=fits.ess, components=[*fits.labels, "law"],
                  optimiser_success=bool(success), stage_estimate=moments.mean.tolist(),
                  stage_stderr=moments.stderr.tolist(), note=ladder_note(levels, problem.names))
    # the fits used every point: their components' densities there are known already
    known = log_comp if isinstance(idx, slice) else None
    new = state.evolve(
        sample=sample.append(proposal, fits.components, z_new, phi_new, log_laws_new,
                             log_g_new, old_components=known, scores=scores_new,
                             log_g0=log_comp_new[:, -1]),
        candidates=(*state.candidates, candidate), history=(*state.history, stage),
        runs_used=runs_used)
    return new, stage


def _fit_points(state: EngineState, fit_gen: np.random.Generator):
    """The rows the fits use (at most ``max_fit_points``, a random subset) and ``log h``
    there."""
    sample, opts = state.sample, state.setup.options
    total = sample.n_points
    log_h_all = sample.log_h()
    if total > opts.max_fit_points:
        idx = np.sort(fit_gen.choice(total, opts.max_fit_points, replace=False))
    else:
        idx = slice(None)
    return idx, log_h_all[idx]


def _fit_context(state: EngineState, fit_gen: np.random.Generator) -> FitContext:
    """The families' settings for this step (``dof``: the option, else ``max(5, d)``)."""
    opts = state.setup.options
    dof = (float(opts.dof) if opts.dof is not None
           else max(5.0, float(state.reference_cov.shape[0])))
    return FitContext(reference_cov=state.reference_cov, centre=state.centre,
                      pull=opts.shrink_mean, dof=dof, n_components=opts.n_components,
                      event_components=opts.event_components, student_iter=opts.student_iter,
                      event_widened=opts.event_widened, rng=fit_gen)


def component_specs(phi: np.ndarray, log_fq: np.ndarray, split_signs: bool
                    ) -> list[tuple[int, int]]:
    """(quantity, sign) of each part to fit: the sign parts of ``phi_j f_j`` seen so far
    (sign 0: ``|phi_j|`` when signs are not split; a point outside law ``j``'s support
    counts for no part of quantity ``j``)."""
    specs = []
    # a point outside law j's support counts for neither sign (boolean masks only: no copy
    # of phi)
    # one law's column broadcast to every quantity: its finite rows once, broadcast too
    finite = np.isfinite(log_fq[:, :1] if log_fq.strides[1] == 0 else log_fq)
    positive = np.any((phi > 0) & finite, axis=0).tolist()
    negative = np.any((phi < 0) & finite, axis=0).tolist()
    for j, (pos, neg) in enumerate(zip(positive, negative)):
        if split_signs:
            specs += [(j, 1)] * pos + [(j, -1)] * neg
        elif pos or neg:
            specs.append((j, 0))
    return specs


def _fit_components(state: EngineState, z, phi, log_fq, log_h, context: FitContext,
                    unpulled: np.ndarray) -> _Fits:
    """Each part's components by the option's family, with labels ``<name>+``, ``<name>-``
    (``<name>`` unsplit) and ``<name>~`` for an event's widened law; the quantities
    ``unpulled`` (on the level ladder) without the pull of the means."""
    opts, names = state.setup.options, state.problem.names
    specs = component_specs(phi, log_fq, opts.split_signs)
    contexts, by_kind = [], {}
    for j, _ in specs:
        event = bool(state.events[j])
        if event not in by_kind:
            by_kind[event] = context.for_quantity(event)
        ctx = by_kind[event]
        if unpulled[j]:  # on the ladder: a Gaussian, its mean not pulled
            ctx = replace(ctx, pull=False, gaussian_event=True)
        contexts.append(ctx)
    log_w = _part_log_weights(phi, log_fq, log_h, specs)
    fitted_parts = fit_parts(FAMILIES[opts.family], z, log_w, contexts)
    mass = _part_shares(log_w, specs)
    fits = _Fits([], [], [], [], [], [])
    for (j, sign), fitted, part_mass in zip(specs, fitted_parts, mass):
        label = f"{names[j]}{'+' if sign > 0 else '-' if sign < 0 else ''}"
        for piece in fitted.parts:
            fits.components.append(piece.component)
            fits.ess.append(fitted.n_eff)
            fits.labels.append(f"{names[j]}~" if piece.widened else label)
            fits.shares.append(piece.share)
            fits.specs.append((j, sign))
            fits.part_mass.append(part_mass)
    return fits


def _fit_ess(fits: _Fits, n_quantities: int) -> np.ndarray:
    """Each quantity's effective points behind its fits: the fewest of its parts', a sign
    part carrying less than ``MINOR_PART`` of the quantity's mass left out (a moment of an
    output that is rarely negative is not a fit on a few points for the pooling rule,
    :func:`~multiexpect.engine.final.pooling_rule`, because its negative part is)."""
    fit_ess = np.zeros(n_quantities)
    for (j, _), n_eff, share in zip(fits.specs, fits.ess, fits.part_mass):
        if share < MINOR_PART:
            continue
        fit_ess[j] = n_eff if fit_ess[j] == 0 else min(fit_ess[j], n_eff)
    return fit_ess


def _part_shares(log_w: np.ndarray, specs) -> np.ndarray:
    """Each part's share of its quantity's mass ``sum_i ω_i`` over the parts (1 for an
    unsplit quantity or a quantity one sign of which was seen)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mass = logsumexp(log_w, axis=1)
    total: dict[int, float] = {}
    for (j, _), m in zip(specs, log_mass):
        total[j] = np.logaddexp(total.get(j, -np.inf), m)
    with np.errstate(invalid="ignore"):
        share = np.exp(log_mass - np.array([total[j] for j, _ in specs]))
    return np.where(np.isfinite(share), share, 1.0)


def _part_log_weights(phi, log_fq, log_h, specs) -> np.ndarray:
    """``log ω = log phi_j^± + log f_j - log h`` of each part ((P, n), a row per part; a
    point with no part has weight 0 even where no density is finite)."""
    out = np.empty((len(specs), phi.shape[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        for p, (j, sign) in enumerate(specs):
            part = _sign_part(phi[:, j], sign)
            empty = ~(part > 0)
            # log part + log f_j - log h in the row itself, then -inf where no part
            np.subtract(np.add(np.log(part, out=part), log_fq[:, j], out=out[p]), log_h,
                        out=out[p])
            np.copyto(out[p], -np.inf, where=empty)
    return out


def _sign_part(values: np.ndarray, sign: int) -> np.ndarray:
    """``max(sign v, 0)``, ``|v|`` for sign 0; by sign flips, not products (no slow
    arithmetic on subnormal values). Column by column: (n, P) temporaries of a large
    sample cost more in fresh pages than the loop does."""
    if sign == 0:
        return np.abs(values)
    return np.maximum(values if sign > 0 else np.negative(values), 0.0)


def _mixture_weights(state: EngineState, fits: _Fits, phi, log_laws, log_h, log_comp):
    """``α`` for the zero-variance coefficients on the own components (they need no
    extrapolation beyond the points seen, unlike a regression), the optimiser's success
    and the criterion ``V(α)`` there; ``log_laws``, ``log_comp``: the laws' and the
    components' log-densities at the fit points.

    With the ``"relative"`` weights and several quantities, a declared exceedance on the
    level ladder among them, the criterion is balanced (:func:`balanced_weights`): each
    quantity's variance over the one it has when the mixture serves it alone."""
    b = log_ratio_exp(log_comp, log_h[:, None])
    lower = np.zeros(b.shape[1])
    lower[-1] = state.setup.options.defensive
    q, start = _criterion_rows(state, fits, phi, log_laws, log_h, b, lower)
    floor = np.maximum(lower, state.setup.options.alpha_floor * start)
    alpha, success = optimise_alpha(q, b, start, floor)
    return alpha, success, float(np.mean(q / np.maximum(b @ alpha, 1e-300)))


def _criterion_rows(state: EngineState, fits: _Fits, phi, log_laws, log_h, b, lower):
    """``q_i = sum_j w_j (a_ij - b_i β_j^T)^2`` ((n,)), ``a = phi f / h``, for the
    zero-variance ``β``, and the starting ``α``; the ``(n, J)`` arrays are dropped on
    return, before ``α``'s solver makes its own."""
    weights, specs = state.weights, fits.specs
    a = times_fresh(phi, law_ratios(log_laws, log_h, state.problem.law_index))
    part_means = np.array([np.mean(_sign_part(a[:, j], s)) for j, s in specs])
    own_beta = np.zeros((state.problem.n_quantities, b.shape[1]))
    for k, (j, sign) in enumerate(specs):
        own_beta[j, k] = (part_means[k] * (sign if sign != 0 else np.sign(np.mean(a[:, j])))
                          / specs.count((j, sign)))
    residual2 = _own_fit(b, own_beta)  # (a - b β^T)^2 in place: no fresh (n, J) temporaries
    np.square(np.subtract(a, residual2, out=residual2), out=residual2)
    owner = np.array([j for j, _ in specs], dtype=int)
    if _balanced(state):
        weights, share = balanced_weights(residual2, b, owner, part_means * fits.shares,
                                          lower)
        start = np.append(share, 0.0)
    else:
        # starting α ∝ sqrt(w_j) |Î_j^±| (the paper's), times the component's share of its part
        start = np.append(np.sqrt(weights[owner]) * part_means * fits.shares, 0.0)
    return residual2 @ weights, start_alpha(start, lower)


def _own_fit(b: np.ndarray, own_beta: np.ndarray) -> np.ndarray:
    """``b β^T`` ((n, J)) for the own coefficients ``β`` ((J, K)). When each quantity has at
    most one own component (one part per quantity, one component per part: the Gaussian
    family on quantities of one sign) and every ``b`` is finite, each entry is one product
    ``b_ik β_jk``, which is what the matrix product's sum gives too (its other terms are
    exact zeros), so the columns are scaled instead: ``n J`` products, not ``n J K``."""
    nonzero = own_beta != 0
    if np.any(nonzero.sum(axis=1) > 1) or not np.all(np.isfinite(b)):
        return b @ own_beta.T
    rows = np.flatnonzero(nonzero.any(axis=1))
    cols = np.argmax(nonzero[rows], axis=1)
    fit = np.take(b, cols, axis=1)  # a fresh C-ordered copy, scaled in place
    fit *= own_beta[rows, cols]
    if rows.size == own_beta.shape[0]:
        return fit
    out = np.zeros((b.shape[0], own_beta.shape[0]))
    out[:, rows] = fit
    return out


def _balanced(state: EngineState) -> bool:
    """Whether ``α`` balances the quantities (:func:`balanced_weights`): the default
    ``"relative"`` weights, several quantities and a declared exceedance among them that
    needed the level ladder (fewer than ``n_ρ`` pilot hits: the mixed studies of issue 17,
    where it was measured; a common declared event keeps the numbers of the same event as
    a custom ``phi`` column). Elsewhere the relative criterion is
    kept: it is the weighted sum of relative variances the user asked for; balancing moments
    of very different difficulty (``E[X^2] ... E[X^20]``) raised that sum, and on a study
    with a 0/1 event column (``x^2``, a lognormal mean, ``P(x > 1)``) it left the
    lognormal mean's reported variance 1.39 times its actual one."""
    spec = state.setup.weight_spec
    return (isinstance(spec, str) and spec == "relative" and state.problem.n_quantities > 1
            and bool(np.any(climbed(state))))


def balanced_weights(residual2: np.ndarray, b: np.ndarray, owner: np.ndarray,
                     raw: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The criterion's weights ``w_j = 1 / V_j(α^(j))`` and equal starting shares per
    quantity.

    ``α^(j)`` is the mixture serving quantity ``j`` alone: the law at its floor ``lower``,
    the rest on ``j``'s own components in proportion to ``raw`` (part mean times share).
    ``V_j(α) = mean_i residual2_ij / (b_i·α)`` is ``j``'s criterion, so the weighted sum
    ``sum_j V_j(α) / V_j(α^(j))`` counts each quantity by how much worse it is served
    than alone, whatever its scale: a quantity whose relative weight is large (a signed
    quantity near 0) no longer takes the mixture from the others. If each quantity's
    variance grew as ``1 / α_j`` on its own components, the minimiser would give every
    quantity the same share, hence the start: each quantity's components share ``1 / J``
    of the free mass in proportion to ``raw``. A quantity without components (zero on
    every point so far) gets weight 0 and no share.

    Returns ``(w, start)``: ``(J,)`` weights, ``(K - 1,)`` starting shares of the fitted
    components (the law's is set by ``lower``).
    """
    n_quantities = residual2.shape[1]
    raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
    weights = np.zeros(n_quantities)
    start = np.zeros(raw.size)
    served = [j for j in range(n_quantities) if np.any(raw[owner == j] > 0)]
    for j in served:
        own = np.where(owner == j, raw, 0.0)
        alone = start_alpha(np.append(own, 0.0), lower)
        value = float(np.mean(residual2[:, j] / np.maximum(b @ alone, 1e-300)))
        weights[j] = 1.0 / value if np.isfinite(value) and value > 0 else 0.0
        start += own / own.sum() / len(served)
    return weights, start


def start_alpha(raw: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The starting weights: ``lower`` plus the free mass ``1 - sum lower`` shared as
    ``raw`` (its non-finite or non-positive entries read as 0; uniform if nothing is left)."""
    raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
    free = 1.0 - lower.sum()
    if raw.sum() <= 0:
        raw = np.where(lower > 0, 0.0, 1.0)
        if raw.sum() == 0:
            raw = np.ones_like(raw)
    return lower + free * raw / raw.sum()


def _regress(state: EngineState, fits: _Fits, alpha, phi, log_laws, log_comp, log_g):
    """``β`` by least squares of the batch's responses on its controls (None with
    ``control="none"``), the residual variances, the batch's summands' moments, the
    summands and the plain IS responses."""
    problem, control = state.problem, state.setup.options.control
    responses = iscv_summands(phi, log_laws, None, log_g, None, problem.law_index)
    controls = log_ratio_exp(log_comp, log_g[:, None])
    controls -= 1.0
    mask = control_mask(control, fits.specs, problem.n_quantities, log_comp.shape[1], alpha,
                        n_points=responses.shape[0])
    beta, variance = regress_controls(responses, controls, mask)
    if control == "none":
        beta = None
    summands = responses if beta is None else responses - controls @ beta.T
    moments = StreamingMoments(problem.n_quantities)
    moments.update(summands)
    return beta, variance, moments, summands, responses


def control_mask(control: str, specs, n_quantities: int, n_comp: int,
                 alpha: np.ndarray, n_points: int | None = None) -> np.ndarray:
    """Which controls ``g_k / g_α - 1`` each quantity uses: all, its own components and the
    law, or none; never a component with ``α_k < MIN_CONTROL_ALPHA``, whose control, bounded
    only by ``1/α_k``, can take at a far point a value the batch that fitted ``β`` never
    showed. On a batch of ``n_points`` a quantity fits at most ``n_points /
    POINTS_PER_CONTROL`` coefficients: ``"all"`` narrows to ``"own"`` for a quantity with
    more, ``"own"`` to the law's control alone (``f / g_α - 1``, which alone makes the
    estimate of a constant exact), and that to none (a regression on a few points per
    coefficient fits ``β`` to the batch's noise, which the final stage then pays for:
    docs/method.md)."""
    if control == "none":
        return np.zeros((n_quantities, n_comp), dtype=bool)
    usable = (np.asarray(alpha) >= MIN_CONTROL_ALPHA)[None, :]
    law = np.zeros((n_quantities, n_comp), dtype=bool)
    law[:, -1] = True
    own = law.copy()
    for k, (j, _) in enumerate(specs):
        own[j, k] = True
    own &= usable
    mask = np.ones((n_quantities, n_comp), dtype=bool) & usable if control == "all" else own
    if n_points is None:
        return mask
    room = n_points / POINTS_PER_CONTROL
    for narrower in (own, law & usable):
        mask = np.where((mask.sum(axis=1) > room)[:, None], narrower, mask)
    return mask & (mask.sum(axis=1) <= room)[:, None]

r"""The final stage on randomised quasi-Monte Carlo (``sampling="rqmc"``): replicates of nets.

The adaptive stages stay i.i.d. (their fits, ``α``, ``β``, the stopping rule and the choice
of proposal read i.i.d. variances, as with ``sampling="mc"``). The kept proposal ``g_F`` and
its ``β`` are frozen; the final budget ``n_F`` is then spent on ``R`` replicates of
``n = floor(n_F / R)`` points each (fewer than ``R`` runs are left unspent), replicate ``r``
one batch (:func:`~multiexpect.batch_keys.final_replicate`). Within a replicate the mixture
is flattened into *atoms* (each Gaussian or Student t, the members of a ``gmm`` /
``student-mixture`` component, and each law of the defensive component) of weights ``a_m``;
atom ``m`` gets the deterministic share ``n_m`` of ``n``
(:func:`~multiexpect.sampling.rqmc.allocate`), the next ``n_m`` consecutive points of the
replicate's one scrambled Sobol' sequence (:func:`replicate_points`; Gaussian
``μ + L Φ^{-1}(u)``, Student t with one extra coordinate for its radial ``χ²`` part, law
``l`` through ``from_standard``), and the points are weighed by the *realised* mixture

    ḡ = sum_m (n_m / n) g_m ,    Î_r = (1/n) sum_m sum_{i <= n_m} s(x_mi; ḡ) ,

with ``s`` the ISCV summand (:func:`~multiexpect.estimators.importance.iscv_summands`) whose
controls are the kept components ``g_k / ḡ - 1``. Every point of a scrambled net is
marginally uniform, so ``E[Î_r] = sum_m (n_m/n) ∫ s g_m = ∫ φ f`` exactly (the controls have
mean ``∫ g_k - 1 = 0`` likewise), whatever ``α`` and ``n``. The estimate is the mean of the
``R`` replicate estimates, its standard error their standard deviation over ``sqrt(R)``,
its interval the replicates' (Hartigan's subset means, Student's t on ``R - 1`` degrees of
freedom outside 6-16 replicates:
:meth:`~multiexpect.results.ExpectationResult.confidence_interval`).

Each replicate's control coefficients are refitted on the other replicates' points
(:func:`refit_leave_one_out`), which keeps every replicate exactly unbiased. The earlier
stages join the estimate in :mod:`.rqmc_pooling` (cross-fitted ISCV means, inverse-variance
weights, Welch–Satterthwaite degrees of freedom); ``pool_adaptive=False`` keeps the final
stage alone.

The one-net form (``replicates=1``, :func:`final_one_net`) spends the final budget on two
long sequences whose last coordinate picks the atom, cut into blocks for a conservative
interval (``"net-blocks"``), each sequence's coefficients fitted on the other's points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import batch_keys
from ..estimators.control_variates import regress_from_moments
from ..estimators.effective_size import KishSize
from ..estimators.importance import is_responses, log_ratio_exp, subtract_ratio_controls
from ..logspace import logsumexp_rows
from ..proposals.batched import component_logpdfs as batched_logpdfs
from ..proposals.student import StudentT
from ..sampling.rqmc import (
    allocate,
    gaussian_from_normal,
    normal_from_uniform,
    replicate_estimate,
    sobol_uniform,
    student_from_uniform,
)
from .pilot import run_model
from .sample import component_logpdfs
from .state import EngineState

__all__ = ["ONE_NET_NETS", "REFIT_BETA", "REFIT_RCOND", "Atom", "ControlSums", "RqmcFinal",
           "atom_dim", "atoms_of", "check_rqmc_final", "final_one_net", "final_replicates",
           "one_net_points", "refit_leave_one_out", "replicate_points"]

#: Each replicate's control coefficients refitted on the other replicates' points
#: (:func:`refit_leave_one_out`) rather than the kept ``β`` of the last adaptive batch.
REFIT_BETA = True
#: The refit's cut-off (``rcond`` of :func:`~multiexpect.estimators.control_variates.
#: regress_from_moments`, 10x the i.i.d. fits'): under RQMC a near-collinear direction of
#: the controls (components of similar shapes) fits coefficients of opposite signs whose
#: combination turns the nets' small errors into skewed, heavy-tailed replicates, so the
#: replicates' spread understates the error (docs/benchmarks.md, "One net a replicate").
REFIT_RCOND = 1e-2
#: Independent scrambled sequences of the one-net final stage (``replicates=1``,
#: :func:`final_one_net`): two, so that each one's control coefficients are fitted on the
#: other's points and every estimate stays exactly unbiased (the blocks of one sequence are
#: not independent, so coefficients from its other blocks would leave a bias;
#: docs/benchmarks.md, "The one-net final stage").
ONE_NET_NETS = 2


@dataclass(frozen=True)
class Atom:
    """One piece of the kept proposal, sampled on its own points of the replicate's net: a
    fitted Gaussian or Student t (``dist``), or law ``law`` of the defensive component
    (``dist`` None), of weight ``weight``."""

    weight: float
    dist: object = None
    law: int = -1


@dataclass(frozen=True)
class RqmcFinal:
    """The replicate estimates ``Î_r`` ((R, J)), points per replicate, runs spent, the
    allocation to the atoms and each quantity's effective points over every replicate
    (:mod:`~multiexpect.estimators.effective_size`); in the one-net form
    (:func:`final_one_net`, ``blocks`` set) the rows are the blocks' estimates and the
    points those of a block."""

    values: np.ndarray
    points_per_replicate: int
    runs: int
    allocation: list
    effective_points: np.ndarray
    blocks: int | None = None

    def estimate(self):
        """:class:`~multiexpect.sampling.rqmc.ReplicateEstimate` of the replicates."""
        return replicate_estimate(self.values)

    def covariance(self) -> np.ndarray:
        """Covariance of the mean of the replicates: their sample covariance over ``R``."""
        reps = self.values.shape[0]
        return np.atleast_2d(np.cov(self.values, rowvar=False)) / reps


def check_rqmc_final(budget: int, opts, replicates: int | None,
                     blocks: int | None = None) -> None:
    """Before any run: the final stage (at least ``budget - adaptation_cap`` runs) gives
    every RQMC replicate (every block of the one-net form: ``blocks`` given) at least 2
    points, else a ValueError naming ``replicates`` (``blocks``)."""
    if replicates is None or opts is None:
        return
    left = budget - opts.adaptation_cap
    if blocks is not None and left < 2 * blocks:
        raise ValueError(
            f"'blocks' ({blocks}) is too many for the final stage of at least {left} runs "
            f"('budget' {budget} - 'adaptation_cap' {opts.adaptation_cap}): each block of "
            f"the one RQMC net needs at least 2 points")
    if blocks is None and left < 2 * replicates:
        raise ValueError(
            f"'replicates' ({replicates}) is too many for the final stage of at least {left} "
            f"runs ('budget' {budget} - 'adaptation_cap' {opts.adaptation_cap}): each RQMC "
            f"replicate needs at least 2 points")


def atoms_of(proposal, n_laws: int, law_kept: bool) -> list[Atom]:
    """The kept proposal flattened: fitted components (mixtures' members with weight
    ``α_k π_m``), then the ``L`` laws sharing the defensive weight equally."""
    if law_kept:
        return [Atom(1.0 / n_laws, law=l) for l in range(n_laws)]
    atoms = []
    for alpha, comp in zip(proposal.alpha[:-1], proposal.components[:-1]):
        members = getattr(comp, "components", None)
        if members is None:
            atoms.append(Atom(float(alpha), comp))
        else:
            atoms.extend(Atom(float(alpha * w), m) for w, m in zip(comp.weights, members))
    law_alpha = float(proposal.alpha[-1])
    atoms.extend(Atom(law_alpha / n_laws, law=l) for l in range(n_laws))
    return atoms


def atom_dim(atom: Atom, dim: int) -> int:
    """Coordinates of the unit cube ``atom`` maps to its points: ``d``, or ``d + 1`` for a
    Student t (its radial ``χ²`` part)."""
    return dim + 1 if isinstance(atom.dist, StudentT) else dim


def _draw_atom(atom: Atom, u: np.ndarray, problem) -> np.ndarray:
    """Working-space points of ``atom`` from its rows ``u`` of the replicate's net (the
    first :func:`atom_dim` columns are used)."""
    d = problem.dim
    if atom.dist is None:
        normal = normal_from_uniform(u[:, :d])
        if problem.space == "standard" and atom.law == problem.reference:
            return normal
        return problem.to_working(problem.laws[atom.law].from_standard(normal))
    chol = atom.dist.cholesky
    if isinstance(atom.dist, StudentT):
        return student_from_uniform(u[:, :d + 1], atom.dist.mean, chol, atom.dist.dof)
    return gaussian_from_normal(normal_from_uniform(u[:, :d]), atom.dist.mean, chol)


def replicate_points(atoms: list[Atom], counts: np.ndarray, used: list[int], problem,
                     rngs: list[np.random.Generator]) -> list[np.ndarray]:
    """Each replicate's working-space points (one array per generator of ``rngs``): one
    scrambled Sobol' sequence of ``max_m atom_dim`` coordinates and ``sum n_m`` points a
    replicate, atom ``m`` (in ``used`` order) on the next ``n_m`` consecutive points.

    One net a replicate rather than one an atom, because a net's set-up is a fixed cost per
    net; every point of a scrambled sequence is marginally uniform, so each atom's points
    are still marginally ``g_m`` and each replicate exactly unbiased (the layout's cost and
    variance are measured in docs/benchmarks.md, "One net a replicate"). Each atom maps its
    rows of every replicate in one call (its map acts row by row, so the points are those of
    one call per replicate; a law's map has a fixed cost per call, and 100 laws are 100
    atoms).
    """
    width = max(atom_dim(atoms[m], problem.dim) for m in used)
    nets = [sobol_uniform(int(sum(counts[m] for m in used)), width, rng) for rng in rngs]
    ends = np.cumsum([counts[m] for m in used])
    parts = [np.split(_draw_atom(atoms[m], np.concatenate([u[end - counts[m]:end]
                                                           for u in nets]), problem),
                      len(nets))
             for m, end in zip(used, ends)]
    return [np.concatenate([part[r] for part in parts]) for r in range(len(nets))]


def _replicate(state: EngineState, best, atoms: list[Atom], counts: np.ndarray,
               used: list[int], key: int, z: np.ndarray, kish: KishSize, pooling=None,
               surrogate=None):
    """The estimate ``Î_r`` ((J,)) of the replicate of batch ``key`` at its points ``z`` (of
    the atoms ``used``) with the kept ``β``, the runs it spent and the sums of its responses
    and controls (:class:`ControlSums`, None without controls); its responses go to
    ``kish``, its points to ``pooling`` (:class:`~.rqmc_pooling.RqmcStagePooling`) when
    given; with a ``surrogate`` (:mod:`.surrogate`) of the residual ``phi - s``."""
    n = z.shape[0]
    summands, responses, controls, spent = _net_summands(
        state, best, atoms, used, np.log(counts[used] / n), z, key, kish, pooling,
        surrogate)
    sums = None if controls is None else _control_sums(responses, controls)
    return summands.mean(axis=0), spent, sums


def _net_summands(state: EngineState, best, atoms: list[Atom], used: list[int],
                  log_shares: np.ndarray, z: np.ndarray, key: int, kish: KishSize,
                  pooling=None, surrogate=None):
    """Run the model at the working points ``z`` (batch ``key``), drawn from the mixture
    ``ḡ = sum_m exp(log_shares_m) g_m`` of the atoms ``used`` (fitted atoms first); return
    the ISCV summands with the kept ``β``, the responses ``phi f / ḡ``, the controls
    ``g_k / ḡ - 1`` (None without them) and the runs spent. The responses go to ``kish``,
    the points to ``pooling`` when given. With a ``surrogate`` (:mod:`.surrogate`) the
    summands and responses are those of the residual ``phi - s`` (``kish`` still reads
    ``phi``'s)."""
    setup, problem = state.setup, state.problem
    outputs, log_laws, spent = run_model(setup, z, key, best.proposal if best.stage else None)
    phi = problem.quantity_values(outputs)
    n = z.shape[0]
    fitted = [m for m in used if atoms[m].dist is not None]
    log_atoms = np.empty((n, len(used)))
    if fitted:
        log_atoms[:, :len(fitted)] = batched_logpdfs([atoms[m].dist for m in fitted], z)
    for col, m in enumerate(used[len(fitted):], start=len(fitted)):
        log_atoms[:, col] = log_laws[:, atoms[m].law]
    log_g = logsumexp_rows(log_atoms + log_shares)
    log_comp = None
    if best.stage != 0:
        log_law_mix = setup.initial.logpdf_from_laws(log_laws)
        log_comp = component_logpdfs(best.proposal.components[:-1], z, log_law_mix)
    # iscv_summands' steps, the responses and the controls each formed once: the refit and
    # the effective size read them too
    responses = is_responses(phi, log_laws, log_g, problem.law_index)
    if surrogate is not None:
        kish.update(responses)
        residual = phi - surrogate.values(z, problem)
        responses = is_responses(residual, log_laws, log_g, problem.law_index)
    summands, controls = responses, None
    if log_comp is not None and best.beta is not None and best.beta.size:
        controls = log_ratio_exp(log_comp, log_g[:, None])  # the ratios, then the controls
        summands = subtract_ratio_controls(responses.copy(order="K"), controls, best.beta)
    if pooling is not None:
        pooling.update(z, phi, log_laws, log_g, summands)
    if surrogate is None:
        kish.update(responses)
    return summands, responses, controls, spent


def _control_sums(responses: np.ndarray, controls: np.ndarray) -> ControlSums:
    """The :class:`ControlSums` of these points' responses and controls."""
    return ControlSums(responses.shape[0], responses.sum(axis=0), controls.sum(axis=0),
                       controls.T @ controls, controls.T @ responses)


@dataclass(frozen=True)
class ControlSums:
    """One replicate's point count and sums of responses, controls, ``c c^T``, ``c r^T``."""

    n: int
    r: np.ndarray
    c: np.ndarray
    cc: np.ndarray
    cr: np.ndarray


def refit_leave_one_out(sums: list, mask: np.ndarray, groups: list | None = None
                        ) -> np.ndarray:
    """The estimates ((len(sums), J)) of the point sets whose :class:`ControlSums` are
    ``sums``, each with control coefficients fitted on the points of the *other* groups
    (``groups[i]``: the group of ``sums[i]``; by default each set is its own group, the
    replicates) by :func:`~multiexpect.estimators.control_variates.regress_from_moments`
    with the cut-off :data:`REFIT_RCOND`: ``Î_i = mean_i(r) - mean_i(c) β_{-g(i)}^T``,
    exactly unbiased when the groups are independent (``β_{-g}`` is then independent of
    group ``g``'s points and every control has mean 0)."""
    keys = ("n", "r", "c", "cc", "cr")
    total = [sum(getattr(s, k) for s in sums) for k in keys]
    if groups is None:
        groups = list(range(len(sums)))
    betas = {}
    for g in dict.fromkeys(groups):
        own = [sum(getattr(s, k) for s, h in zip(sums, groups) if h == g) for k in keys]
        betas[g] = regress_from_moments(*(t - o for t, o in zip(total, own)), mask,
                                        REFIT_RCOND)
    return np.array([s.r / s.n - (s.c / s.n) @ betas[g].T for s, g in zip(sums, groups)])


def final_replicates(state: EngineState, best, n_final: int, replicates: int,
                     pooling=None, surrogate=None) -> RqmcFinal:
    """Spend ``n_final`` runs on ``replicates`` replicates of the frozen ``best`` proposal
    (their points also accumulated in ``pooling`` when given; with the chaos control
    ``surrogate``, :mod:`.surrogate`, when given).

    Raises
    ------
    ValueError
        When ``n_final`` gives fewer than 2 points per replicate.
    """
    n = n_final // replicates
    if n < 2:
        raise ValueError(
            f"'budget' leaves {n_final} runs for the final stage: too few for "
            f"{replicates} RQMC replicates of at least 2 points; lower 'replicates' or "
            f"'adaptation_cap', or raise 'budget'")
    atoms = atoms_of(best.proposal, len(state.setup.laws), best.stage == 0)
    counts = allocate(n, [a.weight for a in atoms])
    values, runs, sums = [], 0, []
    kish = KishSize(state.problem.n_quantities)
    keys = [batch_keys.final_replicate(state.sample.n_stages, r) for r in range(replicates)]
    used = [m for m, k in enumerate(counts) if k]
    points = replicate_points(
        atoms, counts, used, state.setup.sampling,
        [batch_keys.final_replicate_generator(state.setup.seed, key) for key in keys])
    for key, z in zip(keys, points):
        value, spent, control_sums = _replicate(state, best, atoms, counts, used, key, z,
                                                kish, pooling, surrogate)
        values.append(value)
        sums.append(control_sums)
        runs += spent
    values = np.array(values)
    if REFIT_BETA and sums[0] is not None:
        values = refit_leave_one_out(sums, np.asarray(best.beta) != 0)
    if surrogate is not None:
        values = values + _law_means(state, surrogate, keys, [0] * len(keys))
    return RqmcFinal(values, n, runs, counts.tolist(), kish.value)


def _law_means(state: EngineState, surrogate, keys: list[int], rows: list[int]
               ) -> np.ndarray:
    """The chaos's law means ((len(keys), J)) of the final rows, row ``i`` the block
    ``rows[i]`` of batch ``keys[i]``, each on integration nets of its own."""
    return np.array([surrogate.law_means(state.problem, state.setup.seed, key, row)
                     for key, row in zip(keys, rows)])


def one_net_points(atoms: list[Atom], n: int, problem, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` working-space points of one scrambled Sobol' sequence of ``max_m atom_dim + 1``
    coordinates, its last one picking the atom by the cumulative weights ``a_m``: every
    point is marginally ``ḡ = sum_m a_m g_m`` exactly, and every block of consecutive points
    holds the atoms in about their shares. Returns the points and each one's atom."""
    weights = np.array([a.weight for a in atoms], dtype=float)
    width = max(atom_dim(a, problem.dim) for a in atoms) + 1
    u = sobol_uniform(n, width, rng)
    cum = np.cumsum(weights / weights.sum())
    pick = np.minimum(np.searchsorted(cum, u[:, -1], side="right"), len(atoms) - 1)
    z = np.empty((n, problem.dim))
    for m in np.unique(pick):
        rows = pick == m
        z[rows] = _draw_atom(atoms[m], u[rows], problem)
    return z, pick


def final_one_net(state: EngineState, best, n_final: int, blocks: int,
                  pooling=None, surrogate=None) -> RqmcFinal:
    """The one-net final stage (``replicates=1``): :data:`ONE_NET_NETS` independent scrambled
    sequences (batches :func:`~multiexpect.batch_keys.final_replicate` 0, 1) of
    ``n_final // blocks * blocks / 2`` points each (:func:`one_net_points`, weighed by the
    nominal mixture ``ḡ``), each cut into ``blocks / 2`` blocks of consecutive points; the
    estimate is the mean of all points, its covariance the blocks' over ``blocks``
    (``"net-blocks"``), each sequence's control coefficients fitted on the other's points
    (:func:`refit_leave_one_out` by sequence: exactly unbiased); with the chaos control
    ``surrogate`` (:mod:`.surrogate`) each block has integration nets of its own.

    The blocks' spread sees only what the whole sequence cancels (docs/method.md, "One
    net"): conservative where the nets beat their blocks, which is where this form wins
    (fewer, longer sequences: an integrand whose RQMC variance falls like ``n^-a`` gains
    ``(R / 2)^(a - 1)`` over ``R`` replicates).
    """
    setup, problem = state.setup, state.problem
    per_net = blocks // ONE_NET_NETS
    size = n_final // blocks
    if size < 2:
        raise ValueError(
            f"'budget' leaves {n_final} runs for the final stage: too few for one RQMC net "
            f"of {blocks} blocks of at least 2 points; lower 'blocks' or 'adaptation_cap', "
            f"or raise 'budget'")
    atoms = atoms_of(best.proposal, len(setup.laws), best.stage == 0)
    used = [m for m, a in enumerate(atoms) if a.weight > 0]
    atoms = [atoms[m] for m in used]
    log_shares = np.log(np.array([a.weight for a in atoms]) / sum(a.weight for a in atoms))
    every = list(range(len(atoms)))
    kish = KishSize(problem.n_quantities)
    values, sums, groups, runs, keys = [], [], [], 0, []
    counts = np.zeros(len(atoms), dtype=int)
    for net in range(ONE_NET_NETS):
        key = batch_keys.final_replicate(state.sample.n_stages, net)
        keys.extend([key] * per_net)
        z, pick = one_net_points(atoms, size * per_net, setup.sampling,
                                 batch_keys.final_replicate_generator(setup.seed, key))
        counts += np.bincount(pick, minlength=len(atoms))
        summands, responses, controls, spent = _net_summands(
            state, best, atoms, every, log_shares, z, key, kish, pooling, surrogate)
        runs += spent
        values.extend(summands.reshape(per_net, size, -1).mean(axis=1))
        if controls is not None:
            sums.extend(_control_sums(responses[b * size:(b + 1) * size],
                                      controls[b * size:(b + 1) * size])
                        for b in range(per_net))
            groups.extend([net] * per_net)
    values = np.array(values)
    if REFIT_BETA and sums:
        values = refit_leave_one_out(sums, np.asarray(best.beta) != 0, groups)
    if surrogate is not None:
        values = values + _law_means(state, surrogate, keys, list(range(per_net)) * ONE_NET_NETS)
    return RqmcFinal(values, size, runs, counts.tolist(), kish.value, blocks)

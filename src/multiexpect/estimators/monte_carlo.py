"""The classical baselines: crude / separate Monte Carlo and mixture Monte Carlo.

* crude MC (one law): ``Î_j = mean phi_j(X_i)``, ``X_i ~ f``;
* separate MC (``L`` laws): ``N // L`` points from each law, quantity ``j`` from its own;
* mixture MC: ``N`` points from ``f̄ = (1/L) sum_l f_l``, ``Î_j = mean phi_j f_j / f̄``.

All run in input space; each estimate's standard error is its own sample's.

Their randomised quasi-Monte Carlo versions (``sampling="rqmc"``, :mod:`multiexpect.sampling`)
draw ``R`` replicates, each a scrambled Sobol' net of ``n`` points (a power of 2) mapped
through ``law.from_standard``; a replicate is one batch, and the estimate is the mean of the
replicate estimates with their spread as standard error (``R - 1`` degrees of freedom):

* separate RQMC: ``R`` nets of ``n`` points per law, from ``budget // L`` runs per law; the
  laws share the ``R`` scramblings (common random numbers: each law's estimate is unbiased
  with its own replicates' standard error; differences between laws are more precise). The
  nets are :func:`law_net`'s, which ``sampling="auto"`` draws too
  (:mod:`multiexpect.engine.law_first`): on its law route it is this estimator, bit for bit;
* mixture RQMC: per replicate, one net of ``n`` points cut into consecutive blocks, law ``l``
  taking a block of ``n_l`` points (deterministic allocation of ``n`` with equal weights),
  and the density ``ḡ = sum_l (n_l / n) f_l``. Every point of a scrambled sequence is
  uniform, so each block's points follow their law and the estimator is exactly unbiased.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from .. import batch_keys
from ..problem import Problem
from ..sampling.rqmc import (
    allocate,
    normal_from_uniform,
    replicate_estimate,
    replicate_plan,
    sobol_normal,
    sobol_uniform,
)
from .importance import StreamingMoments, iscv_summands

__all__ = [
    "SummandRange",
    "crude_monte_carlo",
    "crude_rqmc",
    "law_net",
    "mixture_monte_carlo",
    "mixture_rqmc",
    "net_means",
    "summand_ranges",
]


def law_net(seed: int, replicate: int, n: int, dim: int) -> np.ndarray:
    """Net ``replicate`` of the law: ``n`` points ((n, dim)) of a Sobol' sequence in
    ``[0, 1)^dim`` scrambled by :func:`~multiexpect.batch_keys.law_net_generator`. The one
    place that draws them, for separate RQMC and for ``sampling="auto"``'s pilot and law
    route, so that both draw the same points from the same seed."""
    return sobol_uniform(n, dim, batch_keys.law_net_generator(seed, replicate))


def net_means(values: np.ndarray, n: int) -> np.ndarray:
    """The mean ((R, J)) of each of the consecutive nets of ``n`` rows of ``values``
    ((R n, J)), each net's rows copied to C order first, so that the sums run in the same
    order whatever the caller's memory layout (the law route and separate RQMC agree to the
    last bit)."""
    return np.array([np.ascontiguousarray(values[r * n:(r + 1) * n]).mean(axis=0)
                     for r in range(values.shape[0] // n)])


def summand_ranges(values: np.ndarray) -> np.ndarray:
    """``max - min`` of each column of ``values`` ((n, J)): the range of a quantity's
    unweighted summands, whose ``1 / n`` is a net's lattice step when replicates tie
    (:func:`~multiexpect.sampling.rqmc.replicate_estimate`)."""
    return np.ptp(np.asarray(values, dtype=float), axis=0)


class SummandRange:
    """:func:`summand_ranges` of rows that come net by net: the running ``min`` and ``max``
    of each of ``width`` columns (the same values as over all rows at once)."""

    def __init__(self, width: int):
        self.low = np.full(width, np.inf)
        self.high = np.full(width, -np.inf)

    def update(self, values: np.ndarray, columns=slice(None)) -> None:
        """Widen ``columns`` by the rows of ``values`` ((n, len(columns)))."""
        self.low[columns] = np.minimum(self.low[columns], values.min(axis=0))
        self.high[columns] = np.maximum(self.high[columns], values.max(axis=0))

    @property
    def span(self) -> np.ndarray:
        """``max - min`` per column."""
        return self.high - self.low


def crude_monte_carlo(laws: list, evaluate: Callable, *, budget: int, seed: int,
                      names=None) -> dict:
    """Crude MC for one law; separate MC (``budget // L`` each) for ``L`` laws."""
    n_laws = len(laws)
    per_law = budget // n_laws
    if per_law < 2:
        raise ValueError(f"'budget' ({budget}) must give at least 2 runs to each of {n_laws} laws")
    problem = None
    estimate = stderr = None
    for l_index, law in enumerate(laws):
        key = batch_keys.monte_carlo(l_index)
        x = law.sample(per_law, batch_keys.generator(seed, key))
        outputs = evaluate(x, key)
        if problem is None:
            problem = Problem.build(laws, outputs.shape[1], "input", names)
            estimate = np.zeros(problem.n_quantities)
            stderr = np.zeros(problem.n_quantities)
        rows = problem.law_index == l_index
        phi = problem.quantity_values(outputs)[:, rows]
        estimate[rows] = phi.mean(axis=0)
        stderr[rows] = phi.std(axis=0, ddof=1) / np.sqrt(per_law)
    return {"estimate": estimate, "stderr": stderr, "problem": problem,
            "n_points": per_law * n_laws}


def mixture_monte_carlo(laws: list, evaluate: Callable, *, budget: int, seed: int,
                        names=None) -> dict:
    """Mixture MC: ``budget`` points from the equal mixture of the laws, reweighted."""
    if budget < 2:
        raise ValueError(f"'budget' must be at least 2, got {budget}")
    sampling = Problem.build(laws, len(laws) if len(laws) > 1 else 1, "input")
    initial = sampling.initial_proposal()
    key = batch_keys.monte_carlo()
    x = initial.sample(budget, batch_keys.generator(seed, key))
    outputs = evaluate(x, key)
    problem = Problem.build(laws, outputs.shape[1], "input", names)
    log_laws = problem.law_logpdfs(x)
    summands = iscv_summands(problem.quantity_values(outputs), log_laws[:, problem.law_index],
                             None, initial.logpdf_from_laws(log_laws), None)
    moments = StreamingMoments(problem.n_quantities)
    moments.update(summands)
    return {"estimate": moments.mean, "stderr": moments.stderr, "problem": problem,
            "n_points": budget}


def _rqmc_output(est, problem, reps: int, n: int, n_points: int) -> dict:
    """The baselines' dict for a replicate estimate (diagnostics say which interval), with
    the joint ``covariance`` of the quantities' means (perturbed-law indices read it)."""
    return {"estimate": est.estimate, "stderr": est.stderr, "problem": problem,
            "covariance": est.covariance(est.values),
            "n_points": n_points, "replicates": reps, "points_per_replicate": n,
            **est.record()}


def crude_rqmc(laws: list, evaluate: Callable, *, budget: int, seed: int, replicates: int,
               names=None) -> dict:
    """Separate RQMC: per law, ``R`` scrambled nets of ``n`` points from ``budget // L`` runs.

    The nets (:func:`law_net` ``0..R-1``) are shared by the laws; the net of replicate ``r``
    mapped through law ``l`` is batch ``l R + r``.
    """
    n_laws = len(laws)
    reps, n = replicate_plan(budget // n_laws, replicates,
                             "budget" if n_laws == 1 else f"budget // {n_laws} laws")
    nets = [normal_from_uniform(law_net(seed, r, n, laws[0].dim)) for r in range(reps)]
    problem = means = squares = span = None
    for l_index, law in enumerate(laws):
        for r in range(reps):
            key = batch_keys.rqmc_replicate(r, l_index, reps)
            outputs = evaluate(law.from_standard(nets[r]), key)
            if problem is None:
                problem = Problem.build(laws, outputs.shape[1], "input", names)
                means = np.zeros((reps, problem.n_quantities))
                squares = np.zeros((reps, problem.n_quantities))
                span = SummandRange(problem.n_quantities)
            rows = problem.law_index == l_index
            phi = problem.quantity_values(outputs)[:, rows]
            means[r, rows] = net_means(phi, n)[0]
            squares[r, rows] = net_means(phi**2, n)[0]
            span.update(phi, rows)
    # the summands are the quantities' values themselves: a tie has a lattice step
    return _rqmc_output(replicate_estimate(means, squares, n, span.span), problem, reps, n,
                        reps * n * n_laws)


def mixture_rqmc(laws: list, evaluate: Callable, *, budget: int, seed: int, replicates: int,
                 names=None) -> dict:
    """Mixture RQMC: per replicate (batch ``r``), one net cut into blocks of ``n_l`` points.

    Law ``l`` maps its block; ``n_l`` is the deterministic allocation of ``n`` with equal
    weights and the estimate ``(1/n) sum phi_j f_j / ḡ`` with ``ḡ = sum_l (n_l / n) f_l``:
    exactly unbiased.
    """
    reps, n = replicate_plan(budget, replicates)
    counts = allocate(n, np.ones(len(laws)))
    used = np.flatnonzero(counts)
    starts = np.concatenate([[0], np.cumsum(counts)])
    log_share = np.log(counts[used] / n)
    problem = means = squares = span = None
    for r in range(reps):
        z = sobol_normal(n, laws[0].dim, batch_keys.rqmc_generator(seed, r))
        x = np.concatenate([laws[l].from_standard(z[starts[l]:starts[l + 1]]) for l in used])
        outputs = evaluate(x, batch_keys.rqmc_replicate(r))
        if problem is None:
            problem = Problem.build(laws, outputs.shape[1], "input", names)
            means = np.zeros((reps, problem.n_quantities))
            squares = np.zeros((reps, problem.n_quantities))
            span = SummandRange(problem.n_quantities)
        log_laws = problem.law_logpdfs(x)
        log_g = logsumexp(log_laws[:, used] + log_share, axis=1)
        summands = iscv_summands(problem.quantity_values(outputs),
                                 log_laws[:, problem.law_index], None, log_g, None)
        means[r] = summands.mean(axis=0)
        squares[r] = (summands**2).mean(axis=0)
        span.update(summands)
    # one law: the summands are its values, unweighted (else weighted: no lattice step)
    ranges = span.span if len(laws) == 1 else None
    out = _rqmc_output(replicate_estimate(means, squares, n, ranges), problem, reps, n,
                       reps * n)
    out["allocation"] = counts.tolist()
    return out

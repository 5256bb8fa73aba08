"""The classical baselines: crude / separate Monte Carlo and mixture Monte Carlo.

* crude MC (one law): ``Î_j = mean phi_j(X_i)``, ``X_i ~ f``;
* separate MC (``L`` laws): ``N // L`` points from each law, quantity ``j`` from its own;
* mixture MC: ``N`` points from ``f̄ = (1/L) sum_l f_l``, ``Î_j = mean phi_j f_j / f̄``.

All run in input space; each estimate's standard error is its own sample's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import batch_keys
from ..problem import Problem
from .importance import StreamingMoments, iscv_summands

__all__ = ["crude_monte_carlo", "mixture_monte_carlo"]


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

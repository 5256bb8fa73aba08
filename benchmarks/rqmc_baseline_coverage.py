"""Coverage over seeds of the RQMC baselines added last: perturbed-law `mc` / `mixture-mc`
and `separate-is`, each with a closed-form answer (docs/benchmarks.md, "Every method on RQMC").

    python benchmarks/rqmc_baseline_coverage.py --reps 400

Cases:
- `perturbed-mc`, `perturbed-mixture-mc`: ratio indices `Q_k / Q_0 - 1` of
  `exp(0.3 x_a) + sin x_b`, `x ~ N(0, I_2)`, the four mean shifts of 0.5 sd, budget 1200;
- `perturbed-mc-square`: the same with `x_b^2` in place of `sin x_b` (skewed replicates);
- `separate-is`: `x_1^2`, `exp(0.3 x_2)`, `sin(x_1) x_2 + x_2`, budget 1500.

Per case: the mean over seeds of |mean - truth| / s.e. of the mean (largest over the
quantities), the coverage of the 95% intervals pooled over the quantities and per quantity,
and for the perturbed cases the coverage of the `Q_l`'s own t intervals.
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse

import numpy as np
from scipy import stats

import multiexpect as me

SEED0 = 40_000


def _shift_mean(mu_a, mu_b, square):
    """E[exp(0.3 X_a)] + E[sin X_b] (or E[X_b^2]) for X ~ N((mu_a, mu_b), I)."""
    return np.exp(0.3 * mu_a + 0.045) + ((1.0 + mu_b**2) if square
                                         else np.sin(mu_b) * np.exp(-0.5))


def perturbed(method: str, reps: int, square: bool = False) -> dict:
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)

    def model(x):
        return np.exp(0.3 * x[:, 0]) + (x[:, 1] ** 2 if square else np.sin(x[:, 1]))

    means = [(0.0, 0.0)] + [tuple(float(m.mean()) for m in p.marginals) for p in pert.values()]
    q = np.array([_shift_mean(a, b, square) for a, b in means])
    truth = q[1:] / q[0] - 1.0
    est, covered, q_covered = [], [], []
    for r in range(reps):
        res = me.perturbed_law_indices(model, law, pert, budget=1200, rng=SEED0 + r,
                                       method=method, sampling="rqmc")
        low, high = res.confidence_interval()
        est.append(res.indices)
        covered.append((low <= truth) & (truth <= high))
        t = stats.t.ppf(0.975, res.diagnostics["dof"])
        q_covered.append(np.abs(res.quantities - q) <= t * res.quantities_stderr)
    return _summary(est, covered, truth) | {"Q coverage": float(np.mean(q_covered))}


def separate_is(reps: int) -> dict:
    law = me.Law([stats.norm()] * 2)

    def model(x):
        return np.column_stack([x[:, 0] ** 2, np.exp(0.3 * x[:, 1]),
                                np.sin(x[:, 0]) * x[:, 1] + x[:, 1]])

    truth = np.array([1.0, np.exp(0.045), 0.0])
    est, covered = [], []
    for r in range(reps):
        res = me.expectations(model, law, budget=1500, rng=SEED0 + r, method="separate-is",
                              sampling="rqmc")
        low, high = res.confidence_interval()
        est.append(res.estimate)
        covered.append((low <= truth) & (truth <= high))
    return _summary(est, covered, truth)


def _summary(est, covered, truth) -> dict:
    est, covered = np.array(est), np.array(covered)
    sem = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    return {"max |bias|/se": float(np.max(np.abs(est.mean(axis=0) - truth) / sem)),
            "coverage": float(covered.mean()),
            "per quantity": np.round(covered.mean(axis=0), 3).tolist()}


CASES = {
    "perturbed-mc": lambda reps: perturbed("mc", reps),
    "perturbed-mixture-mc": lambda reps: perturbed("mixture-mc", reps),
    "perturbed-mc-square": lambda reps: perturbed("mc", reps, square=True),
    "separate-is": separate_is,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    for name in args.cases.split(","):
        print(name, CASES[name](args.reps), flush=True)


if __name__ == "__main__":
    main()

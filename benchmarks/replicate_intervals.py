"""Intervals of plain RQMC of the law from its replicates, over many seeds (offline).

Plain RQMC of the law (``method="mc", sampling="rqmc"``, and ``sampling="auto"``'s law
route, the same nets) reports the mean of ``R`` replicate estimates (scrambled Sobol' nets of
``n`` points) with Student's t on ``R - 1`` degrees of freedom. This script draws the same
nets (``law_net(1000 + s, r, n, d)``: seed ``s`` is no_regret.py's repetition ``s``) for a
no-regret case and measures, per quantity, over the seeds:

* the coverage of four 95% intervals: Student's t; Hall's (1992) skewness-corrected t
  (the cubic transformation ``g(T) = T + a T^2 + a^2 T^3 / 3 + a / 2``, ``a = γ / (3 sqrt R)``,
  ``γ`` the replicates' sample skewness, inverted); Johnson's (1978) modified t
  (``T_J = ((m - μ) + μ_3 / (6 s^2 R) + μ_3 (m - μ)^2 / (3 s^4)) / se``); the sign-test
  interval ``[x_(k), x_(R + 1 - k)]`` of the replicates' median (the largest ``k`` whose
  binomial level is at least 0.95);
* the misses on each side, ``sd`` of the t statistic, the quantile of the truth among the
  replicates, the replicates' skewness and excess kurtosis (pooled over seeds), the
  estimate's variance, the five largest replicate errors in replicate s.d. with their
  nets' largest summand; and, median over seeds, the pilot's (first two nets') summand
  skewness and excess kurtosis (what a tail test on the pilot would read), the RQMC gain
  and the largest single point's share of a replicate.

    cd benchmarks
    nice -n 10 python replicate_intervals.py --case flood_log --plans 9x1024,36x256
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

import no_regret as nr
from multiexpect.estimators.monte_carlo import law_net
from multiexpect.sampling.rqmc import normal_from_uniform


def replicates(model, law, reps: int, n: int, seeds: int):
    """Replicate means ((S, R, J)) and, per seed ((S, J) each): the pilot's (first two
    nets') summand skewness and excess kurtosis, the RQMC gain ``s_iid^2 / (n s_rep^2)``
    (the summands' variance over all points against ``n`` times the replicates') and the
    largest point's share of a replicate, ``max |y - net mean| / (n s_rep)``."""
    means, skew, kurt, gain, share, top = [], [], [], [], [], []
    for s in range(seeds):
        ys = np.array([np.asarray(model(law.from_standard(normal_from_uniform(
            law_net(1000 + s, r, n, law.dim)))), dtype=float) for r in range(reps)])
        m = ys.mean(axis=1)
        s_rep = m.std(axis=0, ddof=1)
        means.append(m)
        top.append(ys.max(axis=1))
        pilot = ys[:2].reshape(-1, ys.shape[2])
        skew.append(stats.skew(pilot))
        kurt.append(stats.kurtosis(pilot))
        gain.append(ys.reshape(-1, ys.shape[2]).var(axis=0, ddof=1) / (n * s_rep**2))
        share.append(np.abs(ys - m[:, None, :]).max(axis=(0, 1)) / (n * s_rep))
    return np.array(means), np.array(top), {"pilot skewness": np.array(skew),
                             "pilot excess kurtosis": np.array(kurt),
                             "RQMC gain": np.array(gain), "largest point's share": np.array(share)}


def hall(m, se, gamma, reps, q):
    """Hall's interval: ``{μ : |g((m - μ) / se)| <= q}``."""
    a = gamma / (3.0 * np.sqrt(reps))
    b = a / 2.0
    safe = np.where(np.abs(a) > 1e-12, a, 1.0)

    def inverse(y):
        return np.where(np.abs(a) > 1e-12, (np.cbrt(1.0 + 3.0 * a * (y - b)) - 1.0) / safe,
                        y - b)

    return m - se * inverse(q), m - se * inverse(-q)


def johnson(m, s, se, mu3, reps, q):
    """Johnson's interval: the roots in ``x = m - μ`` of ``A x^2 + x + C = ±q se``."""
    big_a = mu3 / (3.0 * s**4)
    c = mu3 / (6.0 * s**2 * reps)
    safe = np.where(big_a == 0, 1.0, big_a)
    ends = []
    for sign in (1.0, -1.0):
        rhs = sign * q * se
        disc = np.maximum(1.0 - 4.0 * big_a * (c - rhs), 0.0)
        x = np.where(big_a != 0, (-1.0 + np.sqrt(disc)) / (2.0 * safe), rhs - c)
        ends.append(m - x)
    return ends[0], ends[1]


def sign_k(reps: int) -> tuple[int, float]:
    """The largest ``k`` with ``P(x_(k) <= median <= x_(R+1-k)) >= 0.95``, and that level."""
    best = (1, 1.0 - 2.0 * stats.binom.cdf(0, reps, 0.5))
    for k in range(2, reps // 2 + 1):
        level = 1.0 - 2.0 * stats.binom.cdf(k - 1, reps, 0.5)
        if level < 0.95:
            break
        best = (k, level)
    return best


def subset_means(values, level: float = 0.95):
    """Hartigan's (1969) interval: the ``k``-th smallest and largest of the ``2^R - 1``
    means of the nonempty subsets of the ``R`` replicates. For replicates symmetric about
    their mean, that mean falls in each of the ``2^R`` gaps with chance ``2^-R``, so the
    interval covers with chance exactly ``1 - 2k / 2^R``; ``k`` the largest with that chance
    at least ``level``. ``values``: (S, R, J)."""
    reps = values.shape[1]
    masks = ((np.arange(1, 2**reps)[:, None] >> np.arange(reps)) & 1).astype(float)
    means = np.einsum("mr,srj->smj", masks, values) / masks.sum(axis=1)[None, :, None]
    k = int(np.floor((1.0 - level) * 2**reps / 2))
    srt = np.sort(means, axis=1)
    return srt[:, k - 1], srt[:, -k], k, 1.0 - 2.0 * k / 2**reps


def report(name: str, values, top, truth, summary: dict) -> None:
    seeds, reps, _ = values.shape
    m = values.mean(axis=1)
    s = values.std(axis=1, ddof=1)
    se = s / np.sqrt(reps)
    q = float(stats.t.ppf(0.975, reps - 1))
    centred = values - m[:, None, :]
    mu3 = (centred**3).mean(axis=1)
    gamma = mu3 / (centred**2).mean(axis=1) ** 1.5
    srt = np.sort(values, axis=1)
    k, level = sign_k(reps)
    intervals = {"student-t": (m - q * se, m + q * se),
                 "hall": hall(m, se, gamma, reps, q),
                 "johnson": johnson(m, s, se, mu3, reps, q),
                 f"sign k={k} ({level:.3f})": (srt[:, k - 1], srt[:, reps - k])}
    if reps <= 16:
        low, high, hk, hlevel = subset_means(values)
        intervals[f"subset means k={hk} ({hlevel:.3f})"] = (low, high)
    print(f"{name}: R = {reps}, {seeds} seeds, binomial s.e. of a 0.95 coverage "
          f"{np.sqrt(0.95 * 0.05 / seeds):.3f}")
    t_width = (2 * q * se).mean(axis=0)
    for label, (low, high) in intervals.items():
        cover = np.mean((low <= truth) & (truth <= high), axis=0)
        above = np.mean(truth > high, axis=0)
        width = (high - low).mean(axis=0) / t_width
        print(f"  {label:22s} coverage {np.round(cover, 3)}  truth above {np.round(above, 3)}"
              f"  width / t's {np.round(width, 2)}")
    errors = (values - truth).reshape(-1, truth.size)
    print(f"  sd(t) {np.round(((m - truth) / se).std(axis=0), 2)}; P(replicate < truth) "
          f"{np.round(np.mean(values < truth, axis=(0, 1)), 3)}")
    print(f"  replicates: skewness {np.round(stats.skew(errors), 2)}, excess kurtosis "
          f"{np.round(stats.kurtosis(errors), 1)}; var(estimate) "
          f"{np.array2string(m.var(axis=0, ddof=1), precision=3)}")
    z = (values - truth) / errors.std(axis=0, ddof=1)
    for j in range(truth.size):
        worst = np.argsort(-np.abs(z[:, :, j]), axis=None)[:5]
        seeds_, nets = np.unravel_index(worst, z.shape[:2])
        print(f"  quantity {j}: largest replicate errors (replicate s.d.) "
              f"{np.round(z[seeds_, nets, j], 1)}, their nets' largest summand "
              f"{np.round(top[seeds_, nets, j], 2)}, median summand "
              f"{np.median(top[:, :, j]):.3g} (largest per net)")
    for label, value in summary.items():
        print(f"  {label} (median over seeds): {np.round(np.median(value, axis=0), 2)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="flood_log", help="a no_regret.py expectation case")
    parser.add_argument("--plans", default="9x1024", help="RxN,...: R nets of n points")
    parser.add_argument("--seeds", type=int, default=1000)
    args = parser.parse_args(argv)
    model, law, truth, _, _ = nr.BY_NAME[args.case].setup()
    for plan in args.plans.split(","):
        reps, n = (int(v) for v in plan.split("x"))
        t0 = time.perf_counter()
        values, top, summary = replicates(model, law, reps, n, args.seeds)
        report(f"{args.case} {reps} x {n}", values, top, np.asarray(truth, dtype=float),
               summary)
        print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

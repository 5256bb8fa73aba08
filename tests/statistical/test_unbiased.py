"""Repetition tests: unbiasedness, honest standard errors and interval coverage.

Each case has known answers. A method is run ``R`` times with seeds ``SEED0 + r``; with
``m`` the mean of the estimates and ``s.e. = std / sqrt(R)``, every quantity must satisfy
``|m - I| < 4 s.e.``, and the observed coverage of the 95% intervals must lie in a band
derived from the binomial spread of ``R`` coverage indicators (:func:`coverage_band`):
every coverage figure of this file is tested at once (``COVERAGE_CHECKS`` of them), so each
band is two-sided at ``FAMILY_ALPHA / (2 COVERAGE_CHECKS)``: a correct method fails any of
them with probability below ``FAMILY_ALPHA``. The lower end is computed at the coverage a
correct normal-theory interval may have at these budgets (``FLOOR``: skewed quantities
under-cover a little), the upper end at the nominal 0.95 (an interval too wide fails). A
coverage pooled over the ``J`` quantities of the same runs counts ``R J / (1 + (J - 1)
rho)`` indicators, ``rho`` their observed mean correlation (the design effect).
``SEED0`` may be set through ``MULTIEXPECT_TEST_SEED0`` to re-run the file at other seeds.
Budgets are small so that the whole file runs in a few minutes.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

SEED0 = int(os.environ.get("MULTIEXPECT_TEST_SEED0", "10000"))
#: coverage figures checked in this file (per quantity or pooled), all at once
COVERAGE_CHECKS = 13
#: probability that a correct method fails any coverage check of the file
FAMILY_ALPHA = 0.002
#: lowest coverage of a correct normal-theory 95% interval at these budgets
FLOOR = 0.94


@dataclass(frozen=True)
class Runs:
    """Estimates, standard errors and the results' own 95% intervals of ``R`` independent
    runs, and the truth."""

    estimate: np.ndarray  # (R, J)
    stderr: np.ndarray  # (R, J)
    truth: np.ndarray  # (J,)
    n_evaluations: np.ndarray  # (R,)
    low: np.ndarray  # (R, J): ``confidence_interval()``, what a user is given
    high: np.ndarray  # (R, J)

    @property
    def reps(self) -> int:
        return self.estimate.shape[0]

    @property
    def z_scores(self) -> np.ndarray:
        """``(mean - I) / (std / sqrt(R))`` per quantity."""
        sem = self.estimate.std(axis=0, ddof=1) / np.sqrt(self.reps)
        return (self.estimate.mean(axis=0) - self.truth) / sem

    @property
    def inside(self) -> np.ndarray:
        """(R, J) whether each run's own 95% interval (Student's t on RQMC replicates,
        Wilson's for events) holds the truth."""
        return (self.low <= self.truth) & (self.truth <= self.high)

    @property
    def coverage(self) -> np.ndarray:
        """Fraction of runs whose 95% interval covers the truth, per quantity."""
        return self.inside.mean(axis=0)

    @property
    def variance(self) -> np.ndarray:
        """Variance of the estimates across runs, per quantity."""
        return self.estimate.var(axis=0, ddof=1)


def _one_run(args):
    model, law, budget, method, seed, kwargs = args
    res = me.expectations(model, law, budget=budget, method=method, rng=seed, **kwargs)
    return (res.estimate, res.stderr, res.n_evaluations, *res.confidence_interval())


_POOL = None


def _pool():
    """Two worker processes with single-threaded BLAS (spawned, so the setting applies).

    Repetitions are independent; running them on both cores halves the wall time, and one
    BLAS thread per process avoids OpenBLAS's busy-waiting on an oversubscribed machine.
    """
    global _POOL
    if _POOL is None:
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})
        try:
            _POOL = multiprocessing.get_context("spawn").Pool(2)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        atexit.register(_POOL.terminate)
    return _POOL


_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def repeat(model, law, truth, *, method, reps, budget, **kwargs) -> Runs:
    """``reps`` independent runs with seeds ``SEED0 + r`` (in two worker processes)."""
    jobs = [(model, law, budget, method, SEED0 + r, kwargs) for r in range(reps)]
    out = _pool().map(_one_run, jobs, chunksize=max(1, reps // 16))
    est, se, runs, low, high = zip(*out)
    return Runs(np.array(est), np.array(se), np.asarray(truth, dtype=float), np.array(runs),
                np.array(low), np.array(high))


def assert_unbiased(runs: Runs, budget: int) -> None:
    assert np.all(np.isfinite(runs.estimate)) and np.all(runs.stderr > 0)
    assert np.all(runs.n_evaluations <= budget)
    z = runs.z_scores
    assert np.all(np.abs(z) < 4.0), f"bias beyond 4 s.e.: z = {np.round(z, 2)}"


def coverage_band(n: float, floor: float = FLOOR, nominal: float = 0.95) -> tuple:
    """Band of the observed coverage of ``n`` independent indicators: the binomial
    quantiles at ``FAMILY_ALPHA / (2 COVERAGE_CHECKS)``, the lower one at ``floor``, the
    upper one at ``nominal``."""
    tail = FAMILY_ALPHA / (2 * COVERAGE_CHECKS)
    n = max(round(n), 1)
    return (float(stats.binom.ppf(tail, n, floor)) / n,
            float(stats.binom.isf(tail, n, nominal)) / n)


def assert_coverage(runs: Runs, *, pooled: bool, floor: float = FLOOR,
                    lower_only=None) -> None:
    """The coverage in its band; ``lower_only`` ((J,) bool, per quantity): only the lower
    end is asserted for those quantities (lattice-valued estimates, see the caller)."""
    cover = runs.coverage
    if pooled:
        inside = runs.inside.astype(float)
        j = inside.shape[1]
        rho = 0.0
        if j > 1 and np.all(inside.std(axis=0) > 0):
            corr = np.corrcoef(inside.T)
            rho = max(0.0, float((corr.sum() - j) / (j * (j - 1))))
        low, high = coverage_band(runs.reps * j / (1 + (j - 1) * rho), floor)
        value = float(np.mean(cover))
        print(f"pooled coverage {value:.4f} in [{low:.3f}, {high:.3f}]")
        assert low <= value <= high, \
            f"pooled coverage {value:.3f} outside [{low:.3f}, {high:.3f}] (per quantity {cover})"
    else:
        low, high = coverage_band(runs.reps, floor)
        upper = np.where(np.zeros(cover.shape, bool) if lower_only is None else lower_only,
                         1.0, high)
        print(f"coverage {np.round(cover, 4)} in [{low:.3f}, {np.round(upper, 3)}]")
        assert np.all((cover >= low) & (cover <= upper)), \
            f"coverage {cover} outside [{low:.3f}, {upper}]"


# ---------------------------------------------------------------------- case A
# one law with a normal and a lognormal input; a second moment, a mean, a probability
LAW_A = me.Law([stats.norm(0, 1), stats.lognorm(0.5, scale=1.0)])
TRUTH_A = np.array([1.0, np.exp(0.125), stats.norm.sf(1.0)])


def model_a(x):
    return np.column_stack([x[:, 0] ** 2, x[:, 1], (x[:, 0] > 1.0).astype(float)])


@cache
def runs_a(method: str, reps: int, budget: int) -> Runs:
    return repeat(model_a, LAW_A, TRUTH_A, method=method, reps=reps, budget=budget)


def test_aiscv_unbiased_with_honest_coverage():
    """Must show 1: 400 runs of budget 1000, J = 3.

    By default (``sampling="auto"``) every run here takes the law route: 15 scrambled nets
    of 64 points. The event's estimate is then a lattice: each net stratifies ``x_1`` into
    64 cells and holds 10 or 11 hits, so the estimate is ``(150 + K) / 960`` with ``K`` the
    nets holding 11. Its errors take few values, bounded relative to a correct standard
    error, and its intervals over-cover (measured 0.9975) although that standard error is
    honest (its mean square within the band of the spread below). So for the event only
    the lower end of the coverage band is asserted (no under-coverage); the continuous
    quantities keep both ends."""
    runs = runs_a("aiscv", 400, 1000)
    assert_unbiased(runs, 1000)
    assert_coverage(runs, pooled=False, lower_only=np.array([False, False, True]))
    # the reported s.e. is honest: mean reported variance within 25% of the empirical one
    ratio = np.mean(runs.stderr**2, axis=0) / runs.variance
    assert np.all((ratio > 0.75) & (ratio < 1.33)), ratio


def _stopped_run(args):
    """One aISCV run of case A stopped after ``stages`` stages (1: the pilot only)."""
    stages, budget, seed = args
    engine = me.AISCV(LAW_A, lambda x, _batch: model_a(x), budget=budget, seed=seed)
    for _ in zip(range(stages), engine.steps()):
        pass
    out = engine.finish()
    return out.estimate, out.stderr, (out.runs_used, out.points_not_run)


@pytest.mark.parametrize("stages", [1, 2])
def test_aiscv_stopped_early_and_finished_is_unbiased(stages):
    """Stopping ``AISCV.steps()`` after the pilot, or after one adaptive batch, and finishing:
    the final stage is a fresh sample of the kept proposal, so the estimate stays unbiased
    (200 runs of budget 1000, coverage pooled over the quantities)."""
    jobs = [(stages, 1000, SEED0 + r) for r in range(200)]
    est, se, counts = zip(*_pool().map(_stopped_run, jobs, chunksize=12))
    used, not_run = np.array(counts).T
    est, se = np.array(est), np.array(se)
    half = stats.norm.ppf(0.975) * se  # the engine's own result: i.i.d. stages, normal theory
    runs = Runs(est, se, TRUTH_A, used, est - half, est + half)
    # the rest of the budget went to the final stage: its points are run, but for those
    # where the law has no practical mass (engine/practical.py), which cost no run
    assert np.all((used <= 1000) & (used + not_run >= 1000))
    assert_unbiased(runs, 1000)
    assert_coverage(runs, pooled=True)


def test_gaussian_diag_family_unbiased():
    """The diagonal family: same case, fewer runs (coverage pooled over the quantities)."""
    runs = repeat(model_a, LAW_A, TRUTH_A, method="aiscv", reps=200, budget=1000,
                  family="gaussian-diag")
    assert_unbiased(runs, 1000)
    assert_coverage(runs, pooled=True)


def test_mc_unbiased_with_honest_coverage():
    """Must show 6 (crude MC): same case, same test."""
    runs = runs_a("mc", 400, 1000)
    assert_unbiased(runs, 1000)
    assert_coverage(runs, pooled=False)


def test_separate_is_unbiased_with_honest_coverage():
    """Must show 6 (separate IS): 1000 runs per quantity (smaller budgets under-cover)."""
    runs = runs_a("separate-is", 200, 3000)
    assert_unbiased(runs, 3000)
    assert_coverage(runs, pooled=True)


def test_aiscv_beats_crude_mc_on_case_a():
    """Relative weighted variance of aISCV below crude MC's exact value at equal runs."""
    runs = runs_a("aiscv", 400, 1000)
    crude = np.array([2.0, np.exp(0.25) * (np.exp(0.25) - 1.0),
                      TRUTH_A[2] * (1.0 - TRUTH_A[2])]) / 1000
    w = 1.0 / TRUTH_A**2
    assert w @ runs.variance < 0.7 * (w @ crude)


# ---------------------------------------------------------------------- signed functions
LAW_S = me.Law([stats.norm(0.5, 1.0), stats.norm(0.0, 1.0)])
# E exp(X2) = e^{1/2}; E[X1^3 - X1] = m^3 + 2m (m = 1/2); E sin(X1 + X2/2 + 1/2) =
# sin(1) exp(-(1 + 1/4)/2)
TRUTH_S = np.array([np.exp(0.5), 1.125, np.sin(1.0) * np.exp(-0.625)])


def model_s(x):
    return np.column_stack([np.exp(x[:, 1]), x[:, 0] ** 3 - x[:, 0],
                            np.sin(x[:, 0] + 0.5 * x[:, 1] + 0.5)])


def crude_variance_s() -> np.ndarray:
    """Exact per-run variances of the three quantities under LAW_S (moments of normals)."""
    m = 0.5
    # E X^k for X ~ N(m, 1)
    mom = {1: m, 2: m**2 + 1, 3: m**3 + 3 * m, 4: m**4 + 6 * m**2 + 3,
           6: m**6 + 15 * m**4 + 45 * m**2 + 15}
    second_cubic = mom[6] - 2 * mom[4] + mom[2]  # E (X^3 - X)^2
    var_exp = np.exp(2.0) - np.exp(1.0)
    # E sin^2(Y) = (1 - E cos 2Y) / 2 with Y ~ N(1, 1.25): E cos 2Y = cos(2) exp(-2 * 1.25)
    second_sin = 0.5 * (1.0 - np.cos(2.0) * np.exp(-2.5))
    return np.array([var_exp, second_cubic - TRUTH_S[1] ** 2, second_sin - TRUTH_S[2] ** 2])


def test_crude_variance_formula():
    """The exact crude variances used below agree with a large sample."""
    sample = model_s(LAW_S.sample(400_000, 1))
    np.testing.assert_allclose(sample.var(axis=0), crude_variance_s(), rtol=0.05)
    np.testing.assert_allclose(sample.mean(axis=0), TRUTH_S, atol=0.02)


def test_signed_functions_unbiased_and_far_below_crude_mc():
    """Must show 2: sign-changing quantities (x^3 - x, a sine) next to a positive one."""
    budget = 1000
    w = 1.0 / TRUTH_S**2
    runs = repeat(model_s, LAW_S, TRUTH_S, method="aiscv", reps=200, budget=budget,
                  weights=w)
    assert_unbiased(runs, budget)
    assert_coverage(runs, pooled=True)
    crude = w @ crude_variance_s() / budget
    weighted = w @ runs.variance
    # measured about 9x below; "far below" asserted as 3x
    assert weighted < crude / 3.0, (weighted, crude)
    # each signed quantity on its own is better than crude MC
    per_quantity = runs.variance / (crude_variance_s() / budget)
    assert np.all(per_quantity[1:] < 0.7), per_quantity


# ---------------------------------------------------------------------- d = 50
D50 = 50
LAW_50 = me.Law([stats.norm(1.0, 0.5)] * 25 + [stats.lognorm(0.3)] * 25)


def model_50(x):
    return np.column_stack([x.sum(axis=1), (x**2).sum(axis=1), x[:, 0] * x[:, 25],
                            x[:, :25].sum(axis=1) - x[:, 25:].sum(axis=1)])


def truth_50() -> np.ndarray:
    m, v = LAW_50.mean(), LAW_50.std() ** 2
    return np.array([m.sum(), (v + m**2).sum(), m[0] * m[25], m[:25].sum() - m[25:].sum()])


def test_dimension_50_linear_and_quadratic_forms():
    """Must show 3: finite, correct estimates in d = 50 (log-space densities)."""
    budget = 2000
    truth = truth_50()
    runs = repeat(model_50, LAW_50, truth, method="aiscv", reps=20, budget=budget)
    assert np.all(np.isfinite(runs.estimate)) and np.all(np.isfinite(runs.stderr))
    assert np.all(runs.stderr > 0)
    # every single run within 5 of its own standard errors, the mean within 4
    assert np.all(np.abs(runs.estimate - truth) < 5 * runs.stderr)
    assert_unbiased(runs, budget)
    # relative precision of a single run: a few per mille on the sums
    assert np.all(runs.stderr[:, :2] / np.abs(truth[:2]) < 0.01)


def test_dimension_50_adaptive_stages_are_finite():
    res = me.expectations(model_50, LAW_50, budget=2000, rng=3)
    for stage in res.history:
        assert np.isfinite(stage["predicted_error"])
        assert np.all(np.isfinite(stage["stage_estimate"]))


# ---------------------------------------------------------------------- several laws
MUS = np.array([0.0, 0.5, 1.0, 1.5])
SDS = np.array([0.5, 0.75, 1.0, 1.25])
LAWS_L = [me.Law([stats.norm(m, 1.0), stats.norm(0.0, s)]) for m, s in zip(MUS, SDS)]
TRUTH_L = MUS**2 + 1.0 + np.exp(SDS**2 / 8.0)  # E[X1^2 + exp(X2/2)] under law l


def model_l(x):
    return x[:, 0] ** 2 + np.exp(x[:, 1] / 2.0)


@cache
def runs_l(method: str, reps: int, budget: int) -> Runs:
    return repeat(model_l, LAWS_L, TRUTH_L, method=method, reps=reps, budget=budget)


def test_several_laws_one_column_aiscv():
    """Must show 4: J = 4 laws, one model column, unbiased with honest intervals."""
    runs = runs_l("aiscv", 200, 1000)
    assert_unbiased(runs, 1000)
    assert_coverage(runs, pooled=True)


@pytest.mark.parametrize("method", ["mc", "mixture-mc"])
def test_several_laws_one_column_mc_baselines(method):
    """Must show 6: separate MC and mixture MC on the several-law case."""
    runs = runs_l(method, 400, 1000)
    assert_unbiased(runs, 1000)
    assert_coverage(runs, pooled=True)


#: separate IS's intervals on the several-law case cover about 0.915, not 0.95: measured
#: 0.905-0.936 over 8 blocks of 200 runs (issue 15). The baseline is kept as it is, its
#: coverage stated: a regression below it still fails, and so do intervals too wide.
SEPARATE_IS_COVERAGE = 0.915


def test_several_laws_one_column_separate_is():
    runs = runs_l("separate-is", 200, 4000)
    assert_unbiased(runs, 4000)
    assert_coverage(runs, pooled=True, floor=SEPARATE_IS_COVERAGE)


def test_several_laws_aiscv_beats_separate_mc():
    adaptive = runs_l("aiscv", 200, 1000).variance.sum()
    separate = runs_l("mc", 400, 1000).variance.sum()
    assert adaptive < 0.5 * separate, (adaptive, separate)


def test_several_laws_with_one_column_per_law():
    """L laws and L columns: column l under law l (a different function per law)."""
    def model(x):
        return np.column_stack([x[:, 0] ** 2 + k * x[:, 1] for k in range(4)])

    res = me.expectations(model, LAWS_L, budget=2000, rng=5)
    truth = MUS**2 + 1.0  # E X2 = 0 under every law
    assert np.all(np.abs(res.estimate - truth) < 4 * res.stderr)

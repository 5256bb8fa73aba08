"""Randomised QMC: nets, maps, allocation, replicate estimates, the public ``sampling`` switch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.intervals import subset_mean_interval
from multiexpect.sampling import (
    DEFAULT_BLOCKS,
    INTERVAL_NET_BLOCKS,
    allocate,
    block_estimate,
    check_blocks,
    check_replicates,
    gaussian_from_normal,
    one_net_plan,
    replicate_estimate,
    replicate_plan,
    sobol_normal,
    sobol_uniform,
    student_from_uniform,
    tie_departure,
)
from tests.helpers import NORM2, Interrupting, assert_resumes_bit_for_bit, smooth


class NeverRun:
    """A model that fails the test if it is ever called."""

    def __call__(self, x):
        raise AssertionError("the model ran before the bad argument was refused")


# ---------------------------------------------------------------------- points and maps
def test_net_is_balanced_and_replayed():
    u = sobol_uniform(256, 3, np.random.default_rng(5))
    for column in u.T:  # one point in each of the 256 equal intervals, per coordinate
        assert np.array_equal(np.sort(np.floor(column * 256)), np.arange(256))
    assert np.array_equal(u, sobol_uniform(256, 3, np.random.default_rng(5)))
    assert not np.array_equal(u, sobol_uniform(256, 3, np.random.default_rng(6)))
    assert 0.0 < u.min() and u.max() < 1.0


def test_non_power_of_two_is_the_sequence_prefix():
    rng = np.random.default_rng
    assert np.array_equal(sobol_uniform(100, 2, rng(1)), sobol_uniform(128, 2, rng(1))[:100])


def test_gaussian_and_student_maps_have_the_right_law():
    mean = np.array([1.0, -2.0])
    chol = np.linalg.cholesky([[2.0, 0.6], [0.6, 1.0]])
    x = gaussian_from_normal(sobol_normal(4096, 2, np.random.default_rng(1)), mean, chol)
    white = np.linalg.solve(chol, (x - mean).T).T
    for column in white.T:
        assert stats.kstest(column, "norm").pvalue > 0.01
    dof = 4.0
    t = student_from_uniform(sobol_uniform(4096, 3, np.random.default_rng(2)), mean, chol, dof)
    white = np.linalg.solve(chol, (t - mean).T).T
    for column in white.T:
        assert stats.kstest(column, "t", args=(dof,)).pvalue > 0.01
    # the radial part is shared: |white|^2 / 2 is F(2, dof), not a sum of two t's squares
    assert stats.kstest(np.sum(white**2, axis=1) / 2, "f", args=(2, dof)).pvalue > 0.01


# ---------------------------------------------------------------------- replicate plan
@pytest.mark.parametrize(("n_total", "asked", "plan"), [
    (20_000, 8, (9, 2048)), (200, 8, (12, 16)), (16_384, 8, (8, 2048)), (8, 8, (8, 1)),
    (15, 4, (7, 2))])
def test_replicate_plan_uses_whole_nets(n_total, asked, plan):
    reps, n = replicate_plan(n_total, asked)
    assert (reps, n) == plan
    assert asked <= reps < 2 * asked and n & (n - 1) == 0 and n_total - reps * n < n


def test_replicate_plan_refuses_too_few_points():
    with pytest.raises(ValueError, match="'budget' \\(7\\) is too small for 8 RQMC"):
        replicate_plan(7, 8)


def test_replicate_estimate_mean_spread_and_record():
    values = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 13.0]])
    est = replicate_estimate(values)
    assert np.allclose(est.estimate, [2.0, 11.0])
    assert np.allclose(est.stderr, [1.0 / np.sqrt(3), np.sqrt(3.0) / np.sqrt(3)])
    # 3 replicates: too few subsets for the subset means, so the kind is Student's t
    record = est.record()
    assert (record["interval"], record["dof"]) == ("student-t", 2)
    assert record["replicate_values"] == values.tolist()


# ---------------------------------------------------------------------- allocation
def test_allocate_sums_and_rounds():
    assert allocate(8, [0.6, 0.3, 0.1]).tolist() == [5, 2, 1]
    assert allocate(7, [1, 1, 1]).tolist() == [3, 2, 2]
    for n in (1, 5, 17, 1000):
        alpha = np.array([0.55, 0.3, 0.1, 0.05])
        counts = allocate(n, alpha)
        assert counts.sum() == n and np.all(np.abs(counts - n * alpha) < 1)
    with pytest.raises(ValueError, match="'alpha'"):
        allocate(4, [0.5, -0.1])


def _mixture_case():
    """``I = E[X^2] = 1`` under ``N(0, 1)``, three unequal components, ``n = 8``."""
    comps = [stats.norm(-1.0, 1.0), stats.norm(2.0, 1.5), stats.norm(0.0, 3.0)]
    alpha = np.array([0.6, 0.3, 0.1])
    return comps, alpha, allocate(8, alpha)


def _mean_of_estimator(comps, counts, weights) -> float:
    """``E[(1/n) sum_k sum_i φ f / ḡ(x_ki)]`` by quadrature, ``ḡ = sum_k weights_k g_k``."""
    n = counts.sum()

    def term(x, k):
        g_bar = sum(w * c.pdf(x) for w, c in zip(weights, comps))
        return x**2 * stats.norm.pdf(x) / g_bar * comps[k].pdf(x)

    return sum(counts[k] / n * integrate.quad(term, -40.0, 40.0, args=(k,), points=(0.0,),
                                              epsabs=1e-13, epsrel=1e-12, limit=200)[0]
               for k in range(len(comps)))


def test_allocation_keeps_the_mixture_estimator_exactly_unbiased():
    comps, alpha, counts = _mixture_case()
    assert counts.tolist() == [5, 2, 1]  # realised fractions 0.625, 0.25, 0.125, not α
    exact = _mean_of_estimator(comps, counts, counts / counts.sum())
    assert abs(exact - 1.0) < 1e-9
    # with α in the density instead, the same points are biased
    assert abs(_mean_of_estimator(comps, counts, alpha) - 1.0) > 1e-2


def test_allocation_unbiased_on_nets():
    """The same estimator on scrambled nets (each component on its own net): the mean over
    1000 replicates is within 4 s.e. of 1."""
    comps, _, counts = _mixture_case()
    n = counts.sum()
    values = []
    for r in range(1000):
        x = np.concatenate([c.ppf(sobol_uniform(int(m), 1, np.random.default_rng([r, k]))[:, 0])
                            for k, (c, m) in enumerate(zip(comps, counts))])
        pdfs = np.column_stack([c.pdf(x) for c in comps])
        values.append(np.mean(x**2 * stats.norm.pdf(x) / (pdfs @ (counts / n))))
    z = (np.mean(values) - 1.0) / (np.std(values, ddof=1) / np.sqrt(len(values)))
    assert abs(z) < 4, z


# ---------------------------------------------------------------------- the public switch
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sampling": "qmc"}, "'sampling' must be one of \\('mc', 'rqmc', 'auto'\\), got 'qmc'"),
    ({"sampling": 1}, "'sampling' must be one of"),
    ({"sampling": "rqmc", "method": "aiscv", "replicates": 300},
     "'replicates' \\(300\\) is too many for the final stage"),
    ({"sampling": "rqmc", "method": "aiscv", "keep_sample": True},
     "'keep_sample' needs sampling 'mc'"),
    ({"sampling": "auto", "method": "separate-is"}, "not available"),
    ({"sampling": "rqmc", "method": "separate-is", "replicates": 300},
     "'replicates' \\(300\\) is too many for the final stage"),
    ({"sampling": "rqmc", "method": "mc", "replicates": 1}, "'replicates' must be an int >= 2"),
    ({"sampling": "rqmc", "method": "mc", "replicates": 2.5}, "'replicates'"),
    ({"sampling": "rqmc", "method": "mc", "budget": 7}, "too small for 8 RQMC replicates"),
    ({"law": [NORM2, NORM2], "sampling": "rqmc", "method": "mc", "budget": 10},
     "'budget // 2 laws' \\(5\\) is too small for 8 RQMC replicates"),
    ({"method": "mc", "replicates": 4}, "takes no options"),
])
def test_bad_sampling_refused_before_any_run(kwargs, match):
    kwargs = {"budget": 1000, "law": NORM2, **kwargs}
    with pytest.raises(ValueError, match=match):
        me.expectations(NeverRun(), rng=1, **kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sampling": "sobol"}, "'sampling' must be one of"),
    ({"sampling": "rqmc", "method": "martinez"}, "'method' must be one of|not yet available"),
    ({"sampling": "rqmc", "budget": 500, "replicates": 30}, "'replicates' \\(30\\)"),
    ({"sampling": "rqmc", "method": "pick-freeze", "replicates": 0}, "'replicates'"),
    ({"sampling": "rqmc", "method": "pick-freeze", "budget": 35},
     "'budget // 5' \\(7\\) is too small for 8 RQMC"),
])
def test_bad_sampling_refused_by_sobol_indices(kwargs, match):
    kwargs = {"budget": 5000, **kwargs}
    with pytest.raises(ValueError, match=match):
        me.sobol_indices(NeverRun(), tf.ishigami_law(), rng=1, **kwargs)


def test_rqmc_result_says_which_interval():
    res = me.expectations(smooth, NORM2, budget=1000, rng=3, method="mc", sampling="rqmc",
                          replicates=4)
    assert res.diagnostics["interval"] == "subset-means"
    assert "intervals: Hartigan's subset means of 7 RQMC replicates" in res.summary()
    iid = me.expectations(smooth, NORM2, budget=1000, rng=3, method="mc")
    assert "intervals" not in iid.summary()
    reps, n = res.diagnostics["replicates"], res.diagnostics["points_per_replicate"]
    assert (reps, n) == (7, 128) and res.n_evaluations == 896
    # the estimate is the mean of the replicates it keeps: Hartigan's subset means at 7
    values = np.asarray(res.diagnostics["replicate_values"])
    assert values.shape == (reps, 2) and np.allclose(values.mean(axis=0), res.estimate)
    assert np.allclose(res.confidence_interval(0.9), subset_mean_interval(values, 0.9))
    assert res.settings["sampling"] == "rqmc" and res.settings["replicates"] == 4


def test_few_replicates_keep_students_t():
    # 5 replicates have 31 subset means: too few for a 95% interval, so Student's t stays
    res = me.expectations(smooth, NORM2, budget=640, rng=3, method="mc", sampling="rqmc",
                          replicates=5)
    assert res.diagnostics["replicates"] == 5 and res.diagnostics["interval"] == "student-t"
    _, high = res.confidence_interval(0.95)
    assert np.allclose(high - res.estimate, stats.t.ppf(0.975, 4) * res.stderr)


def test_mc_sampling_is_the_default_bit_for_bit():
    a = me.expectations(smooth, NORM2, budget=500, rng=3, method="mixture-mc")
    b = me.expectations(smooth, NORM2, budget=500, rng=3, method="mixture-mc", sampling="mc")
    assert a.estimate.tobytes() == b.estimate.tobytes() and "sampling" not in b.settings


# ---------------------------------------------------------------------- resume
@pytest.mark.parametrize("method", ["mc", "mixture-mc", "separate-is"])
def test_resumed_rqmc_study_is_bit_identical(method):
    laws = [NORM2, me.Law([stats.norm(0.5, 1), stats.norm(1, 1.5)])]
    kwargs = {"budget": 2000, "rng": 11, "method": method, "sampling": "rqmc",
              "study_id": "rqmc"}
    whole = me.expectations(smooth, laws, **kwargs)
    assert_resumes_bit_for_bit(smooth, laws, whole, 3, **kwargs)


def test_resumed_pick_freeze_rqmc_is_bit_identical():
    kwargs = {"budget": 5 * 512, "rng": 4, "method": "pick-freeze", "sampling": "rqmc",
              "study_id": "pf"}
    law = tf.ishigami_law()
    whole = me.sobol_indices(tf.ishigami, law, **kwargs)
    store = me.InMemoryStore()
    crashing = Interrupting(tf.ishigami, limit=5)
    with pytest.raises(KeyboardInterrupt):
        me.sobol_indices(crashing, law, store=store, **kwargs)
    again = Interrupting(tf.ishigami)
    resumed = me.sobol_indices(again, law, store=store, **kwargs)
    for order in ("first", "total"):
        assert resumed.indices(order)[0].tobytes() == whole.indices(order)[0].tobytes()
        assert resumed.indices(order)[1].tobytes() == whole.indices(order)[1].tobytes()
    # every run made before the crash was stored (the store takes chunks sized by wall time)
    assert 0 < crashing.runs and again.runs == whole.n_evaluations - crashing.runs
    # the summary names the replicates' interval
    dof = whole.diagnostics["dof"]
    assert f"intervals: Student's t on {dof} degrees of freedom from {dof + 1} RQMC" \
        in whole.summary()


# ---------------------------------------------------------------------- one net (Sobol')
def test_one_net_plan_and_block_estimate():
    assert one_net_plan(20_000, 16) == 20_000 and one_net_plan(32, 16) == 32
    with pytest.raises(ValueError, match="'budget // 5' \\(31\\) is too small for one RQMC net"):
        one_net_plan(31, 16, "budget // 5")
    values = np.random.default_rng(0).normal(size=(69, 3))  # 8 blocks of 8, 5 points more
    mean, cov, dof = block_estimate(values, 8)
    means = values[:64].reshape(8, 8, 3).mean(axis=1)
    assert np.allclose(mean, values.mean(axis=0)) and dof == 7
    assert np.allclose(cov, np.cov(means, rowvar=False) / 8)


def test_replicates_and_blocks_checks():
    assert check_replicates(1, one_net=True) == 1 and check_blocks(None) == DEFAULT_BLOCKS
    with pytest.raises(ValueError, match=r"'replicates' must be an int >= 2 .*, got 1"):
        check_replicates(1)
    for bad in (2, 6, 8.0, True, 0):
        with pytest.raises(ValueError, match="'blocks' must be a power of 2 >= 4"):
            check_blocks(bad)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"replicates": 1, "budget": 5 * 31}, "'budget // 5' \\(31\\) is too small for one RQMC"),
    ({"replicates": 1, "blocks": 32, "budget": 5 * 63}, "too small for one RQMC net of 32"),
    ({"replicates": 1, "blocks": 3}, "'blocks' must be a power of 2"),
    ({"blocks": 8}, "'blocks' needs sampling='rqmc' and replicates=1"),
    ({"replicates": 1, "method": "aiscv", "blocks": 4096},
     "'blocks' \\(4096\\) is too many for the final stage"),
])
def test_bad_one_net_refused_before_any_run(kwargs, match):
    kwargs = {"budget": 5000, "method": "pick-freeze", "sampling": "rqmc", **kwargs}
    with pytest.raises(ValueError, match=match):
        me.sobol_indices(NeverRun(), tf.ishigami_law(), rng=1, **kwargs)


def test_one_net_result_says_which_interval():
    res = me.sobol_indices(tf.ishigami, tf.ishigami_law(), budget=5 * 3000, rng=2,
                           method="pick-freeze", sampling="rqmc", replicates=1, blocks=8)
    diag = res.diagnostics
    assert diag["interval"] == INTERVAL_NET_BLOCKS and diag["replicates"] == 1
    assert (diag["points_per_replicate"], diag["blocks"], diag["dof"]) == (3000, 8, 7)
    assert res.n_evaluations == 5 * 3000 and res.settings["blocks"] == 8
    assert not diag["whole_net"] and diag["points_per_block"] == 375
    _, high = res.confidence_interval(0.9)["first"]
    assert np.allclose(high - res.first_order, stats.t.ppf(0.95, 7) * res.first_order_stderr)
    assert "intervals 'net-blocks'" in res.summary()
    again = me.sobol_indices(tf.ishigami, tf.ishigami_law(), budget=5 * 3000, rng=2,
                             method="pick-freeze", sampling="rqmc", replicates=1, blocks=8)
    assert again.first_order.tobytes() == res.first_order.tobytes()


def test_resumed_one_net_is_bit_identical():
    kwargs = {"budget": 5 * 600, "rng": 4, "method": "pick-freeze", "sampling": "rqmc",
              "replicates": 1, "blocks": 4, "study_id": "net"}
    law = tf.ishigami_law()
    whole = me.sobol_indices(tf.ishigami, law, **kwargs)
    store = me.InMemoryStore()
    crashing = Interrupting(tf.ishigami, limit=2)
    with pytest.raises(KeyboardInterrupt):
        me.sobol_indices(crashing, law, store=store, **kwargs)
    again = Interrupting(tf.ishigami)
    resumed = me.sobol_indices(again, law, store=store, **kwargs)
    for order in ("first", "total"):
        assert resumed.indices(order)[0].tobytes() == whole.indices(order)[0].tobytes()
        assert resumed.indices(order)[1].tobytes() == whole.indices(order)[1].tobytes()
    assert 0 < crashing.runs and again.runs == whole.n_evaluations - crashing.runs


def _event_above_one(x):
    return (x[:, 0] > 1.0).astype(float)


def test_tied_replicates_are_bounded_by_one_lattice_step():
    """P(x > 1) = 0.1587 on 15 nets of 64 points: each net counts 10 or 11 hits, and on some
    seeds all 15 count 10. Their spread 0 is the nets' resolution, not certainty: the
    standard error is then that of a replicate departing by one hit (h = 1/64) with the
    95% upper bound q on that chance, h sqrt(q (1 - q) / R), below the i.i.d. one of the 960
    points (9x wider than the true error), and the result says so."""
    q = 1.0 - 0.05 ** (1.0 / 15)
    law = me.Law([stats.norm()])
    seen = {"tied": 0, "spread": 0}
    for seed in range(40):
        for sampling, method in (("rqmc", "mc"), ("auto", "aiscv")):
            res = me.expectations(_event_above_one, law, budget=1000, rng=seed,
                                  method=method, sampling=sampling)
            assert res.stderr[0] > 0
            low, high = res.confidence_interval()
            assert low[0] < res.estimate[0] < high[0]
            tied = res.diagnostics["tied_replicates"]
            if tied:
                seen["tied"] += 1
                assert res.estimate[0] == 10 / 64
                p = res.estimate[0]
                bound = np.sqrt(q * (1 - q) / 15) / 64
                assert res.stderr[0] == pytest.approx(bound, rel=1e-9)
                assert bound < np.sqrt(p * (1 - p) / 959) / 5
                assert "every RQMC replicate gave the same value" in res.summary()
                assert high[0] > stats.norm.sf(1.0)  # the true value is covered
            else:
                seen["spread"] += 1
    assert seen["tied"] >= 2 and seen["spread"] >= 2


def test_replicate_covariance_keeps_the_tied_variance_on_its_diagonal():
    values = np.array([[1.0, 0.5], [1.0, 0.7], [1.0, 0.6]])
    squares = np.array([[1.5, 0.3], [1.5, 0.5], [1.5, 0.4]])
    est = replicate_estimate(values, squares, 10)
    assert est.tied_quantities() == [0]
    assert est.stderr[0] == pytest.approx(np.sqrt(0.5 * 30 / 29 / 30))
    cov = est.covariance(values)
    assert cov[0, 0] == pytest.approx(est.stderr[0] ** 2)
    assert cov[0, 1] == 0 and cov[1, 1] == pytest.approx(np.var([0.5, 0.7, 0.6], ddof=1) / 3)
    assert replicate_estimate(values).tied is None  # without the squares: no fallback


def test_tied_bound_is_the_smaller_of_the_lattice_step_and_the_iid_error():
    """With the summands' ranges (unweighted), a tie's standard error is
    min(se_iid, (span / n) sqrt(q (1 - q) / R)), q = 1 - 0.05^(1/R); untied quantities keep
    their spread."""
    values = np.array([[1.0, 0.5], [1.0, 0.7], [1.0, 0.6]])
    squares = np.array([[1.5, 0.3], [1.5, 0.5], [1.5, 0.4]])
    iid = np.sqrt(0.5 * 30 / 29 / 30)
    q = 1.0 - 0.05 ** (1.0 / 3)
    assert tie_departure(3) == pytest.approx(q)
    narrow = replicate_estimate(values, squares, 10, np.array([1.0, 1.0]))
    assert narrow.stderr[0] == pytest.approx(0.1 * np.sqrt(q * (1 - q) / 3))
    assert narrow.stderr[0] < iid and narrow.tied_quantities() == [0]
    wide = replicate_estimate(values, squares, 10, np.array([10.0, 10.0]))
    assert wide.stderr[0] == pytest.approx(iid)  # the i.i.d. error is the smaller
    for est in (narrow, wide):
        assert est.stderr[1] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1) / np.sqrt(3))


@pytest.mark.parametrize("method", ["mc", "mixture-mc"])
def test_resumed_rqmc_perturbed_law_study_is_bit_identical(method):
    pert = me.mean_shift_perturbations(NORM2, delta=0.5)
    model = lambda x: smooth(x)[:, 0]  # noqa: E731  (one output)
    kwargs = {"budget": 2000, "rng": 12, "method": method, "sampling": "rqmc",
              "study_id": "pli"}
    whole = me.perturbed_law_indices(model, NORM2, pert, **kwargs)
    assert_resumes_bit_for_bit(
        model, NORM2, whole, 3, fields=("indices", "stderr"),
        study=lambda f, law, **kw: me.perturbed_law_indices(f, law, pert, **kw), **kwargs)

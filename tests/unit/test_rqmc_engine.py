"""aISCV with an RQMC final stage: the allocation keeps it exactly unbiased, resume is exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.engine import AiscvOptions, Candidate, EngineSetup, init, stages
from multiexpect.engine.rqmc_final import (
    ONE_NET_NETS,
    atoms_of,
    final_one_net,
    final_replicates,
    one_net_points,
    replicate_points,
)
from multiexpect.engine.rqmc_pooling import cross_fitted_stage
from multiexpect.proposals import Gaussian, Mixture
from multiexpect.proposals.student import StudentT
from multiexpect.sampling import INTERVAL_POOLED, allocate, sobol_uniform
from tests.helpers import NORM2, assert_resumes_bit_for_bit, smooth

MOMENTS = np.array([1.0, 3.0])  # E[x^2], E[x^4] under N(0, 1)


def _moments(x, key):
    return np.column_stack([x[:, 0] ** 2, x[:, 0] ** 4])


def last_state(setup):
    """The engine state after its adaptive stages."""
    state = None
    for state, _ in stages(setup):  # noqa: B007
        pass
    return state


def _frozen_candidate(setup):
    """A kept proposal with deliberately unequal weights and non-zero control coefficients:
    10 points per replicate give the atoms 6, 1 and 3 points (fractions 0.6, 0.1, 0.3)."""
    proposal = Mixture([Gaussian([1.5], [[0.5]]), StudentT([-1.0], [[1.0]], 5.0),
                        setup.initial], [0.63, 0.07, 0.30])
    beta = np.array([[0.3, -0.2, 0.1], [1.0, 0.5, -0.4]])
    return Candidate(stage=1, proposal=proposal, beta=beta, predicted_error=np.nan)


def test_allocation_keeps_the_final_stage_exactly_unbiased():
    law = me.Law([stats.norm(0, 1)])
    opts = AiscvOptions(batch_size=10, pilot_size=10, adaptation_cap=10, pilot_hits=0)
    values = []
    for seed in range(400):
        setup = EngineSetup.build([law], _moments, budget=40, seed=seed, options=opts)
        state = init(setup)
        cand = _frozen_candidate(setup)
        if seed == 0:
            atoms = atoms_of(cand.proposal, 1, law_kept=False)
            assert allocate(10, [a.weight for a in atoms]).tolist() == [6, 1, 3]
        values.append(final_replicates(state, cand, 20, 2).values)
    values = np.concatenate(values)  # 800 replicate estimates of 10 points each
    z = (values.mean(axis=0) - MOMENTS) / (values.std(axis=0, ddof=1) / np.sqrt(len(values)))
    assert np.all(np.abs(z) < 4), z


def _three_atoms():
    """A one-law setup and the atoms of its frozen candidate (a Gaussian, a Student t, the
    law)."""
    setup = EngineSetup.build([me.Law([stats.norm(0, 1)])], _moments, budget=40, seed=3)
    return setup, atoms_of(_frozen_candidate(setup).proposal, 1, law_kept=False)


def test_a_replicate_is_one_net_and_each_atom_its_consecutive_points():
    """The replicate's points are one scrambled sequence of ``d + 1`` coordinates (the
    Student t's): atom ``m`` maps the next ``n_m`` of its points, the Gaussian and the law
    reading the first ``d`` coordinates."""
    setup, atoms = _three_atoms()
    counts = allocate(20, [a.weight for a in atoms])
    z = replicate_points(atoms, counts, [0, 1, 2], setup.sampling,
                         [np.random.default_rng(7)])[0]
    u = sobol_uniform(20, 2, np.random.default_rng(7))
    first, second = counts[0], counts[0] + counts[1]
    assert np.array_equal(z[:first, 0], 1.5 + np.sqrt(0.5) * stats.norm.ppf(u[:first, 0]))
    radial = np.sqrt(stats.chi2.ppf(u[first:second, 1], 5.0) / 5.0)
    assert np.allclose(z[first:second, 0], -1.0 + stats.norm.ppf(u[first:second, 0]) / radial)
    assert np.allclose(z[second:, 0], stats.norm.ppf(u[second:, 0]))


def test_replicates_mapped_together_are_each_replicate_mapped_alone():
    """Each atom maps its rows of every replicate in one call: every replicate's points are,
    to the bit, those drawn from its generator alone."""
    setup, atoms = _three_atoms()
    counts = allocate(37, [a.weight for a in atoms])
    together = replicate_points(atoms, counts, [0, 1, 2], setup.sampling,
                                [np.random.default_rng(s) for s in (1, 2, 3)])
    for seed, z in zip((1, 2, 3), together):
        alone = replicate_points(atoms, counts, [0, 1, 2], setup.sampling,
                                 [np.random.default_rng(seed)])[0]
        assert z.shape == (37, 1) and np.array_equal(z, alone)


def test_weighing_by_alpha_instead_would_be_seen():
    """The same points weighed by ``α`` instead of the realised fractions: that estimator's
    bias for ``E[x^2]`` (0.068) is over 5 times the standard error of the test above (0.012
    over its 800 replicates), so the test above would see it."""
    comps = [stats.norm(1.5, np.sqrt(0.5)), stats.t(5, -1.0, 1.0), stats.norm(0, 1)]
    alpha, counts = np.array([0.63, 0.07, 0.30]), np.array([6, 1, 3])
    grid = np.linspace(-12, 12, 200_001)
    dens = np.column_stack([c.pdf(grid) for c in comps])
    f = stats.norm.pdf(grid)
    step = grid[1] - grid[0]
    by_alpha = np.sum(grid**2 * f * (dens @ (counts / 10)) / (dens @ alpha)) * step
    assert by_alpha - 1.0 > 5 * 0.012


def test_rqmc_aiscv_final_stage_alone_says_which_interval():
    res = me.expectations(smooth, NORM2, budget=3000, rng=5, sampling="rqmc", replicates=4,
                          pool_adaptive=False)
    diag = res.diagnostics
    assert (diag["sampling"], diag["interval"], diag["dof"]) == ("rqmc", "student-t", 3)
    assert diag["n_pooled"] == 0 and diag["replicates"] == 4
    assert sum(diag["allocation"]) == diag["points_per_replicate"]
    _, high = res.confidence_interval(0.9)
    assert np.allclose(high - res.estimate, stats.t.ppf(0.95, 3) * res.stderr)
    assert res.n_evaluations <= 3000 and res.settings["replicates"] == 4


def test_rqmc_aiscv_pools_the_stages_with_welch_dof():
    res = me.expectations(smooth, NORM2, budget=3000, rng=5, sampling="rqmc", replicates=4)
    alone = me.expectations(smooth, NORM2, budget=3000, rng=5, sampling="rqmc",
                            replicates=4, pool_adaptive=False)
    diag = res.diagnostics
    assert (diag["interval"], diag["n_pooled"] > 0) == (INTERVAL_POOLED, True)
    lambdas = np.array(diag["pooled_lambdas"])
    assert np.allclose(lambdas.sum(axis=0), 1.0) and np.all(lambdas >= 0)
    assert 3 <= diag["dof"] < np.inf  # at least the replicates' R - 1
    _, high = res.confidence_interval(0.9)
    assert np.allclose(high - res.estimate, stats.t.ppf(0.95, diag["dof"]) * res.stderr)
    # the same final replicates: pooling the stages only adds information
    assert np.all(res.stderr <= alone.stderr)


def test_one_net_final_stage_is_exactly_unbiased():
    """The one-net form on the frozen proposal with unequal weights, 400 studies of two
    sequences of 16 points: every block's estimate, its coefficients fitted on the other
    sequence, within 4 standard errors of the exact moments."""
    law = me.Law([stats.norm(0, 1)])
    opts = AiscvOptions(batch_size=10, pilot_size=10, adaptation_cap=10, pilot_hits=0)
    values = []
    for seed in range(400):
        setup = EngineSetup.build([law], _moments, budget=42, seed=seed, options=opts)
        out = final_one_net(init(setup), _frozen_candidate(setup), 32, 4)
        assert out.values.shape == (4, 2) and out.points_per_replicate == 8
        assert sum(out.allocation) == 32 and out.blocks == 4
        values.append(out.values.mean(axis=0))
    values = np.array(values)
    z = (values.mean(axis=0) - MOMENTS) / (values.std(axis=0, ddof=1) / np.sqrt(len(values)))
    assert np.all(np.abs(z) < 4), z


def test_one_net_final_stage_refuses_blocks_of_fewer_than_2_points():
    law = me.Law([stats.norm(0, 1)])
    setup = EngineSetup.build([law], _moments, budget=42, seed=0)
    with pytest.raises(ValueError, match="too few for one RQMC net of 16 blocks"):
        final_one_net(init(setup), _frozen_candidate(setup), 31, 16)


def test_one_net_points_pick_the_atom_by_the_last_coordinate():
    """One sequence of ``d + 2`` coordinates (the Student t's ``d + 1`` and the pick): the
    last coordinate below 0.63 picks the Gaussian, then the t up to 0.70, then the law."""
    law = me.Law([stats.norm(0, 1)])
    setup = EngineSetup.build([law], _moments, budget=40, seed=3)
    atoms = atoms_of(_frozen_candidate(setup).proposal, 1, law_kept=False)
    z, pick = one_net_points(atoms, 64, setup.sampling, np.random.default_rng(7))
    u = sobol_uniform(64, 3, np.random.default_rng(7))
    assert np.array_equal(pick, np.searchsorted([0.63, 0.70, 1.0], u[:, 2], side="right"))
    gauss = pick == 0
    assert np.array_equal(z[gauss, 0], 1.5 + np.sqrt(0.5) * stats.norm.ppf(u[gauss, 0]))
    assert np.allclose(z[pick == 2, 0], stats.norm.ppf(u[pick == 2, 0]))


def test_rqmc_aiscv_one_net_says_which_interval():
    res = me.expectations(smooth, NORM2, budget=3000, rng=5, sampling="rqmc", replicates=1,
                          pool_adaptive=False)
    diag = res.diagnostics
    assert (diag["interval"], diag["dof"], diag["blocks"]) == ("net-blocks", 15, 16)
    assert (diag["replicates"], diag["nets"]) == (1, ONE_NET_NETS)
    assert diag["replicate_values"] is None and res.settings["blocks"] == 16
    assert res.n_evaluations <= 3000
    assert sum(diag["allocation"]) == 16 * diag["points_per_block"]
    _, high = res.confidence_interval(0.9)
    assert np.allclose(high - res.estimate, stats.t.ppf(0.95, 15) * res.stderr)
    assert "blocks of 2 scrambled nets" in res.summary()
    pooled = me.expectations(smooth, NORM2, budget=3000, rng=5, sampling="rqmc",
                             replicates=1, blocks=8)
    assert pooled.diagnostics["interval"] == INTERVAL_POOLED
    assert pooled.diagnostics["dof"] >= 7 and pooled.diagnostics["blocks"] == 8
    assert "blocks of 2 scrambled nets" in pooled.summary()


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"blocks": 8}, "'blocks'"),                                   # without replicates=1
    ({"replicates": 1, "blocks": 6}, "'blocks'"),                  # not a power of 2
    ({"replicates": 1, "blocks": 1024, "budget": 2000}, "'blocks'"),  # too many
    ({"replicates": 1, "method": "mc"}, "'replicates'"),           # aiscv only
])
def test_one_net_refuses_bad_blocks_before_any_run(kwargs, named):
    calls = []

    def model(x):
        calls.append(len(x))
        return smooth(x)

    args = {"budget": 3000, "rng": 1, "sampling": "rqmc", **kwargs}
    with pytest.raises(ValueError, match=named):
        me.expectations(model, NORM2, **args)
    assert calls == []


def test_cross_fitted_stage_is_exactly_unbiased():
    """Stage 1's cross-fitted ISCV mean over 300 studies: within 4 of its standard errors of
    the exact moments (its proposal and control coefficients were fitted elsewhere)."""
    law = me.Law([stats.norm(0, 1)])
    opts = AiscvOptions(batch_size=40, pilot_size=40, adaptation_cap=80, pilot_hits=0)
    values = []
    for seed in range(300):
        setup = EngineSetup.build([law], _moments, budget=200, seed=seed, options=opts)
        state = last_state(setup)
        mean, beta = cross_fitted_stage(state, 1)
        assert beta is not None
        values.append(mean)
    values = np.array(values)
    z = (values.mean(axis=0) - MOMENTS) / (values.std(axis=0, ddof=1) / np.sqrt(len(values)))
    assert np.all(np.abs(z) < 4), z


@pytest.mark.parametrize(("limit", "replicates"), [(2, 4), (6, 4), (6, 1)])
def test_resumed_rqmc_aiscv_study_is_bit_identical(limit, replicates):
    """Interrupted in the adaptive stages (2) or in the final stage (6: a replicate, or the
    second sequence of the one-net form)."""
    laws = [NORM2, me.Law([stats.norm(0.5, 1), stats.norm(1, 1.5)])]
    kwargs = {"budget": 3000, "rng": 11, "sampling": "rqmc", "replicates": replicates,
              "study_id": "rqmc-aiscv"}
    whole = me.expectations(smooth, laws, **kwargs)
    assert_resumes_bit_for_bit(smooth, laws, whole, limit, **kwargs)


@pytest.mark.parametrize("replicates", [4, 1])  # replicates; the one-net final stage
def test_sobol_and_perturbed_law_indices_take_rqmc_aiscv(replicates):
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
    sob = me.sobol_indices(lambda x: x[:, 0] + 0.5 * x[:, 1], law, budget=4000, rng=1,
                           sampling="rqmc", replicates=replicates)
    # the final replicates (or blocks) pooled with the adaptive stages: Welch's dof, at
    # least R - 1 (B - 1)
    floor = 3 if replicates > 1 else 15
    assert sob.diagnostics["dof"] >= floor and sob.diagnostics["sampling"] == "rqmc"
    assert ("blocks of 2 scrambled nets" in sob.summary()) == (replicates == 1)
    pert = me.mean_shift_perturbations(law, delta=0.5)
    pli = me.perturbed_law_indices(lambda x: 3 + x[:, 0] + 0.2 * x[:, 1], law, pert,
                                   budget=4000, rng=0, sampling="rqmc",
                                   replicates=replicates)
    dof = pli.diagnostics["dof"]
    assert dof >= 3
    _, high = pli.confidence_interval()
    assert np.allclose(high - pli.indices, stats.t.ppf(0.975, dof) * pli.stderr)


@pytest.mark.parametrize("method", ["mc", "mixture-mc"])
def test_perturbed_law_rqmc_baselines_are_the_expectations_ones(method):
    # the baselines' Q_l are expectations(method, sampling="rqmc") of the same laws, bit for
    # bit (same seed, same nets); the indices' interval is Student's t on R - 1 dof
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)
    model = lambda x: np.exp(0.3 * x[:, 0]) + x[:, 1] ** 2  # noqa: E731
    pli = me.perturbed_law_indices(model, law, pert, budget=4000, rng=3, method=method,
                                   sampling="rqmc", replicates=4)
    laws = [law, *pert.values()]
    ref = me.expectations(model, laws, budget=4000, rng=3, method=method, sampling="rqmc",
                          replicates=4)
    assert np.array_equal(pli.quantities, ref.estimate)
    reps = ref.diagnostics["replicates"]
    assert reps >= 4 and pli.diagnostics["dof"] == reps - 1
    assert pli.diagnostics["interval"] == "student-t"
    _, high = pli.confidence_interval()
    assert np.allclose(high - pli.indices, stats.t.ppf(0.975, reps - 1) * pli.stderr)
    assert pli.n_evaluations == ref.n_evaluations <= 4000
    assert f"intervals: Student's t on {reps - 1} degrees of freedom" in pli.summary()
    iid = me.perturbed_law_indices(model, law, pert, budget=4000, rng=3, method=method)
    assert "intervals" not in iid.summary()


# ---------------------------------------------------------------------- bisection (issue 16)
class RaisesOnNegative:
    """A vectorised model undefined below -2.5 in its first input (it raises on the batch)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if np.any(x[:, 0] < -2.5):
            raise ValueError("negative radius")
        return x[:, 0] ** 2


def test_a_raising_vectorised_model_is_bisected_to_its_failing_points():
    from multiexpect.evaluation.executors import run_chunk

    x = np.linspace(-3, 3, 1000)[:, None]
    model = RaisesOnNegative()
    out = run_chunk(model, x, pointwise=False, isolate=True)
    bad = x[:, 0] < -2.5
    assert np.array_equal(~out.ok, bad)
    assert np.array_equal(out.y[out.ok, 0], x[~bad, 0] ** 2)
    assert all("negative radius" in e for e, b in zip(out.errors, bad) if b)
    # 84 contiguous failing points: about two calls per failing point and two per level
    assert model.calls <= 2 * bad.sum() + 2 * 10 + 1 < x.shape[0]
    quick = run_chunk(RaisesOnNegative(), x, pointwise=False, isolate=False)
    assert np.array_equal(~quick.ok, bad)  # 84 failing points, all in the first eighth


def test_error_names_a_failing_input_and_the_others_are_stored():
    law = me.Law([stats.norm(0, 1)])
    with pytest.raises(me.errors.ModelEvaluationError, match="first failing input") as info:
        me.expectations(RaisesOnNegative(), law, budget=4000, rng=1, method="mc")
    assert info.value.first_input[0] < -2.5
    store = me.InMemoryStore()
    with pytest.raises(me.errors.ModelEvaluationError, match="are in the store"):
        me.expectations(RaisesOnNegative(), law, budget=4000, rng=1, method="mc",
                        store=store, study_id="bisect")


def test_leave_one_out_coefficients_are_the_other_replicates_least_squares():
    from multiexpect.engine.rqmc_final import ControlSums, refit_leave_one_out
    from multiexpect.estimators.control_variates import regress_controls

    rng = np.random.default_rng(3)
    reps = [(rng.standard_normal((50, 3)), rng.standard_normal((50, 2))) for _ in range(4)]
    reps = [(c, c[:, :2] @ np.array([[1.0, 0.5], [-2.0, 0.0]]) + r) for c, r in reps]
    sums = [ControlSums(50, r.sum(axis=0), c.sum(axis=0), c.T @ c, c.T @ r) for c, r in reps]
    mask = np.ones((2, 3), dtype=bool)
    values = refit_leave_one_out(sums, mask)
    for k, (c, r) in enumerate(reps):
        others = [reps[i] for i in range(4) if i != k]
        beta, _ = regress_controls(np.concatenate([o[1] for o in others]),
                                   np.concatenate([o[0] for o in others]), mask)
        assert np.allclose(values[k], r.mean(axis=0) - c.mean(axis=0) @ beta.T)


def test_the_replicates_refit_drops_a_near_collinear_direction():
    """Two controls whose difference has a relative singular value of about 3e-3: the
    i.i.d. cut-off (1e-3) keeps it and fits coefficients of opposite signs, the replicates'
    (:data:`REFIT_RCOND`) drops it and splits the slope between them."""
    from multiexpect.engine.rqmc_final import REFIT_RCOND
    from multiexpect.estimators.control_variates import RCOND, regress_from_moments

    rng = np.random.default_rng(4)
    c1 = rng.standard_normal(4000)
    c2 = c1 + 4e-3 * rng.standard_normal(4000)
    c = np.column_stack([c1, c2])
    r = (c1 + 2.0 * (c2 - c1) / 4e-3 + 0.1 * rng.standard_normal(4000))[:, None]
    sums = (4000, r.sum(axis=0), c.sum(axis=0), c.T @ c, c.T @ r)
    mask = np.ones((1, 2), dtype=bool)
    iid = regress_from_moments(*sums, mask)
    refit = regress_from_moments(*sums, mask, REFIT_RCOND)
    assert RCOND < REFIT_RCOND
    assert iid[0, 0] < -100 < 100 < iid[0, 1]
    assert np.allclose(refit[0], refit[0].mean(), rtol=1e-2) and abs(refit[0].sum() - 1.0) < 0.1

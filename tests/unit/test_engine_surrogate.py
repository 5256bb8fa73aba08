"""The polynomial chaos control of aISCV's RQMC final stage (``surrogate="chaos"``,
``engine/surrogate.py``): the same runs, an estimate within its errors that are far smaller
where the chaos follows the model, no control where it does not, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.engine.surrogate import CAPPED, FULL, FinalSurrogate, check_surrogate
from multiexpect.polychaos import RESOLUTION, multi_indices
from multiexpect.problem import Problem
from tests.helpers import CountingModel

#: the beam-like smooth model: ``exp(0.3 x_1) (1 + x_2^2 / 4)`` under three laws
LAWS = [me.Law([stats.norm(m, s), stats.norm(1.0, 0.5)])
        for m, s in ((0.0, 1.0), (0.5, 0.8), (-0.3, 1.3))]


def _smooth(x):
    return np.exp(0.3 * x[:, 0]) * (1.0 + x[:, 1] ** 2 / 4.0)


def _truth():
    """``E[exp(0.3 X_1)] E[1 + X_2^2 / 4]`` under each law."""
    second = 1.0 + (1.0 + 0.25) / 4.0
    return np.array([np.exp(0.3 * m + 0.045 * s**2) * second
                     for m, s in ((0.0, 1.0), (0.5, 0.8), (-0.3, 1.3))])


def _run(model, surrogate=None, rng=3, **kw):
    return me.expectations(model, LAWS, budget=6000, rng=rng, sampling="rqmc",
                           weights="absolute", surrogate=surrogate, **kw)


def test_chaos_control_is_within_its_errors_and_far_tighter():
    plain, chaos = _run(_smooth), _run(_smooth, "chaos")
    record = chaos.diagnostics["surrogate"]
    assert record["surrogate"] == "chaos" and all(record["controlled"])
    assert record["degree"] >= 2 and max(record["residual_share"]) < 0.1
    assert np.all(np.abs(chaos.estimate - _truth()) < 4 * chaos.stderr)
    assert np.all(chaos.stderr > 0)
    assert np.sum(chaos.stderr**2) < 0.1 * np.sum(plain.stderr**2)
    assert "polynomial chaos control on 3 of 3 quantities" in chaos.summary()
    again = _run(_smooth, "chaos")  # same seed, same result
    assert np.array_equal(again.estimate, chaos.estimate)
    assert np.array_equal(again.stderr, chaos.stderr)


def test_chaos_control_runs_the_same_points():
    plain, chaos = CountingModel(_smooth), CountingModel(_smooth)
    _run(plain)
    _run(chaos, "chaos")
    assert plain.runs == chaos.runs == 6000
    assert np.array_equal(np.concatenate(plain.inputs), np.concatenate(chaos.inputs))


def test_an_indicator_is_left_uncontrolled_bit_for_bit():
    def event(x):
        return (x[:, 0] + 0.3 * np.sin(3 * x[:, 1]) > 1.2).astype(float)

    plain, chaos = _run(event), _run(event, "chaos")
    record = chaos.diagnostics["surrogate"]
    assert not any(record["controlled"])
    assert min(record["residual_share"]) > 0.5
    assert np.array_equal(plain.estimate, chaos.estimate)
    assert np.array_equal(plain.stderr, chaos.stderr)


@pytest.mark.parametrize("kw, words", [
    ({"surrogate": "kriging"}, "'surrogate' must be None or one of"),
    ({"surrogate": "chaos", "method": "mc", "sampling": "rqmc"}, "method 'aiscv'"),
    ({"surrogate": "chaos", "sampling": "mc"}, "sampling 'rqmc' or 'auto'"),
])
def test_bad_surrogate_is_refused_before_any_run(kw, words):
    model = CountingModel(_smooth)
    kw = {"sampling": "rqmc", **kw}
    with pytest.raises(ValueError, match=words):
        me.expectations(model, LAWS, budget=6000, rng=1, **kw)
    assert model.runs == 0


def test_law_means_of_a_known_polynomial():
    """``s = ζ`` (Hermite degree 1 of the first law's standard input): its mean is 0 under
    the first law (exactly: the net's points cancel against themselves) and the second
    law's mean in the first law's standard units under the second."""
    laws = [me.Law([stats.norm(0.0, 1.0)]), me.Law([stats.norm(1.0, 2.0)])]
    problem = Problem.build(laws, 2, "standard")
    alphas = multi_indices(1, 2)
    coef = np.zeros((alphas.shape[0], 1))
    coef[1] = 1.0  # He_1(ζ) = ζ, for both quantities (the model's one column)
    wide = np.full(2, np.inf)
    chaos = FinalSurrogate(alphas, np.array([False]), coef, coef, np.array([False]),
                           np.zeros(2, dtype=int), -wide, wide, np.zeros(2),
                           np.ones(2, dtype=bool), np.zeros(2), 0)
    means = np.array([chaos.law_means(problem, seed=5, key=7, row=r) for r in range(4)])
    assert np.all(np.abs(means[:, 0]) < 1e-12)
    assert np.all(np.abs(means[:, 1] - 1.0) < 1e-2)
    assert len({float(m) for m in means[:, 1]}) == 4  # each row its own net


def test_a_model_the_chaos_reproduces_keeps_its_errors_at_the_resolution():
    """``x_1^2 + x_2`` is a polynomial of the first law's standard inputs: its replicates
    agree to rounding, so its standard error is kept at :data:`RESOLUTION` of its size and
    its interval is Student's t on it, never narrower (and it holds the truth)."""
    def quadratic(x):
        return x[:, 0] ** 2 + x[:, 1]

    truth = np.array([m**2 + s**2 + 1.0 for m, s in ((0.0, 1.0), (0.5, 0.8), (-0.3, 1.3))])
    res = _run(quadratic, "chaos")
    floored = res.diagnostics["resolution_floor"]
    assert 0 in floored  # the first law's integration is exact: nothing but rounding left
    scale = np.sqrt(np.mean(truth**2))
    assert np.all(res.stderr[floored] >= 0.1 * RESOLUTION * scale)
    low, high = res.confidence_interval()
    assert np.all(high - low > 0)
    assert np.all((low <= truth) & (truth <= high))
    t = stats.t.ppf(0.975, res.diagnostics["dof"])
    assert np.allclose((high - low)[floored] / 2, t * res.stderr[floored])


def test_the_one_net_form_takes_the_control_block_by_block():
    """``replicates=1``: each block of the two sequences adds its own integration nets; the
    estimate stays within its (conservative) errors, far tighter than without."""
    plain = _run(_smooth, replicates=1, blocks=8)
    chaos = _run(_smooth, "chaos", replicates=1, blocks=8)
    assert chaos.diagnostics["interval"] == "net-blocks"
    assert all(chaos.diagnostics["surrogate"]["controlled"])
    assert np.all(np.abs(chaos.estimate - _truth()) < 4 * chaos.stderr)
    assert np.sum(chaos.stderr**2) < 0.1 * np.sum(plain.stderr**2)


def test_too_few_earlier_runs_for_a_chaos_control_nothing():
    """In 30 inputs degree 1 needs 620 earlier runs: with fewer the study ends as without
    the option (no error after runs were paid for), and says so."""
    law = me.Law([stats.norm()] * 30)

    def model(x):
        return np.exp(0.1 * x.sum(axis=1))

    plain = me.expectations(model, law, budget=1200, rng=4, sampling="rqmc")
    chaos = me.expectations(model, law, budget=1200, rng=4, sampling="rqmc",
                            surrogate="chaos")
    record = chaos.diagnostics["surrogate"]
    assert record["degree"] == 0 and not any(record["controlled"])
    assert record["fit_runs"] < 20 * 31
    assert np.array_equal(plain.estimate, chaos.estimate)


def test_an_openturns_law_kept_as_such_takes_the_control():
    """A law OpenTURNS keeps (a Clayton copula: no ``support_box``) takes Hermite
    polynomials of its standard scores: the study runs to the end with the control (it
    stopped with an AttributeError after its runs before)."""
    import openturns as ot

    dist = ot.JointDistribution([ot.Normal(0.0, 1.0), ot.Normal(1.0, 0.5)],
                                ot.ClaytonCopula(2.0))
    res = me.expectations(_smooth, dist, budget=4000, rng=1, sampling="rqmc",
                          surrogate="chaos")
    assert all(res.diagnostics["surrogate"]["controlled"])
    assert np.all(res.stderr > 0) and np.all(np.isfinite(res.estimate))


def test_fit_runs_beyond_the_cap_are_thinned_in_run_order():
    """:func:`_thinned` keeps every ``k``-th fit run, at most ``cap``, and nothing changes
    below the cap."""
    from multiexpect.engine.surrogate import _thinned
    rows = np.ones(1000, dtype=bool)
    rows[::7] = False  # 857 fit runs
    assert _thinned(rows, 857) is rows
    kept = _thinned(rows, 300)
    assert kept.sum() <= 300 and kept.sum() >= 250 and not np.any(kept & ~rows)
    # spread over the whole run order, not the first runs alone
    assert np.flatnonzero(kept)[-1] > 900


def test_a_capped_fit_still_controls_and_stays_within_its_errors(monkeypatch):
    """With the fit cap below the earlier runs (a budget in the millions, in miniature) the
    chaos is fitted on every ``k``-th earlier run, the kept batch's shares still read on all
    its runs: the control still acts and the estimate stays within its errors."""
    import multiexpect.engine.surrogate as surrogate

    def run():
        return me.expectations(_smooth, LAWS, budget=20_000, rng=3, sampling="rqmc",
                               weights="absolute", surrogate="chaos")
    full = run()
    monkeypatch.setattr(surrogate, "FIT_ROWS_CAP", 4000)
    capped = run()
    record = capped.diagnostics["surrogate"]
    assert record["fit_runs"] <= 4000 < full.diagnostics["surrogate"]["fit_runs"]
    assert all(record["controlled"])
    assert np.all(np.abs(capped.estimate - _truth()) < 4 * capped.stderr)
    assert np.sum(capped.stderr**2) < 2 * np.sum(full.stderr**2)


def test_the_held_basis_refuses_rows_it_does_not_hold():
    """The final stage's chaos basis is held on the fit runs and the kept batch only: a row
    outside them is a ValueError, never a row of zeros."""
    from multiexpect.engine.surrogate import _held_basis
    from multiexpect.polychaos import multi_indices
    zeta = np.random.default_rng(0).standard_normal((10, 2))
    held = np.arange(10) < 6
    basis = _held_basis(zeta, np.ones(10, dtype=bool), held, np.zeros(2, dtype=bool),
                        multi_indices(2, 2))
    assert basis(np.arange(10) < 3).shape == (3, 6)
    with pytest.raises(ValueError, match="held on the fit runs and the kept batch only"):
        basis(np.arange(10) > 7)


def test_auto_is_the_light_form_for_several_laws_and_nothing_for_one():
    assert check_surrogate("auto", "aiscv", "auto", 3) == CAPPED
    assert check_surrogate("auto", "aiscv", "rqmc", 3) == CAPPED
    assert check_surrogate("auto", "aiscv", "auto", 1) is None
    assert check_surrogate("auto", "mc", "rqmc", 3) is None  # no final stage to control
    assert check_surrogate("auto", "aiscv", "mc", 3) is None
    assert check_surrogate("chaos", "aiscv", "auto", 1) == FULL


def test_the_default_capped_form_is_unbiased_and_tighter_over_seeds():
    """The default (``surrogate="auto"``) under three laws: the capped chaos, here of
    degree 2 on 2048 points a law and row. Over 20 seeds, against no control on the same
    runs: a smaller summed squared error (measured 8.8e-8 against 1.4e-7), no error beyond
    4 standard errors."""
    plain_err, capped_err = [], []
    for seed in range(20):
        plain = _run(_smooth, rng=seed)
        capped = me.expectations(_smooth, LAWS, budget=6000, rng=seed, sampling="rqmc",
                                 weights="absolute")
        if seed == 0:
            record = capped.diagnostics["surrogate"]
            assert (record["form"], record["degree"], record["integration_points"]) == (
                "capped", 2, 2048)
        assert np.all(np.abs(capped.estimate - _truth()) < 4 * capped.stderr)
        plain_err.append(plain.estimate - _truth())
        capped_err.append(capped.estimate - _truth())
    assert np.sum(np.square(capped_err)) < np.sum(np.square(plain_err))


def test_the_cap_halves_the_points_then_lowers_the_degree():
    # the 100-law beam: 210 terms on 2048 points a law and row, 8 rows, cut to 28 on 256
    assert CAPPED.size(4, 6, 100, 8) == (2, 256)
    assert CAPPED.size(6, 2, 3, 8) == (2, 2048)  # three laws: degree 2, within the cap
    assert CAPPED.size(2, 15, 7, 8) == (2, 1024)
    assert CAPPED.size(3, 6, 10_000, 8) == (1, 256)  # never below degree 1
    assert FULL.size(4, 6, 100, 8) == (4, 2048)

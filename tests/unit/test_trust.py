"""The small-ESS flag: an event probability resting on fewer than FEW_HITS effective hits,
or another quantity on fewer than FEW_POINTS effective points (Kish), is marked as not to
be trusted (result.trust, summary(), the command's report); a well-sampled one is not
(fixed seeds)."""

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.estimators.effective_size import KishSize, kish_size
from multiexpect.intervals import (
    FEW_HITS,
    FEW_POINTS,
    FLAG_FEW_HITS,
    FLAG_FEW_POINTS,
    FLAG_NO_HIT,
    trust_flags,
)

LAW = me.Law([stats.norm()])
SUM4 = me.Law([stats.norm()] * 4)


def _three_events(x):
    y = x[:, 0]
    return np.column_stack([y, y > 1.0, y > 3.1, y > 6.0])


def test_trust_flags_rule():
    k = np.array([np.nan, 0.0, 0.0, 3.0, FEW_HITS - 0.1, FEW_HITS, 500.0])
    p = np.array([0.3, 0.0, -1e-6, 1e-4, 1e-3, 1e-3, 0.2])
    assert trust_flags(p, k) == ["", FLAG_NO_HIT, FLAG_NO_HIT, FLAG_FEW_HITS, FLAG_FEW_HITS,
                                 "", ""]


def test_few_hits_are_flagged_and_many_are_not():
    """Crude MC, 3000 runs: P(Y > 1) = 0.16 has ~480 hits, P(Y > 3.1) = 9.7e-4 has ~3,
    P(Y > 6) = 1e-9 none."""
    res = me.expectations(_three_events, LAW, budget=3000, rng=5, method="mc")
    hits = res.diagnostics["hits"]
    assert hits[1] > 300 and 0 < hits[2] < FEW_HITS and hits[3] == 0
    assert res.trust == ("", "", FLAG_FEW_HITS, FLAG_NO_HIT)
    n_eff = res.effective_sample_size
    assert np.isnan(n_eff[0]) and n_eff[3] == 0.0
    np.testing.assert_allclose(n_eff[1:3], 3000 - 1, rtol=1e-9)  # crude MC: n (ddof = 1)
    lines = res.summary().splitlines()
    rows = {line.split()[0]: line for line in lines[3:7]}
    assert rows["I3"].endswith(" !") and rows["I4"].endswith(" !")
    assert not rows["I2"].endswith("!") and rows["I1"].endswith("–")
    assert any(line.startswith("warning: I3: only") and "not to be trusted" in line
               for line in lines)
    assert not any(line.startswith("warning: I2") for line in lines)
    back = me.ExpectationResult.from_json(res.to_json())
    assert back.trust == res.trust


def test_a_rare_event_reached_by_the_ladder_is_not_flagged():
    """P(X1 + ... + X4 > 8.5) = 1.07e-5 from 10^4 runs: hundreds of effective hits."""
    res = me.expectations(lambda x: x.sum(axis=1), SUM4, budget=10_000, rng=2,
                          quantities=[me.Moment(0, 1), me.Exceedance(0, 8.5)])
    assert res.trust == ("", "")
    assert res.effective_hits[1] > 10 * FEW_HITS
    assert "!" not in res.summary() and "warning" not in res.summary()


def test_curve_summary_marks_few_hits_and_no_hit():
    """Crude MC, 4000 runs: P(sum > 6) = 1.3e-3 (~5 hits) and P(sum > 7) = 2.3e-4 are
    flagged, P(sum > 8..10) are upper bounds, P(sum > 2..5) (23 hits and more) are not."""
    curve = me.exceedance_curve(lambda x: x.sum(axis=1), SUM4, np.arange(2.0, 11.0),
                                budget=4000, rng=3, method="mc")
    tails = [line.split()[-1] for line in curve.summary().splitlines()[1:10]]
    assert tails[4:6] == ["!", "!"] and tails[6:] == ["hit"] * 3
    assert all(t[0].isdigit() for t in tails[:4])
    assert curve.result.trust[:4] == ("",) * 4


# --- quantities that are no event: Kish's effective points of the final responses ---------


def test_kish_size_streams_and_never_overflows():
    rng = np.random.default_rng(0)
    y = np.zeros((500, 3))
    y[:, 0] = rng.standard_normal(500)
    y[:, 1] = y[:, 0] * 1e200  # its squares would overflow
    y[7, 2] = 3e-200
    whole = kish_size(y)
    size = KishSize(3)
    for part in np.array_split(y, 7):
        size.update(part)
    direct = np.sum(np.abs(y[:, 0])) ** 2 / np.sum(y[:, 0] ** 2)
    np.testing.assert_allclose(size.value, whole, rtol=1e-12)
    np.testing.assert_allclose(whole[:2], direct, rtol=1e-12)  # scale-free
    assert whole[2] == 1.0  # one point carries the column
    assert kish_size(np.full((40, 1), -2.0))[0] == 40.0  # equal weights: n
    assert kish_size(np.zeros((5, 1)))[0] == 0.0


def test_trust_flags_rule_for_points():
    k = np.array([np.nan, np.nan, np.nan, 3.0])
    p = np.array([1.0, 2.0, 3.0, 1e-3])
    m = np.array([FEW_POINTS - 1, FEW_POINTS, np.nan, 1.0])
    assert trust_flags(p, k, m) == [FLAG_FEW_POINTS, "", "", FLAG_FEW_HITS]


def test_a_heavy_integrand_on_a_tiny_budget_is_flagged():
    """E[exp(4 Z)] = e^8 from 300 runs: a handful of points carry the estimate, under the
    engine's i.i.d. final stage and under its RQMC one."""
    for sampling in ("mc", "rqmc"):
        res = me.expectations(lambda x: np.exp(4.0 * x), LAW, budget=300, rng=1,
                              sampling=sampling)
        assert res.effective_points[0] < 0.2 * FEW_POINTS
        assert res.trust == (FLAG_FEW_POINTS,)
        lines = res.summary().splitlines()
        assert lines[0].endswith("model runs") and lines[1].split()[-1] == "points"
        assert lines[3].endswith(" !")
        assert lines[4].startswith("warning: I1: only") and "effective points" in lines[4]
        back = me.ExpectationResult.from_json(res.to_json())
        assert back.trust == res.trust


def test_light_quantities_are_not_flagged():
    """E[Y], E[Y^2] and P(Y > 3) of Y = X1 + ... + X4 from 2000 runs: hundreds of effective
    points (the event keeps its effective hits, not the points); the same by separate IS
    and on the law route of sampling='auto'."""
    def model(x):
        y = x.sum(axis=1)
        return np.column_stack([y, y * y, y > 3.0])

    for kw in ({}, {"method": "separate-is"}, {"sampling": "auto"}):
        res = me.expectations(model, SUM4, budget=2000, rng=4, **kw)
        points = res.effective_points
        assert np.all(points[:2] > 2 * FEW_POINTS), (kw, points)
        assert res.trust == ("", "", "")
        text = res.summary()
        assert "eff. points" in text and "!" not in text and "warning" not in text
    crude = me.expectations(model, SUM4, budget=2000, rng=4, method="mc")
    assert np.all(np.isnan(crude.effective_points))  # not recorded: never flagged
    assert "eff. points" not in crude.summary()


def test_effective_hits_are_at_most_the_final_stages_effective_points():
    """A standard error measured on a few heavy hits: 25 effective hits by it, 2.8 hits
    carrying the final stage (Kish): flagged (a fuzz's curve point, 17 times its truth)."""
    res = me.expectations(_three_events, LAW, budget=3000, rng=5, method="mc")
    assert res.trust[1] == ""
    few = dict(res.diagnostics, effective_points=[400.0, 2.8, 1.0, 0.0])
    capped = me.ExpectationResult.from_dict({**res.to_dict(), "diagnostics": few})
    assert capped.effective_hits[1] == 2.8 and capped.trust[1] == FLAG_FEW_HITS
    np.testing.assert_array_equal(capped.confidence_interval(0.95)[0],
                                  res.confidence_interval(0.95)[0])  # the interval unchanged
    # without effective points recorded (crude MC's here), nothing is capped
    assert np.isnan(res.effective_points).all() and res.effective_hits[1] > 400

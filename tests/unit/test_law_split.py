"""``sampling="auto"``, the split route: when an event sends the pilot to adaptation, the
light quantities that are no event stay on nets of the law (the law route's nets, bit for
bit) and the events adapt without them."""

from __future__ import annotations

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.engine.law_first import ADAPTIVE_ROUTE, PILOT_REPLICATES, LawPlan
from multiexpect.engine.law_split import SPLIT_ROUTE, split_replicates
from multiexpect.intervals import event_interval
from multiexpect.sampling.rqmc import describe_interval
from tests.helpers import assert_resumes_bit_for_bit

SUM5 = me.Law([stats.norm()] * 5)
LEVELS = (2.326 * np.sqrt(5), 4.753 * np.sqrt(5))
TRUTH = np.array([0.0, 5.0, stats.norm.sf(2.326), stats.norm.sf(4.753)])
QUANTITIES = [me.Moment(0, 1), me.Moment(0, 2), *(me.Exceedance(0, t) for t in LEVELS)]


def _sum(x):
    return x.sum(axis=1)


def test_moments_on_the_law_nets_and_events_adapted():
    res = me.expectations(_sum, SUM5, budget=10_000, rng=100, sampling="auto",
                          quantities=QUANTITIES)
    diag = res.diagnostics
    assert diag["route"] == SPLIT_ROUTE and diag["law_quantities"] == [0, 1]
    assert "fewer than" in diag["route_reason"]
    # the summary says which quantities have the nets' interval
    note = [line for line in res.summary().splitlines() if line.startswith("intervals")]
    assert note == [f"intervals of {res.names[0]}, {res.names[1]}: "
                    + describe_interval(diag)]
    reps, n = diag["replicates"], diag["points_per_replicate"]
    assert reps > PILOT_REPLICATES and diag["dof"] == reps - 1
    assert res.n_evaluations <= 10_000
    # the moments are plain RQMC of the law on the first `reps` nets, to the last bit
    plain = me.expectations(_sum, SUM5, budget=reps * n, rng=100, method="mc",
                            sampling="rqmc", replicates=reps, quantities=QUANTITIES[:2])
    assert plain.diagnostics["replicates"] == reps
    assert np.array_equal(res.estimate[:2], plain.estimate)
    assert np.array_equal(res.stderr[:2], plain.stderr)
    # every estimate within 4 of its standard errors of the truth; no component for the
    # moments: the last stage's mixture has the events' components and the law only
    assert np.all(np.abs(res.estimate - TRUTH) < 4 * res.stderr)
    assert res.trust == ("", "", "", "")
    labels = [c for h in res.history[1:] for c in h.get("components", [])]
    assert labels and not any(label.startswith("E[") for label in labels), labels


def test_law_nets_balance_the_two_groups():
    """``R_L = max(R_0 + 1, floor(R N / (J_a N + R n)))``: 9 nets of 1024 in a budget of
    10^4 give 3 nets with two quantities left to adapt (equal predicted ratios at 3.08),
    4 with one (4.68), never fewer than one net beyond the pilot's."""
    plan = LawPlan(9, 1024, 2)
    law = np.array([True, True, False, False])
    assert split_replicates(plan, law, 10_000) == 3
    assert split_replicates(plan, np.array([True, True, True, False]), 10_000) == 4
    assert split_replicates(plan, np.array([True] + [False] * 9), 10_000) == 3
    # with R_L nets the law quantities stand at sqrt(R / R_L) of plain RQMC, the others at
    # sqrt(J_a N / (N - R_L n)) of the whole budget: R_L is the last count where the
    # first is still the larger
    for law in (np.array([True, True, False, False]), np.array([True, True, True, False])):
        r = split_replicates(plan, law, 10_000)
        j_a = int((~law).sum())
        assert 9 / r >= j_a * 10_000 / (10_000 - r * 1024)
        assert 9 / (r + 1) < j_a * 10_000 / (10_000 - (r + 1) * 1024)


def test_settled_exceedance_steps_aside_while_another_climbs():
    """The 1e-2 event, fitted at its real level, has no component in a ladder batch drawn
    while the 1e-6 event still climbs; both have components again after the climb."""
    res = me.expectations(_sum, SUM5, budget=10_000, rng=101, sampling="auto",
                          quantities=QUANTITIES)
    assert res.diagnostics["route"] == SPLIT_ROUTE
    common, rare = (res.names[j] for j in (2, 3))
    stages = res.history[1:]

    def has(stage, name):
        return any(label[:-1] == name for label in stage["components"])

    assert all(has(s, rare) for s in stages)
    at_level = [k for k, s in enumerate(stages) if has(s, common) and common not in s["note"]]
    assert at_level, [s["note"] for s in stages]
    aside = [s for s in stages[at_level[0] + 1:] if rare in s["note"]]
    assert aside and not any(has(s, common) for s in aside)
    assert rare not in stages[-1]["note"] and has(stages[-1], common)


def test_no_split_without_a_light_quantity_to_keep():
    """Events alone (the event guard fires, nothing to keep on the nets): the adaptive
    route as before."""
    res = me.expectations(_sum, SUM5, budget=6000, rng=1, sampling="auto",
                          quantities=QUANTITIES[2:])
    assert res.diagnostics["route"] == ADAPTIVE_ROUTE
    assert "law_quantities" not in res.diagnostics


def test_resumed_split_study_is_bit_identical():
    """Interrupted between the extra nets (after 3 calls: the pilot's two nets and one more)
    and in the adaptive batches (after 6): the resumed study reads what was run, runs only
    the rest and gives the same bits."""
    kwargs = {"budget": 8000, "rng": 7, "sampling": "auto", "study_id": "split",
              "quantities": QUANTITIES}
    whole = me.expectations(_sum, SUM5, **kwargs)
    assert whole.diagnostics["route"] == SPLIT_ROUTE
    for limit in (3, 6):
        assert_resumes_bit_for_bit(_sum, SUM5, whole, limit, **kwargs)


def _heavy(x):
    x1, x2, x3 = x.T
    return np.column_stack([x1**2, x2, x2**2, np.abs(x3), (x2 > 5.0).astype(float),
                            (np.abs(x1) > 4.0).astype(float)])


HEAVY = me.Law([stats.t(5.0), stats.pareto(4.5), stats.t(5.0)])


def test_a_tail_of_infinite_kurtosis_is_not_left_to_the_law_nets():
    """``x_1^2`` of a Student t(5) and ``x_2^2`` of a Pareto(4.5) have a finite variance but
    an infinite kurtosis: a pilot of two nets reads it at 30-50 and the law route's guard
    would let them through, to be estimated on a few nets whose spread understates their
    error. The split's guard (half the law route's) keeps them adapting; ``|x_3|`` and the
    Pareto mean (finite kurtosis) stay on the nets on most seeds."""
    kept = [me.expectations(_heavy, HEAVY, budget=10_000, rng=seed).diagnostics
            .get("law_quantities", []) for seed in range(1000, 1010)]
    assert not any(0 in law or 2 in law for law in kept), kept
    assert sum(3 in law for law in kept) >= 5 and sum(1 in law for law in kept) >= 5, kept


def test_the_nets_degrees_of_freedom_are_theirs_alone():
    """On the split route the Student-t degrees of freedom of the nets apply to the
    quantities on the nets; the adapted ones (an i.i.d. final stage) keep the normal
    interval (they had ``t`` on the nets' two degrees of freedom: 2.2x too wide)."""
    res = me.expectations(_heavy, HEAVY, budget=10_000, rng=1003)
    diag = res.diagnostics
    law = np.zeros(len(res.estimate), dtype=bool)
    law[diag["law_quantities"]] = True
    low, high = res.confidence_interval()
    half = (high - low) / 2 / res.stderr
    events = np.asarray(diag["event"], dtype=bool)
    assert law.any() and (~law & ~events).any(), diag["law_quantities"]
    assert np.allclose(half[law], stats.t.ppf(0.975, diag["dof"]))
    assert np.allclose(half[~law & ~events], stats.norm.ppf(0.975))


def test_an_event_on_the_nets_takes_students_quantile():
    """An event estimated on nets of the law (RQMC replicates) has Wilson's interval with
    Student's quantile on the replicates' degrees of freedom; on the split route an event
    adapts (i.i.d. final) and keeps the normal quantile."""
    law = me.Law([stats.norm()] * 2)
    res = me.expectations(lambda x: (x[:, :1] > 1.0).astype(float), law, budget=4000, rng=4)
    assert res.diagnostics["route"] != SPLIT_ROUTE and res.diagnostics["dof"] >= 1
    low, high = res.confidence_interval()
    t_low, t_high = event_interval(res.estimate, res.stderr, 0.95,
                                   hits=res.diagnostics["hits"],
                                   law_draws=res.diagnostics["law_draws"],
                                   dof=res.diagnostics["dof"])
    z_low, z_high = event_interval(res.estimate, res.stderr, 0.95,
                                   hits=res.diagnostics["hits"],
                                   law_draws=res.diagnostics["law_draws"])
    assert np.array_equal(low, t_low) and np.array_equal(high, t_high)
    assert high[0] - low[0] > z_high[0] - z_low[0]

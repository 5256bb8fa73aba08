"""``sampling="auto"``, the split route: when an event sends the pilot to adaptation, the
light quantities that are no event stay on nets of the law (the law route's nets, bit for
bit) and the events adapt without them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.engine.law_first import ADAPTIVE_ROUTE, PILOT_REPLICATES
from multiexpect.engine.law_split import SPLIT_ROUTE
from tests.helpers import Interrupting

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
        store = me.InMemoryStore()
        crashing = Interrupting(_sum, limit=limit)
        with pytest.raises(KeyboardInterrupt):
            me.expectations(crashing, SUM5, store=store, **kwargs)
        again = Interrupting(_sum)
        resumed = me.expectations(again, SUM5, store=store, **kwargs)
        assert resumed.estimate.tobytes() == whole.estimate.tobytes()
        assert resumed.stderr.tobytes() == whole.stderr.tobytes()
        assert 0 < again.runs == whole.n_evaluations - crashing.runs

"""Runs shared between studies of one model in one store (``share_runs_with``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

LAW = me.Law([stats.norm()] * 2)
THRESHOLDS = [0.5, 1.5, 2.5]
CALLS: list[int] = []


def _model(x):
    CALLS.append(x.shape[0])
    return x[:, 0] + 0.5 * x[:, 1] ** 2


def _curve(store, study_id, shared=()):
    CALLS.clear()
    curve = me.exceedance_curve(_model, LAW, THRESHOLDS, budget=600, rng=4, method="mc",
                                store=store, study_id=study_id, share_runs_with=shared)
    return curve, sum(CALLS)


def test_a_study_reads_the_points_another_ran_and_resumes_from_its_own_copy(tmp_path):
    store = tmp_path / "s.sqlite"
    CALLS.clear()
    first = me.expectations(_model, LAW, budget=600, rng=4, method="mc", store=store,
                            study_id="moments")
    assert sum(CALLS) == 600
    alone, ran_alone = _curve(tmp_path / "alone.sqlite", "curve")
    shared, ran_shared = _curve(store, "curve", shared=("moments",))
    assert ran_alone == 600 and ran_shared == 0  # crude MC at one seed: the same 600 points
    assert np.array_equal(shared.probability, alone.probability)
    assert np.array_equal(shared.result.stderr, alone.result.stderr)
    again, ran_again = _curve(store, "curve")  # resumed without sharing: its own copy
    assert ran_again == 0 and np.array_equal(again.probability, alone.probability)
    assert first.n_evaluations == 600


@pytest.mark.parametrize("bad, message", [
    ({"share_runs_with": "moments"}, "tuple of study ids"),
    ({"share_runs_with": ("",)}, "tuple of study ids"),
    ({"share_runs_with": ("moments",), "store": None}, "give a store"),
])
def test_share_runs_with_checked_before_any_run(tmp_path, bad, message):
    kwargs = {"store": tmp_path / "s.sqlite", "study_id": "curve", **bad}
    CALLS.clear()
    with pytest.raises(ValueError, match=message):
        me.expectations(_model, LAW, budget=100, rng=1, method="mc", **kwargs)
    assert CALLS == []

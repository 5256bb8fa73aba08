"""``to_frame()`` on every result class: contents equal the result's arrays."""

import sys

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

pd = pytest.importorskip("pandas")

LAW = me.Law([stats.norm(1.0, 1.0), stats.lognorm(0.3), stats.uniform(0, 2)],
             names=["a", "b", "c"])


def linear(x):
    return 10.0 + x @ np.array([1.0, 2.0, 0.5])


def _expectation():
    return me.expectations(lambda x: np.column_stack([x[:, 0], x[:, 1] ** 2]), LAW,
                           budget=800, rng=1, names=["m", "s"], keep_sample=True)


def _sobol(orders=("first", "total")):
    return me.sobol_indices(linear, LAW, budget=3000, orders=orders, method="pick-freeze",
                            rng=2)


def _perturbed():
    return me.perturbed_law_indices(linear, LAW, me.mean_shift_perturbations(LAW, 0.5),
                                    budget=2000, method="mixture-mc", rng=3)


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_expectation_and_reanalysis_frames(level):
    study = _expectation()
    again = me.reanalyse(study, law=me.Law([stats.norm(1.1, 1.0), stats.lognorm(0.3),
                                            stats.uniform(0, 2)]), level=level)
    for res in (study, again):
        frame = res.to_frame(level)
        low, high = res.confidence_interval(level)
        assert list(frame.columns) == ["estimate", "stderr", "ci_low", "ci_high"]
        assert list(frame.index) == list(res.names) and frame.index.name == "quantity"
        np.testing.assert_array_equal(frame["estimate"], res.estimate)
        np.testing.assert_array_equal(frame["stderr"], res.stderr)
        np.testing.assert_array_equal(frame["ci_low"], low)
        np.testing.assert_array_equal(frame["ci_high"], high)
    # reanalyse records its interval in the diagnostics: the frame at that level agrees
    np.testing.assert_allclose(again.to_frame(level)["ci_low"], again.diagnostics["ci_low"])
    assert list(study.to_frame().index) == ["m", "s"]


def test_sobol_frame_has_one_row_per_input_and_both_orders():
    res = _sobol()
    frame = res.to_frame()
    assert list(frame.index) == ["a", "b", "c"] and frame.index.name == "input"
    assert list(frame.columns) == [
        "first_order", "first_order_stderr", "first_order_ci_low", "first_order_ci_high",
        "total_order", "total_order_stderr", "total_order_ci_low", "total_order_ci_high"]
    intervals = res.confidence_interval()
    for order in ("first", "total"):
        np.testing.assert_array_equal(frame[f"{order}_order"], getattr(res, f"{order}_order"))
        np.testing.assert_array_equal(frame[f"{order}_order_stderr"],
                                      getattr(res, f"{order}_order_stderr"))
        np.testing.assert_array_equal(frame[f"{order}_order_ci_low"], intervals[order][0])
        np.testing.assert_array_equal(frame[f"{order}_order_ci_high"], intervals[order][1])
    narrow = res.to_frame(0.5)
    assert np.all(narrow["total_order_ci_high"] < frame["total_order_ci_high"])


def test_sobol_frame_leaves_out_an_order_not_computed():
    res = _sobol(orders="total")
    frame = res.to_frame()
    assert list(frame.columns) == ["total_order", "total_order_stderr",
                                   "total_order_ci_low", "total_order_ci_high"]
    np.testing.assert_array_equal(frame["total_order"], res.total_order)
    assert not frame.isna().any().any()


def test_perturbed_law_frame_has_one_row_per_perturbation():
    res = _perturbed()
    frame = res.to_frame(0.9)
    assert list(frame.index) == list(res.names) == ["a+0.5sd", "a-0.5sd", "b+0.5sd",
                                                    "b-0.5sd", "c+0.5sd", "c-0.5sd"]
    assert frame.index.name == "perturbation"
    assert list(frame.columns) == ["index", "stderr", "ci_low", "ci_high", "quantity",
                                   "quantity_stderr"]
    low, high = res.confidence_interval(0.9)
    np.testing.assert_array_equal(frame["index"], res.indices)
    np.testing.assert_array_equal(frame["stderr"], res.stderr)
    np.testing.assert_array_equal(frame["ci_low"], low)
    np.testing.assert_array_equal(frame["ci_high"], high)
    np.testing.assert_array_equal(frame["quantity"], res.quantities[1:])
    np.testing.assert_array_equal(frame["quantity_stderr"], res.quantities_stderr[1:])


def test_frames_are_copies_of_the_frozen_arrays():
    res = _perturbed()
    frame = res.to_frame()
    frame.loc[:, "index"] = 0.0
    assert np.all(res.indices != 0.0)


@pytest.mark.parametrize("make", [_expectation, _sobol, _perturbed])
def test_to_frame_without_pandas_names_the_extra(make, monkeypatch):
    res = make()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"to_frame\(\) needs pandas: pip install "
                                          r"'multiexpect\[pandas\]'"):
        res.to_frame()

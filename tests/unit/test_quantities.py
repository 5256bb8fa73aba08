"""Quantities declared on raw outputs: checks before any run, and the same numbers as a
custom ``phi`` when no exceedance needs the ladder."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.quantities import QuantityMap


def _never_run(x):
    raise AssertionError("the model must not run")


LAW = me.Law([stats.norm(), stats.norm()])


@pytest.mark.parametrize("build, word", [
    (lambda: me.Exceedance(0, np.nan), "'Exceedance.threshold'"),
    (lambda: me.Exceedance(0, "3"), "'Exceedance.threshold'"),
    (lambda: me.Exceedance(0, 1.0, side="=>"), "'Exceedance.side'"),
    (lambda: me.Exceedance(-1, 1.0), "'Exceedance.output'"),
    (lambda: me.Moment(0, 0), "'Moment.power'"),
    (lambda: me.Moment(0, 1.5), "'Moment.power'"),
    (lambda: me.Output(True), "'Output.output'"),
])
def test_bad_declaration_is_refused_in_one_line(build, word):
    with pytest.raises(ValueError, match=word) as err:
        build()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("quantities, word", [
    ([], "'quantities'"),
    ("P(y > 1)", "'quantities'"),
    ([me.Moment(0, 2), 3], r"'quantities\[1\]'"),
    ([me.Moment(0, 2), me.Moment(0, 2)], "repeat"),
])
def test_bad_quantities_are_refused_before_any_run(quantities, word):
    with pytest.raises(ValueError, match=word) as err:
        me.expectations(_never_run, LAW, budget=100, rng=0, quantities=quantities)
    assert "\n" not in str(err.value)


def test_output_column_past_the_model_is_named():
    qmap = QuantityMap([me.Exceedance(2, 1.0)])
    with pytest.raises(ValueError, match="output column 2"):
        qmap.columns(np.zeros((4, 2)))


def test_columns_and_scores():
    qmap = QuantityMap([me.Output(1), me.Moment(0, 2), me.Exceedance(0, 1.0),
                        me.Exceedance(1, 0.0, side="<=")])
    y = np.array([[2.0, -1.0], [0.5, 0.0], [1.0, 3.0]])
    phi, scores = qmap.columns(y)
    np.testing.assert_array_equal(phi, [[-1, 4, 1, 1], [0, 0.25, 0, 1], [3, 1, 0, 0]])
    np.testing.assert_array_equal(scores[:, 2:], [[1, 1], [-0.5, 0], [0, -3]])
    assert np.all(np.isnan(scores[:, :2]))
    assert qmap.names() == ["E[y2]", "E[y1^2]", "P(y1 > 1)", "P(y2 <= 0)"]


@pytest.mark.parametrize("method", ["aiscv", "mc"])
def test_declared_quantities_give_the_custom_phi_numbers(method):
    """Moments and a common event: no ladder, the same draws, the same estimates."""
    def raw(x):
        return x[:, 0] + x[:, 1]

    def custom(x):
        y = raw(x)
        return np.column_stack([y, y**2, (y > 1.0).astype(float)])

    declared = me.expectations(raw, LAW, budget=3000, rng=4, method=method,
                               quantities=[me.Output(0), me.Moment(0, 2),
                                           me.Exceedance(0, 1.0)])
    phi = me.expectations(custom, LAW, budget=3000, rng=4, method=method)
    np.testing.assert_array_equal(declared.estimate, phi.estimate)
    np.testing.assert_array_equal(declared.stderr, phi.stderr)
    assert declared.names == ("E[y1]", "E[y1^2]", "P(y1 > 1)")
    assert declared.settings["quantities"][2] == {"kind": "exceedance", "output": 0,
                                                  "threshold": 1.0, "side": ">"}

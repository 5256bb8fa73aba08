"""Bad input: a clear ValueError naming what is wrong, before (further) model runs.

Every model here counts its calls, so each test also pins how many runs were spent before
the error.
"""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

LAW = me.Law([stats.norm(0, 1), stats.norm(0, 1)])
METHODS = ("aiscv", "mc", "mixture-mc", "separate-is")


class Counting:
    """A model that records the size of each batch it is called on."""

    def __init__(self, func):
        self.func = func
        self.calls = []

    def __call__(self, x):
        self.calls.append(x.shape[0])
        return self.func(x, len(self.calls))

    @property
    def runs(self):
        return sum(self.calls)


def good(x, call=0):
    return np.column_stack([x[:, 0] ** 2, x[:, 1]])


# ---------------------------------------------------------------------- model output
@pytest.mark.parametrize("method", METHODS)
def test_wrong_output_rows(method):
    model = Counting(lambda x, call: np.zeros(x.shape[0] + 1))
    with pytest.raises(ValueError, match=r"the model must return shape \(\d+,\) or \(\d+, m\)"):
        me.expectations(model, LAW, budget=200, method=method, rng=0)
    assert len(model.calls) == 1


def test_wrong_output_dimensions():
    model = Counting(lambda x, call: np.zeros((x.shape[0], 2, 2)))
    with pytest.raises(ValueError, match=r"got \(20, 2, 2\)"):
        me.expectations(model, LAW, budget=200, rng=0, sampling="mc")
    assert len(model.calls) == 1


def test_non_numeric_output():
    model = Counting(lambda x, call: ["a"] * x.shape[0])
    with pytest.raises(ValueError, match="the model must return an array of numbers"):
        me.expectations(model, LAW, budget=200, rng=0)
    assert len(model.calls) == 1


def test_output_columns_change_between_batches():
    model = Counting(lambda x, call: good(x) if call == 1 else x[:, :1] * np.ones((1, 3)))
    with pytest.raises(ValueError, match="the model returned 3 columns, but 2 earlier"):
        me.expectations(model, LAW, budget=200, rng=0)
    assert len(model.calls) == 2


# ---------------------------------------------------------------------- dimensions
def test_model_input_dimension_mismatch():
    model = Counting(good)
    model.input_dim = 3
    with pytest.raises(ValueError, match="the model takes 3 inputs but 'law' has dimension 2"):
        me.expectations(model, LAW, budget=200, rng=0)
    assert model.calls == []


def test_laws_of_different_dimensions():
    model = Counting(good)
    laws = [LAW, me.Law([stats.norm()] * 3)]
    with pytest.raises(ValueError, match=r"every law in 'law' must have the same dimension, "
                                         r"got \[2, 3\]"):
        me.expectations(model, laws, budget=200, rng=0)
    assert model.calls == []


@pytest.mark.parametrize("method", METHODS)
def test_several_laws_need_one_or_l_columns(method):
    laws = [me.Law([stats.norm(m, 1), stats.norm(0, 1)]) for m in (0.0, 0.5, 1.0)]
    model = Counting(good)
    with pytest.raises(ValueError, match="with 3 laws the model must return 1 or 3 columns, "
                                         "got 2"):
        me.expectations(model, laws, budget=300, method=method, rng=0, sampling="mc")
    assert len(model.calls) == 1


def test_law_of_wrong_type():
    with pytest.raises(ValueError, match=r"'law' must be a multiexpect\.Law, got rv_"):
        me.expectations(good, stats.norm(), budget=100)
    with pytest.raises(ValueError, match=r"'law\[1\]' must be a multiexpect.Law, got str"):
        me.expectations(good, [LAW, "x"], budget=100)
    with pytest.raises(ValueError, match="'law' must be a Law or a non-empty sequence"):
        me.expectations(good, [], budget=100)


# ---------------------------------------------------------------------- weights
@pytest.mark.parametrize("weights", [[1.0, 0.0], [1.0, -2.0], [np.nan, 1.0], [np.inf, 1.0]])
@pytest.mark.parametrize("method", METHODS)
def test_non_positive_weight(weights, method):
    model = Counting(good)
    with pytest.raises(ValueError, match="'weights' must be finite and positive"):
        me.expectations(model, LAW, budget=200, weights=weights, method=method, rng=0)
    assert model.calls == []


def test_unknown_weights_keyword():
    model = Counting(good)
    with pytest.raises(ValueError, match="'weights' must be 'relative', 'absolute' or positive"):
        me.expectations(model, LAW, budget=200, weights="equal", rng=0)
    assert model.calls == []


@pytest.mark.parametrize("method", METHODS)
def test_wrong_number_of_weights_stops_after_the_first_batch(method):
    """J is known only once the model has run; the count is checked right then."""
    model = Counting(good)
    with pytest.raises(ValueError, match=r"'weights' must have 2 entries \(one per quantity\), "
                                         r"got 3"):
        me.expectations(model, LAW, budget=200, weights=[1, 2, 3], method=method, rng=0,
                        sampling="mc")
    # aiscv: the pilot only; mc / mixture-mc: their single batch; separate-is: its probe
    assert len(model.calls) == 1


# ---------------------------------------------------------------------- budget
@pytest.mark.parametrize("budget", [0, 1, -5])
@pytest.mark.parametrize("method", METHODS)
def test_budget_below_two(budget, method):
    model = Counting(good)
    with pytest.raises(ValueError, match=f"'budget' must be at least 2 model runs, got {budget}"):
        me.expectations(model, LAW, budget=budget, method=method)
    assert model.calls == []


@pytest.mark.parametrize("budget", [100.0, "100", True, None])
def test_budget_not_an_int(budget):
    with pytest.raises(ValueError, match="'budget' must be a positive int"):
        me.expectations(good, LAW, budget=budget)


@pytest.mark.parametrize("budget", [2, 10, 19])
def test_budget_too_small_for_the_pilot(budget):
    model = Counting(good)
    with pytest.raises(ValueError, match=rf"'budget' \({budget}\) is too small for a pilot"):
        me.expectations(model, LAW, budget=budget, rng=0)
    assert model.calls == []


def test_pilot_option_larger_than_budget():
    model = Counting(good)
    with pytest.raises(ValueError, match=r"'budget' \(100\) is too small for a pilot of 99"):
        me.expectations(model, LAW, budget=100, pilot_size=99, rng=0)
    assert model.calls == []


@pytest.mark.parametrize("options, message", [
    ({"pilot_hits": -1}, r"'pilot_hits' must be a non-negative int, got -1"),
    ({"pilot_hits": 2.5}, r"'pilot_hits' must be a non-negative int, got 2.5"),
    ({"pilot_max": 150}, r"'pilot_max' \(150\) must be at most 'adaptation_cap' \(100\)"),
    ({"event_widened": 1.0}, r"'event_widened' must be a number in \[0, 1\), got 1.0"),
    ({"event_widened": "half"}, r"'event_widened' must be a number in \[0, 1\), got 'half'"),
    ({"defensive": -0.1}, r"'defensive' must be a number in \[0, 1\), got -0.1"),
    ({"dof": 0}, r"'dof' must be a positive number or None, got 0"),
    ({"dof": "five"}, r"'dof' must be a positive number or None, got 'five'"),
])
def test_pilot_extension_options(options, message):
    model = Counting(good)
    with pytest.raises(ValueError, match=message):
        me.expectations(model, LAW, budget=200, rng=0, **options)
    assert model.calls == []


def test_adaptation_cap_leaving_no_final_stage():
    model = Counting(good)
    with pytest.raises(ValueError, match=r"'adaptation_cap' \(199\) must leave at least 2"):
        me.expectations(model, LAW, budget=200, adaptation_cap=199, rng=0)
    assert model.calls == []


def test_separate_mc_budget_too_small_for_the_laws():
    laws = [me.Law([stats.norm(m, 1)]) for m in range(4)]
    model = Counting(lambda x, call: x[:, 0])
    with pytest.raises(ValueError, match=r"'budget' \(7\) must give at least 2 runs to each "
                                         r"of 4 laws"):
        me.expectations(model, laws, budget=7, method="mc")
    assert model.calls == []


def test_separate_is_budget_too_small_for_the_quantities():
    model = Counting(lambda x, call: np.column_stack([x[:, 0]] * 5))
    with pytest.raises(ValueError, match=r"'budget' \(60\) is too small for method "
                                         r"'separate-is' with 5 quantities"):
        me.expectations(model, LAW, budget=60, method="separate-is", rng=0)
    assert model.runs == 1  # the probe that counts the quantities


# ---------------------------------------------------------------------- laws
def test_correlation_not_positive_definite():
    corr = [[1.0, 0.8, -0.8], [0.8, 1.0, 0.8], [-0.8, 0.8, 1.0]]
    with pytest.raises(ValueError, match="'correlation' must be positive definite"):
        me.Law([stats.norm()] * 3, correlation=corr)


# ---------------------------------------------------------------------- NaN from the model
@pytest.mark.parametrize("method", METHODS)
def test_nan_in_first_batch(method):
    def func(x, call):
        out = good(x)
        out[min(3, len(x) - 1), 1] = np.nan
        return out

    model = Counting(func)
    with pytest.raises(me.ModelEvaluationError,
                       match=r"non-finite value \(NaN or inf\) at 1 of \d+ points; "
                             r"first failing input: \[") as info:
        me.expectations(model, LAW, budget=200, method=method, rng=0)
    assert len(model.calls) == 1
    assert isinstance(info.value, ValueError)
    assert info.value.n_failed == 1
    assert info.value.first_input.shape == (2,)


def test_nan_in_a_later_batch_stops_at_that_batch():
    """NaN only far in the tail: raised at the first batch that reaches it, no later runs."""
    def func(x, call):
        out = np.column_stack([np.exp(3 * x[:, 0]), x[:, 1]])
        bad = x[:, 0] > 2.0
        out[bad, 0] = np.nan
        if np.any(bad) and not hasattr(model, "nan_call"):
            model.nan_call = call
        return out

    model = Counting(func)
    with pytest.raises(me.ModelEvaluationError, match="non-finite value") as info:
        me.expectations(model, LAW, budget=2000, rng=1, pilot_size=10, batch_size=200,
                        sampling="mc")
    assert info.value.first_input[0] > 2.0
    assert info.value.n_failed >= 1
    # the model is never called again after the batch with the NaN
    assert model.nan_call > 1  # not the pilot: the adaptation moved into the tail
    assert len(model.calls) == model.nan_call


def test_inf_from_the_model():
    model = Counting(lambda x, call: np.where(x[:, 0] > -10, np.inf, 0.0))
    with pytest.raises(me.ModelEvaluationError, match=r"at 20 of 20 points"):
        me.expectations(model, LAW, budget=200, rng=0, sampling="mc")
    assert len(model.calls) == 1


# ---------------------------------------------------------------------- other arguments
def test_unknown_method_and_options():
    model = Counting(good)
    with pytest.raises(ValueError, match="'method' must be one of"):
        me.expectations(model, LAW, budget=200, method="qmc")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['famly'\] for method 'aiscv'"):
        me.expectations(model, LAW, budget=200, famly="gmm")
    with pytest.raises(ValueError, match="'family' must be one of"):
        me.expectations(model, LAW, budget=200, family="cauchy")
    with pytest.raises(ValueError, match=r"method 'mc' takes no options, got \['family'\]"):
        me.expectations(model, LAW, budget=200, method="mc", family="gmm")
    with pytest.raises(ValueError, match="'rng' must be None, an int seed or a numpy"):
        me.expectations(model, LAW, budget=200, rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="'rng' must be a non-negative int seed"):
        me.expectations(model, LAW, budget=200, rng=-1)
    with pytest.raises(ValueError, match="'model' must be callable"):
        me.expectations(3.0, LAW, budget=200)
    assert model.calls == []


def test_names_of_wrong_length():
    model = Counting(good)
    with pytest.raises(ValueError, match=r"'names' must have 2 entries \(one per quantity\)"):
        me.expectations(model, LAW, budget=200, names=["a"], rng=0, sampling="mc")
    assert len(model.calls) == 1

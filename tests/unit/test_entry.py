"""The entry path shared by the three public functions (``multiexpect.prepare``): one way to
pass the evaluation settings, one budget check, settings built once and recorded as stored."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.evaluation.store import canonical_settings
from multiexpect.prepare import SEPARATE_IS_OPTIONS

LAW = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])


def two_columns(x):
    return np.column_stack([x[:, 0] ** 2, x[:, 1]])


def one_column(x):
    return x[:, 0] + 0.5 * x[:, 1] ** 2


def perturbations():
    return me.mean_shift_perturbations(LAW, delta=0.5)


CALLS = {
    "expectations": lambda **kw: me.expectations(two_columns, LAW, budget=600, rng=3, **kw),
    "expectations-separate-is": lambda **kw: me.expectations(
        two_columns, LAW, budget=600, rng=3, method="separate-is", **kw),
    "expectations-mc": lambda **kw: me.expectations(two_columns, LAW, budget=600, rng=3,
                                                    method="mc", **kw),
    "sobol": lambda **kw: me.sobol_indices(one_column, LAW, budget=2000, rng=3, **kw),
    "sobol-pick-freeze": lambda **kw: me.sobol_indices(one_column, LAW, budget=2000, rng=3,
                                                       method="pick-freeze", **kw),
    "perturbed": lambda **kw: me.perturbed_law_indices(one_column, LAW, perturbations(),
                                                       budget=1000, rng=3, **kw),
    "perturbed-mc": lambda **kw: me.perturbed_law_indices(one_column, LAW, perturbations(),
                                                          budget=1000, rng=3, method="mc",
                                                          **kw),
}


def _values(result) -> np.ndarray:
    if isinstance(result, me.SobolResult):
        return np.concatenate([result.first_order, result.total_order])
    if isinstance(result, me.PerturbedLawResult):
        return result.indices
    return result.estimate


@pytest.mark.parametrize("name", sorted(CALLS))
def test_evaluation_object_and_keywords_are_one_path(name):
    """``evaluation=Evaluation(store=...)`` and ``store=...`` give the same study: the same
    result, the same study id, and the settings in the store are the result's settings."""
    call = CALLS[name]
    by_object, by_keywords = me.InMemoryStore(), me.InMemoryStore()
    a = call(evaluation=me.Evaluation(store=by_object, eval_chunk_size=50))
    b = call(store=by_keywords, eval_chunk_size=50)
    c = call()
    np.testing.assert_array_equal(_values(a), _values(b))
    np.testing.assert_array_equal(_values(a), _values(c))
    assert a.n_evaluations == b.n_evaluations == c.n_evaluations
    assert by_object.studies() == by_keywords.studies() and len(by_object.studies()) == 1
    (sid,) = by_object.studies()
    # built once, complete, never changed: what keys the study is what the result records
    assert by_object.study_settings(sid) == canonical_settings(a.settings)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_settings_hold_the_same_entries_for_every_function(name):
    settings = CALLS[name]().settings
    assert {"method", "budget", "seed", "options", "weights", "version"} <= set(settings)
    assert settings["seed"] == 3 and settings["version"] == me.__version__
    method = settings["method"]
    if method == "aiscv":  # resolved for the budget: every option, sizes filled in
        assert set(settings["options"]) == set(me.AiscvOptions.__dataclass_fields__)
        assert isinstance(settings["options"]["pilot_size"], int)
    elif method == "separate-is":
        assert settings["options"] == SEPARATE_IS_OPTIONS
    else:
        assert settings["options"] == {}


def test_sobol_and_perturbed_record_resolved_options():
    res = me.sobol_indices(one_column, LAW, budget=2000, rng=1, batch_size=30)
    # 2000 runs, 4 runs per point: the engine's budget is 500 points
    assert res.settings["options"]["batch_size"] == 30
    assert res.settings["options"]["adaptation_cap"] == 250  # min(500 // 2, 5 * (500 // 10))
    res = me.perturbed_law_indices(one_column, LAW, perturbations(), budget=1000, rng=1)
    assert res.settings["options"]["pilot_size"] == 100
    assert res.settings["analysis"] == "perturbed-laws" and len(res.settings["laws"]) == 5


def test_evaluation_keywords_and_object_together_are_refused():
    with pytest.raises(ValueError, match=r"pass the evaluation settings either as "
                                         r"evaluation=Evaluation\(...\) or as keywords, not "
                                         r"both: got 'evaluation' and \['retries'\]"):
        me.expectations(two_columns, LAW, budget=200, evaluation=me.Evaluation(), retries=2)


def test_evaluation_must_be_an_evaluation():
    with pytest.raises(ValueError, match=r"'evaluation' must be a multiexpect\.Evaluation, "
                                         r"got dict"):
        me.sobol_indices(one_column, LAW, budget=2000, evaluation={"store": None})


def test_evaluate_with_a_non_default_evaluation_object_is_refused():
    with pytest.raises(ValueError, match="'evaluate' replaces the model evaluation"):
        me.perturbed_law_indices(one_column, LAW, perturbations(), budget=1000,
                                 evaluate=lambda x, b: one_column(x),
                                 evaluation=me.Evaluation(retries=1))


@pytest.mark.parametrize("kwargs, message", [
    ({"executor": "threads"}, r"'executor' must be None, 'processes' or a "
                              r"concurrent.futures.Executor"),
    ({"n_workers": 2}, r"'n_workers' applies to executor='processes' only"),
    ({"retries": -1}, r"'retries' must be an int >= 0, got -1"),
    ({"eval_chunk_size": 0}, r"'eval_chunk_size' must be an int >= 1, got 0"),
    ({"store": 3}, r"'store' must be None, a path to an SQLite file or a Store object"),
    ({"study_id": ""}, r"'study_id' must be a non-empty str"),
    ({"progress": "yes"}, r"'progress' must be True or False"),
])
def test_evaluation_is_checked_when_built(kwargs, message):
    with pytest.raises(ValueError, match=message):
        me.Evaluation(**kwargs)


def test_evaluation_default():
    assert me.Evaluation().is_default
    assert not me.Evaluation(retries=1).is_default
    assert me.Evaluation(retries=np.int64(2)).retries == 2


def test_separate_is_unknown_option_refused_before_the_probe_run():
    calls = []

    def model(x):
        calls.append(len(x))
        return two_columns(x)

    with pytest.raises(ValueError, match=r"unknown option\(s\) \['famly'\] for method "
                                         r"'separate-is'"):
        me.expectations(model, LAW, budget=600, method="separate-is", famly="gmm")
    assert calls == []


@pytest.mark.parametrize("call, message", [
    (lambda: me.expectations(two_columns, LAW, budget=1),
     r"^'budget' must be at least 2 model runs, got 1$"),
    (lambda: me.perturbed_law_indices(one_column, LAW, perturbations(), budget=1),
     r"^'budget' must be at least 2 model runs, got 1$"),
    (lambda: me.sobol_indices(one_column, LAW, budget=2.0),
     r"^'budget' must be a positive int \(model runs\), got 2.0$"),
    (lambda: me.expectations(two_columns, [LAW, LAW, LAW], budget=5, method="mc"),
     r"^'budget' \(5\) must give at least 2 runs to each of 3 laws for method 'mc', so "
     r"budget >= 6$"),
    (lambda: me.sobol_indices(one_column, LAW, budget=11, method="pick-freeze"),
     r"^'budget' \(11\) is too small: with d = 2 inputs and orders \('first', 'total'\) one "
     r"pick-freeze point costs 4 model runs and this method needs at least 3 points, so "
     r"budget >= 12$"),
])
def test_one_budget_check(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_one_law_analyses_refuse_a_sequence_of_laws():
    with pytest.raises(ValueError, match=r"^'law' must be one \(nominal\) Law, got a sequence "
                                         r"of laws$"):
        me.perturbed_law_indices(one_column, [LAW, LAW], perturbations(), budget=1000)
    with pytest.raises(ValueError, match=r"^'law' must be one Law for Sobol' indices, got a "
                                         r"sequence of laws$"):
        me.sobol_indices(one_column, (LAW,), budget=2000)

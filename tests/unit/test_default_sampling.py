"""The per-method default ``sampling`` (``sampling=None``): ``"auto"`` for aiscv in every
public function, ``"mc"`` for every baseline and with ``keep_sample``; the resolved value
is recorded in the result's settings (``"mc"`` left out) and a store replay names it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.sampling.rqmc import default_sampling, resolve_sampling
from multiexpect.vocabulary import (
    EXPECTATION_METHODS,
    PERTURBED_LAW_METHODS,
    SOBOL_METHODS,
)

LAW = me.Law([stats.norm(), stats.norm()])


def model(x):
    return np.column_stack([x[:, 0] ** 2, x[:, 0] + x[:, 1]])


def test_default_is_auto_for_aiscv_and_mc_for_every_baseline():
    for methods in (EXPECTATION_METHODS, SOBOL_METHODS, PERTURBED_LAW_METHODS):
        for method in methods:
            assert default_sampling(method) == ("auto" if method == "aiscv" else "mc")
    assert default_sampling("aiscv", keep_sample=True) == "mc"
    assert resolve_sampling(None, "aiscv") == "auto"
    assert resolve_sampling("rqmc", "aiscv") == "rqmc"
    with pytest.raises(ValueError, match="'sampling' must be one of"):
        resolve_sampling("qmc", "mc")


def _same(a, b):
    assert a.estimate.tobytes() == b.estimate.tobytes()
    assert a.stderr.tobytes() == b.stderr.tobytes()


def test_expectations_default_resolves_per_method_and_is_recorded():
    res = me.expectations(model, LAW, budget=1000, rng=3)
    assert res.settings["sampling"] == "auto" and "route" in res.diagnostics
    _same(res, me.expectations(model, LAW, budget=1000, rng=3, sampling="auto"))
    for method in ("mc", "mixture-mc", "separate-is"):
        base = me.expectations(model, LAW, budget=1000, rng=3, method=method)
        assert "sampling" not in base.settings  # "mc" is left out, as before
        _same(base, me.expectations(model, LAW, budget=1000, rng=3, method=method,
                                    sampling="mc"))


def test_keep_sample_resolves_the_default_to_mc():
    res = me.expectations(model, LAW, budget=1000, rng=3, keep_sample=True)
    assert res.sample is not None and "sampling" not in res.settings
    _same(res, me.expectations(model, LAW, budget=1000, rng=3, sampling="mc"))
    for sampling in ("auto", "rqmc"):
        with pytest.raises(ValueError, match="'keep_sample' needs sampling 'mc'"):
            me.expectations(model, LAW, budget=1000, rng=3, keep_sample=True,
                            sampling=sampling)


def test_sensitivity_defaults_resolve_per_method():
    linear = lambda x: x[:, 0] + 2 * x[:, 1]  # noqa: E731
    sobol = me.sobol_indices(linear, LAW, budget=4000, rng=2, orders="first")
    assert sobol.settings["sampling"] == "auto"
    pick = me.sobol_indices(linear, LAW, budget=4000, rng=2, orders="first",
                            method="pick-freeze")
    assert "sampling" not in pick.settings
    pert = me.mean_shift_perturbations(LAW, delta=0.5)
    shifted = lambda x: 3 + x[:, 0]  # noqa: E731
    res = me.perturbed_law_indices(shifted, LAW, pert, budget=2000, rng=0)
    assert res.settings["sampling"] == "auto"
    for method in ("mixture-mc", "mc"):
        base = me.perturbed_law_indices(shifted, LAW, pert, budget=2000, rng=0,
                                        method=method)
        assert "sampling" not in base.settings


def test_replaying_an_auto_study_with_keep_sample_names_the_sampling(tmp_path):
    path = tmp_path / "s.sqlite"
    me.expectations(model, LAW, budget=1000, rng=1, store=path, study_id="mine")
    with pytest.raises(me.StoreMismatchError, match=r"sampling: stored 'auto', now 'mc'"):
        me.expectations(model, LAW, budget=1000, rng=1, store=path, study_id="mine",
                        keep_sample=True)

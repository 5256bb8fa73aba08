"""Hostile or careless input to the library (issue 15): each case is refused with one line
naming the argument, before any model run, or answered with a clear diagnostic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me


# ---------------------------------------------------------------------- degenerate laws
@pytest.mark.parametrize("dist, pattern", [
    (stats.uniform(0, 0), r"'marginals\[1\]' \(b\) uniform.*outside scipy's domain"),
    (stats.gumbel_r(0, -1), r"'marginals\[1\]' \(b\) gumbel_r.*outside scipy's domain"),
    (stats.norm(0, -1), r"'marginals\[1\]' \(b\) norm.*scale <= 0"),
    (stats.norm(0, 1e308), r"'marginals\[1\]' \(b\) norm.*quantiles overflow"),
    (stats.lognorm(1.0, scale=1e308), r"'marginals\[1\]' \(b\).*quantiles overflow"),
])
def test_degenerate_marginals_are_refused_at_law(dist, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        me.Law([stats.norm(), dist], names=["a", "b"])
    assert "\n" not in str(info.value)


def test_heavy_but_valid_marginals_are_accepted():
    law = me.Law([stats.t(1.0), stats.pareto(1.5), stats.cauchy(0, 1e100)])
    assert np.all(np.isfinite(law.sample(200, rng=0)))


# ---------------------------------------------------------------------- reanalysis from JSON
def _study_lognormal():
    law = me.Law([stats.lognorm(0.25)], names=["b"])
    return me.expectations(lambda x: x[:, :1], law, budget=300, rng=3, keep_sample=True)


def test_reanalysis_from_json_keeps_the_support_check():
    res = _study_lognormal()
    outside = me.Law([stats.uniform(-1, 3)], names=["b"])
    with pytest.raises(ValueError, match="outside the support"):
        me.reanalyse(res, law=outside)
    back = me.ExpectationResult.from_json(res.to_json())
    assert len(back.sample.laws) == 1
    with pytest.raises(ValueError, match="outside the support"):
        me.reanalyse(back, law=outside)
    inside = me.Law([stats.lognorm(0.26)], names=["b"])
    np.testing.assert_array_equal(me.reanalyse(back, law=inside).estimate,
                                  me.reanalyse(res, law=inside).estimate)


def test_reanalysis_refuses_a_new_law_when_the_study_laws_are_unknown():
    res = _study_lognormal()
    data = res.to_dict()
    del data["sample"]["laws"]            # a file written before the laws were kept
    back = me.ExpectationResult.from_dict(data)
    with pytest.raises(ValueError, match="study's laws are unknown"):
        me.reanalyse(back, law=me.Law([stats.lognorm(0.3)], names=["b"]))
    # the study's own laws need no support check
    assert np.isfinite(me.reanalyse(back).estimate).all()

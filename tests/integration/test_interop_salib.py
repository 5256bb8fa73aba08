"""SALib problem dicts -> laws, checked against SALib's own scaling; SALib keys out."""

import copy

import numpy as np
import pytest
from scipy.special import ndtri

import multiexpect as me
from multiexpect.testfunctions import ishigami, ishigami_indices

salib_util = pytest.importorskip("SALib.util")

PROBLEM = {
    "num_vars": 7,
    "names": ["a", "b", "c", "d", "e", "f", "g"],
    "bounds": [[0.0, 2.0], [1.0, 10.0], [1.0, 3.0, 0.3], [1.0, 0.5], [-1.0, 2.0, 0.5, 1.0],
               [0.1, 0.4], [2.0, 1.5, 0.2]],
    "dists": ["unif", "logunif", "triang", "norm", "truncnorm", "lognorm", "weibull"],
}


def _salib_scaled(problem, u):
    return salib_util.scale_samples(u.copy(), copy.deepcopy(problem))


def _salib_knows(dist: str) -> bool:
    """Whether the installed SALib scales ``dist`` (SALib 1.5.1 has no 'weibull')."""
    problem = {"num_vars": 1, "names": ["x"], "bounds": [PROBLEM["bounds"][
        PROBLEM["dists"].index(dist)]], "dists": [dist]}
    try:
        _salib_scaled(problem, np.full((1, 1), 0.5))
    except (ValueError, KeyError, NotImplementedError):
        return False
    return True


def test_from_salib_matches_salib_scaling_for_every_dist():
    law = me.Law.from_salib(PROBLEM)
    assert law.names == tuple(PROBLEM["names"]) and law.is_independent
    u = np.random.default_rng(0).uniform(0.001, 0.999, size=(500, 7))
    x = law.from_standard(ndtri(u))
    assert np.all(np.isfinite(law.logpdf(x)))
    known = [i for i, d in enumerate(PROBLEM["dists"]) if _salib_knows(d)]
    sub = {"num_vars": len(known), "names": [PROBLEM["names"][i] for i in known],
           "bounds": [PROBLEM["bounds"][i] for i in known],
           "dists": [PROBLEM["dists"][i] for i in known]}
    np.testing.assert_allclose(x[:, known], _salib_scaled(sub, u[:, known]), rtol=1e-10,
                               atol=1e-12)
    if "weibull" not in [PROBLEM["dists"][i] for i in known]:
        # SALib's weibull (from 1.6): scale * weibull_min(shape).ppf(u) + loc
        shape, scale, loc = PROBLEM["bounds"][6]
        from scipy import stats

        np.testing.assert_allclose(x[:, 6], loc + scale * stats.weibull_min(shape).ppf(u[:, 6]),
                                   rtol=1e-10)


def test_from_salib_defaults_to_uniform_and_accepts_legacy_triangle():
    problem = {"names": ["x", "y"], "bounds": [[-np.pi, np.pi], [0.0, 3.0]]}
    law = me.Law.from_salib(problem)
    u = np.random.default_rng(1).uniform(size=(100, 2))
    np.testing.assert_allclose(law.from_standard(ndtri(u))[:, 0], -np.pi + 2 * np.pi * u[:, 0])
    legacy = me.Law.from_salib({"names": ["t"], "bounds": [[3.0, 0.5]], "dists": ["triang"]})
    with pytest.warns(DeprecationWarning):
        ref = _salib_scaled({"num_vars": 1, "names": ["t"], "bounds": [[3.0, 0.5]],
                             "dists": ["triang"]}, u[:, :1])
    np.testing.assert_allclose(legacy.from_standard(ndtri(u[:, :1])), ref, rtol=1e-12)


def test_from_salib_bad_problems_are_named():
    with pytest.raises(ValueError, match=r"'problem\[\"dists\"\]\[1\]' is 'cauchy', which "
                                         r"SALib does not define"):
        me.Law.from_salib({"names": ["a", "b"], "bounds": [[0, 1], [0, 1]],
                           "dists": ["unif", "cauchy"]})
    with pytest.raises(ValueError, match=r"'problem\[\"bounds\"\]\[0\]' for dist 'unif' must "
                                         r"be \[low, high\] with low < high"):
        me.Law.from_salib({"names": ["a"], "bounds": [[1, 0]]})
    with pytest.raises(ValueError, match=r"'problem\[\"bounds\"\]\[0\]' for dist 'norm' must "
                                         r"be \[mean, sd\] with sd > 0"):
        me.Law.from_salib({"names": ["a"], "bounds": [[1, -2]], "dists": ["norm"]})
    with pytest.raises(ValueError, match=r"'problem' must have a 'bounds' entry"):
        me.Law.from_salib({"names": ["a"]})
    with pytest.raises(ValueError, match=r"'problem\[\"bounds\"\]' must have 2 entries"):
        me.Law.from_salib({"names": ["a", "b"], "bounds": [[0, 1]]})
    with pytest.raises(ValueError, match=r"'problem\[\"num_vars\"\]' is 3 but there are 2"):
        me.Law.from_salib({"num_vars": 3, "names": ["a", "b"], "bounds": [[0, 1], [0, 1]]})
    with pytest.raises(ValueError, match=r"'problem' must be a SALib problem dict, got list"):
        me.Law.from_salib([["a"], [[0, 1]]])


def test_salib_problem_to_sobol_indices_with_salib_keys():
    problem = {"names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    law = me.Law.from_salib(problem)
    res = me.sobol_indices(ishigami, law, budget=10_000, rng=5)
    out = res.to_salib()
    assert set(out) == {"S1", "S1_conf", "ST", "ST_conf"}
    assert all(np.shape(v) == (3,) for v in out.values())
    first, total = ishigami_indices()
    # S1_conf is the 95% half-width: 1.96 s.e.; allow 4 s.e. = about 2 half-widths
    assert np.all(np.abs(out["S1"] - first) < 2.05 * out["S1_conf"] + 1e-3)
    assert np.all(np.abs(out["ST"] - total) < 2.05 * out["ST_conf"] + 1e-3)

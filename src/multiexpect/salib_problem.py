"""SALib problem dicts as scipy marginals (no SALib import needed).

A bottom-layer module (it imports nothing of the package), so that
:meth:`multiexpect.Law.from_salib` can read it; :mod:`multiexpect.interop.salib` is the
adapter's public face.

A SALib ``problem`` is a dict with ``names``, ``bounds`` and optionally ``dists`` (default:
all ``"unif"``) and ``num_vars``. The meaning of ``bounds[i]`` depends on ``dists[i]``,
following SALib's own ``SALib.util._nonuniform_scale_samples`` (SALib 1.4-1.6):

=========  ==========================================  ==========================================
dist       bounds                                      law
=========  ==========================================  ==========================================
unif       ``[low, high]``                             uniform on ``[low, high]``
logunif    ``[low, high]`` (both > 0)                  log-uniform on ``[low, high]``
triang     ``[low, high, peak]`` (peak a fraction of   triangular, mode ``low + peak (high-low)``
           the width, in [0, 1)); legacy ``[high,
           peak]`` means ``low = 0``
norm       ``[mean, sd]``                              normal
truncnorm  ``[lower, upper, mean, sd]``                normal(mean, sd) truncated to [lower, upper]
lognorm    ``[ln-mean, ln-sd]``                        ``exp(N(ln-mean, ln-sd^2))``
weibull    ``[shape, scale]`` or ``[shape, scale,      Weibull (min) with that shape, scale, loc
           loc]``
=========  ==========================================  ==========================================

SALib's inputs are independent, so the law has no copula. Groups are ignored (the law does not
need them; group Sobol' indices are not provided here).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats

__all__ = ["SALIB_DISTS", "salib_marginals"]

SALIB_DISTS = ("unif", "logunif", "triang", "norm", "truncnorm", "lognorm", "weibull")


def _bad(i: int, dist: str, rule: str, bounds) -> ValueError:
    return ValueError(f"'problem[\"bounds\"][{i}]' for dist {dist!r} must be {rule}, "
                      f"got {np.asarray(bounds, dtype=float).tolist()}")


def _marginal(i: int, dist: str, b: np.ndarray):
    if dist == "unif":
        if b.size != 2 or not b[0] < b[1]:
            raise _bad(i, dist, "[low, high] with low < high", b)
        return stats.uniform(b[0], b[1] - b[0])
    if dist == "logunif":
        if b.size != 2 or not 0 < b[0] < b[1]:
            raise _bad(i, dist, "[low, high] with 0 < low < high", b)
        return stats.loguniform(b[0], b[1])
    if dist == "triang":
        if b.size == 3:
            low, high, peak = b
        elif b.size == 2:  # SALib's legacy two-value form: start at 0
            low, (high, peak) = 0.0, b
        else:
            raise _bad(i, dist, "[low, high, peak fraction]", b)
        if not (low < high and 0.0 <= peak < 1.0):
            raise _bad(i, dist, "[low, high, peak fraction] with low < high, 0 <= peak < 1", b)
        return stats.triang(peak, loc=low, scale=high - low)
    if dist == "norm":
        if b.size != 2 or not b[1] > 0:
            raise _bad(i, dist, "[mean, sd] with sd > 0", b)
        return stats.norm(b[0], b[1])
    if dist == "truncnorm":
        if b.size != 4 or not (b[0] < b[1] and b[3] > 0):
            raise _bad(i, dist, "[lower, upper, mean, sd] with lower < upper, sd > 0", b)
        lower, upper, mean, sd = b
        return stats.truncnorm((lower - mean) / sd, (upper - mean) / sd, loc=mean, scale=sd)
    if dist == "lognorm":
        if b.size != 2 or not b[1] > 0:
            raise _bad(i, dist, "[ln-mean, ln-sd] with ln-sd > 0", b)
        return stats.lognorm(b[1], scale=np.exp(b[0]))
    if dist == "weibull":
        if b.size not in (2, 3) or not (b[0] > 0 and b[1] > 0):
            raise _bad(i, dist, "[shape, scale] or [shape, scale, loc] with shape, scale > 0", b)
        loc = b[2] if b.size == 3 else 0.0
        return stats.weibull_min(b[0], loc=loc, scale=b[1])
    raise ValueError(f"'problem[\"dists\"][{i}]' is {dist!r}, which SALib does not define; "
                     f"known: {list(SALIB_DISTS)}")


def salib_marginals(problem: Mapping) -> tuple[list, list[str]]:
    """The independent marginals and input names described by a SALib problem dict.

    Parameters
    ----------
    problem : dict
        ``{"names": [...], "bounds": [[...], ...], "dists": [...]}`` (``dists`` optional,
        default ``"unif"``; ``num_vars``, if present, must equal the number of names).

    Returns
    -------
    marginals : list of frozen scipy distributions
        In the order of ``names`` (see the module docstring for the meaning of ``bounds``
        per distribution).
    names : list of str
    """
    if not isinstance(problem, Mapping):
        raise ValueError(f"'problem' must be a SALib problem dict, got {type(problem).__name__}")
    for key in ("names", "bounds"):
        if key not in problem:
            raise ValueError(f"'problem' must have a {key!r} entry (a SALib problem dict)")
    names = [str(n) for n in problem["names"]]
    bounds = list(problem["bounds"])
    d = len(names)
    if d == 0:
        raise ValueError("'problem[\"names\"]' must name at least one input")
    if len(bounds) != d:
        raise ValueError(f"'problem[\"bounds\"]' must have {d} entries (one per name), "
                         f"got {len(bounds)}")
    if "num_vars" in problem and int(problem["num_vars"]) != d:
        raise ValueError(f"'problem[\"num_vars\"]' is {problem['num_vars']} but there are "
                         f"{d} names")
    dists = problem.get("dists")
    dists = ["unif"] * d if dists is None else [str(s) for s in dists]
    if len(dists) != d:
        raise ValueError(f"'problem[\"dists\"]' must have {d} entries (one per name), "
                         f"got {len(dists)}")
    marginals = []
    for i, (dist, b) in enumerate(zip(dists, bounds)):
        try:
            arr = np.asarray(b, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"'problem[\"bounds\"][{i}]' must be numbers, got {b!r}") from exc
        if not np.all(np.isfinite(arr)):
            raise _bad(i, dist, "finite numbers", arr)
        marginals.append(_marginal(i, dist, arr))
    return marginals, names

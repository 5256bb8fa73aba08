"""Confidence intervals of event probabilities that stay in [0, 1] and never have zero width.

A quantity that is 0/1 at every run is an *event probability* ``p``. Its normal-theory
interval ``p̂ ± z se`` fails in two ways when the event is rare: with no hit it is [0, 0],
and with a few hits it ignores the skew of ``p̂`` (the upper side is too short). Here:

* **Hits.** The estimate's effective sample size ``n_eff = p̂ (1 - p̂) / se²`` (the sample
  size of crude Monte Carlo with the same precision; Korn & Graubard 1998 use it for
  survey proportions) gives ``k_eff = n_eff p̂`` effective hits. The interval is Wilson's
  score interval for ``k_eff`` hits in ``n_eff`` runs, the set of ``p`` with
  ``(p̂ - p)² <= z² p (1 - p) / n_eff``: inside [0, 1], longer above ``p̂`` than below, and
  the normal interval again when ``k_eff`` is large. With fewer than ``CAP_HITS`` raw hits
  ``k_eff`` is capped by them (a standard error measured on a few hits is itself
  uncertain); with more, the standard error is measured on enough of them, and an
  importance sampler that beats crude Monte Carlo keeps its ``k_eff`` above its hits (capped,
  its interval would be longer than its standard error says, and over-cover).
* **No hit** (``p̂ = 0`` with ``se = 0``). ``[0, U]`` with the upper bound ``U`` of the draws
  that missed: draw ``i`` comes from a proposal that puts weight ``a_i`` at least on the
  law (1 for the pilot, the defensive weight after it), so it hits with probability
  ``>= a_i p`` and ``P(no hit) <= exp(-p A)``, ``A = sum_i a_i`` ("law-equivalent draws").
  ``U = log(2 / (1 - level)) / A`` (3.7 / A at 95%, the two-sided analogue of the rule of
  three) is exceeded by ``p`` with probability at most ``(1 - level) / 2``.
* **Flag** (:func:`trust_flags`). ``k_eff < FEW_HITS`` marks an estimate resting on too few
  effective hits to trust (its standard error too); no hit marks an estimate that is only
  an upper bound. A quantity that is no event (a moment, a signed quantity) is marked when
  Kish's effective sample size of its final-stage responses ``phi_j f / g``
  (:mod:`~multiexpect.estimators.effective_size`) is below ``FEW_POINTS``. The rules and
  their reasons are in ``docs/method.md`` ("Trusting an estimate: effective hits and
  points").

The facts needed beyond the estimate and standard error (which quantities are events,
their raw hits, their law-equivalent draws) are tallied on the model outputs as they pass
through ``evaluate`` (:class:`HitTally`) and stored in the result's diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from . import batch_keys

__all__ = ["CAP_HITS", "FEW_HITS", "FEW_POINTS", "FLAG_FEW_HITS", "FLAG_FEW_POINTS",
           "FLAG_NO_HIT", "SUBSET_REPLICATES", "HitTally", "check_level",
           "effective_hits", "event_diagnostics", "event_interval", "event_notes",
           "normal_interval", "subset_mean_interval", "subset_means_apply", "trust_flags",
           "z_value", "zero_hit_bound"]

#: effective hits below which an event probability is flagged as not to be trusted
FEW_HITS = 10.0
#: raw hits below which the effective hits are capped by them
CAP_HITS = 100
#: effective points (Kish) below which a quantity that is no event is flagged
FEW_POINTS = 100.0
#: the flags of :func:`trust_flags`
FLAG_NO_HIT, FLAG_FEW_HITS, FLAG_FEW_POINTS = "no hit", "few hits", "few points"


def check_level(level) -> float:
    """``level`` as a float in (0, 1); a ValueError naming it otherwise."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise ValueError(f"'level' must lie in (0, 1), got {level!r}")
    return value


def z_value(level: float, dof: float | None = None) -> float:
    """``z_{(1 + level)/2}`` of the normal law, or of Student's t on ``dof`` degrees of
    freedom (a standard error estimated from ``dof + 1`` RQMC replicates), with a clear error
    for a level outside (0, 1) (:func:`check_level`)."""
    level = check_level(level)
    if dof is not None:
        return float(student_t.ppf(0.5 + level / 2.0, dof))
    return float(norm.ppf(0.5 + level / 2.0))


def normal_interval(estimate, stderr, level: float, dof: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``Î ± z se`` (``z`` of Student's t on ``dof`` degrees of freedom when given)."""
    z = z_value(level, dof)
    estimate = np.asarray(estimate, dtype=float)
    stderr = np.asarray(stderr, dtype=float)
    return estimate - z * stderr, estimate + z * stderr


#: the most replicates whose ``2^R - 1`` subset means :func:`subset_mean_interval` enumerates
SUBSET_REPLICATES = 16


def _subset_rank(reps: int, level: float) -> int:
    """``k = floor((1 - level) 2^(R-1))``, 0 where the subset means do not apply."""
    z_value(level)  # the level's check
    if reps > SUBSET_REPLICATES:
        return 0
    return int(np.floor((1.0 - level) * 2.0 ** (reps - 1) + 1e-9))


def subset_means_apply(reps: int, level: float = 0.95) -> bool:
    """Whether :func:`subset_mean_interval` gives ``R = reps`` replicates an interval at
    ``level`` (6 to 16 replicates at 95%)."""
    return _subset_rank(int(reps), level) >= 1


def subset_mean_interval(values, level: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Hartigan's (1969) interval for the mean of ``R`` replicates ``values`` ((R, J)): the
    ``k``-th smallest and ``k``-th largest of the means of the ``2^R - 1`` nonempty subsets.

    For independent replicates from a continuous law symmetric about ``μ``, ``μ`` falls in
    each of the ``2^R`` gaps between those means with chance ``2^-R``, so the interval covers
    with chance exactly ``1 - 2k / 2^R``; ``k`` is the largest with that chance at least
    ``level``. Unlike Student's t it needs symmetry, not normality: scrambled nets' replicate
    errors are nearly symmetric but heavy-tailed, where t over-covers (its spread is inflated
    by the outlying replicate more than the mean is moved). ``None`` when ``R`` exceeds
    :data:`SUBSET_REPLICATES` or the level needs more subsets than there are (``k < 1``,
    ``R <= 5`` at 95%): the caller keeps Student's t.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    reps = values.shape[0]
    k = _subset_rank(reps, level)
    if k < 1:
        return None
    masks = ((np.arange(1, 2**reps)[:, None] >> np.arange(reps)) & 1).astype(float)
    masks /= masks.sum(axis=1, keepdims=True)
    low = np.empty(values.shape[1])
    high = np.empty(values.shape[1])
    chunk = max(1, (1 << 22) // masks.shape[0])  # at most 4M subset means at once
    for start in range(0, values.shape[1], chunk):
        cols = slice(start, start + chunk)
        means = np.partition(masks @ values[:, cols], (k - 1, masks.shape[0] - k), axis=0)
        low[cols], high[cols] = means[k - 1], means[masks.shape[0] - k]
    return low, high


def effective_hits(estimate, stderr, hits=None, rarer_side: bool = True) -> np.ndarray:
    """``k_eff = p̂² (1 - p̂) / se²`` (0 without a positive estimate), capped by ``hits``
    where they are fewer than ``CAP_HITS``; with ``rarer_side``, for ``p̂ > 1/2`` the
    smaller of it and the effective misses ``p̂ (1 - p̂)² / se²``.

    For crude Monte Carlo it is the number of hits; for importance sampling it is the number
    of hits crude Monte Carlo would need for the same relative error. A probability near 1
    is as uncertain as its complement: its misses are what the sample must see (a sample
    that saw none claims ``1 - p̂`` to its rounding), so the flag (:func:`trust_flags`)
    counts the rarer side; the interval's effective sample size reads the hits.
    """
    p = np.clip(np.asarray(estimate, dtype=float), 0.0, 1.0)
    se = np.asarray(stderr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(se > 0, p * p * (1.0 - p) / np.where(se > 0, se * se, 1.0),
                     np.where((p > 0) & (p < 1), np.inf, 0.0))
        if rarer_side:
            misses = np.where(se > 0, p * (1.0 - p) ** 2 / np.where(se > 0, se * se, 1.0),
                              np.inf)
            k = np.where(p > 0.5, np.minimum(k, misses), k)
    if hits is not None:
        hits = np.asarray(hits, dtype=float)
        k = np.where(hits < CAP_HITS, np.minimum(k, hits), k)
    return k


def _wilson(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval of a proportion ``p`` from ``n`` (effective) runs."""
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    return np.maximum(centre - half, 0.0), np.minimum(centre + half, 1.0)


def zero_hit_bound(law_draws, level: float) -> np.ndarray:
    """``U = log(2 / (1 - level)) / A`` (at most 1): ``P(no hit) <= exp(-p A)``."""
    a = np.asarray(law_draws, dtype=float)
    with np.errstate(divide="ignore"):
        bound = np.log(2.0 / (1.0 - level)) / a
    return np.minimum(np.where(a > 0, bound, 1.0), 1.0)


def event_interval(estimate, stderr, level: float, *, hits=None,
                   law_draws=None, dof: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Interval of event probabilities in [0, 1], never of zero width (see the module).

    ``hits`` caps the effective hits (fewer than ``CAP_HITS``); ``law_draws`` are the
    law-equivalent draws behind the bound of a quantity without a hit (none known: the
    bound is 1); ``dof``: the standard error is the spread of ``dof + 1`` RQMC replicates,
    so Wilson's interval takes Student's quantile on ``dof`` in place of the normal one.
    """
    z = z_value(level, dof)
    p_hat = np.asarray(estimate, dtype=float)
    se = np.asarray(stderr, dtype=float)
    n_q = p_hat.shape[0]
    law_draws = np.zeros(n_q) if law_draws is None else np.asarray(law_draws, dtype=float)
    k = effective_hits(p_hat, se, hits, rarer_side=False)
    low, high = np.zeros(n_q), np.ones(n_q)
    p = np.clip(p_hat, 0.0, 1.0)
    hit = (k > 0) & (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(hit, k / np.where(p > 0, p, 1.0), 1.0)
    n_eff = np.where(np.isfinite(n_eff), n_eff, np.where(law_draws > 0, law_draws, 1.0))
    w_low, w_high = _wilson(p, n_eff, z)
    low[hit], high[hit] = w_low[hit], w_high[hit]
    bound = zero_hit_bound(law_draws, level)
    none = ~hit & (p_hat <= 0)
    # no hit, or a nonpositive estimate (control variates can push one below 0)
    high[none] = np.maximum(np.minimum(p_hat[none] + z * se[none], 1.0), bound[none])
    every = ~hit & (p_hat >= 1)  # every run a hit: the mirror image
    low[every] = 1.0 - np.maximum(np.minimum(1.0 - p_hat[every] + z * se[every], 1.0),
                                  bound[every])
    return low, high


def _zero_one(values: np.ndarray) -> np.ndarray:
    """Whether each column of ``values`` ((n, m)) holds only 0 and 1."""
    return np.all((values == 0.0) | (values == 1.0), axis=0)


class HitTally:
    """``evaluate`` passed through, counting the runs and the hits of every output column.

    A column is an event while every value seen is 0 or 1. ``records`` keeps, per call and
    in call order, the batch key, the number of runs and the hits per column, so that the
    law-equivalent draws of a column without hits can be counted afterwards (all but the
    law route's edge probe, whose points are no law's draws: :mod:`~multiexpect.engine.
    edge_probe`).
    """

    def __init__(self, evaluate: Callable):
        self.evaluate = evaluate
        self.records: list[tuple[int, int, np.ndarray]] = []
        self.binary: np.ndarray | None = None

    def __call__(self, x, batch):
        outputs = self.evaluate(x, batch)
        values = np.asarray(outputs, dtype=float).reshape(np.shape(x)[0], -1)
        if self.binary is None:
            self.binary = _zero_one(values)
        elif self.binary.any():  # only the columns still 0/1 can stay events
            still = np.flatnonzero(self.binary)
            self.binary = self.binary.copy()
            self.binary[still] = _zero_one(values[:, still])
        if batch != batch_keys.edge_probe():  # no law's draws: the edges, deliberately
            self.records.append((int(batch), values.shape[0],
                                 np.count_nonzero(values, axis=0)))
        return outputs

    def hits(self) -> np.ndarray:
        """Hits per column over every call."""
        if not self.records:
            return np.zeros(0, dtype=int)
        return np.sum([r[2] for r in self.records], axis=0)

    def law_draws(self, *, n_final: int, defensive: float, n_laws: int,
                  pilot: Callable[[int], bool]) -> np.ndarray:
        """Law-equivalent draws per column behind a no-hit bound.

        A column with no hit at all: every draw counts, a pilot draw (batch key with
        ``pilot(key)``) for ``1 / L``, any other for ``defensive / L``. A column with hits
        but none in the final ``n_final`` draws (the last calls): those draws, at
        ``defensive / L`` each. Otherwise 0 (such a column has an estimate).
        """
        if not self.records:
            return np.zeros(0)
        runs = np.array([r[1] for r in self.records], dtype=float)
        share = np.array([1.0 if pilot(r[0]) else defensive for r in self.records]) / n_laws
        hits = np.array([r[2] for r in self.records])
        total = hits.sum(axis=0)
        out = np.where(total == 0, float(runs @ share), 0.0)
        final = np.cumsum(runs[::-1])[::-1] <= n_final  # the trailing calls of the final stage
        final_hits = hits[final].sum(axis=0)
        out = np.where((total > 0) & (final_hits == 0),
                       defensive / n_laws * float(runs[final].sum()), out)
        return out


def event_diagnostics(tally: HitTally, columns, *, n_final: int, defensive: float,
                      n_laws: int, pilot: Callable[[int], bool]) -> dict:
    """Per quantity (model column ``columns[j]``): ``event`` (0/1 at every run), raw ``hits``
    and ``law_draws`` (:meth:`HitTally.law_draws`), for the result's diagnostics."""
    columns = np.asarray(columns, dtype=int)
    if tally.binary is None:
        return {"event": [False] * len(columns), "hits": [0] * len(columns),
                "law_draws": [0.0] * len(columns)}
    draws = tally.law_draws(n_final=n_final, defensive=defensive, n_laws=n_laws, pilot=pilot)
    return {"event": [bool(v) for v in tally.binary[columns]],
            "hits": [int(v) for v in tally.hits()[columns]],
            "law_draws": [float(v) for v in draws[columns]]}


def trust_flags(estimate, k_eff, points=None) -> list[str]:
    """Per estimate: :data:`FLAG_NO_HIT` (an event without a hit, or with an estimate at or
    below 0: only its upper bound means something), :data:`FLAG_FEW_HITS` (an event with
    ``0 < k_eff < FEW_HITS`` effective hits: neither the estimate nor its standard error is
    to be trusted), :data:`FLAG_FEW_POINTS` (a quantity that is no event, ``k_eff`` NaN,
    whose effective points ``points`` are fewer than ``FEW_POINTS``: the same), else ``""``
    (also where ``points`` is NaN or not given)."""
    k_eff = np.asarray(k_eff, dtype=float)
    points = (np.full(k_eff.shape, np.nan) if points is None
              else np.asarray(points, dtype=float))
    flags = []
    for p, k, m in zip(np.asarray(estimate, dtype=float), k_eff, points):
        if np.isnan(k):
            flags.append(FLAG_FEW_POINTS if m < FEW_POINTS else "")
        elif p <= 0 and k == 0:
            flags.append(FLAG_NO_HIT)
        else:
            flags.append(FLAG_FEW_HITS if k < FEW_HITS else "")
    return flags


def event_notes(names, estimate, k_eff, high, level: float, points=None) -> list[str]:
    """Lines under a summary table: events without a hit, events with few effective hits,
    other quantities with few effective points (``points``, :func:`trust_flags`)."""
    notes = []
    m_eff = np.full(len(names), np.nan) if points is None else np.asarray(points, dtype=float)
    for name, p, k, m, hi, flag in zip(names, estimate, k_eff, m_eff, high,
                                       trust_flags(estimate, k_eff, points)):
        if flag == FLAG_NO_HIT:
            why = "no hit" if p == 0 else "an estimate below 0"
            notes.append(f"note: {name}: {why}; the interval is an upper confidence bound, "
                         f"p < {hi:.3g} ({round(level * 100)}%)")
        elif flag == FLAG_FEW_HITS:
            side = "hits" if p <= 0.5 else "misses (runs outside the event, the rarer side)"
            notes.append(f"warning: {name}: only {k:.1f} effective {side} (< {FEW_HITS:g}): "
                         f"the estimate and its standard error are not to be trusted")
        elif flag == FLAG_FEW_POINTS:
            notes.append(f"warning: {name}: only {m:.1f} effective points (< {FEW_POINTS:g}; "
                         f"a few points carry the estimate): the estimate and its standard "
                         f"error are not to be trusted")
    return notes

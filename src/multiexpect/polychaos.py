"""Polynomial chaos bases: orthonormal polynomials of standard inputs, of total degree.

Per input, orthonormal Legendre polynomials of ``u = Φ(z)`` on ``[0, 1]`` when its law is
bounded (``u`` is then uniform), orthonormal (probabilists') Hermite polynomials of ``z``
otherwise; a multi-index ``α`` multiplies one polynomial per input, and the basis holds
every ``α`` with ``|α| <= p``. The total degree ``p`` is the largest with at most
``min(MAX_TERMS, fit rows / ROWS_PER_TERM)`` terms (``C(p + d, d)``), at most
:data:`MAX_DEGREE`. Used by the Sobol' chaos control
(:mod:`multiexpect.sensitivity.chaos`) and the final stage's
(:mod:`multiexpect.engine.surrogate`).
"""

from __future__ import annotations

from math import comb, factorial

import numpy as np
from scipy import special

__all__ = ["CHAOS", "CHUNK_RUNS", "FIT_CHUNK_ROWS", "LAW_NETS", "MAX_DEGREE", "MAX_SHARE",
           "MAX_TERMS", "RESOLUTION", "ROWS_PER_TERM", "bounded_inputs", "chaos_at",
           "chaos_degree", "chaos_record", "design", "multi_indices", "normal_equations",
           "raised_indices", "term_cap", "terms", "univariate"]

#: The value of a chaos control's record's ``"surrogate"`` key (:func:`chaos_record`).
CHAOS = "chaos"
#: The ``"form"`` of the law route's control's record (:mod:`multiexpect.engine.law_chaos`),
#: beside the final stage's ``"full"`` and ``"capped"``.
LAW_NETS = "law-nets"

#: Largest total degree of the chaos.
MAX_DEGREE = 10
#: Most terms of the chaos (the least-squares fit's columns).
MAX_TERMS = 300
#: Fit rows per term at least.
ROWS_PER_TERM = 20
#: Largest share of its plain values' variance that a quantity's chaos-controlled values may
#: keep for it to take the control (both chaos controls): an event's indicator, or a model a
#: polynomial follows badly (a bounded model under Hermite polynomials of its normal scores,
#: whose fit explodes in the tails), stays plain.
MAX_SHARE = 0.5
#: A controlled quantity's standard error is at least this times the root mean square of its
#: values: the resolution of the arithmetic (the maps through ``Φ`` and the quantiles, the
#: fit, the exact means) where the chaos reproduces the model and the rows agree closer than
#: the estimate's error (docs/method.md, "The chaos control of the final stage").
RESOLUTION = 1e-9


def chaos_record(diagnostics: dict) -> dict | None:
    """The record of a chaos control in a result's ``diagnostics``, or None: both controls
    (``expectations``' final stage, :mod:`multiexpect.engine.surrogate`; the Sobol' one,
    :mod:`multiexpect.sensitivity.chaos`) file it as one dict under ``"surrogate"``, with
    ``"surrogate": "chaos"``, ``"degree"``, ``"terms"``, ``"residual_share"`` and
    ``"controlled"`` (a flag per quantity). Sobol' results saved before the two shapes were
    one carry these keys at the top level of their diagnostics; they are read too."""
    record = diagnostics.get("surrogate")
    if isinstance(record, dict) and record.get("surrogate") == CHAOS:
        return record
    if record == CHAOS:  # a Sobol' result saved in the older, flat shape
        return diagnostics
    return None


def bounded_inputs(law) -> np.ndarray:
    """Which inputs of ``law`` are bounded ((d,) bool), read from its ``support_box``; none
    for a law without one (an OpenTURNS law kept as such), whose inputs then all take
    Hermite polynomials of their standard scores (a valid basis for any law)."""
    box = getattr(law, "support_box", None)
    if box is None:
        return np.zeros(law.dim, dtype=bool)
    return np.all(np.isfinite(box), axis=1)


def terms(dim: int, degree: int) -> int:
    """The terms of a chaos of total degree ``degree`` in ``dim`` inputs,
    ``C(dim + degree, degree)`` (the rows of :func:`multi_indices`)."""
    return comb(dim + degree, degree)


def term_cap(fit_rows: int) -> int:
    """The most terms a chaos fitted on ``fit_rows`` rows may hold:
    ``min(MAX_TERMS, fit_rows // ROWS_PER_TERM)``."""
    return min(MAX_TERMS, fit_rows // ROWS_PER_TERM)


def chaos_degree(dim: int, fit_rows: int, max_degree: int | None = MAX_DEGREE) -> int:
    """The total degree of the chaos for ``dim`` inputs and ``fit_rows`` fit rows (module
    docstring; at most ``max_degree``, None: the term cap alone); a ValueError naming
    ``surrogate`` when not even degree 1 fits."""
    cap = term_cap(fit_rows)
    top = cap if max_degree is None else max_degree
    degree = 0
    while degree < top and terms(dim, degree + 1) <= cap:
        degree += 1
    if degree == 0:
        raise ValueError(f"'surrogate' needs at least {ROWS_PER_TERM * (dim + 1)} fit runs "
                         f"for a degree-1 chaos in {dim} inputs, got {fit_rows}")
    return degree


def raised_indices(alphas: np.ndarray, coef: np.ndarray, cap: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """The total-degree basis ``alphas`` (degree ``p < MAX_DEGREE``, ordered by total
    degree) with one degree more among the inputs that interact most, and those inputs.

    The hierarchy of effects: an input that carries much of a degree-``p`` chaos's
    interaction variance (``sum c_α^2`` over the terms ``α`` holding it and another input,
    ``coef`` fitted in that basis; ties and ``p = 1`` by its whole variance) is the likeliest
    to carry higher-order terms too, and a total-degree basis of degree ``p + 1`` in all
    ``d`` inputs seldom fits the cap (``C(d + p + 1, d)`` terms). So every ``α`` of total
    degree ``p + 1`` supported on the ``k`` most interacting inputs is appended, ``k`` the
    largest with at most ``cap`` terms in all: ``C(k + p, p + 1)`` terms more (Morris's
    third-order terms in its first inputs, beyond its degree-2 chaos). The result keeps
    ``alphas`` as its first rows, so a cut by total degree returns to it. Unchanged (and no
    inputs) where ``p`` is :data:`MAX_DEGREE` or not even one input fits."""
    p = int(alphas.sum(axis=1).max())
    d = alphas.shape[1]
    k = 0
    while k < d and alphas.shape[0] + terms(k + 1, p + 1) - terms(k + 1, p) <= cap:
        k += 1
    if p >= MAX_DEGREE or k == 0:
        return alphas, np.zeros(0, dtype=int)
    sq = np.asarray(coef, dtype=float) ** 2
    interacting = (alphas > 0).sum(axis=1) >= 2
    inter = np.array([sq[interacting & (alphas[:, i] > 0)].sum() for i in range(d)])
    whole = np.array([sq[alphas[:, i] > 0].sum() for i in range(d)])
    chosen = np.sort(np.lexsort((-whole, -inter))[:k])  # by interaction, then by the whole
    top = np.array(list(_compositions(p + 1, k)))  # multi_indices' order at degree p + 1
    added = np.zeros((top.shape[0], d), dtype=int)
    added[:, chosen] = top
    return np.vstack([alphas, added]), chosen


def multi_indices(dim: int, degree: int) -> np.ndarray:
    """All ``α`` with ``|α| <= degree``, by total degree ((terms, dim))."""
    out = [np.zeros(dim, dtype=int)]
    for total in range(1, degree + 1):
        for combo in _compositions(total, dim):
            out.append(np.array(combo))
    return np.array(out)


def _compositions(total: int, parts: int):
    """The ``parts``-tuples of non-negative ints summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def univariate(z: np.ndarray, bounded: bool, degree: int) -> np.ndarray:
    """Orthonormal polynomials of degrees ``0..degree`` of one input ((n, degree + 1)):
    Legendre of ``u = Φ(z)`` on ``[0, 1]`` when ``bounded``, Hermite of ``z`` otherwise."""
    x = 2.0 * special.ndtr(z) - 1.0 if bounded else z
    out = np.empty((z.size, degree + 1))
    out[:, 0] = 1.0
    if degree >= 1:
        out[:, 1] = x
    for k in range(1, degree):
        if bounded:  # Legendre: (k + 1) P_{k+1} = (2k + 1) x P_k - k P_{k-1}
            out[:, k + 1] = ((2 * k + 1) * x * out[:, k] - k * out[:, k - 1]) / (k + 1)
        else:  # probabilists' Hermite: He_{k+1} = z He_k - k He_{k-1}
            out[:, k + 1] = x * out[:, k] - k * out[:, k - 1]
    k = np.arange(degree + 1)
    norm = (np.sqrt(2 * k + 1.0) if bounded
            else 1.0 / np.sqrt([float(factorial(j)) for j in k]))
    return out * norm


def design(z: np.ndarray, bounded: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """The chaos basis at standard inputs ``z`` ((n, d)) -> (n, terms). Each input
    multiplies only the terms that hold it (its degree-0 polynomial is exactly 1); built
    term by term as rows of ``n`` values (whole-row gathers), then laid out point by point."""
    degree = int(alphas.max())
    out = np.ones((alphas.shape[0], z.shape[0]))
    for j in range(z.shape[1]):
        terms = np.flatnonzero(alphas[:, j])
        polys = np.ascontiguousarray(univariate(z[:, j], bool(bounded[j]), degree).T)
        out[terms] *= polys[alphas[terms, j]]
    return np.ascontiguousarray(out.T)


#: Runs whose chaos values are computed at once (:func:`chaos_at`): the basis of ``n`` runs
#: would hold ``n x terms`` floats (1.8 GB for 10^6 runs at 300 terms).
CHUNK_RUNS = 2**16
#: Fit rows whose basis is held at once for the normal equations (:func:`normal_equations`).
#: Above one chunk the Gram matrix is summed in another order (rounding only).
FIT_CHUNK_ROWS = 2**16


def chaos_at(z: np.ndarray, bounded: np.ndarray, alphas: np.ndarray,
             coef: np.ndarray) -> np.ndarray:
    """The chaos ``coef`` at the standard inputs ``z`` ((n, d)), :data:`CHUNK_RUNS` rows of
    the basis at a time (each row's value is its own dot product: the same as at once)."""
    return np.concatenate([design(z[i:i + CHUNK_RUNS], bounded, alphas) @ coef
                           for i in range(0, max(z.shape[0], 1), CHUNK_RUNS)])


def normal_equations(z: np.ndarray, y: np.ndarray, bounded: np.ndarray,
                     alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``B^T B`` and ``B^T y`` of the chaos basis ``B`` at the standard inputs ``z``
    ((n, d)), summed over :data:`FIT_CHUNK_ROWS` rows at a time; one chunk gives the
    products at once, bit for bit."""
    gram, moment = 0.0, 0.0
    for i in range(0, max(z.shape[0], 1), FIT_CHUNK_ROWS):
        phi = design(z[i:i + FIT_CHUNK_ROWS], bounded, alphas)
        gram = gram + phi.T @ phi
        moment = moment + phi.T @ y[i:i + FIT_CHUNK_ROWS]
    return gram, moment

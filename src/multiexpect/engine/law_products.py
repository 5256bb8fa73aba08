r"""Products of the law route's chaos controls: a second moment controlled by its first.

A quantity such as ``E[y^2]`` or ``E[y_a y_b]`` beside ``E[y]`` is a polynomial of twice the
degree the term cap gives its own chaos (Ishigami's ``y^2`` holds ``sin^4 x_2`` and
``x_3^8 sin^2 x_1``), so its own control (:mod:`.law_chaos`) may not pay where the first
moment's does. But where the chaos ``g_a`` follows ``y_a`` to ``ε``, the product
``g_a g_b`` follows ``y_a y_b`` to about ``ε (|y_a| + |y_b|)``, and its mean is known
exactly: the basis is orthonormal, so ``E[g_a g_b] = Σ_α c_{a,α} c_{b,α}`` (Parseval).

So each quantity whose own chaos gains less than :data:`~.law_chaos.CLOSE_GAIN` (left
plain, or kept on a spread that may be lucky) is fitted again, by least squares on the
other nets' points, on the chaos basis together with the products ``g_a^{(-r)} g_b^{(-r)}``
(``a <= b``) of the *source* quantities' controls (those that took theirs, at most
:data:`MAX_SOURCES`, the largest gains first), each fitted without net ``r`` as in
:mod:`.law_chaos`. Net ``r``'s value is then

    Î_r = mean_{i in r} (phi_j(x_i) - h_{-r}(u_i)) + E[h_{-r}],
    h_{-r} = Σ_α γ_α ψ_α + Σ_{a<=b} β_{ab} g_a^{(-r)} g_b^{(-r)},

every coefficient fixed given the other nets, so each net stays exactly unbiased, and the
quantity takes it by the rule of :mod:`.law_chaos` (its nets spread
:data:`~.law_chaos.KEEP_GAIN` times less, with their covariance: the same fits without each
pair of nets, :func:`pair_errors`, :mod:`.law_pairs`). docs/method.md, "The nets' chaos
control on the law route of ``expectations``".
"""

from __future__ import annotations

import numpy as np

from ..polychaos import FIT_CHUNK_ROWS, chaos_at, design
from .law_pairs import PAIR_CHUNK, basis_errors

__all__ = ["MAX_SOURCES", "pair_errors", "product_fits", "solve_all"]

#: Most source quantities whose chaos products are regressors (``S (S + 1) / 2`` products).
MAX_SOURCES = 3


def product_fits(normal: np.ndarray, y: np.ndarray, n: int, bounded: np.ndarray,
                 alphas: np.ndarray, grams: list[np.ndarray],
                 sources: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per net ``r``, the targets' product control ``h_{-r}`` (module docstring) fitted by
    least squares on the other nets' points: its values at net ``r``'s points ((n, T)), its
    constant coefficient and its products' Parseval mean ((T,) each; ``E[h]`` their sum).
    ``normal`` ((R n, d)) the nets' standard normal coordinates, net after net of ``n``
    points, ``y`` ((R n, T)) the targets' values, ``grams`` each net's basis Gram matrix
    ``B_r^T B_r`` and ``sources`` each net's left-out fit of the source controls'
    coefficients ((P, S), fitted without net ``r``)."""
    terms = alphas.shape[0]
    groups = [(r,) for r in range(len(grams))]
    lhs, rhs, own = _normal_equations(normal, y, n, bounded, alphas, grams, groups, sources)
    out = []
    for r in range(len(grams)):
        coef = np.linalg.lstsq(lhs[r], rhs[r], rcond=None)[0]
        fitted = (chaos_at(normal[r * n:(r + 1) * n], bounded, alphas, coef[:terms])
                  + own[r][0] @ coef[terms:])
        out.append((fitted, coef[0], _parseval(sources[r]) @ coef[terms:]))
    return out


def pair_errors(normal: np.ndarray, y: np.ndarray, n: int, bounded: np.ndarray,
                alphas: np.ndarray, grams: list[np.ndarray], pairs: list[tuple[int, int]],
                sources: list[np.ndarray]) -> list[np.ndarray]:
    """Per pair ``(r, t)`` of nets, the errors ``ε_q(h) = mean_q(h) - E[h]`` ((2, T)) on
    nets ``r`` and ``t`` of the targets' product control fitted without both (``sources``:
    the source controls' coefficients fitted without both), for the cross-fit's covariance
    (:mod:`.law_pairs`): the same normal equations as :func:`product_fits`, solved at once
    (``np.linalg.solve``, :data:`~.law_pairs.PAIR_CHUNK` pairs at a time; least squares
    where a system is singular; zeros for two nets, which leave no point to fit). The basis
    part's error is :func:`~.law_pairs.basis_errors`'s, so no basis is evaluated again."""
    terms = alphas.shape[0]
    if len(grams) < 3:  # no point to fit without both nets: the control without them is 0
        return [np.zeros((2, y.shape[1])) for _ in pairs]
    errors_of_basis = basis_errors(grams, n)
    out = []
    for start in range(0, len(pairs), PAIR_CHUNK):
        chunk = slice(start, start + PAIR_CHUNK)
        lhs, rhs, own = _normal_equations(normal, y, n, bounded, alphas, grams, pairs[chunk],
                                          sources[chunk])
        coef = solve_all(lhs, rhs)
        for k, pair in enumerate(pairs[chunk]):
            errors = []
            for i, q in enumerate(pair):
                errors.append(errors_of_basis[q] @ coef[k, :terms]
                              + (own[k][i].mean(axis=0) - _parseval(sources[start + k]))
                              @ coef[k, terms:])
            out.append(np.stack(errors))
    return out


def solve_all(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``lhs[k]^-1 rhs[k]`` for every ``k`` at once; a system that is singular (or gives a
    non-finite solution) by least squares, alone."""
    try:
        coef = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        coef = np.full(rhs.shape, np.nan)
    for k in np.flatnonzero(~np.all(np.isfinite(coef), axis=tuple(range(1, coef.ndim)))):
        coef[k] = np.linalg.lstsq(lhs[k], rhs[k], rcond=None)[0]
    return coef


def _parseval(sources: np.ndarray) -> np.ndarray:
    """The means ``E[g_a g_b] = Σ_α c_{a,α} c_{b,α}`` ((products,)) of the products of the
    source controls whose coefficients are ``sources`` ((P, S)), the basis orthonormal."""
    left, right = np.triu_indices(sources.shape[1])
    return (sources[:, left] * sources[:, right]).sum(axis=0)


def _normal_equations(normal: np.ndarray, y: np.ndarray, n: int, bounded: np.ndarray,
                      alphas: np.ndarray, grams: list[np.ndarray],
                      groups: list[tuple[int, ...]], sources: list[np.ndarray]):
    """Per group of left-out nets, the normal equations ((G, W, W), (G, W, T)) of ``y`` on
    the basis and the products of the group's source controls ``g = B sources[k]`` over the
    other nets' points, and those products at each left-out net's points ((k, n,
    products) per group)."""
    nets, terms, count = len(grams), alphas.shape[0], sources[0].shape[1]
    left, right = np.triu_indices(count)
    products = left.size
    width = terms + products
    lhs = np.zeros((len(groups), width, width))
    rhs = np.zeros((len(groups), width, y.shape[1]))
    own = [np.empty((len(g), n, products)) for g in groups]
    moments = np.zeros((nets, terms, y.shape[1]))  # each net's B_r^T y_r
    stacked = np.concatenate(sources, axis=1)  # (P, groups S)
    for s in range(nets):
        for start in range(s * n, (s + 1) * n, FIT_CHUNK_ROWS):
            rows = slice(start, min(start + FIT_CHUNK_ROWS, (s + 1) * n))
            basis = design(normal[rows], bounded, alphas)
            g = (basis @ stacked).reshape(-1, len(groups), count)
            feats = g[:, :, left] * g[:, :, right]  # (rows, groups, products)
            target = y[rows]
            moments[s] += basis.T @ target
            cross = (basis.T @ feats.reshape(-1, len(groups) * products)).reshape(
                terms, len(groups), products)
            for k, group in enumerate(groups):
                f = feats[:, k]
                if s in group:
                    own[k][group.index(s), rows.start - s * n:rows.stop - s * n] = f
                    continue
                lhs[k, :terms, terms:] += cross[:, k]
                lhs[k, terms:, terms:] += f.T @ f
                rhs[k, terms:] += f.T @ target
    gram_all, moment_all = sum(grams), moments.sum(axis=0)
    for k, group in enumerate(groups):
        lhs[k, :terms, :terms] = gram_all - sum(grams[q] for q in group)
        rhs[k, :terms] = moment_all - sum(moments[q] for q in group)
        lhs[k, terms:, :terms] = lhs[k, :terms, terms:].T
    return lhs, rhs, own

r"""Products of the law route's chaos controls: a second moment controlled by its first.

A quantity such as ``E[y^2]`` or ``E[y_a y_b]`` beside ``E[y]`` is a polynomial of twice the
degree the term cap gives its own chaos (Ishigami's ``y^2`` holds ``sin^4 x_2`` and
``x_3^8 sin^2 x_1``), so its own control (:mod:`.law_chaos`) may not pay where the first
moment's does. But where the chaos ``g_a`` follows ``y_a`` to ``ε``, the product
``g_a g_b`` follows ``y_a y_b`` to about ``ε (|y_a| + |y_b|)``, and its mean is known
exactly: the basis is orthonormal, so ``E[g_a g_b] = Σ_α c_{a,α} c_{b,α}`` (Parseval).

So each quantity left plain by its own chaos is fitted again, by least squares on the
other nets' points, on the chaos basis together with the products ``g_a^{(-r)} g_b^{(-r)}``
(``a <= b``) of the *source* quantities' controls (those that took theirs, at most
:data:`MAX_SOURCES`, the largest gains first), each fitted without net ``r`` as in
:mod:`.law_chaos`. Net ``r``'s value is then

    Î_r = mean_{i in r} (phi_j(x_i) - h_{-r}(u_i)) + E[h_{-r}],
    h_{-r} = Σ_α γ_α ψ_α + Σ_{a<=b} β_{ab} g_a^{(-r)} g_b^{(-r)},

every coefficient fixed given the other nets, so each net stays exactly unbiased, and the
quantity takes it by the rule of :mod:`.law_chaos` (its nets spread
:data:`~.law_chaos.KEEP_GAIN` times less). docs/method.md, "The nets' chaos control on the
law route of ``expectations``".
"""

from __future__ import annotations

import numpy as np

from ..polychaos import FIT_CHUNK_ROWS, chaos_at, design

__all__ = ["MAX_SOURCES", "product_fits"]

#: Most source quantities whose chaos products are regressors (``S (S + 1) / 2`` products).
MAX_SOURCES = 3


def product_fits(normal: np.ndarray, y: np.ndarray, n: int, bounded: np.ndarray,
                 alphas: np.ndarray, grams: list[np.ndarray],
                 sources: list[np.ndarray]) -> np.ndarray:
    """The targets' values ``y`` ((R n, T)) less their cross-fitted product controls plus
    the controls' means (module docstring), net after net of ``n`` points: ``normal``
    ((R n, d)) the nets' standard normal coordinates, ``grams`` each net's basis Gram
    matrix ``B_r^T B_r`` and ``sources`` each net's left-out fit of the source controls'
    coefficients ((P, S), fitted without net ``r``)."""
    nets, terms, count = len(grams), alphas.shape[0], sources[0].shape[1]
    left, right = np.triu_indices(count)
    products = left.size
    width = terms + products
    # per left-out net r: the normal equations of [basis, products of g^(-r)] on the others
    lhs = np.zeros((nets, width, width))
    rhs = np.zeros((nets, width, y.shape[1]))
    own = np.empty((nets, n, products))  # net r's products of its own left-out controls
    moments = np.zeros((nets, terms, y.shape[1]))  # each net's B_r^T y_r
    stacked = np.concatenate(sources, axis=1)  # (P, R S)
    for s in range(nets):
        for start in range(s * n, (s + 1) * n, FIT_CHUNK_ROWS):
            rows = slice(start, min(start + FIT_CHUNK_ROWS, (s + 1) * n))
            basis = design(normal[rows], bounded, alphas)
            g = (basis @ stacked).reshape(-1, nets, count)
            feats = g[:, :, left] * g[:, :, right]  # (rows, R, products)
            target = y[rows]
            moments[s] += basis.T @ target
            cross = (basis.T @ feats.reshape(-1, nets * products)).reshape(terms, nets,
                                                                           products)
            for r in range(nets):
                f = feats[:, r]
                if r == s:
                    own[r, rows.start - s * n:rows.stop - s * n] = f
                    continue
                lhs[r, :terms, terms:] += cross[:, r]
                lhs[r, terms:, terms:] += f.T @ f
                rhs[r, terms:] += f.T @ target
    gram_all, moment_all = sum(grams), moments.sum(axis=0)
    out = np.empty_like(y, dtype=float)
    for r in range(nets):
        lhs[r, :terms, :terms] = gram_all - grams[r]
        rhs[r, :terms] = moment_all - moments[r]
        lhs[r, terms:, :terms] = lhs[r, :terms, terms:].T
        coef = np.linalg.lstsq(lhs[r], rhs[r], rcond=None)[0]
        part = slice(r * n, (r + 1) * n)
        fitted = chaos_at(normal[part], bounded, alphas, coef[:terms]) + own[r] @ coef[terms:]
        means = (sources[r][:, left] * sources[r][:, right]).sum(axis=0)  # Parseval
        out[part] = y[part] - fitted + coef[0] + means @ coef[terms:]
    return out

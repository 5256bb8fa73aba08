r"""A polynomial chaos control for the law route's nets (one law, ``surrogate`` not None).

On the law route every net ``r`` is a scrambled Sobol' net of the law, and its plain
estimate of quantity ``j`` is the net's mean of ``phi_j``. For a polynomial ``g`` of the
net's uniform coordinates ``u`` whose law mean is known, ``mean_r(phi_j - g) + E[g]`` is
again unbiased, and its error is the net's error on the residual ``phi_j - g``: small where
``g`` follows the integrand. ``g`` is a total-degree chaos of orthonormal Legendre
polynomials of ``u`` (every input, whatever its law: they are bounded, so the control adds
no tail, and ``E[g]`` is its constant term ``c_0``) of the largest degree within the term
cap (:func:`~multiexpect.polychaos.term_cap` of the other nets' points; bounded and well
conditioned at any degree, they need no :data:`~multiexpect.polychaos.MAX_DEGREE`: one
input's ``sin(40 x)`` takes degree 50 and more), fitted by least squares on the other
nets' points (**cross-fitted by nets**): net ``r``'s value is

    Î_r = mean_{i in r} (phi_j(x_i) - g_{-r}(u_i)) + c_{0,-r},

``g_{-r}`` fixed given the other nets, so each ``Î_r`` is exactly unbiased and the
replicates' interval reads their spread as for plain nets (the Sobol' law route's control,
:mod:`multiexpect.sensitivity.chaos`, does the same on pick-freeze forms).

A quantity takes the control only where its controlled nets spread at most
``1 / KEEP_GAIN`` as much (variance) as its plain nets: where the net already integrates
the integrand better than the chaos follows it (a kink, a high frequency, an indicator),
the plain nets stay. The choice reads both spreads on the same nets, so it is taken more
often where the controlled spread came out low, which narrows the interval; a large
factor keeps that to clear wins (a residual the nets integrate with skewed errors, such as
a cusp's spike, otherwise takes it on lucky seeds). Event quantities (0/1) stay plain.
Where the chaos reproduces the integrand, a controlled quantity's standard error is kept
at :data:`~multiexpect.polychaos.RESOLUTION` times the root mean square of its values,
the arithmetic's resolution, and the rule reads the controlled spread at least at that
floor, so nets that already integrate finer than it (an additive model, each net's
one-dimensional projections stratified) stay plain. Two nets' values covary (each is in
the other's fit): every controlled quantity's spread adds that covariance, read off the
fits without each pair of nets (:mod:`.law_pairs`), in the rule and in the interval. A
quantity whose own control gains less than :data:`CLOSE_GAIN` (a second moment, twice the
degree, plain or kept on a lucky spread) is tried again with the products of the kept
quantities' chaos as regressors (:mod:`.law_products`), by the same rule.
docs/method.md, "The nets' chaos control on the law route of ``expectations``"; the
measurements: docs/benchmarks.md, "The law route's chaos control", "Products of the law
route's controls" and "The cross-fit's covariance".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimators.monte_carlo import net_means
from ..polychaos import (
    CHAOS,
    LAW_NETS,
    RESOLUTION,
    chaos_at,
    chaos_degree,
    multi_indices,
    normal_equations,
)
from .law_pairs import basis_errors, cross_covariance, net_pairs, pair_chunks
from .law_products import MAX_SOURCES, pair_errors, product_fits, solve_all

__all__ = ["CLOSE_GAIN", "KEEP_GAIN", "NetControl", "net_control"]

#: A quantity takes the control only where its controlled nets' spread (variance of the net
#: means) is at most ``1 / KEEP_GAIN`` of the plain nets'.
KEEP_GAIN = 16.0
#: A quantity whose own control spreads more than ``1 / CLOSE_GAIN`` of its plain nets' is
#: tried with the products of the others' (:mod:`.law_products`), which it takes where they
#: pass :data:`KEEP_GAIN`: a second moment may pass with its own chaos on a lucky spread.
CLOSE_GAIN = 100.0


@dataclass(frozen=True)
class NetControl:
    """The nets' values ((R, J)) and mean squares ((R, J)) with the control where it was
    kept, each quantity's standard-error floor ((J,), 0 where plain), the covariance of two
    of its nets the spread misses ((J,), :mod:`.law_pairs`; 0 where plain) and the fit's
    JSON-able record for the result's diagnostics."""

    values: np.ndarray
    squares: np.ndarray
    floor: np.ndarray
    cross: np.ndarray
    record: dict


def net_control(normal: np.ndarray, summands: np.ndarray, n: int,
                eligible: np.ndarray) -> NetControl | None:
    """The law route's nets with the chaos control (module docstring): ``normal`` ((R n, d))
    the nets' standard normal coordinates and ``summands`` ((R n, J)) their quantity values,
    net after net of ``n`` points; ``eligible`` ((J,) bool) the quantities that may take it.
    None where no quantity is eligible, the coordinates are not all finite or not even a
    degree-1 chaos fits the other nets' points."""
    rows, d = normal.shape
    nets = rows // n
    if not np.any(eligible) or nets < 2 or not np.all(np.isfinite(normal)):
        return None
    fit_rows = rows - n
    try:
        degree = chaos_degree(d, fit_rows, max_degree=None)  # Legendre: the term cap alone
    except ValueError:
        return None
    alphas = multi_indices(d, degree)
    bounded = np.ones(d, dtype=bool)
    cols = np.flatnonzero(eligible)
    y = summands[:, cols]
    nets_rows = [slice(r * n, (r + 1) * n) for r in range(nets)]
    pairs = [normal_equations(normal[part], y[part], bounded, alphas) for part in nets_rows]
    gram, moment = sum(g for g, _ in pairs), sum(m for _, m in pairs)
    corrected = np.array(summands, dtype=float)
    residual = 0.0
    coefs = []
    for (net_gram, net_moment), part in zip(pairs, nets_rows):
        coef = np.linalg.lstsq(gram - net_gram, moment - net_moment, rcond=None)[0]
        fitted = chaos_at(normal[part], bounded, alphas, coef)
        residual += float(np.sum((y[part] - fitted) ** 2))
        corrected[part, cols] = y[part] - fitted + coef[0]
        coefs.append(coef)
    plain = _net_spread(summands, n)
    resolution = RESOLUTION * np.sqrt(np.mean(summands**2, axis=0))
    least = nets * resolution**2  # the controlled spread as the interval reads it, at least
    # the covariance of two nets the spread misses (law_pairs), from the fits without pairs
    both = net_pairs(nets)
    pair_coefs = _pair_fits(pairs, gram, moment, both, coefs[0].shape)
    cross = np.zeros(summands.shape[1])
    cross[cols] = _own_covariance(pairs, coefs, pair_coefs, both, n)
    spread = np.maximum(_net_spread(corrected, n) + nets * np.maximum(cross, 0.0), least)
    kept = np.zeros(summands.shape[1], dtype=bool)
    kept[cols] = (spread[cols] * KEEP_GAIN <= plain[cols]) & (plain[cols] > 0)
    by_products = np.zeros_like(kept)
    # the sources: the kept quantities whose nets spread least against plain; the targets:
    # those whose own chaos gains less than CLOSE_GAIN (plain, or kept on a spread that
    # may be lucky)
    gain = np.where(kept[cols], plain[cols] / spread[cols], 0.0)
    sources = np.argsort(-gain, kind="stable")[:min(MAX_SOURCES, int(kept.sum()))]
    targets = cols[gain < CLOSE_GAIN]
    if sources.size and targets.size:
        grams = [g for g, _ in pairs]
        fits = product_fits(normal, summands[:, targets], n, bounded, alphas, grams,
                            [c[:, sources] for c in coefs])
        redone = np.concatenate([y_part - fitted + const + extra for y_part, (
            fitted, const, extra) in zip(np.split(summands[:, targets], nets), fits)])
        # the covariance only widens the spread: it is read where the spread alone passes
        raw = _net_spread(redone, n)
        taken = (np.maximum(raw, least[targets]) * KEEP_GAIN <= plain[targets]) & (
            plain[targets] > 0)
        if np.any(taken):
            single = np.stack([fitted.mean(axis=0) - (const + extra)
                               for fitted, const, extra in fits])[:, taken]
            errors = pair_errors(normal, summands[:, targets[taken]], n, bounded, alphas,
                                 grams, both, [c[:, sources] for c in pair_coefs])
            again_cross = np.zeros(targets.size)
            again_cross[taken] = cross_covariance(single, dict(zip(both, errors)))
            again = np.maximum(raw + nets * np.maximum(again_cross, 0.0), least[targets])
            taken &= again * KEEP_GAIN <= plain[targets]
            by_products[targets[taken]] = True
            corrected[:, targets[taken]] = redone[:, taken]
            cross[targets[taken]] = again_cross[taken]
            kept |= by_products
    out = np.where(kept, corrected, summands)
    values = net_means(out, n)
    squares = net_means(out**2, n)
    floor = np.where(kept, resolution, 0.0)
    total = float(np.sum((y - y.mean(axis=0)) ** 2))
    info = {"surrogate": CHAOS, "form": LAW_NETS, "degree": degree,
            "terms": int(alphas.shape[0]), "basis": "legendre",
            "residual_share": residual / total if total > 0 else 0.0,
            "controlled": kept.tolist(), "by_products": by_products.tolist()}
    return NetControl(values, squares, floor, np.where(kept, cross, 0.0), info)


def _pair_fits(pairs: list, gram: np.ndarray, moment: np.ndarray,
               both: list[tuple[int, int]], shape: tuple) -> np.ndarray:
    """The chaos fitted without each pair ``both`` of nets ((len(both), P, J)) from each
    net's normal equations ``pairs`` and their sums ``gram``, ``moment``,
    :data:`~.law_pairs.PAIR_CHUNK` pairs solved at once; zeros for two nets, which leave no
    point to fit without both."""
    if len(pairs) < 3:
        return np.zeros((len(both), *shape))
    return np.concatenate([
        solve_all(np.stack([gram - pairs[r][0] - pairs[t][0] for r, t in chunk]),
                  np.stack([moment - pairs[r][1] - pairs[t][1] for r, t in chunk]))
        for chunk in pair_chunks(both)])


def _own_covariance(pairs: list, coefs: list, pair_coefs: np.ndarray,
                    both: list[tuple[int, int]], n: int) -> np.ndarray:
    """Per eligible quantity, the covariance ``Ĉ`` of two nets under its own chaos
    (:mod:`.law_pairs`): ``pairs`` each net's normal equations, ``coefs`` its left-out fit,
    ``pair_coefs`` the fits without each pair ``both``; a fit's error on a net is
    :func:`~.law_pairs.basis_errors`'s."""
    basis_error = basis_errors([g for g, _ in pairs], n)
    single = np.stack([basis_error[r] @ coef for r, coef in enumerate(coefs)])
    paired = {(r, t): np.stack([basis_error[r] @ coef, basis_error[t] @ coef])
              for (r, t), coef in zip(both, pair_coefs)}
    return cross_covariance(single, paired)


def _net_spread(values: np.ndarray, n: int) -> np.ndarray:
    """Per quantity, the variance of the net means: the spread the interval reads."""
    return np.var(net_means(values, n), axis=0, ddof=1)

r"""The covariance of the law route's cross-fitted nets, read off fits that leave out pairs.

With the chaos control (:mod:`.law_chaos`, :mod:`.law_products`) net ``r``'s value is
``Î_r = mean_r(phi) - ε_r(h_{-r})``, ``ε_r(h) = mean_r(h) - E[h]`` the net's integration
error on a function ``h`` and ``h_{-r}`` the control fitted without net ``r``. Each ``Î_r``
is unbiased, but two nets are not independent: net ``t`` is in the fit of ``Î_r`` and net
``r`` in that of ``Î_t``. The replicates' spread misses that covariance, and it is not
small where the fit is near its term cap (a fit's error on one net is a product of two
integration errors, not small beside the error on the residual that the control leaves).

Let ``h_{-r,-t}`` be the control fitted without nets ``r`` and ``t``, and
``D_rt = ε_r(h_{-r}) - ε_r(h_{-r,-t})``. Then exactly

    Cov(Î_r, Î_t) = E[D_rt D_tr],

because ``ε_r(h)`` has mean zero over net ``r``'s scrambling for any ``h`` fixed without
it: ``Î_r + D_rt`` is unbiased and free of net ``t``, ``D_rt`` has mean zero given every net
but ``r`` (and ``D_tr`` given every net but ``t``), so every other product has mean zero.
With ``C`` that covariance (the nets are exchangeable) and ``s^2`` the replicates' sample
variance, ``E[s^2] = V - C`` and ``Var(mean Î_r) = (V + (R - 1) C) / R``, so

    Var(mean Î_r) = E[s^2] / R + C,     Ĉ = (1 / (R (R - 1))) Σ_{r != t} D_rt D_tr

unbiased. The standard error adds ``max(Ĉ, 0)`` (a negative ``C`` makes the spread
conservative already). docs/method.md, "The cross-fit's covariance".
"""

from __future__ import annotations

import numpy as np

__all__ = ["PAIR_CHUNK", "basis_errors", "cross_covariance", "net_pairs", "pair_chunks"]

#: Pairs of nets whose fits are set up and solved at once: their normal equations hold
#: ``PAIR_CHUNK x terms^2`` floats (24 MB at 300 terms).
PAIR_CHUNK = 32


def net_pairs(nets: int) -> list[tuple[int, int]]:
    """The pairs ``(r, t)``, ``r < t``, of ``nets`` nets."""
    return [(r, t) for r in range(nets) for t in range(r + 1, nets)]


def basis_errors(grams: list[np.ndarray], n: int) -> np.ndarray:
    """Each net's error on the chaos basis's means ((R, P)): the basis is orthonormal with
    ``ψ_0 = 1``, so the exact means are ``e_0`` and net ``r``'s means are its Gram matrix
    ``B_r^T B_r``'s first column over ``n``. A fit ``c`` fixed without net ``r`` has the
    error ``ε_r = basis_errors[r] . c`` there."""
    out = np.stack([g[:, 0] / n for g in grams])
    out[:, 0] -= 1.0
    return out


def pair_chunks(pairs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """``pairs`` in runs of at most :data:`PAIR_CHUNK`."""
    return [pairs[i:i + PAIR_CHUNK] for i in range(0, len(pairs), PAIR_CHUNK)]


def cross_covariance(single: np.ndarray, paired: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """``Ĉ`` per quantity (module docstring): ``single`` ((R, J)) each net's error
    ``ε_r(h_{-r})``, ``paired[(r, t)]`` ((2, J)) the errors ``ε_r(h_{-r,-t})`` and
    ``ε_t(h_{-r,-t})`` of the fit without both."""
    nets = single.shape[0]
    total = np.zeros(single.shape[1])
    for (r, t), errors in paired.items():
        total += (single[r] - errors[0]) * (single[t] - errors[1])
    return 2.0 * total / (nets * (nets - 1))

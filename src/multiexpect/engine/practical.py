"""Proposal points where the law has no practical mass are not run.

An adaptive proposal's tails can reach inputs the law gives a negligible mass (a well
radius drawn at -7 standard deviations of its normal law, where the model is undefined),
which crude designs never visit. With ``ε = practical_mass``, the *practical box* is
``B = prod_i [a_i, b_i]``, ``a_i = min_l F_li^{-1}(ε)``, ``b_i = max_l F_li^{-1}(1 - ε)`` over
the laws' marginals, so each law has mass at most ``2 d ε`` outside it.

A proposal batch's points outside ``B`` are not run (their integrand counts as 0) when every
fitted component of the proposal puts mass at most ``STRAY_MASS`` outside ``B`` (each
coordinate's marginal tails, summed: a union bound). The study then estimates
``∫_B phi f``; its bias for quantity ``j`` is ``-∫_{B^c} phi_j f``, at most
``sup_{B^c} |phi_j| · 2 d ε`` and, by Cauchy-Schwarz, ``(E_f[phi_j^2] · 2 d ε)^{1/2}``.
Relative to ``∫ |phi_j| f`` it is the share of ``|phi_j| f``'s mass outside ``B``, which
the components fitted to ``|phi_j^±| f`` estimate: a proposal whose fits reach beyond ``B``
(a heavy integrand such as ``x^20`` under a normal law, an event beyond ``B``) is run in
full. The pilot and the law's own draws (crude designs) are never filtered. A law kept as
an OpenTURNS distribution (no exact native conversion) has no box: every point is run.
Apart from the box, a point exactly on a bound of a law's support (a quantile rounded onto
it: probability 0) is never run (:meth:`~multiexpect.problem.Problem.has_mass`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..laws import Law

__all__ = ["STRAY_MASS", "PracticalBox", "practical_support"]

#: Largest mass a fitted component may put outside the practical box for its batch's
#: points there to be dropped.
STRAY_MASS = 1e-3


@dataclass(frozen=True)
class PracticalBox:
    """The practical box in inputs (``inputs``, (d, 2)) and in the working space's normal
    scores ``s = L u`` (``scores``, (d, 2); ``L`` the copula's Cholesky factor ``chol``, None
    in input space or for independent inputs, where ``s`` is the working point)."""

    inputs: np.ndarray
    scores: np.ndarray
    chol: np.ndarray | None

    @classmethod
    def build(cls, laws, mass: float, space: str, reference: int = 0) -> PracticalBox | None:
        """The box of ``laws`` at tail mass ``mass``, in the scores of law ``reference``
        (the standard space's, :class:`~multiexpect.problem.Problem`); None (every point is
        run) when ``mass`` is 0 or a law is not a native :class:`~multiexpect.Law` (an
        OpenTURNS law kept as such: its standard space is not marginal by marginal)."""
        if mass <= 0 or not all(isinstance(law, Law) for law in laws):
            return None
        boxes = np.stack([law.practical_box(mass) for law in laws])
        inputs = np.column_stack([boxes[:, :, 0].min(axis=0), boxes[:, :, 1].max(axis=0)])
        if space != "standard":
            return cls(inputs, inputs, None)
        ref = laws[reference]
        scores = np.array([[special.ndtri(m.cdf(lo)), -special.ndtri(m.sf(hi))]
                           for m, (lo, hi) in zip(ref.marginals, inputs)])
        corr = ref.correlation
        return cls(inputs, scores, None if corr is None else np.linalg.cholesky(corr))

    def outside(self, x: np.ndarray) -> np.ndarray:
        """Which input points ``x`` ((n, d)) lie outside the box."""
        return ~np.all((x >= self.inputs[:, 0]) & (x <= self.inputs[:, 1]), axis=1)

    def tail_mass(self, component) -> float:
        """Upper bound (union over coordinates) on the mass a Gaussian or Student t
        component, or a mixture of them, puts outside the box; 1 for another kind."""
        members = getattr(component, "components", None)
        if members is not None:
            return float(sum(w * self.tail_mass(m)
                             for w, m in zip(component.weights, members)))
        mean, cov = getattr(component, "mean", None), getattr(component, "cov", None)
        if mean is None or cov is None:
            return 1.0
        if self.chol is not None:
            mean, cov = self.chol @ mean, self.chol @ cov @ self.chol.T
        scale = np.sqrt(np.diag(cov))
        lo, hi = (self.scores[:, 0] - mean) / scale, (mean - self.scores[:, 1]) / scale
        dof = getattr(component, "dof", None)
        # the standard normal's and t's cdf as scipy.stats computes them, without its wrapper
        if dof is None:
            return float(np.sum(special.ndtr(lo) + special.ndtr(hi)))
        return float(np.sum(special.stdtr(dof, lo) + special.stdtr(dof, hi)))

    def droppable(self, proposal) -> bool:
        """Whether every fitted component of the mixture ``proposal`` (its last component
        the law) puts mass at most ``STRAY_MASS`` outside the box: its points outside may
        then be left unrun."""
        top = 0.0  # the largest mass so far, as max() keeps it (NaN only when first)
        for k, component in enumerate(proposal.components[:-1]):
            mass = self.tail_mass(component)
            top = mass if k == 0 or mass > top else top
            if not top <= STRAY_MASS:  # above it (or NaN) for good: max() would say so too
                return False
        return True


def practical_support(box: PracticalBox | None, proposal, x: np.ndarray,
                      support: np.ndarray, droppable: bool | None = None) -> np.ndarray:
    """The points of ``support`` to run from a batch of the mixture ``proposal`` (its last
    component the law): all of them, less the ones outside ``box`` when every fitted
    component puts mass at most ``STRAY_MASS`` there (``droppable``:
    :meth:`PracticalBox.droppable` of ``proposal``, when known: a frozen proposal's many
    chunks ask it once)."""
    if box is None or proposal is None:
        return support
    outside = support & box.outside(x)
    if not outside.any():
        return support
    if not (box.droppable(proposal) if droppable is None else droppable):
        return support
    return support & ~outside

"""Proposal families: one fitting signature and the registry ``FAMILIES`` the engine reads.

A family turns the weighted recycled points of one part of one quantity (``ω_i ∝
phi_j^±(z_i) f_j(z_i) / h(z_i)``) into the components of the mixture ``g_α`` that serve it:

    family.fit(points, log_weights, context) -> Fitted(parts, n_eff)

Each part is a component with its share of the part's starting weight (shares sum to 1);
``n_eff`` is the effective sample size of the weights. A family may declare extra
components beside its fit: the event family adds the *widened law* (:func:`fit_widened_law`).

Adding a family: its distribution and fit in a module of this package, and one entry in
``FAMILIES`` below (the engine and the option check read the names from here).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from .base import Proposal
from .gaussian import fit_gaussian, fit_gaussians, fit_widened_law, scaled_reference
from .gmm import fit_gmm, fit_regions, fit_student_mixture
from .student import fit_student

__all__ = ["FAMILIES", "LADDER_REGIONS", "Family", "FitContext", "Fitted", "GaussianFamily",
           "Part", "fit_parts"]

#: Most Gaussians (separate regions) an event's fit on the level ladder may have.
LADDER_REGIONS = 4


@dataclass(frozen=True)
class FitContext:
    """What any fit may use, fixed for one adaptive step (``event`` per quantity).

    Attributes
    ----------
    reference_cov : (d, d) array
        The law's covariance in the working space: few effective points shrink toward it.
    centre : (d,) array
        The law's centre ``c`` (the widened law's mean).
    pull : bool
        Whether fitted means are pulled toward ``c`` (:func:`~.gaussian.shrink_mean`).
    dof : float
        Degrees of freedom of the Student t's.
    n_components : int
        Components of a mixture family (``gmm``, ``student-mixture``).
    event_components : int
        t's per event probability in ``auto``.
    student_iter : int
        EM iterations of a single t's fit.
    event_widened : float
        Share of an event's starting weight given to its widened law (0: none).
    rng : numpy.random.Generator
        Fit subsets' and EM seeding's stream (:func:`~multiexpect.batch_keys.fit_generator`).
    event : bool
        Whether the quantity being fitted is an event probability (0/1 on the pilot).
    gaussian_event : bool
        The event's components are Gaussians, not a t (an exceedance on the level ladder:
        its elite points have light tails by construction, and a t's spread costs in high
        dimension), one per region of its elite points (:func:`~.gmm.fit_regions`, at most
        ``LADDER_REGIONS``).
    """

    reference_cov: np.ndarray
    centre: np.ndarray
    pull: bool
    dof: float
    n_components: int
    event_components: int
    student_iter: int
    event_widened: float
    rng: np.random.Generator
    event: bool = False
    gaussian_event: bool = False

    @property
    def reference_mean(self) -> np.ndarray | None:
        """The centre the means are pulled toward, or None."""
        return self.centre if self.pull else None

    def for_quantity(self, event: bool) -> FitContext:
        """The same context for a quantity that is (or is not) an event probability."""
        return replace(self, event=bool(event))


@dataclass(frozen=True)
class Part:
    """One fitted component; ``widened`` marks an event's widened law (label ``name~``)."""

    component: Proposal
    share: float
    widened: bool = False


@dataclass(frozen=True)
class Fitted:
    """The components a family fitted to one part, and the weights' effective size."""

    parts: tuple[Part, ...]
    n_eff: float


class Family(Protocol):
    """A proposal family: one fit per part of a quantity."""

    def fit(self, points: np.ndarray, log_weights: np.ndarray, context: FitContext) -> Fitted:
        """Components fitted to ``(points, exp(log_weights))`` and their shares."""


class GaussianFamily:
    """Weighted maximum-likelihood Gaussian (full or diagonal covariance)."""

    def __init__(self, diagonal: bool = False):
        self.diagonal = diagonal

    def fit(self, points, log_weights, context: FitContext) -> Fitted:
        comp, n_eff = fit_gaussian(points, log_weights, reference_cov=context.reference_cov,
                                   diagonal=self.diagonal,
                                   reference_mean=context.reference_mean)
        return Fitted((Part(comp, 1.0),), n_eff)

    def fit_many(self, points, log_weights, context: FitContext) -> list[Fitted]:
        """:meth:`fit` of each row of ``log_weights`` ((P, n)) at once
        (:func:`~.gaussian.fit_gaussians`, equal to it to rounding)."""
        fits = fit_gaussians(points, log_weights, reference_cov=context.reference_cov,
                             diagonal=self.diagonal, reference_mean=context.reference_mean)
        return [Fitted((Part(comp, 1.0),), n_eff) for comp, n_eff in fits]


class StudentFamily:
    """Student t with ``context.dof`` degrees of freedom, by weighted EM."""

    def fit(self, points, log_weights, context: FitContext) -> Fitted:
        comp, n_eff = fit_student(points, log_weights, reference_cov=context.reference_cov,
                                  dof=context.dof, max_iter=context.student_iter,
                                  reference_mean=context.reference_mean)
        return Fitted((Part(comp, 1.0),), n_eff)


class GmmFamily:
    """``context.n_components`` Gaussians by weighted EM."""

    def fit(self, points, log_weights, context: FitContext) -> Fitted:
        comp, n_eff = fit_gmm(points, log_weights, reference_cov=context.reference_cov,
                              n_components=context.n_components, rng=context.rng)
        return Fitted((Part(comp, 1.0),), n_eff)


class StudentMixtureFamily:
    """A mixture of t's by weighted EM: ``context.n_components`` of them, or
    ``context.event_components`` when ``events`` (the event family's)."""

    def __init__(self, events: bool = False):
        self.events = events

    def fit(self, points, log_weights, context: FitContext) -> Fitted:
        n = context.event_components if self.events else context.n_components
        comp, n_eff = fit_student_mixture(points, log_weights,
                                          reference_cov=context.reference_cov,
                                          dof=context.dof, rng=context.rng, n_components=n)
        return Fitted((Part(comp, 1.0),), n_eff)


class EventFamily:
    """An event probability's components: a t (a mixture of ``event_components`` t's when
    above 1) and, declared beside it, the widened law ``N(c, S)`` with the share
    ``event_widened`` of the part's weight (symmetric about the law's centre, it reaches the
    regions the hits did not, :func:`~.gaussian.fit_widened_law`)."""

    def fit(self, points, log_weights, context: FitContext) -> Fitted:
        if context.gaussian_event:
            root = np.linalg.cholesky(context.reference_cov)

            def target(pts, log_w):  # each region's covariance target, from its points
                return scaled_reference(pts, log_w, context.reference_cov, context.centre,
                                        root=root)

            comps, shares, n_eff = fit_regions(points, log_weights,
                                               reference_cov=context.reference_cov,
                                               max_components=LADDER_REGIONS, rng=context.rng,
                                               target=target)
            fitted = Fitted(tuple(Part(c, float(s)) for c, s in zip(comps, shares)), n_eff)
        else:
            base = (StudentMixtureFamily(events=True) if context.event_components > 1
                    else StudentFamily())
            fitted = base.fit(points, log_weights, context)
        if not context.event_widened:
            return fitted
        widened, _ = fit_widened_law(points, log_weights, centre=context.centre,
                                     reference_cov=context.reference_cov)
        keep = 1.0 - context.event_widened
        parts = [Part(p.component, keep * p.share) for p in fitted.parts]
        return Fitted((*parts, Part(widened, context.event_widened, widened=True)),
                      fitted.n_eff)


class AutoFamily:
    """Delegates per quantity: :class:`EventFamily` for event probabilities, else a Gaussian."""

    def fit(self, points, log_weights, context: FitContext) -> Fitted:
        family = EventFamily() if context.event else GAUSSIAN
        return family.fit(points, log_weights, context)


#: ``auto``'s Gaussian for the quantities that are not events.
GAUSSIAN = GaussianFamily()


def fit_parts(family, points: np.ndarray, log_weights: np.ndarray,
              contexts: list[FitContext]) -> list[Fitted]:
    """``family.fit`` of each part (row ``p`` of ``log_weights`` ((P, n)), ``contexts[p]``),
    the parts that a Gaussian fits (``gaussian`` and ``gaussian-diag``, ``auto``'s
    non-events) at once per Gaussian family and pull (:meth:`GaussianFamily.fit_many`); the
    others one by one in order, so that they draw from ``context.rng`` as they would alone."""
    out: list = [None] * len(contexts)
    groups: dict = {}
    for p, ctx in enumerate(contexts):
        gaussian = (family if isinstance(family, GaussianFamily) else
                    GAUSSIAN if isinstance(family, AutoFamily) and not ctx.event else None)
        if gaussian is None:
            out[p] = family.fit(points, log_weights[p], ctx)
        else:
            groups.setdefault((id(gaussian), ctx.pull), (gaussian, ctx, []))[2].append(p)
    for gaussian, ctx, parts in groups.values():
        # every part in one group (the commonest case): the rows themselves, no copy
        rows = log_weights if parts == list(range(len(contexts))) else log_weights[parts]
        for p, fitted in zip(parts, gaussian.fit_many(points, rows, ctx)):
            out[p] = fitted
    return out


#: The proposal families by option name (``family=...``), in the order the docs list them.
FAMILIES = {
    "gaussian": GaussianFamily(),
    "gaussian-diag": GaussianFamily(diagonal=True),
    "gmm": GmmFamily(),
    "student": StudentFamily(),
    "student-mixture": StudentMixtureFamily(),
    "auto": AutoFamily(),
}

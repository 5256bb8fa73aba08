"""The engine's state: its fixed setup, what one run has learnt so far, and its records.

The steps (:mod:`.pilot`, :mod:`.adapt`, :mod:`.select`, :mod:`.final`) are plain
functions ``state -> state``; nothing is stored anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..interop import as_laws
from ..problem import LawMixture, Problem
from .options import AiscvOptions
from .practical import PracticalBox
from .sample import RecycledSample

__all__ = ["Candidate", "EngineSetup", "EngineState", "Selection", "Stage"]


@dataclass
class Stage:
    """One sampled stage (the pilot or an adaptive batch), for ``ExpectationResult.history``.

    ``components`` names the mixture's components in order, with their weights in
    ``alpha``: ``<quantity>+`` / ``<quantity>-`` the fit to a quantity's positive or
    negative part (no sign: ``split_signs=False``), ``<quantity>~`` an event's widened law
    (``event_widened``), ``law`` the defensive component.
    """

    index: int
    n_points: int
    n_runs: int
    runs_used: int
    predicted_error: float
    alpha: list[float] = field(default_factory=list)
    component_ess: list[float] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    optimiser_success: bool = True
    stage_estimate: list[float] = field(default_factory=list)
    stage_stderr: list[float] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        """JSON-able record."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Candidate:
    """A proposal that could serve the final stage: its stage ``t``, mixture ``g_t``, control
    coefficients ``β`` (None: plain IS), predicted final error ``E_t``, the weighted variance
    measured on its own batch, per quantity the fewest effective points of its fits,
    whether some exceedance was fitted at an intermediate level (:mod:`.ladder`), its
    summands on its own batch (``(n_t, J)``, None for the law: the selection's reweighting
    reads them rather than computing them again), its plain IS responses ``phi f / g_t``
    there (``(n_t, J)``: the selection reweights them to earlier candidates) and their mean
    (``(J,)``: the stage's pooled mean, :mod:`.final`), and which quantities had a component
    fitted at their real level (``(J,)`` bool; None for the law)."""

    stage: int
    proposal: object
    beta: np.ndarray | None
    predicted_error: float
    own_score: float = np.inf
    fit_ess: np.ndarray | None = None
    on_ladder: bool = False
    batch_summands: np.ndarray | None = None
    at_level: np.ndarray | None = None
    response_mean: np.ndarray | None = None
    batch_responses: np.ndarray | None = None


@dataclass(frozen=True)
class Selection:
    """The candidate kept for the final stage, with the scores it was chosen on
    (``keep="best"``; None otherwise) and whether the pilot joins the final sample."""

    candidate: Candidate
    scores: tuple[float, ...] | None = None
    pool_pilot: bool = False


@dataclass(frozen=True)
class EngineSetup:
    """What a run is given: laws, model, budget, seed, criterion weights, options, names.

    ``sampling`` is the problem with one quantity per law (the working space does not depend
    on the number of outputs), ``initial`` its law (or laws' mixture) ``g_0``; ``scored``:
    ``evaluate`` returns ``phi`` and the exceedances' scores side by side
    (:class:`~multiexpect.quantities.QuantityColumns`); ``practical``: the input box outside
    which stray proposal points are not run (:mod:`.practical`; None: every point is run).
    ``ladder_aside``: while an exceedance climbs, those already fitted at their real level
    get no component (:func:`~.ladder.stepped_aside`; the split route's adaptive part).
    ``index_jacobian``: ``q -> ∂S/∂q`` ((K, J)) of indices ``S(q)`` of the quantities
    (perturbed-law indices): with several laws, ``sampling="auto"`` then draws its nets
    common to the laws and may take the common-nets route (:mod:`.common_nets`).
    """

    laws: tuple
    evaluate: Callable
    budget: int
    seed: int
    options: AiscvOptions
    weight_spec: object
    names: tuple | None
    sampling: Problem
    initial: LawMixture
    scored: bool = False
    practical: PracticalBox | None = None
    ladder_aside: bool = False
    events: bool = True
    index_jacobian: Callable | None = None

    @property
    def common_nets(self) -> int:
        """The laws that share each net of ``sampling="auto"`` (``index_jacobian`` given
        and several laws), else 1: a net of the mixture, its last coordinate picking the
        law."""
        return len(self.laws) if self.index_jacobian is not None else 1

    @classmethod
    def build(cls, laws, evaluate: Callable, *, budget: int, seed: int, weights="relative",
              options: AiscvOptions | None = None, names=None,
              scored: bool = False, events: bool = True,
              index_jacobian: Callable | None = None) -> EngineSetup:
        """Laws converted, options resolved for ``budget``, working space chosen;
        ``events=False``: no quantity is an event probability, even when 0/1 on the pilot
        (Sobol' pick-freeze quantities: an input with no effect gives a quantity exactly 0
        at every point, which is no event with no hit)."""
        laws = as_laws(laws)
        budget = int(budget)
        opts = (options or AiscvOptions()).resolved(budget)
        n_laws = len(laws)
        sampling = Problem.build(laws, n_laws if n_laws > 1 else 1, opts.space)
        return cls(tuple(laws), evaluate, budget, int(seed), opts, weights,
                   None if names is None else tuple(names), sampling,
                   sampling.initial_proposal(), bool(scored),
                   PracticalBox.build(laws, float(opts.practical_mass), sampling.space,
                                      sampling.reference),
                   events=bool(events), index_jacobian=index_jacobian)


@dataclass(frozen=True)
class EngineState:
    """Everything one run has learnt after its pilot and each adaptive batch.

    Attributes
    ----------
    setup : EngineSetup
    problem : Problem
        Quantities known from the model's output width.
    weights : (J,) array
        The criterion's weights ``w_j``.
    sample : RecycledSample
    candidates : tuple of Candidate
        The law (stage 0) and each adaptive stage's proposal.
    history : tuple of Stage
    runs_used : int
        Model runs so far (points where no law has mass are not run).
    pilot_estimate, pilot_summands
        The pilot's plain IS estimate and its per-point summands.
    events : (J,) bool array
        Quantities that are 0/1 on the pilot (event probabilities).
    reference_cov : (d, d) array
        The fits' shrinkage target (:func:`~multiexpect.problem.reference_covariance`).
    centre : (d,) array
        The law's centre in the working space.
    """

    setup: EngineSetup
    problem: Problem
    weights: np.ndarray
    sample: RecycledSample
    candidates: tuple
    history: tuple
    runs_used: int
    pilot_estimate: np.ndarray
    pilot_summands: np.ndarray
    events: np.ndarray
    reference_cov: np.ndarray
    centre: np.ndarray

    def predicted_error(self, variance: np.ndarray, runs_used: int | None = None) -> float:
        """``E = sum_j w_j σ_j^2 / (N - N_used)``: the final stage's weighted variance."""
        used = self.runs_used if runs_used is None else runs_used
        left = self.setup.budget - used
        if left <= 0:
            return np.inf
        return float(np.sum(self.weights * variance) / left)

    def evolve(self, **changes) -> EngineState:
        """A copy with ``changes``."""
        return replace(self, **changes)

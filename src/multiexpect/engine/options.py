"""The engine's settings (:class:`AiscvOptions`), their vocabularies and their validation."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..proposals.families import FAMILIES

__all__ = ["CONTROLS", "FAMILY_NAMES", "KEEPS", "OPTION_NAMES", "AiscvOptions",
           "options_for_budget"]

#: The proposal families (``family=...``), from the registry
#: :data:`multiexpect.proposals.families.FAMILIES`.
FAMILY_NAMES = tuple(FAMILIES)
#: Control variates of each quantity: every component, its own ones, or none.
CONTROLS = ("all", "own", "none")
#: Which proposal serves the final stage (:func:`multiexpect.engine.select`).
KEEPS = ("best", "last", "best-on-own-batch")
#: Largest default adaptive batch: the adaptive phase keeps every point in memory.
MAX_DEFAULT_BATCH = 20_000


@dataclass(frozen=True)
class AiscvOptions:
    """Settings of the adaptive algorithm (defaults follow the paper, see ``docs/method.md``;
    the measurements behind each default are in ``docs/benchmarks.md``).

    Attributes
    ----------
    family : {"gaussian", "gaussian-diag", "gmm", "student", "student-mixture", "auto"}
        Parametric family of each component (:data:`~multiexpect.proposals.families.FAMILIES`):
        ``student`` a multivariate t with ``dof``; ``gmm`` and ``student-mixture``
        ``n_components`` Gaussians or t's by weighted EM; ``auto`` (default) a Student t for
        the quantities that are 0/1 on the pilot (event probabilities, whose hits a Gaussian's
        tails underweight) and a full Gaussian for the others.
    n_components : int
        Gaussians or t's per component for ``family="gmm"`` / ``"student-mixture"``.
    event_components : int
        t's per event-probability component with ``family="auto"`` (1: a single t).
    batch_size : int or None
        Points per adaptive batch; ``min(budget // 10, 20_000)`` by default.
    pilot_size : int or None
        Points of the pilot; ``batch_size`` by default.
    adaptation_cap : int or None
        Most model runs spent adapting (pilot included); ``budget // 2`` by default, at
        most ``5 * min(budget // 10, 20_000)`` (every adaptive point is kept in memory).
        Under ``sampling="auto"`` the law's nets after its first two (a grown pilot, the
        split route's law nets) are not counted: they are the law route's runs.
    space : {"auto", "standard", "input"}
        Working space; ``auto`` is the standard normal space of the first law whose support
        holds every other law's, or input space when no law's does.
    defensive : float
        Lower bound ``δ`` on the weight of the law (or mixture of laws) in the proposal:
        ``f / g_α <= 1/δ``.
    control : {"all", "own", "none"}
        Control variates of each quantity: every component, its own components, or none
        (plain importance sampling); at most one coefficient per
        :data:`~multiexpect.engine.adapt.POINTS_PER_CONTROL` batch points
        (:func:`~multiexpect.engine.adapt.control_mask`).
    split_signs : bool
        One component per sign part ``phi^±`` of a signed quantity (else one fitted to ``|phi|``).
    chunk_size : int or None
        Points per final-stage chunk (memory bound); ``max(batch_size, 10_000)`` by default.
    max_fit_points : int
        At most this many recycled points (a random subset) enter each fit.
    dof : float or None
        Degrees of freedom ``ν`` of the Student t components; ``max(5, d)`` in ``d`` working
        dimensions by default: ``sup f / t_ν`` on the shell ``|z|^2 ≈ d`` where the law has
        its mass grows with ``d / ν``, so ``ν >= d`` bounds it in any dimension.
    alpha_floor : float
        Each mixture weight stays above this fraction of its starting value, so that the
        optimiser cannot trust the recycled points so much that it drops a component whose
        tails the points have not shown.
    keep : {"best", "last", "best-on-own-batch"}
        Which proposal serves the final stage (:func:`multiexpect.engine.select`).
    student_iter : int
        EM iterations of each Student t fit; 0 fits the t by its weighted moments.
    pilot_hits : int
        The pilot is extended with fresh law points, ``pilot_size`` at a time, while a
        quantity that is 0/1 on it has fewer than ``pilot_hits`` points in its event (up to
        ``pilot_max`` points; 0 turns this off): with ``k`` hits over two equally likely
        regions the pilot misses one with probability ``2^(1-k)``.
    pilot_max : int or None
        Longest pilot; ``adaptation_cap - 2 * batch_size`` by default (at least
        ``pilot_size``), so that two adaptive batches still follow it.
    event_widened : float
        Share of each event probability's starting weight given to a *widened law* beside
        its fitted t (``family="auto"``): ``N(c, S)`` at the law's centre ``c`` with the hits'
        second moment about ``c``, never narrower than the law
        (:func:`~multiexpect.proposals.fit_widened_law`); symmetric about ``c``, it samples
        the regions at the hits' radius that they did not reach. 0 turns it off.
    shrink_mean : bool
        Pull each fitted mean toward the law's centre: ``μ = c + n_eff (m - c) / (n_eff + d)``
        (:func:`~multiexpect.proposals.shrink_mean`); the noise energy ``d / n_eff`` of a
        mean fitted on ``n_eff`` points, which costs up to ``exp(|ν|^2)`` in variance, is then
        at most 1/4.
    pool_adaptive : bool
        Pool the plain importance-sampling estimates of the pilot and the adaptive batches
        with the final stage, each quantity weighing them by their variances for it measured
        on the final sample (:mod:`multiexpect.estimators.pooling`, which quantities:
        :func:`multiexpect.engine.final.pooling_rule`).
    practical_mass : float
        Tail mass ``ε`` of each input beyond which the law has no practical mass: a proposal
        batch's points outside the box ``[F_i^{-1}(ε), F_i^{-1}(1 - ε)]`` of every input
        are not run (their integrand counts as 0) when they are stray, at most
        ``max(1, 10^-4 n)`` of its ``n`` points (:mod:`multiexpect.engine.practical`). 0
        turns this off.
    """

    family: str = "auto"
    n_components: int = 2
    batch_size: int | None = None
    pilot_size: int | None = None
    adaptation_cap: int | None = None
    space: str = "auto"
    defensive: float = 0.05
    control: str = "all"
    split_signs: bool = True
    chunk_size: int | None = None
    max_fit_points: int = 200_000
    alpha_floor: float = 0.5
    dof: float | None = None
    keep: str = "best"
    pool_adaptive: bool = True
    event_components: int = 1
    student_iter: int = 30
    pilot_hits: int = 10
    pilot_max: int | None = None
    event_widened: float = 0.25
    shrink_mean: bool = True
    practical_mass: float = 1e-9

    def resolved(self, budget: int) -> AiscvOptions:
        """A copy with every default filled in for ``budget``, validated."""
        self._check_vocabularies()
        default_batch = min(budget // 10, MAX_DEFAULT_BATCH)
        batch = self.batch_size if self.batch_size is not None else default_batch
        pilot = self.pilot_size if self.pilot_size is not None else batch
        cap = (self.adaptation_cap if self.adaptation_cap is not None
               else min(budget // 2, 5 * default_batch))
        # two adaptive batches still fit after the longest pilot
        pilot_max = (self.pilot_max if self.pilot_max is not None
                     else min(cap, max(pilot, cap - 2 * batch)))
        for name, value in (("batch_size", batch), ("pilot_size", pilot),
                            ("adaptation_cap", cap), ("pilot_hits", self.pilot_hits),
                            ("pilot_max", pilot_max)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"'{name}' must be a non-negative int, got {value!r}")
        if batch < 2:
            raise ValueError(f"'batch_size' must be at least 2, got {batch}")
        if pilot_max > cap:
            raise ValueError(
                f"'pilot_max' ({pilot_max}) must be at most 'adaptation_cap' ({cap})"
            )
        chunk = self.chunk_size if self.chunk_size is not None else max(batch, 10_000)
        if not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise ValueError(f"'chunk_size' must be a positive int, got {chunk!r}")
        return replace(self, batch_size=int(batch), pilot_size=int(pilot),
                       adaptation_cap=int(cap), chunk_size=int(chunk),
                       pilot_max=int(pilot_max))

    def _check_vocabularies(self) -> None:
        """The options that do not depend on the budget."""
        if self.family not in FAMILY_NAMES:
            raise ValueError(f"'family' must be one of {FAMILY_NAMES}, got {self.family!r}")
        if self.control not in CONTROLS:
            raise ValueError(f"'control' must be one of {CONTROLS}, got {self.control!r}")
        if self.keep not in KEEPS:
            raise ValueError(
                f"'keep' must be 'best', 'last' or 'best-on-own-batch', got {self.keep!r}"
            )
        if self.dof is not None and not (
                isinstance(self.dof, (int, float, np.integer, np.floating)) and self.dof > 0):
            raise ValueError(f"'dof' must be a positive number or None, got {self.dof!r}")
        if not (isinstance(self.n_components, (int, np.integer)) and self.n_components >= 1):
            raise ValueError(f"'n_components' must be an int >= 1, got {self.n_components!r}")
        for name, value in (("defensive", self.defensive),
                            ("event_widened", self.event_widened)):
            if not (isinstance(value, (int, float, np.integer, np.floating))
                    and 0.0 <= float(value) < 1.0):
                raise ValueError(f"'{name}' must be a number in [0, 1), got {value!r}")
        mass = self.practical_mass
        if not (isinstance(mass, (int, float, np.integer, np.floating))
                and 0.0 <= float(mass) < 0.5):
            raise ValueError(f"'practical_mass' must be a number in [0, 0.5), got {mass!r}")


#: The keyword options ``expectations(..., **options)`` accepts for the engine.
OPTION_NAMES = frozenset(f.name for f in fields(AiscvOptions))


def options_for_budget(options: dict, budget: int) -> AiscvOptions:
    """Validated :class:`AiscvOptions` from a user's keyword options, for ``budget`` runs.

    Every check runs before any model run: unknown option names, a budget too small for
    a pilot and a final stage, an adaptation cap that leaves no final stage.

    Raises
    ------
    ValueError
        Naming the option (or ``'budget'``) and what was expected.
    """
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for method 'aiscv'; known: {sorted(OPTION_NAMES)}"
        )
    if options.get("batch_size") is None and budget // 10 < 2:
        raise ValueError(
            f"'budget' ({budget}) is too small for a pilot of {budget // 10} points: the "
            f"default pilot and batch are budget // 10, so aiscv needs budget >= 20"
        )
    opts = AiscvOptions(**options).resolved(budget)
    minimum = opts.pilot_size + 2
    if opts.pilot_size < 2 or budget < minimum:
        raise ValueError(
            f"'budget' ({budget}) is too small for a pilot of {opts.pilot_size} points and a "
            f"final stage: aiscv needs a pilot of at least 2 points and budget >= pilot + 2 "
            f"(the default pilot is budget // 10, so budget >= 20)"
        )
    if opts.adaptation_cap < opts.pilot_size:
        raise ValueError(
            f"'adaptation_cap' ({opts.adaptation_cap}) must be at least 'pilot_size' "
            f"({opts.pilot_size})"
        )
    if opts.adaptation_cap > budget - 2:
        raise ValueError(
            f"'adaptation_cap' ({opts.adaptation_cap}) must leave at least 2 of the "
            f"{budget} runs to the final stage"
        )
    return opts

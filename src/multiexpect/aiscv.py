"""The adaptive algorithm (aISCV): a step iterator and a run-to-the-end wrapper.

Demange-Chryst, Bachoc & Morio, "Efficient estimation of multiple expectations with the same
sample by adaptive importance sampling and control variates", Statistics and Computing 33
(2023), doi:10.1007/s11222-023-10270-2. Steps, in the notation of ``docs/method.md``:

1. pilot: ``n_0`` points from ``g^(0)`` (``f``, or ``f̄`` for several laws), extended while
   an event probability has fewer than ``pilot_hits`` hits on it;
2. cross-entropy fit of one component per quantity and sign part, on every point so far,
   weighted by ``phi_j^± f_j / h`` with ``h`` the deterministic mixture of past proposals
   (for an event probability, a widened law beside it: ``N(c, S)`` at the law's centre with
   the hits' second moment, see ``event_widened``);
3. ``α`` by minimising the convex criterion ``V(α)`` on the recycled points, for the
   zero-variance coefficients ``β_jk = Î_j^±`` on the own components, each weight kept above
   ``alpha_floor`` times its starting value ``∝ sqrt(w_j) |Î_j^±|``; the law itself stays a
   component (defensive, weight >= ``defensive``) and a control variate;
4. a batch from the new ``g_α`` (fitted on earlier points only), ``β`` by least squares of
   the responses on all the controls on that batch, and the predicted final error
   ``E_t = sum_j w_j σ̂_j^2 / (N - N_used)`` with the residual variances;
5. stop at the first ``E_t`` that does not decrease, or at the adaptation cap; keep the
   proposal whose variance, measured on every point drawn after it was fitted, is smallest
   (the pilot's law included: adaptation that does not pay falls back to crude / mixture MC);
6. the rest of the budget from the kept proposal with everything frozen: a fresh sample, so
   its estimate is unbiased and its standard error honest;
7. the plain importance-sampling means of the pilot and the batches pooled with it, each
   quantity weighing each stage by that stage's variance for it, measured on the final
   sample (``estimators.pooling``): every quantity at a near tie with the law; otherwise
   the quantities whose fits rest on at least ``d`` effective points, a stage joining
   where its variance is within ``POOL_TIE`` of the final stage's. The runs spent adapting
   are not lost when adaptation does not pay, nor on a quantity it does not help.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace

import numpy as np
from scipy.special import logsumexp

from . import batch_keys
from .estimators.control_variates import regress_controls
from .estimators.importance import StreamingMoments, iscv_summands, log_ratio_exp
from .estimators.mixture_weights import optimise_alpha
from .estimators.pooling import StagePooling
from .problem import Problem, as_laws, reference_covariance
from .proposals import (
    Mixture,
    fit_gaussian,
    fit_gmm,
    fit_student,
    fit_student_mixture,
    fit_widened_law,
)

__all__ = ["AISCV", "AiscvOptions", "Stage"]

FAMILIES = ("gaussian", "gaussian-diag", "gmm", "student", "student-mixture", "auto")
CONTROLS = ("all", "own", "none")
MAX_DEFAULT_BATCH = 20_000
POOL_TIE = 2.0  # a stage is pooled for a quantity where its variance is within this factor
MIN_CONTROL_ALPHA = 1e-3  # lighter components are no control variate (bounded by 1/α)


@dataclass(frozen=True)
class AiscvOptions:
    """Settings of the adaptive algorithm (defaults follow the paper, see ``docs/method.md``).

    Attributes
    ----------
    family : {"gaussian", "gaussian-diag", "gmm", "student", "student-mixture", "auto"}
        Parametric family of each component (``student``: multivariate t with ``dof``;
        ``gmm`` and ``student-mixture``: ``n_components`` Gaussians or t's, weighted EM;
        ``auto``, the default: Student t for the quantities that are 0/1 on the pilot, i.e.
        event probabilities, and full Gaussian for the others. Measured (docs/benchmarks.md):
        exceedance 1e-3 63x crude MC instead of 8.8x, heavy tails 10x instead of 5.4x;
        identical results wherever no quantity is an indicator).
    n_components : int
        Gaussians or t's per component for ``family="gmm"`` / ``"student-mixture"``.
    event_components : int
        t's per event-probability component with ``family="auto"``: 1 (a single t) by
        default; 2 or 3 measured no better (docs/benchmarks.md).
    batch_size : int or None
        Points per adaptive batch; ``min(budget // 10, 20_000)`` by default.
    pilot_size : int or None
        Points of the pilot; ``batch_size`` by default.
    adaptation_cap : int or None
        Most model runs spent adapting (pilot included); ``budget // 2`` by default, at
        most ``5 * min(budget // 10, 20_000)`` (bounds the memory of huge budgets).
    space : {"auto", "standard", "input"}
        Working space; ``auto`` is the standard normal space of the first law, or input
        space when another law has mass outside the first law's support.
    defensive : float
        Lower bound on the weight of the law (or mixture of laws) in the proposal.
    control : {"all", "own", "none"}
        Control variates of each quantity: every component, its own components, or none
        (plain importance sampling).
    split_signs : bool
        One component per sign part of a signed quantity (else one fitted to ``|phi|``).
    chunk_size : int or None
        Points per final-stage chunk (memory bound); ``max(batch_size, 10_000)`` by default.
    max_fit_points : int
        At most this many recycled points (a random subset) enter each fit.
    dof : float or None
        Degrees of freedom of the Student t components (``student``, ``student-mixture``
        and the events of ``auto``); ``max(5, d)`` in ``d`` working dimensions by default.
        A t with the law's scale is thinner than the law on the shell where the law has its
        mass: ``sup f / t_ν`` is 1.36 for ``(d, ν) = (4, 5)``, 3.4 for ``(50, 5)``, 1.42 for
        ``(50, 50)``, so ``ν >= d`` keeps that cost about the same in any dimension. Measured
        (1000 reps): rare events in d = 50 0.89x crude MC with ``ν = 5``, 1.27x with
        ``ν = 50``; the other event cases (``d <= 4``) are unchanged.
    alpha_floor : float
        Each mixture weight stays above this fraction of its starting value: an optimiser
        that trusts the recycled points too much would put all weight on components whose
        tails are too light (measured: Gaussian moments 0.035 with 0, 3e-4 with 0.5).
    keep : {"best", "last", "best-on-own-batch"}
        Which proposal serves the final stage (see :meth:`AISCV._choose_candidate`).
    student_iter : int
        EM iterations of each Student t fit; 0 fits the t by its weighted moments (measured
        on the event cases over 300 reps: exceedance 71x instead of 67x, one event with two
        tails 1.78x instead of 1.28x, but heavy tails 12.6x instead of 16.9x and no better
        coverage: not the default).
    pilot_hits : int
        The pilot is extended with fresh law points, ``pilot_size`` at a time, while a
        quantity that is 0/1 on it (an event probability) has fewer than ``pilot_hits``
        points in its event, up to ``pilot_max`` points; 0 turns this off. A component fitted
        on a few hits follows the region they fell in: an event with two regions (a
        two-sided tail) would keep one unvisited (measured: 0.26x crude MC without, 2.1x with).
    pilot_max : int or None
        Longest pilot; ``adaptation_cap - 2 * batch_size`` by default (at least
        ``pilot_size``), so that two adaptive batches still follow it.
    event_widened : float
        Share of each event probability's starting weight given to a *widened law* beside
        its fitted t (``family="auto"``): ``N(c, S)`` at the law's centre ``c``, with the
        hits' second moment about ``c`` as ``S``, never narrower than the law
        (:func:`~multiexpect.proposals.fit_widened_law`). Symmetric about the centre, it
        samples a region the hits have not reached at the radius they showed (the other
        side of a two-sided tail), where the fitted t leans to the side it saw. 0 turns it
        off. Measured over 1000 reps (docs/benchmarks.md): one event with two tails 1.22x
        crude MC with coverage 0.907 without, 4.9x with coverage 0.950 at 0.25; cases with
        one-sided events pay about 10% (exceedance 66x without, 60x at 0.25; heavy tails
        10.4x and 9.3x).
    shrink_mean : bool
        Pull each fitted component's mean toward the law's centre ``c``:
        ``μ = c + n_eff (m - c) / (n_eff + d)`` (:func:`~multiexpect.proposals.shrink_mean`).
        A mean fitted on ``n_eff`` effective points carries noise of energy about
        ``d / n_eff`` (in standard space), and a proposal whose mean is off by ``ν`` costs a
        factor up to ``exp(|ν|^2)`` in variance; after the pull the noise energy is at most
        ``n_eff d / (n_eff + d)^2 <= 1/4``. Measured (300 reps): rare events in d = 50
        0.5x crude MC without, 0.92x with; elsewhere within noise (exceedance 64x -> 55x,
        mixed marginals 12x -> 13x, two-sided tail 2.9x -> 3.1x).
    pool_adaptive : bool
        Pool the plain importance-sampling estimates of the pilot and the adaptive batches
        with the final stage, each quantity weighing them by their variances for it measured
        on the final sample (:mod:`multiexpect.estimators.pooling`; which quantities and
        stages: :meth:`AISCV._pooling_rule`), so that a tie with crude MC, or a quantity
        adaptation does not help, does not lose the runs spent adapting.
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

    def resolved(self, budget: int) -> AiscvOptions:
        """A copy with every default filled in for ``budget``, validated."""
        if self.family not in FAMILIES:
            raise ValueError(f"'family' must be one of {FAMILIES}, got {self.family!r}")
        if self.control not in CONTROLS:
            raise ValueError(f"'control' must be one of {CONTROLS}, got {self.control!r}")
        if self.keep not in ("last", "best", "best-on-own-batch"):
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
        # the paper's budget/10 and budget/2, bounded for very large budgets: the adaptive
        # phase keeps every point's outputs and densities in memory (10^6 runs, J = 100:
        # 3.6 GiB with budget/2, 1.1 GiB with 10^5), and 2*10^4-point batches fit well
        default_batch = min(budget // 10, MAX_DEFAULT_BATCH)
        batch = self.batch_size if self.batch_size is not None else default_batch
        pilot = self.pilot_size if self.pilot_size is not None else batch
        cap = (self.adaptation_cap if self.adaptation_cap is not None
               else min(budget // 2, 5 * default_batch))
        # two adaptive batches still fit after the longest pilot (measured: with one, the
        # exceedance case fell from 63x to 34x crude MC; with two, 64x)
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


@dataclass
class _Candidate:
    """A proposal that could serve the final stage: mixture, control coefficients, E_t."""

    stage: int
    proposal: object
    beta: np.ndarray | None
    predicted_error: float
    own_score: float = np.inf  # weighted variance measured on its own batch
    pool_pilot: bool = False
    fit_ess: np.ndarray | None = None  # per quantity: fewest effective points of its fits


class AISCV:
    """The adaptive estimator of many expectations from one sample.

    Parameters
    ----------
    laws : Law or sequence of Law
        One law for every quantity, or one per quantity.
    evaluate : callable
        ``evaluate(x, batch) -> outputs`` ((n, d) -> (n, m)); ``batch`` is the batch key.
    budget : int
        Model runs in all.
    seed : int
        Root seed; the batches' keys and generators: :mod:`multiexpect.batch_keys`.
    weights : "relative", "absolute", (J,) array or callable
        Weights of the criterion ``sum_j w_j Var(Î_j)``; a callable gets the pilot estimate.
    options : AiscvOptions
    names : sequence of str, optional
        Quantity names.

    Notes
    -----
    Iterate :meth:`steps` to watch the adaptation one stage at a time, then call
    :meth:`finish`; :meth:`run` does both.
    """

    def __init__(self, laws, evaluate: Callable, *, budget: int, seed: int,
                 weights="relative", options: AiscvOptions | None = None, names=None):
        self.laws = as_laws(laws)
        self.evaluate = evaluate
        self.budget = int(budget)
        self.seed = int(seed)
        self.options = (options or AiscvOptions()).resolved(self.budget)
        self.weight_spec = weights
        self.names = names
        self.runs_used = 0
        self.history: list[Stage] = []
        self._finished = False
        n_laws = len(self.laws)
        # the working space does not depend on the number of outputs
        self._sampling_problem = Problem.build(self.laws, n_laws if n_laws > 1 else 1,
                                               self.options.space)
        self.problem: Problem | None = None
        self.weights: np.ndarray | None = None

    # ------------------------------------------------------------------ evaluation
    def _run_model(self, z: np.ndarray, batch: int):
        """Model outputs at working points ``z``; points where no law has mass are not run."""
        problem = self._sampling_problem
        x = problem.to_inputs(z)
        log_laws = problem.law_logpdfs(z, x)
        support = np.any(np.isfinite(log_laws), axis=1)
        if np.all(support):
            outputs = self.evaluate(x, batch)
        else:
            inner = self.evaluate(x[support], batch)
            outputs = np.zeros((z.shape[0], inner.shape[1] if inner.ndim == 2 else 1))
            outputs[support] = inner.reshape(int(support.sum()), -1)
        self.runs_used += int(support.sum())
        return outputs, log_laws

    # ------------------------------------------------------------------ the stages
    def steps(self) -> Iterator[Stage]:
        """Run the pilot and the adaptive batches, yielding a :class:`Stage` after each."""
        opts = self.options
        gen = batch_keys.generator(self.seed, batch_keys.pilot())
        initial = self._sampling_problem.initial_proposal()
        z = initial.sample(opts.pilot_size, gen)
        outputs, log_laws = self._run_model(z, batch_keys.pilot())
        self.problem = Problem.build(self.laws, outputs.shape[1], opts.space, self.names)
        problem = self.problem
        phi = problem.quantity_values(outputs)
        z, phi, log_laws = self._extend_pilot(initial, z, phi, log_laws)
        log_g0 = initial.logpdf_from_laws(log_laws)
        summands = iscv_summands(phi, log_laws[:, problem.law_index], None, log_g0, None)
        moments = StreamingMoments(problem.n_quantities)
        moments.update(summands)
        self._pilot_summands = summands
        self._indicator = _event_quantities(phi)  # for family="auto"
        self.pilot_estimate = moments.mean
        self.weights = resolve_weights(self.weight_spec, moments.mean, moments.stderr)
        error0 = self._predicted_error(moments.variance)
        self._initial = initial
        self._candidates = [_Candidate(0, initial, None, error0,
                                       own_score=float(self.weights @ moments.variance))]
        # recycled state
        self._z, self._phi, self._log_laws = z, phi, log_laws
        self._log_props = [log_g0]  # log g_t at every point, per past proposal t
        self._proposals = [initial]
        self._counts = [z.shape[0]]
        self._ref_cov = reference_covariance(problem)
        # the law's centre in the working space, for the widened-law event components (in
        # input space the mean of the pilot's first chunk: the extension's size depends on
        # its hits)
        self._centre = (np.zeros(problem.dim) if problem.space == "standard"
                        else np.mean(z[: opts.pilot_size], axis=0))
        stage = Stage(0, z.shape[0], self.runs_used, self.runs_used, error0,
                      stage_estimate=moments.mean.tolist(), stage_stderr=moments.stderr.tolist(),
                      note="pilot" if self._pilot_chunks == 1 else
                      f"pilot ({self._pilot_chunks} chunks: an event had < {opts.pilot_hits} hits)")
        self.history.append(stage)
        yield stage
        previous = error0
        t = 0
        while self.runs_used + opts.batch_size <= opts.adaptation_cap:
            t += 1
            stage = self._adapt(t)
            self.history.append(stage)
            yield stage
            if not stage.predicted_error < previous:
                break
            previous = stage.predicted_error

    def _extend_pilot(self, initial, z, phi, log_laws):
        """Extend the pilot with law points while an event quantity has too few hits.

        While some quantity that is 0/1 on the pilot has fewer than ``pilot_hits`` points
        with ``phi_j = 1`` (inside law ``j``'s support), ``pilot_size`` more points are drawn
        from ``g^(0)`` (batch keys -1, -2, ... so that a resumed study replays them), up to
        ``pilot_max`` points in all. With ``k`` hits spread over two equally likely regions,
        the chance that the pilot misses one is ``2^(1-k)`` (0.2% at ``k = 10``); a missed
        region is then sampled only by the defensive component, at ``1/δ`` times crude MC's
        variance.

        Returns the extended ``z``, ``phi`` and law log-densities.
        """
        opts, problem = self.options, self.problem
        chunk = 0
        while opts.pilot_hits > 0 and z.shape[0] + opts.pilot_size <= opts.pilot_max:
            inside = np.isfinite(log_laws[:, problem.law_index])
            hits = np.sum((phi == 1.0) & inside, axis=0)
            if not np.any(_event_quantities(phi) & (hits < opts.pilot_hits)):
                break
            chunk += 1
            z_new = initial.sample(opts.pilot_size,
                                   batch_keys.pilot_extension_generator(self.seed, chunk))
            outputs, log_new = self._run_model(z_new, batch_keys.pilot_extension(chunk))
            z = np.concatenate([z, z_new])
            phi = np.concatenate([phi, problem.quantity_values(outputs)])
            log_laws = np.concatenate([log_laws, log_new])
        self._pilot_chunks = chunk + 1
        return z, phi, log_laws

    def _predicted_error(self, variance: np.ndarray) -> float:
        left = self.budget - self.runs_used
        if left <= 0:
            return np.inf
        return float(np.sum(self.weights * variance) / left)

    def _component_specs(self, phi: np.ndarray, log_fq: np.ndarray) -> list[tuple[int, int]]:
        """(quantity, sign) of each component: the sign parts of ``phi_j f_j`` seen so far
        (a point outside law ``j``'s support counts for no part of quantity ``j``)."""
        specs = []
        phi = np.where(np.isfinite(log_fq), phi, 0.0)
        for j in range(phi.shape[1]):
            pos, neg = bool(np.any(phi[:, j] > 0)), bool(np.any(phi[:, j] < 0))
            if self.options.split_signs:
                specs += [(j, 1)] * pos + [(j, -1)] * neg
            elif pos or neg:
                specs.append((j, 0))
        return specs

    def _fit_component(self, points, log_weight, gen, quantity: int):
        opts = self.options
        event = opts.family == "auto" and self._indicator[quantity]
        if opts.family == "student-mixture" or (event and opts.event_components > 1):
            return fit_student_mixture(
                points, log_weight, reference_cov=self._ref_cov, dof=self._dof(), rng=gen,
                n_components=opts.n_components if not event else opts.event_components)
        if opts.family == "student" or event:
            return fit_student(points, log_weight, reference_cov=self._ref_cov, dof=self._dof(),
                               max_iter=opts.student_iter, reference_mean=self._mean_pull())
        if opts.family == "gmm":
            return fit_gmm(points, log_weight, reference_cov=self._ref_cov,
                           n_components=opts.n_components, rng=gen)
        return fit_gaussian(points, log_weight, reference_cov=self._ref_cov,
                            diagonal=opts.family == "gaussian-diag",
                            reference_mean=self._mean_pull())

    def _dof(self) -> float:
        """The t's degrees of freedom: ``dof``, or ``max(5, d)`` (see :class:`AiscvOptions`)."""
        if self.options.dof is not None:
            return float(self.options.dof)
        return max(5.0, float(self._ref_cov.shape[0]))

    def _mean_pull(self):
        return self._centre if self.options.shrink_mean else None

    def _widens(self, quantity: int) -> bool:
        """Whether an event quantity gets a widened-law component beside its fitted one."""
        return bool(self.options.event_widened and self.options.family == "auto"
                    and self._indicator[quantity])

    def _adapt(self, t: int) -> Stage:
        opts, problem = self.options, self.problem
        total = sum(self._counts)
        log_mix = np.log(np.asarray(self._counts) / total)
        log_h_all = logsumexp(np.column_stack(self._log_props) + log_mix, axis=1)
        fit_gen = batch_keys.fit_generator(self.seed, t)
        if total > opts.max_fit_points:
            idx = np.sort(fit_gen.choice(total, opts.max_fit_points, replace=False))
        else:
            idx = slice(None)
        z, phi = self._z[idx], self._phi[idx]
        log_fq = self._log_laws[idx][:, problem.law_index]
        log_h = log_h_all[idx]
        specs = self._component_specs(phi, log_fq)
        # one entry per component: its (quantity, sign) part and its share of the part's
        # starting weight (an event's widened law takes ``event_widened`` of it)
        comps, ess, labels, shares, comp_specs = [], [], [], [], []
        with np.errstate(divide="ignore"):
            for j, sign in specs:
                part = np.abs(phi[:, j]) if sign == 0 else np.maximum(sign * phi[:, j], 0.0)
                # a point with no part has weight 0 even where no density is finite
                log_w = np.where(part > 0, np.log(part) + log_fq[:, j] - log_h, -np.inf)
                comp, n_eff = self._fit_component(z, log_w, fit_gen, j)
                label = f"{problem.names[j]}{'+' if sign > 0 else '-' if sign < 0 else ''}"
                fitted = [(comp, label, 1.0)]
                if self._widens(j):
                    widened, _ = fit_widened_law(z, log_w, centre=self._centre,
                                                 reference_cov=self._ref_cov)
                    fitted = [(comp, label, 1.0 - opts.event_widened),
                              (widened, f"{problem.names[j]}~", opts.event_widened)]
                for comp, label, share in fitted:
                    comps.append(comp)
                    ess.append(n_eff)
                    labels.append(label)
                    shares.append(share)
                    comp_specs.append((j, sign))
        specs = comp_specs
        # the law (mixture of laws) is always the last component: defensive and a control
        log_comp = _component_logpdfs(comps, z, self._log_props[0][idx])
        labels.append("law")
        n_comp = log_comp.shape[1]
        a = phi * log_ratio_exp(log_fq, log_h[:, None])
        b = log_ratio_exp(log_comp, log_h[:, None])
        # starting α ∝ sqrt(w_j) |Î_j^±| (the paper's), floor on the law's weight
        part_means = np.array([np.mean(np.abs(a[:, j]) if s == 0 else
                                       np.maximum(s * a[:, j], 0.0)) for j, s in specs])
        start = np.append(np.sqrt(self.weights[[j for j, _ in specs]]) * part_means * shares,
                          0.0)
        lower = np.zeros(n_comp)
        lower[-1] = opts.defensive
        start = _start_alpha(start, lower)
        # α for the "optimal family" coefficients (β_jk = Î_j^± on j's own components):
        # they need no extrapolation beyond the points seen, unlike a regression would
        own_beta = np.zeros((problem.n_quantities, n_comp))
        for k, (j, sign) in enumerate(specs):
            own_beta[j, k] = (part_means[k] * (sign if sign != 0 else np.sign(np.mean(a[:, j])))
                              / specs.count((j, sign)))
        q = ((a - b @ own_beta.T) ** 2) @ self.weights
        floor = np.maximum(lower, opts.alpha_floor * start)
        alpha, success = optimise_alpha(q, b, start, floor)
        proposal = Mixture([*comps, self._initial], alpha)
        # the batch: fitted on earlier points only, so its variance is an honest prediction
        gen = batch_keys.adaptive_generator(self.seed, t)
        n_new = int(opts.batch_size)
        z_new = proposal.sample(n_new, gen)
        outputs, log_laws_new = self._run_model(z_new, batch_keys.adaptive(t))
        phi_new = problem.quantity_values(outputs)
        log_comp_new = _component_logpdfs(comps, z_new,
                                          self._initial.logpdf_from_laws(log_laws_new))
        log_g_new = proposal.logpdf_from_components(log_comp_new)
        # β: least squares of the responses on the controls, on this batch (the paper's)
        responses = iscv_summands(phi_new, log_laws_new[:, problem.law_index], None,
                                  log_g_new, None)
        controls = log_ratio_exp(log_comp_new, log_g_new[:, None]) - 1.0
        beta, variance = regress_controls(responses, controls,
                                          self._control_mask(specs, n_comp, alpha))
        if opts.control == "none":
            beta = None
        summands = responses if beta is None else responses - controls @ beta.T
        moments = StreamingMoments(problem.n_quantities)
        moments.update(summands)
        error = self._predicted_error(variance)
        fit_ess = np.zeros(problem.n_quantities)
        for (j, _), n_eff in zip(specs, ess):
            fit_ess[j] = n_eff if fit_ess[j] == 0 else min(fit_ess[j], n_eff)
        self._candidates.append(_Candidate(t, proposal, beta, error,
                                           own_score=float(self.weights @ variance),
                                           fit_ess=fit_ess))
        # recycle: every past proposal at the new points, the new one at the old points
        # (the law component's density at old points is stored: no law is evaluated again)
        old_log_new = proposal.logpdf_from_components(
            _component_logpdfs(comps, self._z, self._log_props[0]))
        new_cols = [p.logpdf_from_laws(log_laws_new) if i == 0 else p.logpdf(z_new)
                    for i, p in enumerate(self._proposals)]
        self._log_props = [np.concatenate([old, new]) for old, new in
                           zip(self._log_props, new_cols)]
        self._log_props.append(np.concatenate([old_log_new, log_g_new]))
        self._proposals.append(proposal)
        self._counts.append(n_new)
        self._z = np.concatenate([self._z, z_new])
        self._phi = np.concatenate([self._phi, phi_new])
        self._log_laws = np.concatenate([self._log_laws, log_laws_new])
        return Stage(t, n_new, int(np.sum(np.any(np.isfinite(log_laws_new), axis=1))),
                     self.runs_used, error, alpha=alpha.tolist(), component_ess=ess,
                     components=labels, optimiser_success=bool(success),
                     stage_estimate=moments.mean.tolist(), stage_stderr=moments.stderr.tolist())

    def _control_mask(self, specs, n_comp, alpha: np.ndarray) -> np.ndarray:
        """Which controls ``g_k / g_α - 1`` each quantity uses.

        A component whose weight is below ``MIN_CONTROL_ALPHA`` is no control: its control
        is bounded only by ``1 / α_k``, so a far point drawn from another component can
        carry a value the batch that fitted ``β`` never showed (heavy tails, seed 1151: a
        component with ``α = 5e-5`` took the value 2·10^4 there, an error of 50 crude-MC
        standard errors).
        """
        j_count = self.problem.n_quantities
        control = self.options.control
        if control == "all":
            mask = np.ones((j_count, n_comp), dtype=bool)
        else:
            mask = np.zeros((j_count, n_comp), dtype=bool)
            if control == "own":
                for k, (j, _) in enumerate(specs):
                    mask[j, k] = True
                mask[:, -1] = True
        return mask & (np.asarray(alpha) >= MIN_CONTROL_ALPHA)[None, :]

    def _choose_candidate(self) -> _Candidate:
        """The proposal for the final stage.

        ``"best"``: each candidate ``t`` (the law itself included) is judged on every point
        drawn *after* it was fitted (batches ``>= t``), by importance reweighting, so earlier
        candidates are judged on more points than their own batch, whose variance heavy tails
        easily flatter. ``"last"``: the paper's choice. ``"best-on-own-batch"``: smallest
        ``E_t`` measured on each candidate's own batch.
        """
        keep = self.options.keep
        if keep == "last" or len(self._candidates) == 1:
            return self._candidates[-1]
        if keep == "best-on-own-batch":
            return min(self._candidates, key=lambda c: (c.predicted_error, c.stage))
        problem = self.problem
        batch_of = np.repeat(np.arange(len(self._counts)), self._counts)
        log_fq = self._log_laws[:, problem.law_index]
        scores = []
        for cand in self._candidates:
            # the law is judged on the adaptive batches, so that choosing it does not depend
            # on the pilot, which is then pooled with the final sample
            score, ess = self._reweighted_score(cand, batch_of, log_fq, max(cand.stage, 1))
            if cand.stage == 0:
                cand.pool_pilot = ess >= self._min_ess(batch_of, 1)
                if not cand.pool_pilot:  # reweighting is degenerate: judge it on its pilot
                    score = cand.own_score
            elif ess < self._min_ess(batch_of, cand.stage):
                score = cand.own_score
            scores.append(score)
        best = int(np.argmin(scores))
        self.selection_scores = scores
        return self._candidates[best]

    @staticmethod
    def _min_ess(batch_of: np.ndarray, first: int) -> float:
        """Smallest effective sample size at which a reweighted score is trusted."""
        return max(30.0, 0.1 * float(np.sum(batch_of >= first)))

    def _reweighted_score(self, cand: _Candidate, batch_of, log_fq, first: int):
        """Weighted variance of ``cand``'s summand on batches ``>= first``, by self-normalised
        importance reweighting, and the effective sample size of that reweighting."""
        if first >= len(self._counts):
            return cand.own_score, 0.0
        rows = batch_of >= first
        counts = np.asarray(self._counts[first:], dtype=float)
        log_h = logsumexp(np.column_stack(self._log_props[first:])[rows]
                          + np.log(counts / counts.sum()), axis=1)
        log_g = self._log_props[cand.stage][rows]
        if cand.stage == 0:
            log_comp = None
        else:
            log_comp = _component_logpdfs(cand.proposal.components[:-1], self._z[rows],
                                          self._log_props[0][rows])
        summands = iscv_summands(self._phi[rows], log_fq[rows], log_comp, log_g, cand.beta)
        log_ratio = log_g - log_h
        ratio = np.exp(log_ratio - np.max(log_ratio))
        ess = float(ratio.sum() ** 2 / np.sum(ratio**2))
        ratio /= ratio.sum()
        mean = ratio @ summands
        variance = np.maximum(ratio @ summands**2 - mean**2, 0.0)
        return float(self.weights @ variance), ess

    # ------------------------------------------------------------------ the final stage
    def finish(self, keep_sample: bool = False) -> dict:
        """Spend the rest of the budget on the kept proposal and return the estimate.

        With ``keep_sample=True`` the final sample is kept in ``self.final_sample``
        (working points ``z``, inputs ``x``, outputs, ``log g`` of the proposal, and the
        ``summands``) for reanalysis without new runs.

        Returns
        -------
        dict
            ``estimate``, ``stderr``, ``n_final``, ``chosen_stage``, ``predicted_error``.
        """
        if self._finished:
            raise RuntimeError("finish() was already called")
        if self.problem is None:
            for _ in self.steps():
                pass
        self._finished = True
        best = self._choose_candidate()
        problem = self.problem
        n_final = self.budget - self.runs_used
        if n_final < 2:
            raise ValueError(
                f"'budget' ({self.budget}) leaves {n_final} runs for the final stage; "
                "lower 'adaptation_cap' or raise 'budget'"
            )
        rule = self._pooling_rule(best)
        pooled_stages = self._pooled_stages(best, rule["quantities"])
        pooling = self._stage_pooling(pooled_stages) if pooled_stages else None
        moments = pooling.final if pooling is not None else StreamingMoments(
            problem.n_quantities, covariance=True)
        if best.stage == 0 and best.pool_pilot:
            # the law was chosen without looking at the pilot, which is a sample of it with
            # nothing fitted: it joins the final sample
            rows = slice(0, self._counts[0])
            if pooling is None:
                moments.update(self._pilot_summands)
            else:
                self._pool_final(pooling, pooled_stages, self._pilot_summands,
                                 self._pilot_summands, self._z[rows],
                                 self._log_props[0][rows], self._log_props[0][rows])
        kept: list[tuple] = []
        key = batch_keys.final_chunk(len(self._counts), 0)
        left = n_final
        while left > 0:
            n = min(left, self.options.chunk_size)
            z = best.proposal.sample(n, batch_keys.generator(self.seed, key))
            outputs, log_laws = self._run_model(z, key)
            phi = problem.quantity_values(outputs)
            log_law_mix = self._initial.logpdf_from_laws(log_laws)
            if best.stage == 0:
                log_comp = None
                log_g = log_law_mix
            else:
                log_comp = _component_logpdfs(best.proposal.components[:-1], z, log_law_mix)
                log_g = best.proposal.logpdf_from_components(log_comp)
            log_fq = log_laws[:, problem.law_index]
            summands = iscv_summands(phi, log_fq, log_comp, log_g, best.beta)
            if pooling is None:
                moments.update(summands)
            else:  # the stages' variances are reweighted from the plain IS responses
                responses = (summands if best.beta is None
                             else iscv_summands(phi, log_fq, None, log_g, None))
                self._pool_final(pooling, pooled_stages, summands, responses, z, log_g,
                                 log_law_mix)
            if keep_sample:
                kept.append((z, problem.to_inputs(z), outputs, log_g, summands))
            left -= n
            key += 1
        self.chosen = best
        if keep_sample:
            keys = ("z", "x", "outputs", "log_g", "summands")
            self.final_sample = {k: np.concatenate([part[i] for part in kept])
                                 for i, k in enumerate(keys)}
        out = {
            "estimate": moments.mean,
            "stderr": moments.stderr,
            "covariance": moments.covariance / max(moments.n, 1),
            "n_final": moments.n,
            "n_pooled": 0,
            "pooled_stages": [],
            "pooled_lambdas": [],
            "chosen_stage": best.stage,
            "predicted_error": best.predicted_error,
        }
        if pooling is not None:
            pooled = pooling.combine(**rule)
            lambdas = pooled["lambdas"]
            sizes = np.asarray([self._counts[t] for t in pooled_stages])
            out.update(estimate=pooled["estimate"], covariance=pooled["covariance"],
                       stderr=np.sqrt(np.clip(np.diag(pooled["covariance"]), 0.0, None)),
                       n_pooled=int(sizes[np.any(lambdas[:-1] > 0, axis=1)].sum()),
                       pooled_stages=list(pooled_stages), pooled_lambdas=lambdas.tolist())
        return out

    def _pooled_stages(self, best: _Candidate, quantities) -> list[int]:
        """Earlier stages whose plain importance-sampling means may join the final estimate:
        every stage (the law's pilot only when it was not judged on), none when no quantity
        pools (``quantities`` from :meth:`_pooling_rule`), which spares the final stage the
        stages' densities."""
        if not self.options.pool_adaptive or (quantities is not None and not np.any(quantities)):
            return []
        first = 1 if best.stage == 0 else 0  # the law's pilot is either pooled or was judged
        return list(range(first, len(self._counts)))

    def _pooling_rule(self, best: _Candidate) -> dict:
        """Which quantities pool the earlier stages, and the factor they must be within.

        At a near tie with the law (the kept proposal is the law, or its selection score is
        within ``POOL_TIE`` of the law's): every quantity, every stage. Otherwise only the
        quantities whose fits rest on at least ``d`` effective points, and a stage only
        where its variance is within ``POOL_TIE`` of the final stage's: where adaptation
        wins big, the final stage's control variates make the stages' plain estimates far
        less precise, and their variances, estimated on the final sample, are too noisy for
        heavy-tailed quantities to weigh them safely (Gaussian moments, seed 2093: z-scores
        up to 5 when every stage was pooled). A fit on a few hits follows them, so the kept
        proposal's variance, hence each stage's weight, and the choice of that proposal
        depend on the stages' own estimates: pooling every quantity biased rare events in
        d = 50 (~4 pilot hits) by -4.9% (6.9 s.e. over 1000 reps).
        """
        scores = getattr(self, "selection_scores", None)
        if best.stage == 0 or (scores is not None
                               and scores[0] <= POOL_TIE * scores[best.stage]):
            return {"tie": np.inf, "quantities": None}
        return {"tie": POOL_TIE,
                "quantities": np.asarray(best.fit_ess) >= self._ref_cov.shape[0]}

    def _stage_pooling(self, stages: list[int]) -> StagePooling:
        """Stage means ``Î_s = mean(phi f / g_s)`` over each pooled stage's own points."""
        bounds = np.cumsum([0, *self._counts])
        log_fq = self._log_laws[:, self.problem.law_index]
        means = []
        for t in stages:
            rows = slice(bounds[t], bounds[t + 1])
            means.append(iscv_summands(self._phi[rows], log_fq[rows], None,
                                       self._log_props[t][rows], None).mean(axis=0))
        return StagePooling(np.array(means), np.asarray([self._counts[t] for t in stages]))

    def _pool_final(self, pooling, stages, summands, responses, z, log_g, log_law_mix
                    ) -> None:
        """Add final-stage rows to the pooling (its final moments and reweighted moments)."""
        # log g_F / g_s at the final points; the law component's density is log_law_mix
        log_stage = [log_law_mix if t == 0 else self._proposals[t].logpdf_from_components(
            _component_logpdfs(self._proposals[t].components[:-1], z, log_law_mix))
            for t in stages]
        pooling.update(summands, responses, log_g[:, None] - np.column_stack(log_stage))

    def run(self, keep_sample: bool = False) -> dict:
        """All stages and the final stage."""
        for _ in self.steps():
            pass
        return self.finish(keep_sample=keep_sample)


def _event_quantities(phi: np.ndarray) -> np.ndarray:
    """The quantities that are 0/1 at every point so far: event probabilities."""
    return np.all((phi == 0.0) | (phi == 1.0), axis=0)


def _component_logpdfs(components, z: np.ndarray, log_law: np.ndarray) -> np.ndarray:
    """``log g_k(z)`` of the fitted components, then the law's density (known already), as
    the (n, K) columns a :class:`Mixture` with the law last combines."""
    return np.column_stack([c.logpdf(z) for c in components] + [log_law])


def _start_alpha(raw: np.ndarray, lower: np.ndarray) -> np.ndarray:
    raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
    free = 1.0 - lower.sum()
    if raw.sum() <= 0:
        raw = np.where(lower > 0, 0.0, 1.0)
        if raw.sum() == 0:
            raw = np.ones_like(raw)
    return lower + free * raw / raw.sum()


def resolve_weights(spec, estimate: np.ndarray, stderr: np.ndarray) -> np.ndarray:
    """The criterion's weights ``w_j`` from the user's ``weights`` and the pilot estimate.

    ``"relative"`` gives ``1 / max(Î_j^2, se_j^2)``: the pilot's standard error guards a
    quantity near 0; a quantity identically 0 on the pilot gets the largest other weight.
    A callable is called with the pilot estimate ``Î`` and returns the ``J`` weights (the
    sensitivity analyses pass their delta-method weights this way).
    """
    j = estimate.shape[0]
    if callable(spec):  # weights that depend on the quantities, e.g. delta-method ones
        return check_weights(spec(estimate), j)
    if isinstance(spec, str):
        if spec == "absolute":
            return np.ones(j)
        if spec != "relative":
            raise ValueError(
                f"'weights' must be 'relative', 'absolute' or {j} positive numbers, got {spec!r}"
            )
        denom = np.maximum(estimate**2, np.where(np.isfinite(stderr), stderr**2, 0.0))
        with np.errstate(divide="ignore"):
            w = np.where(denom > 0, 1.0 / denom, np.nan)
        if np.all(np.isnan(w)):
            return np.ones(j)
        return np.where(np.isnan(w), np.nanmax(w), w)
    w = check_weights(spec, j)
    return w


def check_weights(spec, j: int) -> np.ndarray:
    """Validate explicit weights: ``j`` finite positive numbers."""
    w = np.asarray(spec, dtype=float).reshape(-1)
    if w.shape != (j,):
        raise ValueError(f"'weights' must have {j} entries (one per quantity), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"'weights' must be finite and positive, got {w.tolist()}")
    return w

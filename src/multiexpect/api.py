"""``expectations()``: the public entry point for many expectations from one budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np

from . import __version__
from ._rng import check_rng, root_seed
from .aiscv import AISCV, OPTION_NAMES, check_weights, options_for_budget
from .estimators.monte_carlo import (
    crude_monte_carlo,
    crude_rqmc,
    mixture_monte_carlo,
    mixture_rqmc,
)
from .evaluation.builder import evaluate_for_call
from .interop import as_model, check_model_dims
from .laws import describe_law
from .problem import Problem, as_laws
from .reanalysis import final_sample_from_engine
from .results import ExpectationResult
from .sampling.rqmc import replicates_for

__all__ = ["METHODS", "expectations"]

METHODS = ("aiscv", "mc", "mixture-mc", "separate-is")


def _check_budget(budget) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"'budget' must be a positive int (model runs), got {budget!r}")
    if budget < 2:
        raise ValueError(f"'budget' must be at least 2 model runs, got {budget}")
    return int(budget)


def _check_weights_early(weights) -> None:
    if isinstance(weights, str):
        if weights not in ("relative", "absolute"):
            raise ValueError(
                f"'weights' must be 'relative', 'absolute' or positive numbers, got {weights!r}"
            )
        return
    w = np.asarray(weights, dtype=float).reshape(-1)
    check_weights(w, w.size)


def expectations(model: Callable, law, *, budget: int, weights="relative",
                 method: str = "aiscv", rng=None, vectorized: bool = True,
                 names=None, evaluate: Callable | None = None, executor=None,
                 n_workers: int | None = None, store=None, study_id: str | None = None,
                 retries: int = 0, progress: bool = False, eval_chunk_size: int | None = None,
                 keep_sample: bool = False, sampling: str = "mc",
                 **options) -> ExpectationResult:
    """Estimate ``I_j = E_{f_j}[phi_j(X)]``, ``j = 1..J``, from one budget of model runs.

    Parameters
    ----------
    model : callable
        Vectorised: ``(n, d)`` array -> ``(n,)`` or ``(n, J)``; column ``j`` is ``phi_j``.
        With ``vectorized=False`` it takes one point and returns a scalar or ``(J,)`` vector.
    law : Law or sequence of Law
        One law for every quantity, or ``L`` laws: quantity ``l`` under law ``l`` (the model
        then returns one column used for every law, or ``L`` columns).
    budget : int
        Model runs in all; never exceeded.
    weights : "relative", "absolute" or (J,) array_like
        Weights of the criterion ``sum_j w_j Var(Î_j)``: ``1/I_j^2`` from the pilot
        (guarded near 0 by the pilot's standard error), ones, or given positive numbers.
    method : {"aiscv", "mc", "mixture-mc", "separate-is"}
        The adaptive method, or a baseline: crude MC (separate MC with ``budget // L`` runs per
        law for several laws), mixture MC, or separate cross-entropy importance sampling
        (``budget // J`` runs per quantity).
    rng : None, int or numpy.random.Generator
        Randomness; the same seed gives the same result.
    vectorized : bool
        Whether ``model`` takes a whole batch.
    names : sequence of str, optional
        Quantity names for the result.
    evaluate : callable, optional
        ``evaluate(x, batch) -> outputs`` replacing the default in-process evaluation
        (executors and stores provide one).
    executor : None, "processes" or concurrent.futures.Executor
        Where the model runs: in-process (default), a local process pool of ``n_workers``
        (default: the cores), or any executor, e.g. ``distributed.Client(...).get_executor()``
        or ``mpi4py.futures.MPIPoolExecutor()`` (see ``docs/evaluation.md``).
    n_workers : int, optional
        Size of the ``"processes"`` pool.
    store : None, str, os.PathLike or Store
        Where every run is kept: nowhere (default), an SQLite file, or a store object
        (:class:`~multiexpect.evaluation.store.InMemoryStore`, ...). Re-running the same call
        with the same store resumes the study: stored runs are read, not run again, and the
        result equals the uninterrupted one.
    study_id : str, optional
        The study's key in the store; by default the model's name and a hash of the laws,
        method, options, seed and budget. Needed with a store when the model is a lambda.
    retries : int
        Times a failed point (exception, NaN/inf, dead worker) is run again before the study
        stops with :class:`~multiexpect.ModelEvaluationError`.
    progress : bool
        Show a progress bar on stderr (needs tqdm, and stdout and stderr to be terminals;
        otherwise a no-op).
    eval_chunk_size : int, optional
        Points per task sent to a worker (and per store transaction).
    keep_sample : bool
        Keep the final-stage sample (inputs, outputs, proposal density) in
        ``result.sample`` for :func:`~multiexpect.reanalyse` (method ``"aiscv"`` only).
    sampling : {"mc", "rqmc"}
        ``"rqmc"``: randomised quasi-Monte Carlo for ``mc`` (separate RQMC per law) and
        ``mixture-mc`` (mixture RQMC): ``R`` independent scrambled Sobol' nets (option
        ``replicates``: at least ``R``, 8 by default; see :mod:`multiexpect.sampling.rqmc`),
        the estimate the mean of the replicate estimates, the standard error their spread,
        and :meth:`~ExpectationResult.confidence_interval` Student's t on ``R - 1`` degrees of
        freedom (``diagnostics["dof"]``). Not yet available for ``aiscv`` and ``separate-is``.
    **options
        For ``aiscv`` and ``separate-is``: the fields of :class:`~multiexpect.aiscv.AiscvOptions`
        (``family``, ``n_components``, ``batch_size``, ``pilot_size``, ``pilot_hits``,
        ``pilot_max``, ``event_widened``, ``adaptation_cap``, ``space``, ``defensive``, ``control``,
        ``split_signs``, ``chunk_size``, ...).

    Returns
    -------
    ExpectationResult

    Notes
    -----
    The adaptive method is aISCV (Demange-Chryst, Bachoc & Morio 2023,
    doi:10.1007/s11222-023-10270-2) with the extensions of ``docs/method.md``. Every
    argument is checked before the first model run.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> import multiexpect as me
    >>> law = me.Law([stats.norm(0, 1)])
    >>> res = me.expectations(lambda x: x**np.arange(2, 7, 2), law, budget=2000, rng=1)
    >>> bool(abs(res.estimate[0] - 1.0) < 5 * res.stderr[0])
    True
    """
    from .evaluation.evaluator import wrap_model

    budget = _check_budget(budget)
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {METHODS}, got {method!r}")
    if keep_sample and method != "aiscv":
        raise ValueError(f"'keep_sample' needs method 'aiscv', got method {method!r}")
    replicates = replicates_for(sampling, method, ("mc", "mixture-mc"), options)
    model = as_model(model)
    laws = as_laws(law)
    check_rng(rng)
    _check_weights_early(weights)
    if evaluate is None:
        wrap_model(model, vectorized)
    check_model_dims(model, laws[0].dim)
    seed = root_seed(rng)
    settings = {"method": method, "budget": budget, "seed": seed, "options": dict(options),
                "weights": weights if isinstance(weights, str) else list(map(float, weights)),
                "laws": [describe_law(lw) for lw in laws], "version": __version__}
    if replicates is not None:
        settings.update(sampling=sampling, replicates=replicates)
    evaluate, study = evaluate_for_call(
        model, evaluate, vectorized=vectorized, settings=settings, budget=budget,
        executor=executor, n_workers=n_workers, store=store, study_id=study_id,
        retries=retries, progress=progress, eval_chunk_size=eval_chunk_size)
    try:
        return _run_method(method, laws, evaluate, budget, seed, weights, options, names,
                           settings, keep_sample, replicates)
    finally:
        if study is not None:
            study.close()


def _run_method(method, laws, evaluate, budget, seed, weights, options, names, settings,
                keep_sample=False, replicates=None):
    """Run ``method`` with the ``evaluate`` callable (settings are completed in place).

    ``replicates`` (an int) runs the RQMC version of the baseline ``mc`` or ``mixture-mc``.
    """
    if method == "aiscv":
        opts = options_for_budget(options, budget)
        settings["options"] = {f.name: getattr(opts, f.name) for f in fields(opts)}
        engine = AISCV(laws, evaluate, budget=budget, seed=seed, weights=weights,
                       options=opts, names=names)
        for stage in engine.steps():
            getattr(evaluate, "observe", _no_observer)(stage)
        out = engine.finish(keep_sample=keep_sample)
        problem = engine.problem
        return ExpectationResult(
            estimate=out["estimate"], stderr=out["stderr"], names=problem.names,
            method=method, n_evaluations=engine.runs_used, budget=budget,
            weights=engine.weights, history=tuple(s.as_dict() for s in engine.history),
            diagnostics={"chosen_stage": out["chosen_stage"], "n_final": out["n_final"],
                         "n_pooled": out["n_pooled"], "pooled_stages": out["pooled_stages"],
                         "pooled_lambdas": out["pooled_lambdas"],
                         "predicted_error": out["predicted_error"], "space": problem.space,
                         "selection_scores": getattr(engine, "selection_scores", None),
                         "pilot_estimate": engine.pilot_estimate.tolist()},
            settings=settings,
            sample=final_sample_from_engine(engine) if keep_sample else None)

    if method == "separate-is":
        return _separate_is(laws, evaluate, budget, seed, weights, options, names, settings)

    if options:
        raise ValueError(f"method {method!r} takes no options, got {sorted(options)}")
    counter = _RunCounter(evaluate)
    if replicates is not None:
        return _rqmc_result(method, laws, counter, budget, seed, weights, names, settings,
                            replicates)
    run = crude_monte_carlo if method == "mc" else mixture_monte_carlo
    out = run(laws, counter, budget=budget, seed=seed, names=names)
    problem = out["problem"]
    w = _final_weights(weights, out["estimate"], out["stderr"])
    return ExpectationResult(
        estimate=out["estimate"], stderr=out["stderr"], names=problem.names, method=method,
        n_evaluations=counter.n_runs, budget=budget, weights=w,
        diagnostics={"n_points": out["n_points"]}, settings=settings)


def _rqmc_result(method, laws, counter, budget, seed, weights, names, settings, replicates):
    """Separate (``mc``) or mixture (``mixture-mc``) RQMC with ``replicates`` scramblings."""
    run = crude_rqmc if method == "mc" else mixture_rqmc
    out = run(laws, counter, budget=budget, seed=seed, replicates=replicates, names=names)
    problem = out.pop("problem")
    w = _final_weights(weights, out["estimate"], out["stderr"])
    diagnostics = {k: v for k, v in out.items() if k not in ("estimate", "stderr")}
    diagnostics.update(sampling="rqmc", interval="student-t")
    return ExpectationResult(
        estimate=out["estimate"], stderr=out["stderr"], names=problem.names, method=method,
        n_evaluations=counter.n_runs, budget=budget, weights=w, diagnostics=diagnostics,
        settings=settings)


def _no_observer(stage) -> None:
    """Default stage observer of a plain ``evaluate`` callable."""


class _RunCounter:
    """Counts runs through any ``evaluate`` callable."""

    def __init__(self, evaluate: Callable, offset: int = 0):
        self.evaluate = evaluate
        self.offset = offset
        self.n_runs = 0

    def __call__(self, x, batch):
        self.n_runs += x.shape[0]
        return self.evaluate(x, batch + self.offset)


class _Column:
    """``evaluate`` restricted to one output column (for one quantity of separate IS)."""

    def __init__(self, evaluate: Callable, column: int, offset: int):
        self.evaluate = evaluate
        self.column = column
        self.offset = offset

    def __call__(self, x, batch):
        return self.evaluate(x, batch + self.offset)[:, [self.column]]


def _final_weights(spec, estimate, stderr) -> np.ndarray:
    from .aiscv import resolve_weights

    return resolve_weights(spec, np.asarray(estimate), np.asarray(stderr))


def _separate_is(laws, evaluate, budget, seed, weights, options, names, settings):
    """One cross-entropy IS per quantity on ``budget // J`` runs (the paper's "separately").

    The number of quantities is learnt from one probe run drawn from the first law; that run
    is counted in ``n_evaluations``. It is the paper's plain cross-entropy baseline: no
    control variates, sign parts, defensive component or widened law for events, unless the
    options ask for them.
    """
    base = {"control": "none", "split_signs": False, "defensive": 0.0, "event_widened": 0.0}
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method 'separate-is'")
    base.update(options)
    probe_x = laws[0].sample(1, np.random.default_rng([seed, 999_999]))
    probe = evaluate(probe_x, 10**9)
    problem = Problem.build(laws, probe.shape[1], "auto", names)
    n_q = problem.n_quantities
    if not isinstance(weights, str):
        check_weights(weights, n_q)
    per = (budget - 1) // n_q
    try:
        opts = options_for_budget(dict(base), per)  # the same for every quantity
    except ValueError as exc:
        raise ValueError(
            f"'budget' ({budget}) is too small for method 'separate-is' with {n_q} "
            f"quantities: each gets {per} runs, and {exc}"
        ) from exc
    estimate, stderr, history = np.zeros(n_q), np.zeros(n_q), []
    runs = 1
    for j in range(n_q):
        law_j = laws[problem.law_index[j]]
        column = _Column(evaluate, int(problem.column[j]), offset=(j + 1) * 10**6)
        engine = AISCV([law_j], column, budget=per, seed=seed + j + 1, weights="absolute",
                       options=opts)
        out = engine.run()
        estimate[j], stderr[j] = out["estimate"][0], out["stderr"][0]
        runs += engine.runs_used
        history.append({"quantity": problem.names[j], "chosen_stage": out["chosen_stage"],
                        "n_final": out["n_final"]})
    w = _final_weights(weights, estimate, stderr)
    return ExpectationResult(
        estimate=estimate, stderr=stderr, names=problem.names, method="separate-is",
        n_evaluations=runs, budget=budget, weights=w, history=tuple(history),
        diagnostics={"runs_per_quantity": per}, settings=settings)

"""``expectations()``: the public entry point for many expectations from one budget."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import batch_keys
from .engine import check_weights, options_for_budget, resolve_weights, run_engine
from .engine.law_first import COMMON_ROUTE, LAW_ROUTE, check_law_first
from .engine.rqmc_final import check_rqmc_final
from .engine.surrogate import check_surrogate, controls_law_route
from .estimators.monte_carlo import (
    crude_monte_carlo,
    crude_rqmc,
    mixture_monte_carlo,
    mixture_rqmc,
)
from .evaluation.config import Evaluation
from .interop import as_laws
from .intervals import HitTally, event_diagnostics
from .laws import describe_law
from .output_scale import OutputScale
from .prepare import prepare
from .problem import Problem, check_quantity_count
from .quantities import QuantityColumns, QuantityMap
from .reanalysis import final_sample_from_engine
from .results import ExpectationResult
from .sampling.rqmc import blocks_option, joined_record, replicates_for, resolve_sampling
from .vocabulary import (
    AUTO_EXPECTATION_METHODS,
    ENGINE_WEIGHTS,
    RQMC_EXPECTATION_METHODS,
    RQMC_ONE_NET_EXPECTATION_METHODS,
)
from .vocabulary import EXPECTATION_METHODS as METHODS

__all__ = ["METHODS", "expectations"]


def expectations(model: Callable, law, *, budget: int, weights="relative",
                 method: str = "aiscv", rng=None, vectorized: bool = True,
                 names=None, evaluate: Callable | None = None,
                 evaluation: Evaluation | None = None, keep_sample: bool = False,
                 sampling: str | None = None, quantities=None,
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
    evaluation : Evaluation, optional
        Where and how the model runs: executor, store (resume), retries, progress bar
        (:class:`~multiexpect.Evaluation`). Its fields ``executor``, ``n_workers``, ``store``,
        ``study_id``, ``retries``, ``progress``, ``eval_chunk_size`` and ``share_runs_with``
        may be passed as keywords instead, a shorthand for ``evaluation=Evaluation(...)``.
    quantities : sequence of me.Output, me.Moment, me.Exceedance, optional
        Quantities declared on the model's raw outputs (:mod:`multiexpect.quantities`): the
        model returns its outputs and the library computes ``phi`` (names ``E[y1^2]``,
        ``P(y1 > 5)``, ... unless ``names`` is given). Method ``"aiscv"`` reaches a rare
        exceedance through intermediate levels of its output (``docs/method.md``).
    keep_sample : bool
        Keep the final-stage sample (inputs, outputs, proposal density) in
        ``result.sample`` for :func:`~multiexpect.reanalyse` (method ``"aiscv"`` only).
    sampling : {"mc", "rqmc", "auto"} or None
        ``None`` (the default): ``"auto"`` for ``aiscv``, ``"mc"`` for the baselines and with
        ``keep_sample`` (:func:`~multiexpect.sampling.rqmc.default_sampling`); the result's
        ``settings`` record the resolved value when it is not ``"mc"``. ``"mc"``: i.i.d.
        points. ``"rqmc"``: randomised quasi-Monte Carlo for ``mc`` (separate RQMC per law)
        and ``mixture-mc`` (mixture RQMC): ``R`` independent scrambled Sobol' nets (option
        ``replicates``: at least ``R``, 8 by default; see :mod:`multiexpect.sampling.rqmc`),
        the estimate the mean of the replicate estimates, the standard error their spread,
        and :meth:`~ExpectationResult.confidence_interval` Hartigan's subset-means interval
        of the replicates (exact for symmetric replicates; Student's t on ``R - 1`` degrees
        of freedom, ``diagnostics["dof"]``, outside 6-16 replicates). For ``aiscv`` the
        adaptive stages stay i.i.d. and only the final stage is drawn as ``R`` replicates of
        the frozen proposal, each component on its own consecutive points of the replicate's
        net (:mod:`multiexpect.engine.rqmc_final`), the adaptive stages pooled with it
        (:mod:`multiexpect.engine.rqmc_pooling`; Student's t on Welch–Satterthwaite degrees
        of freedom, ``diagnostics["interval"]`` says which); ``replicates=1`` (with option
        ``blocks``, default 16) spends the final stage on two long scrambled sequences
        instead, more precise and with a conservative interval from their blocks
        (``"net-blocks"``, :func:`~multiexpect.engine.rqmc_final.final_one_net`). For
        ``separate-is`` each quantity's study ends so, and the result's interval is
        Student's t on the smallest of their degrees of freedom. ``"auto"`` (``aiscv``
        only): the pilot is drawn on nets of the law (two, four when adaptation does not
        lead clearly on two) and decides whether adaptation can pay;
        if not, the whole budget is RQMC of the law (at least ``replicates`` nets, the
        replicates' intervals), else the adaptation goes on as with ``"mc"`` and, when no
        quantity is an event, its final stage is ``replicates`` RQMC replicates
        (the adaptive stages kept apart; fewer than ``replicates`` runs may be left
        unspent); ``diagnostics["route"]`` says which and ``diagnostics["route_reason"]`` why
        (:mod:`multiexpect.engine.law_first`).
        Option ``surrogate`` (``aiscv`` with ``sampling`` ``"rqmc"`` or ``"auto"``):
        ``"chaos"``: the RQMC final stage after adaptation estimates each quantity's
        residual from a polynomial chaos fitted on the earlier runs, and adds the chaos's
        mean under the law from nets of its own (:mod:`multiexpect.engine.surrogate`); the
        same runs, exactly unbiased, ``diagnostics["surrogate"]`` describes the fit.
        ``"auto"`` (the default): the same for a study of several laws, its degree and
        integration nets capped so that the laws' integration stays cheap
        (:class:`~multiexpect.engine.surrogate.ChaosForm`); none for one law. With
        ``"auto"`` or ``"chaos"`` the law route of one law (``sampling="auto"``) corrects
        each net by a Legendre chaos fitted on the other nets, for the non-event quantities
        whose nets then spread at least 16 times less (:mod:`multiexpect.engine.law_chaos`),
        a quantity its own chaos leaves plain or gains less than 100x from (a second moment)
        again by products of the controlled quantities' chaos
        (:mod:`multiexpect.engine.law_products`), and each controlled quantity's standard
        error and interval widened by the covariance of the cross-fitted nets
        (:mod:`multiexpect.engine.law_pairs`). None: no control (the law route is then plain
        RQMC of the law, bit for bit). Not applied on
        the split route, the law route of several laws or an i.i.d. final
        stage (an event).
    **options
        The :class:`~multiexpect.Evaluation` keywords above, and, for ``aiscv`` and
        ``separate-is``, the fields of :class:`~multiexpect.aiscv.AiscvOptions`
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
    if keep_sample and method != "aiscv":
        raise ValueError(f"'keep_sample' needs method 'aiscv', got method {method!r}")
    sampling = resolve_sampling(sampling, method, keep_sample)
    if keep_sample and sampling != "mc":
        raise ValueError(f"'keep_sample' needs sampling 'mc', got sampling {sampling!r}")
    replicates = replicates_for(sampling, method, RQMC_EXPECTATION_METHODS, options,
                                one_net=RQMC_ONE_NET_EXPECTATION_METHODS,
                                auto=AUTO_EXPECTATION_METHODS)
    blocks = blocks_option(replicates, options)
    laws = as_laws(law)
    asked = options.pop("surrogate", "auto")
    surrogate = check_surrogate(asked, method, sampling, len(laws))
    law_control = controls_law_route(asked, method, sampling)
    per_law = method == "mc" and len(laws) > 1
    extra = {"laws": [describe_law(lw) for lw in laws]}
    qmap = None if quantities is None else QuantityMap(quantities)
    if qmap is not None and len(laws) == 1:  # before any run (several laws: one per law)
        check_quantity_count(qmap.n_quantities, "'quantities'")
    if len(laws) > 1:
        check_quantity_count(len(laws), "'law'")
    if qmap is not None:
        extra["quantities"] = qmap.describe()
        names = _declared_names(names, qmap, len(laws))
    if replicates is not None:  # an RQMC study is another study than its MC twin
        extra.update(sampling=sampling, replicates=replicates)
    if blocks is not None:
        extra["blocks"] = blocks
    prepared = prepare(
        model, dim=laws[0].dim, method=method, methods=METHODS, budget=budget, rng=rng,
        weights=weights, weight_names=ENGINE_WEIGHTS, options=options, evaluation=evaluation,
        evaluate=evaluate, vectorized=vectorized, settings=extra,
        min_budget=2 * len(laws) if per_law else 2,
        budget_need=f"must give at least 2 runs to each of {len(laws)} laws for method 'mc'"
        if per_law else None)
    scored = qmap is not None and method == "aiscv"
    law_first = sampling == "auto"
    if law_first:
        check_law_first(prepared.budget, replicates)
    else:
        check_rqmc_final(prepared.budget, prepared.options, replicates, blocks)
    with prepared.evaluation_context() as evaluate:
        if qmap is not None:
            evaluate = QuantityColumns(evaluate, qmap, scored=scored)
        scaled = OutputScale(evaluate)  # extreme magnitudes keep finite variances
        result = _run_method(method, laws, scaled, prepared.budget, prepared.seed,
                             prepared.weights, prepared.options, names, prepared.settings,
                             keep_sample, replicates, scored, law_first, blocks, surrogate,
                             law_control)
    return scaled.unscale(result)


def _declared_names(names, qmap: QuantityMap, n_laws: int) -> list:
    """The study's quantity names, checked before any run: ``names``, else the declared
    quantities' (``qmap``) under one law or one per law, or the one declared quantity's
    under each of ``n_laws`` laws (``"P(y1 > 3) [law 0]"``). A ValueError names
    ``quantities`` when several laws get neither one quantity nor one per law (as a
    model's columns), ``names`` when their count is not the study's."""
    declared = qmap.n_quantities
    if n_laws > 1 and declared not in (1, n_laws):
        raise ValueError(f"'quantities' declares {declared} quantities for {n_laws} laws: "
                         f"declare 1 (estimated under every law) or {n_laws} (quantity l "
                         f"under law l)")
    count = max(declared, n_laws)
    if names is None:
        own = qmap.names()
        return own if len(own) == count else [f"{own[0]} [law {law}]"
                                              for law in range(n_laws)]
    if len(names) != count:
        raise ValueError(f"'names' must have {count} entries (one per quantity), got "
                         f"{len(names)}")
    return list(names)


def _run_method(method, laws, evaluate, budget, seed, weights, opts, names, settings,
                keep_sample=False, replicates=None, scored=False, law_first=False,
                blocks=None, surrogate=None, law_control=False):
    """Run ``method`` with the ``evaluate`` callable (a run counter) and the engine's
    options ``opts`` (resolved, for ``"aiscv"``); ``replicates`` (an int) runs the RQMC
    version of the baseline ``mc`` or ``mixture-mc``, or aISCV's RQMC final stage, or with
    ``law_first`` (``sampling="auto"``) its plan of nets of the law; ``blocks`` (with
    ``replicates=1``) aISCV's one-net final stage; ``surrogate`` its final stage's chaos
    control; ``law_control`` the nets' chaos control on its law route."""
    if method == "aiscv":
        tally = HitTally(evaluate)
        out = run_engine(laws, tally, budget=budget, seed=seed, weights=weights,
                         options=opts, names=names, keep_sample=keep_sample,
                         observe=getattr(evaluate, "observe", None), scored=scored,
                         replicates=replicates, law_first=law_first, blocks=blocks,
                         adaptive_rqmc_final=True, surrogate=surrogate, edge_probe=True,
                         separate_nets=True, law_control=law_control)
        # the law route draws from the law (or the laws' mixture, or each law) only
        law_only = out.route is not None and out.route["route"] in (LAW_ROUTE, COMMON_ROUTE)
        events = event_diagnostics(tally, out.problem.column, n_final=out.n_final,
                                   defensive=1.0 if law_only else opts.defensive,
                                   n_laws=len(laws), pilot=batch_keys.is_pilot)
        return ExpectationResult(
            estimate=out.estimate, stderr=out.stderr, names=out.problem.names,
            method=method, n_evaluations=out.runs_used, budget=budget, weights=out.weights,
            history=out.history_records(), diagnostics=out.diagnostics() | events,
            settings=settings, sample=final_sample_from_engine(out) if keep_sample else None)

    if method == "separate-is":
        return _separate_is(laws, evaluate, budget, seed, weights, settings["options"], names,
                            settings, replicates)

    tally = HitTally(evaluate)
    if replicates is not None:
        return _rqmc_result(method, laws, evaluate, tally, budget, seed, weights, names,
                            settings, replicates)
    run = crude_monte_carlo if method == "mc" else mixture_monte_carlo
    out = run(laws, tally, budget=budget, seed=seed, names=names)
    problem = out["problem"]
    w = _final_weights(weights, out["estimate"], out["stderr"])
    # every draw is from a law (crude MC) or the laws' mixture: 1/L law-equivalent each
    events = event_diagnostics(tally, problem.column, n_final=evaluate.n_runs, defensive=1.0,
                               n_laws=len(laws), pilot=batch_keys.is_pilot)
    return ExpectationResult(
        estimate=out["estimate"], stderr=out["stderr"], names=problem.names, method=method,
        n_evaluations=evaluate.n_runs, budget=budget, weights=w,
        diagnostics={"n_points": out["n_points"]} | events, settings=settings)


def _rqmc_result(method, laws, evaluate, tally, budget, seed, weights, names, settings,
                 replicates):
    """Separate (``mc``) or mixture (``mixture-mc``) RQMC with ``replicates`` scramblings."""
    run = crude_rqmc if method == "mc" else mixture_rqmc
    out = run(laws, tally, budget=budget, seed=seed, replicates=replicates, names=names)
    problem = out.pop("problem")
    out.pop("covariance")
    w = _final_weights(weights, out["estimate"], out["stderr"])
    diagnostics = {k: v for k, v in out.items() if k not in ("estimate", "stderr")}
    diagnostics.update(sampling="rqmc")
    # every point is a law (or mixture) draw: the event tally's bounds hold as for crude MC
    diagnostics |= event_diagnostics(tally, problem.column, n_final=evaluate.n_runs,
                                     defensive=1.0, n_laws=len(laws), pilot=batch_keys.is_pilot)
    return ExpectationResult(
        estimate=out["estimate"], stderr=out["stderr"], names=problem.names, method=method,
        n_evaluations=evaluate.n_runs, budget=budget, weights=w, diagnostics=diagnostics,
        settings=settings)




class _Column:
    """``evaluate`` restricted to one output column (for one quantity of separate IS)."""

    def __init__(self, evaluate: Callable, column: int, offset: int):
        self.evaluate = evaluate
        self.column = column
        self.offset = offset

    def __call__(self, x, batch):
        return self.evaluate(x, batch + self.offset)[:, [self.column]]


def _final_weights(spec, estimate, stderr) -> np.ndarray:
    """The criterion's weights at the final estimate (the baselines' ``result.weights``)."""
    return resolve_weights(spec, np.asarray(estimate), np.asarray(stderr))


def _separate_is(laws, evaluate, budget, seed, weights, options, names, settings,
                 replicates=None):
    """One cross-entropy IS per quantity on ``budget // J`` runs (the paper's "separately").

    The number of quantities is learnt from one probe run drawn from the first law; that run
    is counted in ``n_evaluations``. ``options`` are the engine's options over
    :data:`~multiexpect.prepare.SEPARATE_IS_OPTIONS` (the paper's plain cross-entropy
    baseline, unless the options ask for more). ``replicates``: each quantity's final stage
    is that many RQMC replicates (:mod:`~multiexpect.engine.rqmc_final`), the result's
    interval Student's t on the smallest of their degrees of freedom
    (:func:`~multiexpect.sampling.rqmc.joined_record`).
    """
    if replicates is not None:  # before the probe run: the most one quantity can get
        try:
            most = options_for_budget(dict(options), budget - 1)
        except ValueError:  # too small anyway: said with the quantities' count below
            most = None
        check_rqmc_final(budget - 1, most, replicates)
    probe_x = laws[0].sample(1, batch_keys.separate_is_probe_generator(seed))
    probe = evaluate(probe_x, batch_keys.separate_is_probe())
    problem = Problem.build(laws, probe.shape[1], "auto", names)
    n_q = problem.n_quantities
    if not isinstance(weights, str):
        check_weights(weights, n_q)
    per = (budget - 1) // n_q
    try:
        opts = options_for_budget(dict(options), per)  # the same for every quantity
    except ValueError as exc:
        raise ValueError(
            f"'budget' ({budget}) is too small for method 'separate-is' with {n_q} "
            f"quantities: each gets {per} runs, and {exc}"
        ) from exc
    check_rqmc_final(per, opts, replicates)  # each quantity's final stage, before its runs
    estimate, stderr, history = np.zeros(n_q), np.zeros(n_q), []
    points = np.zeros(n_q)
    events: dict[str, list] = {"event": [], "hits": [], "law_draws": []}
    runs, records = 1, []
    for j in range(n_q):
        law_j = laws[problem.law_index[j]]
        # each quantity's own runs tallied: an event's hits and law-equivalent draws (its
        # pilot's; no defensive component after it) give its interval (intervals.py)
        column = HitTally(_Column(evaluate, int(problem.column[j]),
                                  offset=batch_keys.separate_is_offset(j)))
        out = run_engine([law_j], column, budget=per,
                         seed=batch_keys.separate_is_seed(seed, j), weights="absolute",
                         options=opts, replicates=replicates)
        records.append(out.rqmc)
        estimate[j], stderr[j] = out.estimate[0], out.stderr[0]
        points[j] = out.effective_points[0]
        runs += out.runs_used
        history.append({"quantity": problem.names[j], "chosen_stage": out.chosen_stage,
                        "n_final": out.n_final})
        tallied = event_diagnostics(column, [0], n_final=out.n_final,
                                    defensive=opts.defensive, n_laws=1,
                                    pilot=batch_keys.is_pilot)
        for key, values in tallied.items():
            events[key] += values
    w = _final_weights(weights, estimate, stderr)
    return ExpectationResult(
        estimate=estimate, stderr=stderr, names=problem.names, method="separate-is",
        n_evaluations=runs, budget=budget, weights=w, history=tuple(history),
        diagnostics={"runs_per_quantity": per, "effective_points": points.tolist()} | events
        | ({} if replicates is None else joined_record(records)),
        settings=settings)

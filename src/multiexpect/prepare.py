"""The entry path: what ``expectations``, ``sobol_indices`` and ``perturbed_law_indices`` do
before their first model run, written once.

Each public function parses the arguments of its own analysis (its laws, orders, quantity,
...) and then calls :func:`prepare`, which checks, in this order: the evaluation settings
(:class:`~multiexpect.evaluation.config.Evaluation`, or its keywords), the method, the model
(adapted by :func:`~multiexpect.interop.as_model`; its declared dimensions), the budget, the
rng, the criterion weights and the method's options (the engine's resolved for the budget),
and that the model can be called. It then draws the root seed and builds the study's
settings, once and complete: they key the study in a store and are recorded in the result,
and nothing changes them afterwards. :meth:`Prepared.evaluation_context` opens the call's
``evaluate(x, batch)`` callable (an executor, a store) and closes it after the call; the
callable it yields counts the runs (``n_evaluations``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields

import numpy as np

from ._rng import check_rng, root_seed
from .aiscv import OPTION_NAMES, AiscvOptions, check_weights, options_for_budget
from .evaluation.builder import evaluate_for_call
from .evaluation.config import Evaluation, split_evaluation
from .evaluation.evaluator import RunCounter, check_model
from .interop import as_model, check_model_dims
from .threads import engine_threads
from .version import __version__

__all__ = ["SEPARATE_IS_OPTIONS", "Prepared", "check_budget", "prepare", "resolve_options"]

#: What method ``"separate-is"`` changes in the engine's defaults: the paper's plain
#: cross-entropy baseline (no control variates, sign parts, defensive component or widened
#: law for events), unless the options ask for them.
SEPARATE_IS_OPTIONS = {"control": "none", "split_signs": False, "defensive": 0.0,
                       "event_widened": 0.0}


@dataclass(frozen=True)
class Prepared:
    """A public call's checked arguments and its settings, ready to run.

    Attributes
    ----------
    model : callable
        The model after :func:`~multiexpect.interop.as_model`.
    budget : int
        Model runs in all.
    seed : int
        Root seed of every batch generator.
    weights : str or (J,) array
        A weight name, or the checked positive numbers.
    options : AiscvOptions or None
        The engine's options resolved for its budget (method ``"aiscv"``), else None.
    settings : dict
        What defines the study (method, budget, seed, resolved options, weights, version and
        the analysis's own entries): hashed into the default study id, compared on resume,
        recorded in the result.
    evaluation : Evaluation
    evaluate : callable or None
        The caller's ``evaluate(x, batch)``, replacing the model evaluation.
    vectorized : bool
    """

    model: Callable
    budget: int
    seed: int
    weights: str | np.ndarray
    options: AiscvOptions | None
    settings: dict
    evaluation: Evaluation
    evaluate: Callable | None
    vectorized: bool

    @contextmanager
    def evaluation_context(self) -> Iterator[RunCounter]:
        """The call's ``evaluate(x, batch)``, counting runs; the study is closed after.
        Inside, BLAS runs on one thread except in the model (:mod:`multiexpect.threads`)."""
        evaluate, study = evaluate_for_call(
            self.model, self.evaluate, vectorized=self.vectorized, settings=self.settings,
            budget=self.budget, evaluation=self.evaluation)
        try:
            with engine_threads() as caller:
                yield RunCounter(evaluate, caller)
        finally:
            if study is not None:
                study.close()


def check_budget(budget, minimum: int = 2, need: str | None = None) -> int:
    """``budget`` as an int, refused when it is not an int or below ``minimum`` runs.

    ``need`` says why ``minimum`` runs are needed (it follows ``'budget' (<budget>)`` in
    the message); without it the message names the minimum alone.
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"'budget' must be a positive int (model runs), got {budget!r}")
    if budget < minimum:
        if need is None:
            raise ValueError(f"'budget' must be at least {minimum} model runs, got {budget}")
        raise ValueError(f"'budget' ({budget}) {need}, so budget >= {minimum}")
    return int(budget)


def check_weight_names(weights, names: Sequence[str], n_quantities: int | None
                       ) -> str | np.ndarray:
    """A weight name out of ``names``, or positive numbers (``n_quantities`` of them when
    known: else the engine checks their number once it knows the quantities)."""
    if isinstance(weights, str):
        if weights not in names:
            count = f"{n_quantities} " if n_quantities is not None else ""
            listed = ", ".join(repr(name) for name in names)
            raise ValueError(f"'weights' must be {listed} or {count}positive numbers, "
                             f"got {weights!r}")
        return weights
    w = np.asarray(weights, dtype=float).reshape(-1)
    return check_weights(w, w.size if n_quantities is None else n_quantities)


def resolve_options(method: str, options: dict, budget: int
                    ) -> tuple[AiscvOptions | None, dict]:
    """The engine's options for ``method`` and the record of them for the settings.

    ``"aiscv"``: every option resolved for ``budget`` (the engine's budget: Sobol' counts it
    in pick-freeze points). ``"separate-is"``: the options over :data:`SEPARATE_IS_OPTIONS`
    (the sizes are resolved per quantity, once the quantities are known). The baselines
    take none.
    """
    if method == "aiscv":
        opts = options_for_budget(dict(options), budget)
        return opts, {f.name: getattr(opts, f.name) for f in fields(opts)}
    if method == "separate-is":
        unknown = sorted(set(options) - OPTION_NAMES)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for method 'separate-is'")
        return None, {**SEPARATE_IS_OPTIONS, **options}
    if options:
        raise ValueError(f"method {method!r} takes no options, got {sorted(options)}")
    return None, {}


def prepare(model, *, dim: int, method: str, methods: Sequence[str], budget, rng, weights,
            weight_names: Sequence[str], n_quantities: int | None = None,
            baseline_weights: str | None = None, options: dict, evaluation: Evaluation | None,
            evaluate: Callable | None, vectorized: bool, settings: dict,
            scalar_for: str | None = None, min_budget: int = 2, budget_need: str | None = None,
            runs_per_point: int = 1) -> Prepared:
    """Check a public call's common arguments (see the module docstring) and build its
    settings.

    Parameters
    ----------
    model : callable
        The user's model (an OpenTURNS ``Function`` is adapted).
    dim : int
        Input dimension of the laws (already adapted by the caller).
    method, methods : str, sequence of str
        The method asked for, and those the function offers.
    budget, rng, weights, evaluate, vectorized
        The public arguments.
    weight_names : sequence of str
        The weight names the function accepts.
    n_quantities : int, optional
        The number of weights expected, when known before any run.
    baseline_weights : str, optional
        When given, the one weight a baseline method accepts (the sensitivity analyses'
        baselines have no criterion).
    options : dict
        The call's ``**options``: the engine's options and the :class:`Evaluation` keywords.
    evaluation : Evaluation or None
    settings : dict
        The analysis's own entries of the settings (laws, orders, ...).
    scalar_for : str, optional
        The model must return one output per point, for this purpose (in messages).
    min_budget, budget_need : int, str
        The smallest budget and why (see :func:`check_budget`).
    runs_per_point : int
        Model runs per point of the engine (the engine's budget is ``budget //
        runs_per_point``).
    """
    evaluation, options = split_evaluation(evaluation, options)
    if method not in methods:
        raise ValueError(f"'method' must be one of {tuple(methods)}, got {method!r}")
    model = as_model(model)
    check_model_dims(model, dim, scalar_for=scalar_for)
    budget = check_budget(budget, min_budget, budget_need)
    check_rng(rng)
    weights = check_weight_names(weights, weight_names, n_quantities)
    if (baseline_weights is not None and method != "aiscv"
            and not (isinstance(weights, str) and weights == baseline_weights)):
        raise ValueError("'weights' applies to method 'aiscv' only")
    opts, recorded = resolve_options(method, options, budget // runs_per_point)
    if evaluate is None:
        check_model(model)
    seed = root_seed(rng)
    full = {"method": method, "budget": budget, "seed": seed, "options": recorded,
            "weights": weights if isinstance(weights, str) else list(map(float, weights)),
            "version": __version__, **settings}
    return Prepared(model=model, budget=budget, seed=seed, weights=weights, options=opts,
                    settings=full, evaluation=evaluation, evaluate=evaluate,
                    vectorized=vectorized)

r"""Perturbed-law based indices (PLI): the impact of the input laws, from one sample.

For a quantity ``Q`` of the output ``Y = φ(X)`` (its mean, or an exceedance probability
``P(Y > t)``), ``Q_0`` under the nominal law ``f_0`` and ``Q_k`` under perturbed laws
``f_1..f_K`` are ``K + 1`` expectations of one function under ``K + 1`` laws,
``Q_k = E_{f_k}[ψ(φ(X))]`` with ``ψ(y) = y`` or ``1{y > t}``: exactly the "several laws" case of
:func:`~multiexpect.expectations` (method.md section 4). The indices are

* ``form="ratio"``: ``S_k = Q_k / Q_0 - 1``;
* ``form="signed"`` (Lemaître et al. 2015): ``S_k = Q_k/Q_0 - 1`` if ``Q_k >= Q_0``, else
  ``1 - Q_0/Q_k`` (antisymmetric: exchanging the nominal and the perturbed law changes
  only the sign).

Their standard errors follow from the delta method on the joint covariance of
``(Q̂_0, .., Q̂_K)`` (all estimated from the same sample, hence correlated):
``Cov(Ŝ) ≈ G Σ̂ G^T`` with ``G = ∂S/∂Q``.

Perturbations. :func:`mean_shift_perturbations` translates one marginal at a time by
``± δ σ_i`` (``σ_i`` its standard deviation), keeping its shape and the copula. For a normal
marginal this is the law closest to the nominal one in Kullback-Leibler divergence among
those with that mean (Lemaître et al. 2015); for other marginals it is the simpler
parametric shift that method.md section 4 allows (it moves the support with the law: a
lognormal's lower bound moves by ``± δ σ_i``).

Reference: Lemaître, Sergienko, Arnaud, Bousquet, Gamboa & Iooss (2015), "Density
modification-based reliability sensitivity analysis", J. Stat. Comput. Simul.,
doi:10.1080/00949655.2014.929128.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import batch_keys
from ..engine import run_engine
from ..engine.law_first import check_law_first
from ..engine.rqmc_final import check_rqmc_final
from ..estimators.importance import iscv_summands
from ..estimators.monte_carlo import crude_monte_carlo, crude_rqmc, mixture_rqmc
from ..evaluation.config import Evaluation
from ..interop import as_law, as_one_law
from ..laws import Law, check_same_inputs, describe_law
from ..prepare import prepare
from ..problem import Problem
from ..sampling.rqmc import (
    blocks_option,
    index_diagnostics,
    replicates_for,
    resolve_sampling,
)
from ..vocabulary import (
    AUTO_PERTURBED_LAW_METHODS,
    RQMC_ONE_NET_PERTURBED_LAW_METHODS,
    RQMC_PERTURBED_LAW_METHODS,
    SENSITIVITY_WEIGHTS,
)
from ..vocabulary import PERTURBED_LAW_METHODS as METHODS
from ._common import floored_delta_weights
from .results import PerturbedLawResult

if TYPE_CHECKING:
    from ..interop.openturns import OpenTURNSLaw

__all__ = ["mean_shift_perturbations", "perturbed_law_indices"]

FORMS = ("ratio", "signed")


# ---------------------------------------------------------------------- perturbations
def _shift_marginal(dist, shift: float):
    """The frozen scipy distribution ``dist`` translated by ``shift`` (its ``loc`` moved)."""
    args, kwds = list(dist.args), dict(dist.kwds)
    numargs = dist.dist.numargs
    if len(args) > numargs:
        args[numargs] = args[numargs] + shift
    else:
        kwds["loc"] = kwds.get("loc", 0.0) + shift
    return dist.dist(*args, **kwds)


def mean_shift_perturbations(law, delta: float | Sequence[float] = 1.0,
                             inputs: Sequence[str | int] | None = None,
                             ) -> dict[str, Law | OpenTURNSLaw]:
    """Laws with one input's mean shifted by ``± delta`` standard deviations.

    Parameters
    ----------
    law : Law or openturns.Distribution
        The nominal law; its copula (Gaussian or, for an OpenTURNS law, any) is kept. An
        OpenTURNS ``Distribution`` is converted first by :func:`multiexpect.interop.as_law`.
    delta : float or sequence of float
        Shifts in standard deviations of the marginal; each gives a ``+`` and a ``-`` law.
    inputs : sequence of str or int, optional
        Which inputs to perturb (names or indices); all by default.

    Returns
    -------
    dict
        ``{"<name>+<delta>sd": law, "<name>-<delta>sd": law, ...}``, input by input. The laws
        are native :class:`~multiexpect.Law` objects when ``law`` is (or converts exactly to)
        one, else :class:`~multiexpect.interop.openturns.OpenTURNSLaw` objects.

    Raises
    ------
    ValueError
        ``law`` is neither a Law nor an OpenTURNS Distribution (e.g. another object with
        the Law interface, whose marginals cannot be shifted), or bad ``delta`` / ``inputs``.

    Notes
    -----
    The marginal ``F_i`` becomes ``F_i(x - s)`` with ``s = ± delta σ_i``: for a normal marginal
    the Kullback-Leibler-closest law with mean ``μ_i + s``; for others a location shift. For
    an OpenTURNS law that has no exact native equivalent, the shifted marginal is
    OpenTURNS's ``marginal + s`` and the law is rebuilt as
    ``JointDistribution(marginals, copula)`` with the original copula.

    Examples
    --------
    >>> from scipy import stats
    >>> import multiexpect as me
    >>> law = me.Law([stats.norm(0, 2), stats.norm(1, 1)], names=["a", "b"])
    >>> pert = me.mean_shift_perturbations(law, delta=0.5, inputs=["a"])
    >>> list(pert), pert["a+0.5sd"].mean().tolist()
    (['a+0.5sd', 'a-0.5sd'], [1.0, 1.0])
    """
    law = _shiftable_law(law)
    deltas = np.atleast_1d(np.asarray(delta, dtype=float))
    if deltas.ndim != 1 or not np.all(np.isfinite(deltas)) or np.any(deltas <= 0):
        raise ValueError(f"'delta' must be positive finite numbers, got {delta!r}")
    names = list(law.names)
    if inputs is None:
        which = list(range(law.dim))
    else:
        which = []
        for item in inputs:
            if isinstance(item, str):
                if item not in names:
                    raise ValueError(f"'inputs' names an unknown input {item!r}; "
                                     f"known: {names}")
                which.append(names.index(item))
            elif isinstance(item, (int, np.integer)) and 0 <= item < law.dim:
                which.append(int(item))
            else:
                raise ValueError(f"'inputs' must hold input names or indices in "
                                 f"[0, {law.dim}), got {item!r}")
    std = np.asarray(law.std(), dtype=float)
    out: dict = {}
    for i in which:
        for d in deltas:
            for sign, tag in ((1.0, "+"), (-1.0, "-")):
                out[f"{names[i]}{tag}{d:g}sd"] = _shifted(law, i, sign * d * std[i])
    return out


def _shiftable_law(law):
    """``law`` through :func:`~multiexpect.interop.as_law`, if its marginals can be shifted."""
    from ..interop.openturns import OpenTURNSLaw

    converted = as_law(law, "law")
    if not isinstance(converted, (Law, OpenTURNSLaw)):
        raise ValueError(
            f"'law' must be a multiexpect.Law or an OpenTURNS Distribution for mean-shift "
            f"perturbations, got {type(law).__name__}: its marginals cannot be shifted"
        )
    return converted


def _shifted(law, index: int, shift: float):
    """``law`` with marginal ``index`` translated by ``shift``, copula and names kept."""
    if isinstance(law, Law):
        marginals = list(law.marginals)
        marginals[index] = _shift_marginal(marginals[index], shift)
        return Law(marginals, law.correlation, names=law.names)
    return law.shifted(index, shift)


# ---------------------------------------------------------------------- quantities
def _check_quantity(quantity) -> tuple[str, float | None]:
    if isinstance(quantity, str) and quantity == "mean":
        return "mean", None
    if (isinstance(quantity, (tuple, list)) and len(quantity) == 2
            and quantity[0] == "exceedance"):
        t = float(quantity[1])
        if not np.isfinite(t):
            raise ValueError(f"the threshold of 'quantity' must be finite, got {quantity[1]!r}")
        return "exceedance", t
    raise ValueError(
        f"'quantity' must be 'mean' or ('exceedance', t), got {quantity!r}"
    )


class _QuantityModel:
    """``evaluate(x, batch)`` returning ``ψ(φ(x))`` as one column."""

    def __init__(self, evaluate: Callable, kind: str, threshold: float | None):
        self.evaluate = evaluate
        self.kind = kind
        self.threshold = threshold

    def __call__(self, x: np.ndarray, batch: int = 0) -> np.ndarray:
        out = np.asarray(self.evaluate(x, batch), dtype=float)
        if out.ndim == 2 and out.shape[1] != 1:
            raise ValueError(
                f"'model' must return one output per point for perturbed-law indices, got "
                f"{out.shape[1]} columns"
            )
        y = out.reshape(-1)
        values = y if self.kind == "mean" else (y > self.threshold).astype(float)
        return values[:, None]


def _indices(q: np.ndarray, form: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``S_k`` (k = 1..K) and their Jacobian ``∂S/∂Q`` ((K, K+1))."""
    q0, qk = q[0], q[1:]
    k = qk.size
    jac = np.zeros((k, k + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        up = qk >= q0 if form == "signed" else np.ones(k, dtype=bool)
        s = np.where(up, qk / q0 - 1.0, 1.0 - q0 / qk)
        jac[:, 0] = np.where(up, -qk / q0**2, -1.0 / qk)
        jac[np.arange(k), np.arange(1, k + 1)] = np.where(up, 1.0 / q0, q0 / qk**2)
    return s, jac


def _jacobian(form: str):
    """``Q -> ∂S/∂Q`` ((K, K + 1)), the indices' Jacobian at estimates ``Q``."""

    def jacobian(q: np.ndarray) -> np.ndarray:
        return _indices(q, form)[1]

    return jacobian


def _delta_weights(form: str):
    """Delta-method weights ``w_j = sum_k (∂S_k/∂Q_j)^2`` as a function of the engine's
    pilot estimate ``Q`` (a mixture-IS estimate: the pilot samples the mixture of the laws)."""
    jacobian = _jacobian(form)

    def weights(q: np.ndarray) -> np.ndarray:
        return floored_delta_weights(jacobian(q))

    return weights


# ---------------------------------------------------------------------- the public function
def perturbed_law_indices(model: Callable, law, perturbations, *, budget: int,
                          quantity="mean", form: str = "ratio", method: str = "aiscv",
                          rng=None, weights="delta", vectorized: bool = True,
                          evaluate: Callable | None = None, evaluation: Evaluation | None = None,
                          sampling: str | None = None, **options) -> PerturbedLawResult:
    r"""Perturbed-law indices ``S_k`` of the output mean or an exceedance probability.

    Parameters
    ----------
    model : callable or openturns.Function
        Scalar output: ``(n, d)`` -> ``(n,)`` (one point -> a scalar with
        ``vectorized=False``). An OpenTURNS ``Function`` (one output) is evaluated on whole
        samples (:func:`multiexpect.interop.as_model`); its input dimension is checked
        against the law before any run.
    law : Law or openturns.Distribution
        The nominal law (through :func:`multiexpect.interop.as_law`).
    perturbations : mapping of str to law, or sequence of laws
        The perturbed laws (e.g. :func:`mean_shift_perturbations`), labelled by the mapping's
        keys or ``p1..pK``. Each may be a Law or an OpenTURNS ``Distribution``, converted by
        :func:`multiexpect.interop.as_law`; errors name the entry
        (``perturbations['a+1sd']``).
    budget : int
        Model runs in all (every law shares them).
    quantity : "mean" or ("exceedance", t)
        ``Q = E[Y]`` or ``Q = P(Y > t)``.
    form : {"ratio", "signed"}
        ``Q_k/Q_0 - 1``, or the signed form ``1 - Q_0/Q_k`` when ``Q_k < Q_0``.
    method : {"aiscv", "mixture-mc", "mc"}
        The adaptive method; or mixture Monte Carlo (``budget`` points from the equal mixture
        of the ``K + 1`` laws, reweighted); or separate Monte Carlo (``budget // (K+1)`` per
        law, independent estimates).
    rng : None, int or numpy.random.Generator
    weights : "delta", "relative", "absolute" or array_like
        ``aiscv`` only: the engine's criterion weights over the ``K + 1`` quantities;
        ``"delta"``: ``sum_k (∂S_k/∂Q_j)^2`` at the pilot estimates.
    vectorized : bool
    evaluate : callable, optional
        ``evaluate(x, batch) -> outputs`` replacing the in-process evaluation.
    evaluation : Evaluation, optional
        Where and how the model runs (executor, store, retries, progress bar):
        :class:`~multiexpect.Evaluation`, or its fields as keywords.
    sampling : {"mc", "rqmc", "auto"} or None
        ``None`` (the default): ``"auto"`` for ``aiscv``, ``"mc"`` for the baselines
        (:func:`~multiexpect.sampling.rqmc.default_sampling`). ``"mc"``: i.i.d. points.
        ``"rqmc"``: ``R`` independently scrambled Sobol' nets (option ``replicates``, 8 by
        default), intervals Student's t on ``R - 1`` degrees of freedom (the delta method on
        the replicates' covariance): for ``aiscv`` the final stage's replicates of the
        frozen proposal (:mod:`multiexpect.engine.rqmc_final`; with ``replicates=1`` two
        long sequences cut into ``blocks``, as for :func:`~multiexpect.expectations`), for
        ``mixture-mc`` each net cut into one block per law (mixture RQMC), for ``mc`` every
        law on the same nets (separate RQMC; :mod:`multiexpect.estimators.monte_carlo`).
        ``"auto"`` (``aiscv``): the pilot on nets of the laws' mixture chooses RQMC of that
        mixture over the whole budget or adaptation, as for
        :func:`~multiexpect.expectations` (:mod:`multiexpect.engine.law_first`;
        ``diagnostics["route"]`` says which); for the mean with ``weights="delta"`` a probe
        of the laws' common nets comes first, and where it predicts the indices' error far
        below the mixture's the study is separate RQMC on them (``"common-nets"``: a mean
        shift of a smooth model nearly cancels in ``Q_k / Q_0``;
        :mod:`multiexpect.engine.common_nets`).
    **options
        The :class:`~multiexpect.Evaluation` keywords, and, ``aiscv`` only, fields of
        :class:`~multiexpect.AiscvOptions`.

    Returns
    -------
    PerturbedLawResult

    Notes
    -----
    All ``K + 1`` quantities come from one sample, so ``Q̂_k`` and ``Q̂_0`` are correlated and
    the delta method uses their joint covariance (the final-stage summands of the engine).
    See the module docstring for the formulas.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> import multiexpect as me
    >>> law = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
    >>> pert = me.mean_shift_perturbations(law, delta=0.5)
    >>> res = me.perturbed_law_indices(lambda x: 3 + x[:, 0] + 0.2 * x[:, 1], law, pert,
    ...                                budget=4000, rng=0)
    >>> bool(abs(res.indices[0] - 0.5 / 3) < 4 * res.stderr[0])
    True
    """
    kind, threshold = _check_quantity(quantity)
    sampling = resolve_sampling(sampling, method)
    replicates = replicates_for(sampling, method, RQMC_PERTURBED_LAW_METHODS, options,
                                one_net=RQMC_ONE_NET_PERTURBED_LAW_METHODS,
                                auto=AUTO_PERTURBED_LAW_METHODS)
    blocks = blocks_option(replicates, options)
    law_first = sampling == "auto"
    if form not in FORMS:
        raise ValueError(f"'form' must be one of {FORMS}, got {form!r}")
    nominal = as_one_law(law, "(nominal) Law")
    laws, labels = _perturbed_laws(nominal, perturbations)
    n_laws = len(laws)
    quantity_name = "mean" if kind == "mean" else f"exceedance({threshold:g})"
    prepared = prepare(
        model, dim=nominal.dim, method=method, methods=METHODS, budget=budget, rng=rng,
        weights=weights, weight_names=SENSITIVITY_WEIGHTS, n_quantities=n_laws,
        baseline_weights="delta", options=options, evaluation=evaluation, evaluate=evaluate,
        vectorized=vectorized, scalar_for="perturbed-law indices",
        settings={"analysis": "perturbed-laws", "quantity": quantity_name, "form": form,
                  "laws": [describe_law(lw) for lw in laws]}
        | ({} if replicates is None else {"sampling": sampling, "replicates": replicates})
        | ({} if blocks is None else {"blocks": blocks}),
        min_budget=2 * n_laws if method == "mc" else 2,
        budget_need=f"must give at least 2 runs to each of {n_laws} laws for method 'mc'"
        if method == "mc" else None)
    budget, seed, weights, opts = (prepared.budget, prepared.seed, prepared.weights,
                                   prepared.options)
    settings = prepared.settings
    names = ["nominal", *labels]
    # the indices' Jacobian for sampling "auto": the laws' common nets where they pay
    # (multiexpect.engine.common_nets), for the mean (an exceedance's indicators do not
    # cancel between laws) and the criterion's own "delta" weights
    delta = isinstance(weights, str) and weights == "delta"
    jacobian = (_jacobian(form) if law_first and method == "aiscv" and kind == "mean"
                and delta else None)
    if law_first:
        check_law_first(budget, replicates)
    else:
        check_rqmc_final(budget, opts, replicates, blocks)

    with prepared.evaluation_context() as counter:
        wrapper = _QuantityModel(counter, kind, threshold)
        if method == "aiscv":
            spec = _delta_weights(form) if delta else weights
            out = run_engine(laws, wrapper, budget=budget, seed=seed, weights=spec,
                             options=opts, names=names, replicates=replicates,
                             law_first=law_first, blocks=blocks, index_jacobian=jacobian)
            q = np.asarray(out.estimate, dtype=float)
            cov = np.atleast_2d(np.asarray(out.covariance, dtype=float))
            diag = {"n_final": int(out.n_final), "n_pooled": int(out.n_pooled),
                    "chosen_stage": int(out.chosen_stage),
                    "points_not_run": int(out.points_not_run),
                    "criterion_weights": np.asarray(out.weights).tolist(),
                    "space": out.problem.space} | index_diagnostics(out.rqmc) | (out.route or {})
        elif replicates is not None:
            run = mixture_rqmc if method == "mixture-mc" else crude_rqmc
            q, cov, diag = _baseline_rqmc(run, laws, wrapper, budget, seed, replicates)
        elif method == "mixture-mc":
            q, cov = _mixture_mc(laws, wrapper, budget, seed)
            diag = {"n_points": budget}
        else:
            q, cov = _separate_mc(laws, wrapper, budget, seed)
            diag = {"n_points_per_law": budget // n_laws}

        s, jac = _indices(q, form)
        index_cov = jac @ cov @ jac.T
        return PerturbedLawResult(
            indices=s, stderr=_resolved(np.sqrt(np.clip(np.diag(index_cov), 0.0, None)), s),
            names=labels,
            quantities=q, quantities_stderr=np.sqrt(np.clip(np.diag(cov), 0.0, None)),
            quantity=quantity_name, form=form, method=method, n_evaluations=counter.n_runs,
            budget=budget, covariance=index_cov, diagnostics=diag, settings=settings)


#: An index's standard error is at least this times ``|1 + S|`` (its ratio ``Q_k / Q_0``):
#: where every net gives the same ratio (the model's dependence cancels in it on the laws'
#: common nets) the spread is rounding, and a zero-width interval would miss the exact
#: index by an ulp (a claim of certainty the arithmetic does not make).
INDEX_RESOLUTION = 1e-12


def _resolved(stderr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``stderr`` no smaller than :data:`INDEX_RESOLUTION` ``|1 + S|``."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(indices),
                        np.maximum(stderr, INDEX_RESOLUTION * np.abs(1.0 + indices)), stderr)


def _perturbed_laws(nominal, perturbations) -> tuple[list, list[str]]:
    """``[nominal, f_1..f_K]`` through :func:`~multiexpect.interop.as_law`, and the labels.

    Each perturbed law is converted (an OpenTURNS ``Distribution`` included) under the
    name ``perturbations[<key>]`` (or ``perturbations[<i>]`` for a sequence), so an error
    names the entry at fault.
    """
    if isinstance(perturbations, Mapping):
        labels = [str(k) for k in perturbations]
        entries = [(f"perturbations[{k!r}]", p) for k, p in perturbations.items()]
    elif isinstance(perturbations, Sequence) and not isinstance(perturbations, (str, bytes)):
        labels = [f"p{i + 1}" for i in range(len(perturbations))]
        entries = [(f"perturbations[{i}]", p) for i, p in enumerate(perturbations)]
    else:
        raise ValueError("'perturbations' must be a mapping of labels to Laws or a sequence "
                         f"of Laws, got {type(perturbations).__name__}")
    if not entries:
        raise ValueError("'perturbations' must hold at least one perturbed Law")
    laws = [nominal]
    for name, item in entries:
        converted = as_law(item, name)
        if converted.dim != nominal.dim:
            raise ValueError(f"'{name}' has dimension {converted.dim} but 'law' has "
                             f"dimension {nominal.dim}")
        check_same_inputs(nominal.names, converted, name, "'law'")
        laws.append(converted)
    return laws, labels


def _mixture_mc(laws, wrapper, budget, seed):
    """``budget`` points from the equal mixture of the laws; joint covariance of the ``Q̂_l``."""
    problem = Problem.build(laws, len(laws), "input")
    mixture = problem.initial_proposal()
    key = batch_keys.monte_carlo()
    x = mixture.sample(budget, batch_keys.generator(seed, key))
    values = wrapper(x, key)
    log_f = problem.law_logpdfs(x)
    summands = iscv_summands(values, log_f, None, mixture.logpdf_from_laws(log_f), None)
    return summands.mean(axis=0), np.atleast_2d(np.cov(summands, rowvar=False)) / budget


def _baseline_rqmc(run, laws, wrapper, budget, seed, replicates):
    """Separate (``crude_rqmc``) or mixture (``mixture_rqmc``) RQMC of the ``Q_l``: their
    means, joint covariance (the replicates' over ``R``) and diagnostics (Student's t on
    ``R - 1`` degrees of freedom for the indices, by the delta method)."""
    out = run(laws, wrapper, budget=budget, seed=seed, replicates=replicates)
    record = {k: v for k, v in out.items()
              if k not in ("estimate", "stderr", "covariance", "problem")}
    return (np.asarray(out["estimate"], dtype=float), out["covariance"],
            index_diagnostics(record | {"sampling": "rqmc"}))


def _separate_mc(laws, wrapper, budget, seed):
    """``budget // L`` points from each law (separate MC); the estimates are independent."""
    out = crude_monte_carlo(laws, wrapper, budget=budget, seed=seed)
    return out["estimate"], np.diag(out["stderr"] ** 2)

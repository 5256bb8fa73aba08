"""New questions from runs already paid for: importance reweighting of a study's final sample.

The final stage of a study draws ``x_1..x_n`` i.i.d. from a proposal whose density ``g`` is
known exactly (:class:`~multiexpect.FinalSample` keeps it, in input space). For any law
``f`` whose support lies within that of ``g`` and any function ``psi`` of the stored outputs,

    Î = (1/n) sum_i psi(y_i) f(x_i) / g(x_i),        se = sd_i(psi(y_i) f(x_i)/g(x_i)) / sqrt(n)

is an unbiased estimate of ``E_f[psi(Y)]`` with its standard error, and no model is run.
How far ``f`` may move from the study's law is measured by the Kish effective sample size
of the weights ``w_i = f(x_i)/g(x_i)``,

    ESS = (sum_i w_i)^2 / sum_i w_i^2   (between 1 and n),

and by the mean weight ``(1/n) sum_i w_i``, whose expectation is exactly 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from ._rng import check_rng
from .intervals import check_level
from .laws import check_same_inputs, describe_law, standard_normal_logpdf
from .output_scale import column_exponents
from .results import ExpectationResult, FinalSample, z_value

__all__ = ["DEFAULT_MIN_ESS", "final_sample_from_engine", "reanalyse"]

#: Default floor of the effective sample size below which :func:`reanalyse` warns; the
#: floor used is ``max(min_ess, 0.01 * n)``.
DEFAULT_MIN_ESS = 100
#: The Pareto tail index of a quantity's summands ``|phi| w`` above which :func:`reanalyse`
#: warns. Summands whose tail falls like ``s^(-1/k)`` have an infinite variance from
#: ``k = 1/2``, but the index fitted to a finite sample of light tails can exceed it: 0.7
#: is the published practical limit (Vehtari, Simpson, Gelman, Yao & Gabry, "Pareto
#: smoothed importance sampling", JMLR 2024; measured here: docs/interop.md).
PARETO_K_MAX = 0.7

_SUPPORT_DRAWS = 4096


def final_sample_from_engine(engine) -> FinalSample:
    """The :class:`FinalSample` of an :class:`~multiexpect.engine.EngineResult` (its
    ``problem`` and ``final_sample``) of a run with ``keep_sample=True``.

    Converts the proposal density from the working space to input space: with ``z = T(x)``
    the standard-space map of the reference law ``f_r`` (the problem's),
    ``log g_x(x) = log g_z(z) + log f_r(x) - log φ_d(z)``.
    """
    kept = getattr(engine, "final_sample", None)
    if kept is None:
        raise ValueError("the engine kept no final sample: run it with keep_sample=True")
    problem = engine.problem
    x = np.asarray(kept["x"], dtype=float)
    log_f = np.column_stack([law.logpdf(x) for law in problem.laws])
    log_g = np.asarray(kept["log_g"], dtype=float)
    if problem.space == "standard":
        log_g = (log_g + log_f[:, problem.reference]
                 - standard_normal_logpdf(np.asarray(kept["z"], dtype=float)))
    return FinalSample(x=x, outputs=kept["outputs"], log_g=log_g, log_f=log_f,
                       space=problem.space, laws=tuple(problem.laws))


def _quantity_map(n_laws: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(law_index, column) as in :meth:`multiexpect.problem.Problem.build`."""
    if n_laws == 1:
        return np.zeros(n_cols, dtype=int), np.arange(n_cols)
    if n_cols in (1, n_laws):
        cols = np.zeros(n_laws, dtype=int) if n_cols == 1 else np.arange(n_laws)
        return np.arange(n_laws), cols
    raise ValueError(
        f"with {n_laws} laws 'phi' must return 1 or {n_laws} columns, got {n_cols}"
    )


def _values(phi, outputs: np.ndarray) -> np.ndarray:
    if phi is None:
        return np.asarray(outputs, dtype=float)
    if not callable(phi):
        raise ValueError(f"'phi' must be callable (outputs -> values), got {type(phi).__name__}")
    n = outputs.shape[0]
    raw = phi(np.array(outputs))
    try:
        vals = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"'phi' must return numbers, got {type(raw).__name__}") from exc
    if vals.ndim == 1:
        vals = vals[:, None]
    if vals.ndim != 2 or vals.shape[0] != n:
        raise ValueError(f"'phi' must return shape ({n},) or ({n}, k) for {n} outputs, "
                         f"got {np.shape(raw)}")
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"'phi' returned {int(np.sum(~np.isfinite(vals)))} non-finite values")
    return vals


def _kish_ess(log_w: np.ndarray) -> float:
    """``(sum w)^2 / sum w^2`` computed in log space."""
    return float(np.exp(2.0 * logsumexp(log_w) - logsumexp(2.0 * log_w)))


def _pareto_k(log_w: np.ndarray) -> float:
    """The tail index ``k`` of the largest of the values ``exp(log_w)``: a generalised
    Pareto law fitted (scipy's maximum likelihood, location 0) to the exceedances of the
    ``M = min(n / 5, 3 sqrt(n))`` largest over the next one (PSIS's tail). Values whose
    tail falls like ``w^(-1/k)`` have a finite variance only for ``k < 1/2``; a new law
    with heavier tails than the proposal gives ``k`` near 1 while its effective sample
    size can still look large. NaN for fewer than 5 tail values."""
    finite = np.sort(log_w[np.isfinite(log_w)])
    tail = int(np.ceil(min(0.2 * finite.size, 3.0 * np.sqrt(finite.size))))
    if tail < 5:
        return float("nan")
    scaled = np.exp(finite[-tail - 1:] - finite[-1])  # the largest weight is 1
    exceed = scaled[1:] - scaled[0]
    if not np.any(exceed > 0):
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shape, _, _ = stats.genpareto.fit(exceed, floc=0.0)
    return float(shape)


def _warn_worst(scores: np.ndarray, flagged: np.ndarray, pick, message) -> None:
    """One :class:`UserWarning` for the worst flagged entry (``pick`` of the flagged
    ``scores``, ``argmax`` or ``argmin``), worded by ``message(index)``."""
    rows = np.flatnonzero(flagged)
    if rows.size:
        warnings.warn(message(int(rows[pick(scores[rows])])), UserWarning, stacklevel=3)


def _check_support(sample: FinalSample, laws: list, rng) -> None:
    """Raise when a new law puts visible mass where the proposal density is zero.

    In standard space the proposal is positive exactly where the study's reference law is,
    whose support holds every other study law's: where some study law is; a new law's mass
    outside that support is invisible to reweighting (the estimate would be biased by an
    unknown amount). Checked on draws of the new law (no model run).
    """
    if sample.space != "standard":
        return
    if not sample.laws:
        raise ValueError(
            "'law': the study's laws are unknown (a result read from a file written without "
            "them, or a law that could not be rebuilt), so whether the new law stays within "
            "the final sample's support cannot be checked; reanalyse the result in memory, or "
            "pass a FinalSample with its 'laws'"
        )
    gen = check_rng(rng)
    for i, law in enumerate(laws):
        draws = law.sample(_SUPPORT_DRAWS, gen)
        outside = ~np.any([np.isfinite(ref.logpdf(draws)) for ref in sample.laws], axis=0)
        if np.any(outside):
            raise ValueError(
                f"'law' [{i}] puts about {outside.mean():.2%} of its mass outside the support "
                f"of the study's law, where the final sample has no points: reweighting "
                f"cannot estimate that part; run a study for this law"
            )


def reanalyse(result, *, law=None, phi: Callable | None = None, level: float = 0.95,
              names: Sequence[str] | None = None, min_ess: float = DEFAULT_MIN_ESS,
              control: bool = False, rng=0) -> ExpectationResult:
    """Estimate new quantities, or the same under new laws, from a finished study's runs.

    Parameters
    ----------
    result : ExpectationResult or FinalSample
        A study run with ``expectations(..., keep_sample=True)`` (or its ``sample``).
    law : Law, OpenTURNS Distribution or sequence of those, optional
        New input law(s); by default the study's own laws.
    phi : callable, optional
        ``phi(outputs) -> (n,)`` or ``(n, k)`` values from the stored ``(n, m)`` model
        outputs, e.g. ``lambda y: y[:, 0] > t`` for an exceedance probability; by default
        the outputs themselves. Quantities follow the rule of
        :func:`~multiexpect.expectations`: one law, one quantity per column; ``L`` laws,
        one column for every law or ``L`` columns (column ``l`` under law ``l``).
    level : float
        Level of the confidence intervals recorded in ``diagnostics`` (``ci_low``,
        ``ci_high``).
    names : sequence of str, optional
        Quantity names (by default the study's names when the quantities are the study's).
    min_ess : float
        A :class:`UserWarning` is issued when the effective sample size of a law's weights
        is below ``max(min_ess, 0.01 n)`` (default 100 points, or 1% of the sample).
    control : bool
        Also use the weight itself as a control variate: ``w - 1`` has mean exactly 0 under
        ``g``, so ``mean(phi w - beta (w - 1))`` with ``beta`` fitted by least squares on the
        same sample (bias ``O(1/n)``, as for the study's own estimator). Default: plain
        importance sampling, exactly unbiased.
    rng : None, int or numpy.random.Generator
        Draws of the new laws used to check their support (no model run).

    Returns
    -------
    ExpectationResult
        Method ``"reanalysis"``, ``n_evaluations`` 0; ``diagnostics`` holds ``ess`` (per
        quantity, of its law's weights), ``effective_points`` (Kish's of its summands
        ``|phi| w``: below ``intervals.FEW_POINTS`` ``summary()`` flags it), ``pareto_k``
        (the summands' tail index: above :data:`PARETO_K_MAX` a warning, their variance
        being infinite), ``ess_per_law``, ``ess_threshold``, ``weight_mean`` (exactly 1 in
        expectation; far from 1 in standard errors means the weights are not to be trusted),
        ``weight_mean_stderr``, ``n_points`` and the interval. As for any
        :class:`~multiexpect.ExpectationResult`, ``to_frame(level)`` gives the estimates
        as a pandas DataFrame (pass the same ``level`` to get the recorded interval).

    Raises
    ------
    ValueError
        No kept sample, a law of the wrong dimension or with mass outside the proposal's
        support, a new law when the study's laws are unknown (a standard-space
        :class:`FinalSample` without ``laws``: the support could not be checked), or a
        ``phi`` returning the wrong shape or non-finite values.

    Notes
    -----
    Plain importance sampling on the final sample ``x_i ~ g``:
    ``Î = mean_i(phi(y_i) f(x_i)/g(x_i))``, unbiased whenever ``f > 0`` implies ``g > 0``,
    with ``se = sd/sqrt(n)``. Unlike the study's own estimate it uses no control variate
    and not the pilot, so for the study's own laws and quantities its standard error is
    usually larger. Its precision falls as ``f`` moves away from the laws ``g`` was fitted
    for; the effective sample size ``(sum w)^2 / sum w^2`` measures that.
    """
    from .interop import as_laws

    sample = result.sample if isinstance(result, ExpectationResult) else result
    if not isinstance(sample, FinalSample):
        raise ValueError(
            "'result' must be an ExpectationResult with a kept final sample (run "
            "expectations(..., keep_sample=True)) or a FinalSample"
        )
    check_level(level)
    if not np.isfinite(min_ess) or min_ess < 0:
        raise ValueError(f"'min_ess' must be a non-negative number, got {min_ess!r}")
    n, d = sample.x.shape
    if n < 2:
        raise ValueError(f"the final sample has {n} points; reanalysis needs at least 2")
    if not np.all(np.isfinite(sample.log_g)):
        raise ValueError(f"the final sample has {int(np.sum(~np.isfinite(sample.log_g)))} "
                         f"points with a non-finite proposal density")

    same_laws = law is None
    if same_laws:
        log_f = np.asarray(sample.log_f)
        law_desc = "study"
    else:
        laws = as_laws(law)
        if laws[0].dim != d:
            raise ValueError(f"'law' has dimension {laws[0].dim} but the study's inputs have "
                             f"dimension {d}")
        if sample.laws:
            for lw in laws:
                check_same_inputs(sample.laws[0].names, lw, "law", "the study's law")
        _check_support(sample, laws, rng)
        log_f = np.column_stack([lw.logpdf(sample.x) for lw in laws])
        law_desc = [describe_law(lw) for lw in laws]
    n_laws = log_f.shape[1]
    values = _values(phi, sample.outputs)
    law_index, column = _quantity_map(n_laws, values.shape[1])
    n_q = law_index.size

    if names is None:
        study_names = getattr(result, "names", ())
        names = (study_names if same_laws and phi is None and len(study_names) == n_q
                 else [f"I{j + 1}" for j in range(n_q)])
    names = [str(s) for s in names]
    if len(names) != n_q:
        raise ValueError(f"'names' must have {n_q} entries (one per quantity), got {len(names)}")

    log_w = log_f - sample.log_g[:, None]                      # (n, L)
    with np.errstate(under="ignore"):
        w = np.exp(log_w)
    w_q = w[:, law_index]                                      # (n, J)
    summands = values[:, column] * w_q
    ddof = 1
    if control:
        ctrl = w_q - 1.0
        cc = ctrl - ctrl.mean(axis=0)
        var = np.einsum("ij,ij->j", cc, cc)
        cov = np.einsum("ij,ij->j", cc, summands - summands.mean(axis=0))
        beta = np.divide(cov, var, out=np.zeros_like(cov), where=var > 0)
        summands = summands - ctrl * beta
        ddof = 2
    # summands beyond 2^±400 (tiny weights) divided by a power of two, as a study's outputs
    # are (output_scale): their squares would leave the doubles, a standard error of 0
    exps = column_exponents(summands)
    scaled = np.ldexp(summands, -exps)
    estimate = np.ldexp(scaled.mean(axis=0), exps)
    stderr = np.ldexp(scaled.std(axis=0, ddof=ddof) / np.sqrt(n), exps)
    ess_law = np.array([_kish_ess(log_w[:, k]) if np.any(np.isfinite(log_w[:, k])) else 0.0
                        for k in range(n_laws)])
    w_mean = w.mean(axis=0)
    w_se = w.std(axis=0, ddof=1) / np.sqrt(n)

    with np.errstate(divide="ignore"):
        log_summands = log_w[:, law_index] + np.log(np.abs(values[:, column]))
    pareto_k = np.array([_pareto_k(log_summands[:, j]) for j in range(n_q)])
    points = np.array([_kish_ess(log_summands[:, j]) if np.any(np.isfinite(
        log_summands[:, j])) else 0.0 for j in range(n_q)])  # summary()'s "few points" flag
    _warn_worst(pareto_k, pareto_k > PARETO_K_MAX, np.argmax, lambda j: (
        f"reanalysis: the summands of {names[j]} have a heavy tail (Pareto index "
        f"{pareto_k[j]:.2f} > {PARETO_K_MAX}: an infinite variance), as when the new law has "
        f"heavier tails than the study's proposal: the estimate and its standard error are "
        f"not to be trusted, whatever the effective sample size; run a study for it"))
    threshold = max(float(min_ess), 0.01 * n)
    _warn_worst(ess_law, ess_law < threshold, np.argmin, lambda k: (
        f"reanalysis: the effective sample size of the importance weights is "
        f"{ess_law[k]:.1f} of {n} points for law {k} (threshold {threshold:.0f}): the new "
        f"law is too far from the study's proposal for the estimate and its standard error "
        f"to be trusted; run a study for it"))

    z = z_value(float(level))
    source = result if isinstance(result, ExpectationResult) else None
    return ExpectationResult(
        estimate=estimate, stderr=stderr, names=tuple(names), method="reanalysis",
        n_evaluations=0, budget=source.budget if source is not None else 0,
        weights=np.ones(n_q),
        diagnostics={
            "n_points": n, "ess": ess_law[law_index].tolist(), "ess_per_law": ess_law.tolist(),
            "pareto_k": pareto_k.tolist(), "pareto_k_max": PARETO_K_MAX,
            "effective_points": points.tolist(),
            "ess_threshold": threshold, "weight_mean": w_mean.tolist(),
            "weight_mean_stderr": w_se.tolist(), "level": float(level),
            "control": bool(control),
            "ci_low": (estimate - z * stderr).tolist(),
            "ci_high": (estimate + z * stderr).tolist(),
        },
        settings={"laws": law_desc, "phi": None if phi is None else _callable_name(phi),
                  "source": None if source is None else {
                      "method": source.method, "n_evaluations": source.n_evaluations,
                      "settings": source.settings}})


def _callable_name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__

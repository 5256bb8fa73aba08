"""Frozen, JSON-serialisable results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Self

import numpy as np

from .intervals import (
    effective_hits,
    event_interval,
    event_notes,
    normal_interval,
    subset_mean_interval,
    trust_flags,
    z_value,
)
from .laws import describe_law, law_from_description
from .sampling.rqmc import interval_line

__all__ = ["NO_SPREAD", "ExpectationResult", "FinalSample", "JsonResult", "data_frame",
           "format_table", "frozen_array", "jsonable", "no_spread_note", "z_value"]

#: A quantity that is no event whose standard error is at most this times its estimate had
#: no spread in its runs (rounding only): ``summary()`` says its interval is the runs' value
#: and claims nothing beyond them (a zero-width interval is not a claim of certainty). The
#: chaos controls keep theirs at ``1e-9`` of the values (``polychaos.RESOLUTION``), above it.
NO_SPREAD = 1e-12


def no_spread_note(names: list[str], runs: int) -> str:
    """``summary()``'s line for quantities with no spread in their ``runs`` runs
    (:data:`NO_SPREAD`): their intervals hold the runs' value only, and the rule of three
    bounds the chance of another value, not its distance."""
    return (f"{', '.join(names)}: no spread (every run gave the same value, to rounding): "
            f"the interval holds the runs' value only. By the rule of three the law gives "
            f"another value with probability below {3.0 / max(runs, 1):.2g} (95%), but "
            f"nothing the runs saw bounds how far")


def frozen_array(values) -> np.ndarray:
    """``values`` as a read-only float array (the results are frozen, their arrays too)."""
    arr = np.array(values, dtype=float)
    arr.setflags(write=False)
    return arr


def jsonable(obj):
    """Recursively turn numpy scalars/arrays and non-finite floats into JSON-safe values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        if np.isnan(value):
            return "nan"
        if np.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with right-aligned columns."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)




def _write_json(result, path, kwargs: dict) -> str:
    """``result.to_dict()`` as JSON text, also written to ``path`` when given."""
    text = json.dumps(result.to_dict(), indent=kwargs.pop("indent", 2), **kwargs)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


def _read_json(text_or_path: str) -> dict:
    """The dictionary in JSON text, or in the file at that path."""
    text = text_or_path
    if not text_or_path.lstrip().startswith("{"):
        with open(text_or_path, encoding="utf-8") as fh:
            text = fh.read()
    return json.loads(text)


def _floats(values) -> np.ndarray:
    """Floats of any shape from JSON values (``"nan"``/``"inf"`` strings included)."""
    arr = np.array(values, dtype=object)
    return np.array([float(v) for v in arr.reshape(-1)], dtype=float).reshape(arr.shape)


class JsonResult:
    """Text and JSON behaviour shared by the frozen result dataclasses.

    A subclass lists its array fields in ``_ARRAY_FIELDS`` (read back as float arrays) and
    has a ``summary()``; it overrides :meth:`from_dict` only for what else needs converting.
    """

    _ARRAY_FIELDS: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN and inf as strings)."""
        return jsonable({f.name: getattr(self, f.name) for f in fields(self)}
                         | {"type": type(self).__name__})

    def to_json(self, path=None, **kwargs) -> str:
        """The result as JSON text; also written to ``path`` when given."""
        return _write_json(self, path, kwargs)

    @classmethod
    def _fields_from_dict(cls, data: dict) -> dict[str, Any]:
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in cls._ARRAY_FIELDS:
            kwargs[key] = _floats(kwargs.get(key, []))
        return kwargs

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._fields_from_dict(data))

    @classmethod
    def from_json(cls, text_or_path: str) -> Self:
        """Inverse of :meth:`to_json` (JSON text or a path to a file)."""
        return cls.from_dict(_read_json(text_or_path))


def data_frame(columns: dict[str, np.ndarray], index, index_name: str):
    """A pandas DataFrame of ``columns`` (in order), one row per entry of ``index``.

    Shared by every result's ``to_frame()``; raises the one ImportError with the install
    hint when pandas is missing.
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_frame() needs pandas: pip install 'multiexpect[pandas]'") from exc
    return pd.DataFrame({key: np.array(value, dtype=float) for key, value in columns.items()},
                        index=pd.Index(list(index), name=index_name))


@dataclass(frozen=True, eq=False)
class FinalSample:
    """The final-stage sample of a study, kept for reanalysis without new runs.

    Every density is in the *input* space of the model: when the study worked in the
    standard space of its reference law ``f_r`` (``z = T(x)``; the first law whose support
    holds every other's), the proposal density of ``x`` is

        log g_x(x) = log g_z(z) + log f_r(x) - log φ_d(z),

    (``log f_r(x) - log φ_d(T(x))`` is the log-Jacobian of ``T``), so that
    ``f(x) / g_x(x)`` is the importance weight of any law ``f`` whose support lies within
    that of ``g_x``.

    Attributes
    ----------
    x : (n, d) ndarray
        Model inputs, drawn i.i.d. from the final proposal.
    outputs : (n, m) ndarray
        Model outputs at ``x``.
    log_g : (n,) ndarray
        ``log g_x(x)``: log-density of the final proposal at ``x`` in input space.
    log_f : (n, L) ndarray
        Log-densities of the study's ``L`` laws at ``x``.
    space : str
        The study's working space (``"standard"``: the proposal is positive exactly on the
        support of the reference law, which holds every study law's; ``"input"``: on all of
        ``R^d``).
    laws : tuple
        The study's laws, used to check that a new law stays within the proposal's support;
        serialised by their ``describe()`` and rebuilt by :meth:`from_dict` (a law that cannot
        be rebuilt leaves ``laws`` empty, and :func:`~multiexpect.reanalyse` then refuses new
        laws rather than skip the check).
    """

    x: np.ndarray
    outputs: np.ndarray
    log_g: np.ndarray
    log_f: np.ndarray
    space: str = "standard"
    laws: tuple = ()

    def __post_init__(self):
        x = frozen_array(self.x)
        if x.ndim == 1:
            x = frozen_array(x[:, None])
        outputs = frozen_array(self.outputs)
        if outputs.ndim == 1:
            outputs = frozen_array(outputs[:, None])
        log_f = frozen_array(self.log_f)
        if log_f.ndim == 1:
            log_f = frozen_array(log_f[:, None])
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "log_g", frozen_array(self.log_g).reshape(-1))
        object.__setattr__(self, "log_f", log_f)
        object.__setattr__(self, "laws", tuple(self.laws))
        n = x.shape[0]
        if not (outputs.shape[0] == self.log_g.shape[0] == log_f.shape[0] == n):
            raise ValueError(
                f"'x', 'outputs', 'log_g' and 'log_f' must have the same number of rows, got "
                f"{n}, {outputs.shape[0]}, {self.log_g.shape[0]}, {log_f.shape[0]}"
            )

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.x.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the laws as their ``describe()``)."""
        return jsonable({"x": self.x, "outputs": self.outputs, "log_g": self.log_g,
                         "log_f": self.log_f, "space": self.space,
                         "laws": [describe_law(law) for law in self.laws]})

    @classmethod
    def from_dict(cls, data: dict) -> FinalSample:
        """Inverse of :meth:`to_dict` (``laws`` empty when a law cannot be rebuilt)."""
        try:
            laws = tuple(law_from_description(d) for d in data.get("laws") or ())
        except ValueError:
            laws = ()
        return cls(x=_floats(data["x"]), outputs=_floats(data["outputs"]),
                   log_g=_floats(data["log_g"]), log_f=_floats(data["log_f"]),
                   space=str(data.get("space", "standard")), laws=laws)


@dataclass(frozen=True)
class ExpectationResult(JsonResult):
    """Estimates of ``J`` expectations from one simulation budget.

    Attributes
    ----------
    estimate : (J,) ndarray
        ``Î_j``.
    stderr : (J,) ndarray
        Standard errors (of the final stage's fresh sample, with the earlier stages pooled
        in for the quantities they serve about as well: ``diagnostics["n_pooled"]``, the
        runs of the stages pooled for at least one quantity, and
        ``diagnostics["pooled_lambdas"]``, the weights, one row per stage, the final stage
        last, one column per quantity).
    names : tuple of str
        Quantity names.
    method : str
        ``"aiscv"``, ``"mc"``, ``"mixture-mc"`` or ``"separate-is"``.
    n_evaluations : int
        Model runs spent (never above ``budget``).
    budget : int
        Model runs allowed.
    weights : (J,) ndarray
        Weights ``w_j`` of the criterion ``sum_j w_j Var(Î_j)``.
    history : tuple of dict
        One record per stage: batch size, predicted final error ``E_t``, ``alpha``,
        effective sample size of each component, and the stage's own estimate.
    diagnostics : dict
        Method-specific facts (chosen stage, final sample size, ...).
    settings : dict
        Options and seed, for reproducibility.
    sample : FinalSample or None
        The final-stage sample (``expectations(..., keep_sample=True)``), for
        :func:`~multiexpect.reanalyse`.
    """

    estimate: np.ndarray
    stderr: np.ndarray
    names: tuple
    method: str
    n_evaluations: int
    budget: int
    weights: np.ndarray = field(default_factory=lambda: frozen_array([]))
    history: tuple = ()
    diagnostics: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    sample: FinalSample | None = None

    _ARRAY_FIELDS = ("estimate", "stderr", "weights")

    def __post_init__(self):
        object.__setattr__(self, "estimate", frozen_array(self.estimate))
        object.__setattr__(self, "stderr", frozen_array(self.stderr))
        object.__setattr__(self, "weights", frozen_array(self.weights))
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "history", tuple(self.history))

    # ------------------------------------------------------------------
    def confidence_interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Interval of each estimate at ``level``: (low, high) arrays.

        Normal theory, ``Î ± z_{(1+level)/2} se`` (Student's t on ``diagnostics["dof"]``
        degrees of freedom when the result has them: RQMC replicates; where the estimate is
        the replicates' mean, Hartigan's subset-means interval instead, exact for symmetric
        replicates: :func:`~multiexpect.intervals.subset_mean_interval`), except for event
        probabilities (quantities 0/1 at every run, ``diagnostics["event"]``): Wilson's
        interval from the effective sample size, inside [0, 1] and skewed when the effective
        hits are few, and ``[0, U]`` with an upper bound ``U`` when there is no hit (never
        [0, 0]; see :mod:`multiexpect.intervals`), with Student's quantile in place of the
        normal one where the degrees of freedom apply. On the split route they are those of
        the nets, and apply to their quantities only (``diagnostics["law_quantities"]``);
        the adapted ones have normal intervals.
        """
        dof = self.diagnostics.get("dof")
        on_nets = self.replicate_mask()
        low, high = normal_interval(self.estimate, self.stderr, level)
        if np.any(on_nets):
            t_low, t_high = normal_interval(self.estimate, self.stderr, level, dof=dof)
            low[on_nets], high[on_nets] = t_low[on_nets], t_high[on_nets]
            self._subset_means(level, on_nets, low, high)
        event = self._event_mask()
        hits = self.diagnostics.get("hits")
        draws = self.diagnostics.get("law_draws")
        for mask, group_dof in ((event & ~on_nets, None), (event & on_nets, dof)):
            if np.any(mask):
                low[mask], high[mask] = event_interval(
                    self.estimate[mask], self.stderr[mask], level,
                    hits=np.asarray(hits, dtype=float)[mask],
                    law_draws=np.asarray(draws, dtype=float)[mask], dof=group_dof)
        return low, high

    def interval_note(self, level: float = 0.95) -> str:
        """Which interval an RQMC result has at ``level`` (and for which quantities, on the
        split route), the line under ``summary()``'s table and the report's; ``""`` for
        i.i.d. results."""
        on_nets = self.replicate_mask()
        which = "" if np.all(on_nets) or not np.any(on_nets) else \
            " of " + ", ".join(n for n, on in zip(self.names, on_nets) if on)
        also = "; event probabilities: Wilson's, with Student's quantile" \
            if np.any(self._event_mask() & on_nets) else ""
        return interval_line(self.diagnostics, level, which, also)

    def _subset_means(self, level: float, on_nets: np.ndarray, low: np.ndarray,
                      high: np.ndarray) -> None:
        """Hartigan's subset-means interval in place of Student's t where the estimate is
        the mean of replicates (``diagnostics["replicate_values"]``, one column per quantity
        of ``on_nets``) that are not all equal (a tie keeps its bounded ``se``, as does a
        standard error at its floor, ``diagnostics["resolution_floor"]``), widened about the
        estimate by ``diagnostics["cross_fit_scale"]`` where the law route's chaos control
        made the replicates covary (:mod:`multiexpect.engine.law_pairs`); Student's t stays
        where :func:`~multiexpect.intervals.subset_mean_interval` does not apply."""
        values = self.diagnostics.get("replicate_values")
        if values is None:
            return
        values = np.asarray(values, dtype=float).reshape(-1, int(np.sum(on_nets)))
        spread = np.ptp(values, axis=0) > 0
        # a standard error kept at the arithmetic's resolution (engine/surrogate.py) is
        # wider than the replicates' spread: Student's t on it
        spread &= ~np.isin(np.flatnonzero(on_nets), self.diagnostics.get("resolution_floor", []))
        bounds = subset_mean_interval(values[:, spread], level)
        if bounds is not None:
            rows = np.flatnonzero(on_nets)[spread]
            low[rows], high[rows] = bounds
            scale = self.diagnostics.get("cross_fit_scale")
            if scale is not None:  # widened about the estimate (engine/law_pairs.py)
                wide = rows[np.asarray(scale, dtype=float)[rows] != 1.0]
                factor = np.asarray(scale, dtype=float)[wide]
                centre = self.estimate[wide]
                low[wide] = centre - (centre - low[wide]) * factor
                high[wide] = centre + (high[wide] - centre) * factor

    def replicate_mask(self) -> np.ndarray:
        """Which quantities are means of RQMC replicates, read with ``diagnostics["dof"]``
        degrees of freedom: all when it is given, but on the split route only
        ``diagnostics["law_quantities"]``; none without it (an i.i.d. result)."""
        mask = np.zeros(len(self.estimate), dtype=bool)
        if self.diagnostics.get("dof") is None:
            return mask
        law_quantities = self.diagnostics.get("law_quantities")
        if law_quantities is None:
            mask[:] = True
        else:
            mask[np.asarray(law_quantities, dtype=int)] = True
        return mask

    def _event_mask(self) -> np.ndarray:
        """Which quantities are event probabilities (none for a result without the tally)."""
        event = self.diagnostics.get("event")
        if event is None or len(event) != len(self.estimate):
            return np.zeros(len(self.estimate), dtype=bool)
        return np.asarray(event, dtype=bool)

    @property
    def effective_hits(self) -> np.ndarray:
        """Effective hits ``k_eff`` of each event probability (NaN for other quantities).

        ``k_eff = p̂² (1 - p̂) / se²``, capped by the raw hits: the hits crude Monte Carlo
        would need for the same relative error; for ``p̂ > 1/2`` the misses when fewer
        (:func:`~multiexpect.intervals.effective_hits`); and at most the
        :attr:`effective_points` of the final stage (where recorded): the hits that carry
        its estimate. Below ``intervals.FEW_HITS`` the estimate and its standard error are
        not to be trusted.
        """
        # at most the hits that carry the final stage's estimate (Kish's effective points
        # of its responses, 0 off the event): a standard error measured on a few heavy
        # hits claims more than they can give (NaN points: none recorded, no cap)
        k = self._event_hits(rarer_side=True)
        return np.where(np.isnan(self.effective_points), k,
                        np.minimum(k, self.effective_points))

    def _event_hits(self, rarer_side: bool) -> np.ndarray:
        """:func:`~multiexpect.intervals.effective_hits` of each event probability, capped
        by its raw hits (NaN for other quantities)."""
        event = self._event_mask()
        out = np.full(len(self.estimate), np.nan)
        if np.any(event):
            out[event] = effective_hits(self.estimate[event], self.stderr[event],
                                        np.asarray(self.diagnostics["hits"])[event],
                                        rarer_side=rarer_side)
        return out

    @property
    def effective_sample_size(self) -> np.ndarray:
        """Effective sample size ``n_eff = k_eff / p̂`` of each event probability (NaN for
        other quantities, 0 without a hit): the crude Monte Carlo runs with the same
        precision, ``p̂ (1 - p̂) / se²``, within the cap of :attr:`effective_hits`."""
        k = self._event_hits(rarer_side=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isnan(k), np.nan,
                            np.where(self.estimate > 0, k / self.estimate, 0.0))

    @property
    def effective_points(self) -> np.ndarray:
        """Kish's effective sample size of each quantity's final-stage importance-sampling
        responses ``y_i = phi_j(x_i) f(x_i) / g(x_i)``, ``(sum |y_i|)^2 / sum y_i^2``
        (``diagnostics["effective_points"]``; NaN for a method that does not record it): the
        number of equally weighted points that carry the estimate
        (:mod:`~multiexpect.estimators.effective_size`). Below ``intervals.FEW_POINTS`` a
        quantity that is no event is flagged (:attr:`trust`)."""
        points = self.diagnostics.get("effective_points")
        if points is None or len(points) != len(self.estimate):
            return np.full(len(self.estimate), np.nan)
        return np.asarray(points, dtype=float)

    @property
    def trust(self) -> tuple[str, ...]:
        """Per estimate, ``"few hits"`` (an event with fewer than ``intervals.FEW_HITS``
        effective hits: neither the estimate nor its standard error is to be trusted),
        ``"no hit"`` (only the interval's upper bound means something), ``"few points"``
        (a quantity that is no event with fewer than ``intervals.FEW_POINTS``
        :attr:`effective_points`: the same) or ``""``
        (:func:`~multiexpect.intervals.trust_flags`; the rule in ``docs/method.md``)."""
        return tuple(trust_flags(self.estimate, self.effective_hits, self.effective_points))

    @property
    def weighted_variance(self) -> float:
        """``sum_j w_j se_j^2``: the criterion the adaptive method minimises (for outputs
        scaled by :class:`~multiexpect.output_scale.OutputScale`, its value in the scaled
        units, ``diagnostics["weighted_variance"]``: the same number, which the model's
        units may not hold)."""
        scaled = self.diagnostics.get("weighted_variance")
        if scaled is not None:
            return float(scaled)
        return float(np.sum(self.weights * self.stderr**2))

    def summary(self, level: float = 0.95) -> str:
        """A readable table of estimates, standard errors and intervals; with event
        probabilities, their effective hits, with other quantities their effective points
        (when recorded), an estimate not to be trusted marked ``!`` (:attr:`trust`) and
        explained under the table."""
        low, high = self.confidence_interval(level)
        rows = [[n, f"{e:.6g}", f"{s:.3g}", f"[{lo:.6g}, {hi:.6g}]"]
                for n, e, s, lo, hi in zip(self.names, self.estimate, self.stderr, low, high)]
        header = ["quantity", "estimate", "std. error", f"{round(level * 100)}% interval"]
        k_eff, trust = self.effective_hits, self.trust
        if not np.all(np.isnan(k_eff)):
            header.append("eff. hits")
            for row, k, flag in zip(rows, k_eff, trust):
                row.append("–" if np.isnan(k) else f"{k:.3g}" + (" !" if flag else ""))
        points = np.where(np.isnan(k_eff), self.effective_points, np.nan)
        if not np.all(np.isnan(points)):
            header.append("eff. points")
            for row, m, flag in zip(rows, points, trust):
                row.append("–" if np.isnan(m) else f"{m:.3g}" + (" !" if flag else ""))
        head = (f"multiexpect: {len(self.names)} expectations by {self.method}, "
                f"{self.n_evaluations} of {self.budget} model runs")
        table = format_table(header, rows)
        notes = event_notes(self.names, self.estimate, k_eff, high, level, points)
        not_run = int(self.diagnostics.get("points_not_run", 0))
        if not_run:
            notes.append(f"{not_run} drawn points were not run: the law has no (practical) "
                         "mass there and they count as 0 (option 'practical_mass', "
                         "docs/method.md)")
        notes += [line for line in [self.interval_note(level)] if line]
        flat = [n for n, e, se, k in zip(self.names, self.estimate, self.stderr, k_eff)
                if np.isnan(k) and np.isfinite(e) and se <= NO_SPREAD * abs(e)]
        if flat:  # the runs behind the estimate: a reanalysis made none, it reweighs points
            runs = self.n_evaluations or int(self.diagnostics.get("n_points", 0))
            notes.append(no_spread_note(flat, runs))
        tied = [self.names[j] for j in self.diagnostics.get("tied_replicates", [])]
        if tied:
            notes.append(f"{', '.join(tied)}: every RQMC replicate gave the same value; the "
                         "standard error is a bound (a replicate departing by one lattice "
                         "step, or the points' i.i.d. one; docs/method.md)")
        return "\n".join([head, table, *notes])

    # ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (NaN and inf as strings)."""
        out = jsonable({f.name: getattr(self, f.name) for f in fields(self)
                         if f.name != "sample"} | {"type": type(self).__name__})
        if self.sample is not None:
            out["sample"] = self.sample.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ExpectationResult:
        """Inverse of :meth:`to_dict`."""
        kwargs = cls._fields_from_dict(data)
        if kwargs.get("sample") is not None:
            kwargs["sample"] = FinalSample.from_dict(kwargs["sample"])
        return cls(**kwargs)

    def to_frame(self, level: float = 0.95):
        """The estimates as a pandas DataFrame (``pip install 'multiexpect[pandas]'``).

        Parameters
        ----------
        level : float
            Level of the confidence interval columns.

        Returns
        -------
        pandas.DataFrame
            One row per quantity (index ``"quantity"``: :attr:`names`); columns
            ``estimate``, ``stderr``, ``ci_low``, ``ci_high`` (as
            :meth:`confidence_interval`).

        Raises
        ------
        ImportError
            pandas is not installed.
        """
        low, high = self.confidence_interval(level)
        return data_frame({"estimate": self.estimate, "stderr": self.stderr,
                            "ci_low": low, "ci_high": high}, self.names, "quantity")

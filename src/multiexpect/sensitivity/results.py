"""Frozen, JSON-serialisable results of the sensitivity analyses.

:class:`SobolResult` holds first- and total-order Sobol' indices with their standard errors
(delta method on the joint estimates); :class:`PerturbedLawResult` holds perturbed-law
indices. Both follow :class:`~multiexpect.ExpectationResult`: frozen arrays, ``summary()``,
``to_dict`` / ``to_json`` and their inverses, ``to_frame()`` (with pandas).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..intervals import FEW_HITS, FLAG_FEW_HITS, FLAG_NO_HIT, effective_hits
from ..polychaos import chaos_record
from ..results import (
    NO_SPREAD,
    JsonResult,
    data_frame,
    format_table,
    frozen_array,
    no_spread_note,
    z_value,
)
from ..sampling.rqmc import INTERVAL_NET_BLOCKS, interval_line

__all__ = ["PerturbedLawResult", "SobolResult"]

_SOBOL_ARRAYS = ("first_order", "first_order_stderr", "total_order", "total_order_stderr",
                 "covariance")
_PLI_ARRAYS = ("indices", "stderr", "quantities", "quantities_stderr", "covariance")


#: ``SobolResult.trust_notes`` says the intervals may be too narrow where the pilot's tail
#: statistic (``diagnostics["pilot_tail_statistic"]``, the relative standard error of its
#: weighted variance) is above this: the standard errors then rest on variances known to
#: worse than half their size (docs/method.md, "Found by a fuzz").
HEAVY_TAIL_NOTE = 0.5


@dataclass(frozen=True)
class SobolResult(JsonResult):
    """First- and total-order Sobol' indices from one budget of model runs.

    Attributes
    ----------
    first_order, total_order : (d,) ndarray
        ``S_i`` and ``S_Ti``; all NaN for an order that was not asked for.
    first_order_stderr, total_order_stderr : (d,) ndarray
        Standard errors (delta method on the joint estimates of the pick-freeze quantities).
    names : tuple of str
        Input names (from the law).
    method : str
        ``"aiscv"`` or ``"pick-freeze"``.
    n_evaluations : int
        Model runs spent (never above ``budget``).
    budget : int
        Model runs allowed.
    mean, variance : float
        Mean and variance of the output.
    mean_stderr, variance_stderr : float
        Their standard errors.
    orders : tuple of str
        The orders computed (``"first"``, ``"total"``).
    covariance : (2d, 2d) ndarray
        Delta-method covariance of ``(first_order, total_order)`` (NaN rows for an order not
        computed).
    diagnostics : dict
        Method-specific facts: pick-freeze points, runs per point, centre, quantity names,
        estimates and standard errors, the engine's chosen stage and weights; under RQMC the
        interval kind (``"interval"``: ``"student-t"`` over replicates, or ``"net-blocks"``
        for one net) and its degrees of freedom (``"dof"``).
    settings : dict
        Options and seed, for reproducibility.
    """

    first_order: np.ndarray
    first_order_stderr: np.ndarray
    total_order: np.ndarray
    total_order_stderr: np.ndarray
    names: tuple
    method: str
    n_evaluations: int
    budget: int
    mean: float
    variance: float
    mean_stderr: float = float("nan")
    variance_stderr: float = float("nan")
    orders: tuple = ("first", "total")
    covariance: np.ndarray = field(default_factory=lambda: frozen_array([]))
    diagnostics: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    _ARRAY_FIELDS = _SOBOL_ARRAYS

    def __post_init__(self):
        for key in _SOBOL_ARRAYS:
            object.__setattr__(self, key, frozen_array(getattr(self, key)))
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "orders", tuple(str(o) for o in self.orders))
        for key in ("mean", "variance", "mean_stderr", "variance_stderr"):
            object.__setattr__(self, key, float(getattr(self, key)))
        object.__setattr__(self, "n_evaluations", int(self.n_evaluations))
        object.__setattr__(self, "budget", int(self.budget))

    # ------------------------------------------------------------------
    def confidence_interval(self, level: float = 0.95) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Normal-theory intervals ``S ± z_{(1+level)/2} se`` of each computed order
        (Student's t on ``diagnostics["dof"]`` degrees of freedom when given: RQMC).

        Returns
        -------
        dict
            ``{"first": (low, high), "total": (low, high)}`` for the orders computed.
            Intervals are not clipped to ``[0, 1]``.
        """
        z = z_value(level, self.diagnostics.get("dof"))
        out = {}
        for order in self.orders:
            est, se = self.indices(order)
            out[order] = (est - z * se, est + z * se)
        return out

    def indices(self, order: str) -> tuple[np.ndarray, np.ndarray]:
        """The indices of one order and their standard errors.

        Parameters
        ----------
        order : {"first", "total"}

        Returns
        -------
        (ndarray, ndarray)
            ``(S, se)`` of shape ``(d,)`` each (NaN for an order that was not computed).
        """
        if order == "first":
            return self.first_order, self.first_order_stderr
        if order == "total":
            return self.total_order, self.total_order_stderr
        raise ValueError(f"'order' must be 'first' or 'total', got {order!r}")

    def to_salib(self) -> dict[str, np.ndarray]:
        """The indices under SALib's keys: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``.

        ``*_conf`` is the half-width of the 95% interval, as in ``SALib.analyze.sobol``.
        Keys of an order that was not computed are left out.
        """
        z = z_value(0.95, self.diagnostics.get("dof"))
        out: dict[str, np.ndarray] = {}
        if "first" in self.orders:
            out["S1"] = np.array(self.first_order)
            out["S1_conf"] = z * np.array(self.first_order_stderr)
        if "total" in self.orders:
            out["ST"] = np.array(self.total_order)
            out["ST_conf"] = z * np.array(self.total_order_stderr)
        return out

    def to_frame(self, level: float = 0.95):
        """The indices as a pandas DataFrame (``pip install 'multiexpect[pandas]'``).

        Parameters
        ----------
        level : float
            Level of the confidence interval columns.

        Returns
        -------
        pandas.DataFrame
            One row per input (index ``"input"``: :attr:`names`); for each order computed
            (first, then total), the columns ``<order>_order``, ``<order>_order_stderr``,
            ``<order>_order_ci_low`` and ``<order>_order_ci_high`` (as
            :meth:`confidence_interval`). An order not computed has no columns.

        Raises
        ------
        ImportError
            pandas is not installed.
        """
        intervals = self.confidence_interval(level)
        columns = {}
        for order in self.orders:
            est, se = self.indices(order)
            low, high = intervals[order]
            columns |= {f"{order}_order": est, f"{order}_order_stderr": se,
                        f"{order}_order_ci_low": low, f"{order}_order_ci_high": high}
        return data_frame(columns, self.names, "input")

    def summary(self, level: float = 0.95) -> str:
        """A readable table of the indices, standard errors and intervals."""
        intervals = self.confidence_interval(level)
        pct = f"{round(level * 100)}%"
        header = ["input"]
        for order in self.orders:
            tag = "S1" if order == "first" else "ST"
            header += [tag, "std. error", f"{pct} interval"]
        rows = []
        for i, name in enumerate(self.names):
            row = [name]
            for order in self.orders:
                est, se = self.indices(order)
                low, high = intervals[order]
                row += [f"{est[i]:.4f}", f"{se[i]:.2g}", f"[{low[i]:.4f}, {high[i]:.4f}]"]
            rows.append(row)
        head = (f"multiexpect: Sobol' indices by {self.method}, {self.n_evaluations} of "
                f"{self.budget} model runs\n"
                f"output mean {self.mean:.6g} (se {self.mean_stderr:.2g}), "
                f"variance {self.variance:.6g} (se {self.variance_stderr:.2g})")
        # pick-freeze on one net: its own line (aISCV's one-net final stage: the usual one)
        one_net = self._one_net()
        if one_net:
            head += (f"\none scrambled net of {self.diagnostics['points_per_replicate']} points; "
                     f"intervals '{INTERVAL_NET_BLOCKS}': Student's t from the spread of its "
                     f"{self.diagnostics['blocks']} blocks (an empirical, mostly conservative "
                     f"rule)")
        chaos = self._chaos_note()
        if chaos:
            head += "\n" + chaos
        for note in self.trust_notes():
            head += "\n" + note
        table = format_table(header, rows)
        line = "" if one_net else interval_line(self.diagnostics, level, final_chaos=False)
        return "\n".join([head, table, *([line] if line else [])])

    def trust_notes(self) -> list[str]:
        """What the indices rest on, one line each (``summary()`` and the report): an output
        without spread, inert inputs and tied indices with their bounds, inputs of infinite
        variance, too few points whose runs differ (fewer than
        :data:`~multiexpect.intervals.FEW_HITS`)."""
        notes = []
        inert = self.diagnostics.get("inert_inputs")
        no_spread = bool(self.diagnostics.get("no_spread"))
        if no_spread:
            notes.append("the output's sample variance is 0 (it took one value on every "
                         "run): the indices are undefined (NaN)")
        elif inert:
            notes.append(f"{', '.join(inert)}: no run moved the output when it alone "
                         f"changed; its indices' 95% intervals reach the rule of three's bound "
                         f"on the output's range (a bound, not an estimate's error)")
        diag = self.diagnostics
        tail, heavy = diag.get("pilot_tail_statistic"), diag.get("infinite_variance_inputs")
        moving, tied = diag.get("moving_points"), diag.get("tied_indices")
        lines = (  # (shown, text), in the order summary() prints them
            (tail is not None and np.isfinite(tail) and tail > HEAVY_TAIL_NOTE and not no_spread,
             lambda: f"a heavy tail: the pilot's variance of the pick-freeze quantities is "
                     f"known to {tail:.2g} (relative standard error); the indices' standard "
                     f"errors rest on such variances, and their intervals may be too narrow"),
            (bool(heavy) and not no_spread,
             lambda: f"! {', '.join(heavy)}: no finite variance under the law: where the model "
                     f"moves with them the output's variance is infinite, and the indices "
                     f"(shares of it) and their intervals say nothing"),
            (moving is not None and 0 < moving < FEW_HITS,
             lambda: f"! only {moving} pick-freeze point(s) had runs that differ: the indices "
                     f"and their intervals rest on them and are not to be trusted"),
            (bool(tied) and not no_spread,
             lambda: f"{', '.join(tied or [])}: every replicate gave the same value; its 95% "
                     f"interval reaches the rule of three's bound on the output's range (a "
                     f"bound, not an estimate's error)"),
        )
        notes += [text() for shown, text in lines if shown]
        return notes

    def interval_note(self, level: float = 0.95) -> str:
        """The report's line under the indices' table: the interval's kind
        (:func:`~multiexpect.sampling.rqmc.interval_line`) and the chaos control, if any;
        ``""`` for an i.i.d. result without it."""
        return "; ".join(part for part in (interval_line(self.diagnostics, level,
                                                          final_chaos=False),
                                            self._chaos_note()) if part)

    def _one_net(self) -> bool:
        """Pick-freeze on one net (the blocks' interval)."""
        return (self.method == "pick-freeze"
                and self.diagnostics.get("interval") == INTERVAL_NET_BLOCKS)

    def _chaos_note(self) -> str:
        """What the chaos control did (:mod:`~multiexpect.sensitivity.chaos`), or ``""``."""
        record = chaos_record(self.diagnostics)
        if record is None:
            return ""
        by = "the blocks" if self._one_net() else "replicate"
        controlled = record.get("controlled")
        which = ("" if controlled is None or all(controlled)
                 else f" on {sum(controlled)} of {len(controlled)} pick-freeze quantities")
        return (f"controlled{which} by a polynomial chaos of degree {record['degree']} "
                f"({record['terms']} terms), cross-fitted by {by}; it leaves "
                f"{record['residual_share']:.2g} of the output's spread")

    @classmethod
    def from_dict(cls, data: dict) -> SobolResult:
        """Inverse of :meth:`to_dict`."""
        kwargs = cls._fields_from_dict(data)
        for key in ("mean", "variance", "mean_stderr", "variance_stderr"):
            if key in kwargs:
                kwargs[key] = float(kwargs[key])
        kwargs["orders"] = tuple(kwargs.get("orders", ()))
        return cls(**kwargs)



#: A perturbed-law index whose standard error is at most this times ``|1 + S|`` (its ratio
#: ``Q_k / Q_0``) has the spread of rounding only: ``trust_notes`` says so.
INDEX_ROUNDING = 1e-9


@dataclass(frozen=True)
class PerturbedLawResult(JsonResult):
    """Perturbed-law indices ``S_k`` of a quantity ``Q`` (mean or exceedance probability).

    Attributes
    ----------
    indices : (K,) ndarray
        One index per perturbed law (form given by ``form``).
    stderr : (K,) ndarray
        Delta-method standard errors.
    names : tuple of str
        Perturbation labels.
    quantities : (K + 1,) ndarray
        ``Q`` under the nominal law, then under each perturbed law.
    quantities_stderr : (K + 1,) ndarray
        Their standard errors.
    quantity : str
        ``"mean"`` or ``"exceedance(t)"``.
    form : str
        ``"ratio"`` (``Q_k / Q_0 - 1``) or ``"signed"`` (``Q_k/Q_0 - 1`` if ``Q_k >= Q_0``,
        else ``1 - Q_0/Q_k``).
    method, n_evaluations, budget, covariance, diagnostics, settings
        As in :class:`SobolResult`; ``covariance`` is that of ``indices``.
    """

    indices: np.ndarray
    stderr: np.ndarray
    names: tuple
    quantities: np.ndarray
    quantities_stderr: np.ndarray
    quantity: str
    form: str
    method: str
    n_evaluations: int
    budget: int
    covariance: np.ndarray = field(default_factory=lambda: frozen_array([]))
    diagnostics: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    _ARRAY_FIELDS = _PLI_ARRAYS

    def __post_init__(self):
        for key in _PLI_ARRAYS:
            object.__setattr__(self, key, frozen_array(getattr(self, key)))
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "n_evaluations", int(self.n_evaluations))
        object.__setattr__(self, "budget", int(self.budget))

    def confidence_interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal-theory interval ``S ± z_{(1+level)/2} se``: (low, high) arrays (Student's t
        on ``diagnostics["dof"]`` degrees of freedom when given: RQMC); NaN for an index
        :attr:`trust` flags (an event seen on too few effective hits: the delta method's
        interval there can have zero width, a claim no sample can make)."""
        z = z_value(level, self.diagnostics.get("dof"))
        low, high = self.indices - z * self.stderr, self.indices + z * self.stderr
        flagged = np.array([flag != "" for flag in self.trust], dtype=bool)
        low[flagged] = high[flagged] = np.nan
        return low, high

    @property
    def effective_hits(self) -> np.ndarray:
        """Effective hits of :attr:`quantities` ((K + 1,): the nominal law's, then each
        perturbed law's) for an exceedance probability
        (:func:`~multiexpect.intervals.effective_hits`), NaN for a mean."""
        if not self.quantity.startswith("exceedance"):
            return np.full(len(self.quantities), np.nan)
        return effective_hits(self.quantities, self.quantities_stderr)

    @property
    def trust(self) -> tuple[str, ...]:
        """Per index, ``"no hit"`` (the nominal exceedance probability is 0 on every run:
        the index, a ratio to it, is undefined), ``"few hits"`` (it or the perturbed law's
        rests on fewer than ``intervals.FEW_HITS`` effective hits: neither the index nor its
        standard error is to be trusted) or ``""``."""
        k = self.effective_hits
        if np.all(np.isnan(k)):
            return ("",) * len(self.indices)
        if not self.quantities[0] > 0:
            return (FLAG_NO_HIT,) * len(self.indices)
        return tuple(FLAG_FEW_HITS if min(k[0], kj) < FEW_HITS else "" for kj in k[1:])

    def trust_notes(self) -> list[str]:
        """Lines for ``summary()`` and the report: what the flagged indices rest on, and the
        laws whose mean had no spread in its runs (its interval holds the runs' value only,
        :func:`~multiexpect.results.no_spread_note`)."""
        flat = [name for name, q, se in zip(["nominal", *self.names], self.quantities,
                                             self.quantities_stderr)
                if np.isfinite(q) and se <= NO_SPREAD * abs(q)]
        if not self.quantity.startswith("exceedance"):
            notes = [no_spread_note(flat, self.n_evaluations)] if flat else []
            q0, se0 = self.quantities[0], self.quantities_stderr[0]
            if abs(q0) <= 2 * se0:  # the indices divide by Q_0
                notes.append(f"! the nominal mean {q0:.3g} is within two standard errors "
                             f"({se0:.2g}) of 0: the indices, ratios to it, are not to be "
                             f"trusted (undefined where it is 0): compare the Q column instead")
            still = [name for name, s, se in zip(self.names, self.indices, self.stderr)
                     if np.isfinite(s) and se <= INDEX_ROUNDING * abs(1 + s)]
            if still and not flat:  # the laws' common nets: the same Q_k / Q_0 on every net
                notes.append(f"{', '.join(still)}: the index took the same value on every "
                             f"net, to rounding (the model's dependence on the change cancels "
                             f"in Q_k / Q_0 on the laws' common nets, as a linear or "
                             f"exponential-linear model's does under a mean shift): its "
                             f"standard error is the arithmetic's resolution, and nothing the "
                             f"runs saw bounds a departure they missed")
            return notes
        flags, k = self.trust, self.effective_hits
        if FLAG_NO_HIT in flags:
            return [f"no run hit the {self.quantity} event under the nominal law: the "
                    f"indices, ratios to its probability, are undefined (NaN); raise the "
                    f"budget"]
        few = [n for n, flag in zip(self.names, flags) if flag]
        if not few:
            return []
        return [f"! {', '.join(few)}: the {self.quantity} probabilities rest on fewer than "
                f"{FEW_HITS:g} effective hits (nominal {k[0]:.2g}): these indices and their "
                f"standard errors are not to be trusted, and have no interval"]

    def to_frame(self, level: float = 0.95):
        """The indices as a pandas DataFrame (``pip install 'multiexpect[pandas]'``).

        Parameters
        ----------
        level : float
            Level of the confidence interval columns.

        Returns
        -------
        pandas.DataFrame
            One row per perturbed law (index ``"perturbation"``: :attr:`names`); columns
            ``index``, ``stderr``, ``ci_low``, ``ci_high`` (as :meth:`confidence_interval`),
            then ``quantity`` and ``quantity_stderr``: ``Q`` under that law and its
            standard error. The nominal ``Q`` is ``quantities[0]``.

        Raises
        ------
        ImportError
            pandas is not installed.
        """
        low, high = self.confidence_interval(level)
        return data_frame({"index": self.indices, "stderr": self.stderr, "ci_low": low,
                            "ci_high": high, "quantity": self.quantities[1:],
                            "quantity_stderr": self.quantities_stderr[1:]},
                           self.names, "perturbation")

    def summary(self, level: float = 0.95) -> str:
        """A readable table of the indices."""
        low, high = self.confidence_interval(level)
        rows = [[n, f"{q:.6g}", f"{s:.4f}", f"{e:.2g}", f"[{lo:.4f}, {hi:.4f}]"]
                for n, q, s, e, lo, hi in zip(self.names, self.quantities[1:], self.indices,
                                              self.stderr, low, high)]
        head = (f"multiexpect: perturbed-law indices ({self.form}) of the {self.quantity} by "
                f"{self.method}, {self.n_evaluations} of {self.budget} model runs\n"
                f"nominal {self.quantity}: {self.quantities[0]:.6g} "
                f"(se {self.quantities_stderr[0]:.2g})")
        table = format_table(["perturbation", "Q", "index", "std. error",
                              f"{round(level * 100)}% interval"], rows)
        line = interval_line(self.diagnostics, level)
        return "\n".join([head, table, *([line] if line else []), *self.trust_notes()])


"""The estimation problem: which laws, which quantities, and the working space.

The algorithm runs in a *working space* ``z``. In standard space ``z = u`` and the model sees
``x = law_r.from_standard(u)``, ``r`` the *reference* law (the first law whose support holds
every other's: the working space reaches only its support); the density of law ``l`` there is

    log f_l(u) = log f_l(x) - log f_r(x) + log φ_d(u),

which is exactly ``log φ_d(u)`` for the reference law itself. In input space ``z = x``.
Quantity ``j`` is column ``column[j]`` of the model output under law ``law_index[j]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .laws import Law, logpdfs_of_laws, sample_laws, standard_normal_logpdf
from .logspace import logsumexp_rows

__all__ = ["MAX_QUANTITIES", "LawMixture", "Problem", "check_quantity_count"]

SPACES = ("auto", "standard", "input")
#: Quantities one study may estimate: the engine holds ``J x J`` matrices and fits
#: components per event, so its memory grows as ``J^2`` (measured: docs/method.md, "What
#: we measured").
MAX_QUANTITIES = 2048


def check_quantity_count(count: int, what: str) -> None:
    """At most :data:`MAX_QUANTITIES` quantities; a ValueError naming ``what`` (checked
    before any run where the count is declared, at the first batch otherwise)."""
    if count > MAX_QUANTITIES:
        raise ValueError(f"{what} gives {count} quantities, more than the {MAX_QUANTITIES} "
                         f"one study can hold (the engine keeps J x J matrices): split them "
                         f"over several studies, or use fewer thresholds")


@dataclass(frozen=True)
class Problem:
    """Laws, quantity mapping and working space of a study.

    Attributes
    ----------
    laws : tuple of Law
        The distinct input laws (``L`` of them).
    law_index : (J,) int array
        Law of each quantity.
    column : (J,) int array
        Model output column of each quantity.
    space : {"standard", "input"}
    reference : int
        The law whose standard space is the working space (``"standard"``; 0 in input
        space).
    """

    laws: tuple
    law_index: np.ndarray
    column: np.ndarray
    space: str
    names: tuple
    reference: int = 0

    @classmethod
    def build(cls, laws: list, n_outputs: int, space: str = "auto",
              names: Sequence[str] | None = None) -> Problem:
        """The quantities implied by ``L`` laws and a model with ``n_outputs`` columns.

        One law: one quantity per column. ``L`` laws: one column used for every law, or
        ``L`` columns (column ``l`` under law ``l``).
        """
        if space not in SPACES:
            raise ValueError(f"'space' must be one of {SPACES}, got {space!r}")
        n_laws = len(laws)
        if n_laws == 1:
            law_index = np.zeros(n_outputs, dtype=int)
            column = np.arange(n_outputs)
        elif n_outputs in (1, n_laws):
            law_index = np.arange(n_laws)
            column = np.zeros(n_laws, dtype=int) if n_outputs == 1 else np.arange(n_laws)
        else:
            raise ValueError(
                f"with {n_laws} laws the model must return 1 or {n_laws} columns, "
                f"got {n_outputs}"
            )
        # the standard space of a law, for one law or several: measured 3x better than
        # input space on the 100-law beam (docs/benchmarks.md); but that space only reaches
        # its law's support, so it is the first law's whose support holds every other's
        # (nested uniforms listed narrowest first), and without one (shifted uniforms)
        # input space, or an expectation would miss the mass outside
        reference = _reference_law(laws, unknown=None if space == "auto" else 0)
        if space == "auto":
            space = "standard" if reference is not None else "input"
        elif space == "standard" and reference is None:
            raise ValueError(
                "space 'standard' reaches only one law's support, and no law's support "
                "holds every other's: use space 'input' (or 'auto')")
        j = len(law_index)
        check_quantity_count(j, "'model'" if n_laws == 1 else "'law'")
        if names is None:
            names = [f"I{i + 1}" for i in range(j)]
        names = tuple(str(n) for n in names)
        if len(names) != j:
            raise ValueError(f"'names' must have {j} entries (one per quantity), got {len(names)}")
        return cls(tuple(laws), law_index, column, space, names,
                   reference if space == "standard" else 0)

    # ------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Input dimension ``d``."""
        return self.laws[0].dim

    @property
    def n_quantities(self) -> int:
        """``J``."""
        return len(self.law_index)

    @property
    def supports_differ(self) -> bool:
        """Whether the laws' supports are known to differ (the mixture's ratios ``f_l / f̄``
        then jump where one ends: its law route may go on nets of each law)."""
        boxes = _support_boxes(self.laws)
        return boxes is not None and any(not np.array_equal(box, boxes[0])
                                         for box in boxes[1:])

    @property
    def reference_law(self):
        """The law whose standard space is the working space (``"standard"``)."""
        return self.laws[self.reference]

    def to_inputs(self, z: np.ndarray) -> np.ndarray:
        """Working-space points -> model inputs."""
        return self.reference_law.from_standard(z) if self.space == "standard" else z

    def to_working(self, x: np.ndarray) -> np.ndarray:
        """Model inputs -> working-space points."""
        return self.reference_law.to_standard(x) if self.space == "standard" else x

    def law_logpdfs(self, z: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """``log f_l(z)`` for every law in the working space, as an (n, L) array."""
        if self.space == "input":
            return logpdfs_of_laws(self.laws, z)
        base = standard_normal_logpdf(z)
        if len(self.laws) == 1:
            return base[:, None]
        x = self.to_inputs(z) if x is None else x
        out = logpdfs_of_laws(self.laws, x)
        ref = self.reference
        # a point where the reference has no density (a quantile rounded onto a bound of
        # its support, probability 0 for every continuous law): no law's ratio is defined
        # there, and -inf - (-inf) would be NaN in every density built on it
        lost = np.isneginf(out[:, ref])
        with np.errstate(invalid="ignore"):
            out -= out[:, [ref]]
        out += base[:, None]
        out[lost] = -np.inf
        out[:, ref] = base
        return out

    def has_mass(self, x: np.ndarray, log_laws: np.ndarray) -> np.ndarray:
        """Which input points ((n,) bool) some law gives mass: a finite log-density
        (``log_laws``, (n, L)) off that law's support bounds (:meth:`Law.on_support_bounds`:
        a quantile rounded onto a bound where the model may be undefined, a set the law
        gives probability 0). The others are not run, their integrand 0."""
        finite = np.isfinite(log_laws)
        on_bounds = {}  # by support box and its rounded bounds: many laws share them
        for column, law in enumerate(self.laws):
            if isinstance(law, Law):  # (a law kept as OpenTURNS' has no box)
                key = law.support_box.tobytes() + law.rounded_bounds.tobytes()
                if key not in on_bounds:
                    on_bounds[key] = law.on_support_bounds(x)
                finite[:, column] &= ~on_bounds[key]
        return np.any(finite, axis=1)

    def quantity_values(self, outputs: np.ndarray) -> np.ndarray:
        """Model outputs ((n, m)) -> quantity values ``phi`` ((n, J))."""
        return outputs[:, self.column]

    def initial_proposal(self) -> LawMixture:
        """``f`` for one law, ``f̄ = (1/L) sum_l f_l`` for several, in the working space."""
        return LawMixture(self)


class LawMixture:
    """The equal-weight mixture of the laws, as a proposal in the working space."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.dim = problem.dim

    def logpdf_from_laws(self, law_logpdfs: np.ndarray) -> np.ndarray:
        """``log f̄`` from the (n, L) law log-densities."""
        n_laws = law_logpdfs.shape[1]
        if n_laws == 1:
            return law_logpdfs[:, 0]
        return logsumexp_rows(law_logpdfs) - np.log(n_laws)

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """``log f̄(z)``."""
        return self.logpdf_from_laws(self.problem.law_logpdfs(z))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Equal-probability law choice, then the law's own sampler."""
        problem = self.problem
        if problem.space == "standard" and len(problem.laws) == 1:
            return rng.standard_normal((n, self.dim))
        counts = rng.multinomial(n, np.full(len(problem.laws), 1.0 / len(problem.laws)))
        x = sample_laws(problem.laws, counts, rng)[rng.permutation(n)]
        return problem.to_working(x)

    def describe(self) -> dict:
        """JSON-able description."""
        return {"family": "law-mixture", "n_laws": len(self.problem.laws)}


def reference_covariance(problem: Problem) -> np.ndarray:
    """Covariance the proposal fits shrink toward: ``I`` in standard space, else the laws'."""
    if problem.space == "standard":
        return np.eye(problem.dim)
    rng = np.random.default_rng(0)
    sample = LawMixture(problem).sample(max(2000, 50 * problem.dim), rng)
    return np.cov(sample, rowvar=False).reshape(problem.dim, problem.dim)


def _support_boxes(laws) -> list | None:
    """Each law's :func:`_support_box`, or None when one is not known."""
    boxes = [_support_box(law) for law in laws]
    return None if any(box is None for box in boxes) else boxes


def _support_box(law) -> np.ndarray | None:
    """(d, 2) bounds of a law's support, or None when its marginals are not known."""
    if isinstance(law, Law):
        return law.support_box
    marginals = getattr(law, "marginals", None)
    if marginals is None:
        return None
    return np.array([m.support() for m in marginals], dtype=float)


def _outside(first: np.ndarray | None, box: np.ndarray | None) -> bool:
    """Whether the support ``box`` is known to reach outside ``first``."""
    return first is not None and box is not None and bool(
        np.any(box[:, 0] < first[:, 0]) or np.any(box[:, 1] > first[:, 1]))


def _reference_law(laws, unknown: int | None = None) -> int | None:
    """The first law whose support is known to hold every other law's (one law: itself),
    None if none does, ``unknown`` when a law's support is not known (an OpenTURNS law
    kept as such)."""
    if len(laws) == 1:
        return 0
    boxes = _support_boxes(laws)
    if boxes is None:
        return unknown
    return next((r for r, box in enumerate(boxes)
                 if not any(_outside(box, other) for other in boxes)), None)

"""The recycled sample: every point drawn so far, with what the engine knows at it.

Stage ``t`` (the pilot ``t = 0``, then the adaptive batches) drew ``n_t`` points from the
proposal ``g_t``. Every point keeps its quantity values ``phi``, its law log-densities and
``log g_t`` of *every* stage's proposal, so that all points serve every later fit through the
deterministic mixture (balance heuristic)

    h(z) = sum_t (n_t / n) g_t(z),        n = sum_t n_t .
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..logspace import logsumexp_rows
from ..proposals.batched import component_logpdfs as batched_logpdfs

__all__ = ["RecycledSample", "component_logpdfs"]


def component_logpdfs(components: Sequence, z: np.ndarray, log_law: np.ndarray
                      ) -> np.ndarray:
    """``log g_k(z)`` of the fitted components, then the law's density (known already), as
    the (n, K) columns a :class:`~multiexpect.proposals.Mixture` with the law last combines;
    the elliptical components by one matrix product (:mod:`multiexpect.proposals.batched`).
    """
    out = np.empty((z.shape[0], len(components) + 1))
    batched_logpdfs(components, z, out=out)
    out[:, -1] = log_law
    return out


@dataclass(frozen=True)
class RecycledSample:
    """Points of every stage and their densities (immutable: :meth:`append` returns a new one).

    Attributes
    ----------
    z : (n, d) array
        Working-space points, stage after stage.
    phi : (n, J) array
        Quantity values.
    log_laws : (n, L) array
        ``log f_l(z)`` of every law.
    log_props : tuple of (n,) arrays
        ``log g_t(z)`` of stage ``t``'s proposal at every point.
    proposals : tuple
        Stage ``t``'s proposal ``g_t`` (``g_0``: the law, or the laws' mixture).
    counts : tuple of int
        ``n_t``, points per stage.
    scores : (n, m) array or None
        The exceedances' scores per output column (NaN elsewhere), when declared.
    """

    z: np.ndarray
    phi: np.ndarray
    log_laws: np.ndarray
    log_props: tuple
    proposals: tuple
    counts: tuple
    scores: np.ndarray | None = None

    @classmethod
    def first(cls, proposal, z, phi, log_laws, log_g, scores=None) -> RecycledSample:
        """The pilot: stage 0, drawn from ``proposal`` (density ``log_g`` at ``z``)."""
        return cls(z, phi, log_laws, (log_g,), (proposal,), (int(z.shape[0]),), scores)

    @property
    def n_stages(self) -> int:
        """Stages so far (the pilot and the adaptive batches)."""
        return len(self.counts)

    @property
    def n_points(self) -> int:
        """``n``."""
        return int(sum(self.counts))

    def stage_rows(self, t: int) -> slice:
        """The rows of stage ``t``."""
        start = int(sum(self.counts[:t]))
        return slice(start, start + self.counts[t])

    def batch_of(self) -> np.ndarray:
        """The stage of every point ((n,) int)."""
        return np.repeat(np.arange(len(self.counts)), self.counts)

    def log_h(self, first: int = 0, rows=None) -> np.ndarray:
        """``log h`` of the stages ``>= first`` (weights ``n_t / sum n_t`` over them), at
        ``rows`` (all points by default)."""
        counts = np.asarray(self.counts[first:], dtype=float)
        columns = np.column_stack(self.log_props[first:])
        if rows is not None:
            columns = columns[rows]
        return logsumexp_rows(columns, np.log(counts / counts.sum()))

    def law_component(self, rows=slice(None)) -> np.ndarray:
        """``log g_0`` (the law or the laws' mixture, every mixture's last component)."""
        return self.log_props[0][rows]

    def append(self, proposal, components: Sequence, z, phi, log_laws, log_g,
               old_components: np.ndarray | None = None, scores=None,
               log_g0: np.ndarray | None = None) -> RecycledSample:
        """A new stage drawn from ``proposal``, the mixture of ``components`` and the law.

        Every earlier proposal is evaluated at the new points and the new one at the
        earlier points; their law component ``g_0`` is read from the law log-densities
        already known (``log_laws`` at the new points, ``log g_0`` stored at the old ones),
        so no law density is evaluated twice at a point. ``old_components``: the new
        components' log-densities at every earlier point, and ``log_g0``, ``log g_0`` at the
        new points, when already computed.
        """
        if old_components is None:
            old_components = component_logpdfs(components, self.z, self.log_props[0])
        old_log_new = proposal.logpdf_from_components(old_components)
        if log_g0 is None:
            log_g0 = self.proposals[0].logpdf_from_laws(log_laws)
        new_cols = [log_g0] + [
            p.logpdf_from_components(component_logpdfs(p.components[:-1], z, log_g0))
            for p in self.proposals[1:]]
        log_props = tuple(np.concatenate([old, new])
                          for old, new in zip(self.log_props, new_cols))
        return RecycledSample(
            z=np.concatenate([self.z, z]), phi=np.concatenate([self.phi, phi]),
            log_laws=np.concatenate([self.log_laws, log_laws]),
            log_props=(*log_props, np.concatenate([old_log_new, log_g])),
            proposals=(*self.proposals, proposal), counts=(*self.counts, int(z.shape[0])),
            scores=None if self.scores is None else np.concatenate([self.scores, scores]))

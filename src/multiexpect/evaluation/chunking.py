"""How many points go to the model in one call (and one store transaction).

A chunk is the unit a crash can lose: its points are run but not yet stored when the study
process is killed. Chunks are therefore sized by wall time and by the budget, never by a
fixed point count, so that a ``kill -9`` at any moment repeats a small share of the budget
whatever the model's speed:

* in-process with a store, the size starts at one point and adapts after each chunk:
  with ``r`` the measured points per second of the last chunk, the next size is
  ``r * TARGET_SECONDS`` (at most twice the last size, at least one point). A cheap model
  thus gets chunks of about :data:`TARGET_SECONDS` of work, an expensive one a point at a
  time;
* on an executor, a batch is cut into ``4 * workers`` chunks, each at most
  :data:`TARGET_SECONDS` of work at the per-point time measured so far;
* with a budget ``B`` known, a chunk never exceeds ``B / 50`` points in-process, and
  ``B / (80 * workers)`` on an executor (``workers`` chunks run at once, and a few finished
  ones may wait for the study process to store them), so the runs in flight, hence lost by
  a crash, stay a few percent of the budget at most.

In-process without a store nothing can be kept, so a batch is one call. The sizes decide
only how a batch is split into model calls, never which points are drawn: the outputs of a
row-wise model, hence every estimate, do not depend on them.
"""

from __future__ import annotations

import math

__all__ = ["TARGET_SECONDS", "ChunkSizer"]

#: wall time aimed at for one chunk, in seconds
TARGET_SECONDS = 2.0
_INLINE_SHARE = 50  # an in-process chunk holds at most budget / 50 points
_POOL_SHARE = 80  # a worker's chunk holds at most budget / (80 * workers) points


class ChunkSizer:
    """Points per chunk, from the evaluation setting and the run times measured so far.

    Parameters
    ----------
    fixed : int, optional
        A size given by the user (``eval_chunk_size``): always used.
    inline : bool
        The model runs in the study process, one chunk at a time.
    stored : bool
        Runs are kept in a store (else an in-process batch is one call).
    n_workers : int
        Workers of the executor (1 in-process).
    budget : int, optional
        The study's budget in model runs, when known.
    """

    def __init__(self, fixed: int | None, *, inline: bool, stored: bool, n_workers: int = 1,
                 budget: int | None = None):
        self.fixed = fixed
        self.inline = inline
        self.stored = stored
        self.n_workers = max(1, int(n_workers))
        share = _INLINE_SHARE if inline else _POOL_SHARE * self.n_workers
        self.cap = max(1, int(budget) // share) if budget else None
        self.current = 1  # the adaptive in-process size
        self.seconds_per_point: float | None = None  # measured on an executor

    def size(self, n_left: int, n_batch: int) -> int:
        """Points of the next chunk, with ``n_left`` points of a batch of ``n_batch`` left."""
        if self.fixed is not None:
            return self.fixed
        if self.inline:
            if not self.stored:
                return max(n_left, 1)
            return max(1, min(self.current, n_left))
        size = max(1, math.ceil(n_batch / (4 * self.n_workers)))
        if self.cap is not None:
            size = min(size, self.cap)
        if self.seconds_per_point:
            size = min(size, max(1, int(TARGET_SECONDS / self.seconds_per_point)))
        return size

    def record(self, n_points: int, seconds: float) -> None:
        """A chunk of ``n_points`` took ``seconds`` of model time."""
        if n_points <= 0:
            return
        seconds = max(float(seconds), 1e-9)
        if not self.inline:
            per_point = seconds / n_points
            old = self.seconds_per_point
            self.seconds_per_point = per_point if old is None else 0.5 * (old + per_point)
            return
        ideal = max(1, int(n_points * TARGET_SECONDS / seconds))
        if n_points >= self.current or ideal < self.current:
            # a short last chunk of a batch says little about growing: only shrink on it
            self.current = min(ideal, 2 * max(self.current, n_points))
        if self.cap is not None:
            self.current = min(self.current, self.cap)

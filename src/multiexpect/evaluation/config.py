"""Where and how the model runs: the :class:`Evaluation` settings of a public call.

``expectations``, ``sobol_indices`` and ``perturbed_law_indices`` take one
``evaluation=Evaluation(...)``; their keywords ``executor=``, ``store=``, ... are a shorthand
that builds it (:func:`split_evaluation`). None of these settings changes an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .executors import check_executor
from .store import check_store

__all__ = ["EVALUATION_FIELDS", "Evaluation", "split_evaluation"]


def _check_int(value, name: str, minimum: int, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"'{name}' must be an int >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Evaluation:
    """Where and how the model runs; checked when built, before any model run.

    Parameters
    ----------
    executor : None, "processes" or concurrent.futures.Executor
        In-process (default), a local process pool of ``n_workers`` (default: the cores), or
        any executor, e.g. ``distributed.Client(...).get_executor()`` or
        ``mpi4py.futures.MPIPoolExecutor()`` (see ``docs/evaluation.md``).
    n_workers : int, optional
        Size of the ``"processes"`` pool.
    store : None, str, os.PathLike or Store
        Where every run is kept: nowhere (default), an SQLite file, or a store object
        (:class:`~multiexpect.evaluation.store.InMemoryStore`, ...). Re-running the same call
        with the same store resumes the study: stored runs are read, not run again.
    study_id : str, optional
        The study's key in the store; by default the model's name and a hash of the laws,
        method, options, seed and budget. Needed with a store when the model is a lambda.
    retries : int
        Times a failed point (exception, NaN/inf, dead worker) is run again before the study
        stops with :class:`~multiexpect.ModelEvaluationError`.
    progress : bool
        Show a progress bar on stderr (needs tqdm, and stdout and stderr to be terminals).
    eval_chunk_size : int, optional
        Points per task sent to a worker (and per store transaction).
    share_runs_with : tuple of str
        Other studies in the same store whose runs this study reads instead of running the
        model again at the same point (the same float64 input): studies of **the same
        deterministic model** only (the caller vouches for it; the command-line tool shares
        the runs of a study file's analyses). A point so read is copied into this study's
        batch, so a resumed study reads it from there.
    """

    executor: object = None
    n_workers: int | None = None
    store: object = None
    study_id: str | None = None
    retries: int = 0
    progress: bool = False
    eval_chunk_size: int | None = None
    share_runs_with: tuple = ()

    def __post_init__(self):
        check_executor(self.executor, self.n_workers)
        object.__setattr__(self, "retries",
                           _check_int(self.retries, "retries", 0, allow_none=False))
        object.__setattr__(self, "eval_chunk_size",
                           _check_int(self.eval_chunk_size, "eval_chunk_size", 1))
        if not isinstance(self.progress, bool):
            raise ValueError(f"'progress' must be True or False, got {self.progress!r}")
        if self.study_id is not None and (not isinstance(self.study_id, str)
                                          or not self.study_id):
            raise ValueError(f"'study_id' must be a non-empty str, got {self.study_id!r}")
        check_store(self.store)
        shared = self.share_runs_with
        if isinstance(shared, str) or not isinstance(shared, (tuple, list)) or not all(
                isinstance(s, str) and s for s in shared):
            raise ValueError(f"'share_runs_with' must be a tuple of study ids (non-empty str), "
                             f"got {shared!r}")
        if shared and self.store is None:
            raise ValueError("'share_runs_with' reads the runs of other studies in the store: "
                             "give a store")
        object.__setattr__(self, "share_runs_with", tuple(shared))

    @property
    def is_default(self) -> bool:
        """Whether every setting keeps its default (in-process, no store, no retries...)."""
        return self == Evaluation()


#: The keywords that are a shorthand for ``evaluation=Evaluation(...)``.
EVALUATION_FIELDS = tuple(f.name for f in fields(Evaluation))


def split_evaluation(evaluation: Evaluation | None, keywords: dict
                     ) -> tuple[Evaluation, dict]:
    """The call's :class:`Evaluation` and the keywords that are not evaluation settings.

    ``keywords`` are a public call's ``**options``: those named in :data:`EVALUATION_FIELDS`
    build the :class:`Evaluation` (a shorthand for ``evaluation=``), the others are the
    method's options.
    """
    given = {k: v for k, v in keywords.items() if k in EVALUATION_FIELDS}
    rest = {k: v for k, v in keywords.items() if k not in EVALUATION_FIELDS}
    if evaluation is None:
        return Evaluation(**given), rest
    if not isinstance(evaluation, Evaluation):
        raise ValueError(f"'evaluation' must be a multiexpect.Evaluation, got "
                         f"{type(evaluation).__name__}")
    if given:
        raise ValueError(f"pass the evaluation settings either as evaluation=Evaluation(...) "
                         f"or as keywords, not both: got 'evaluation' and {sorted(given)}")
    return evaluation, rest

"""The ``evaluate(x, batch)`` callable of a real study: model -> chunks over an executor ->
store memo -> retries -> checks.

:func:`build_evaluate` composes the pieces of this package into the one callable the
algorithm calls (see ``docs/evaluation.md``). On ``evaluate(x, batch)``:

1. with a store, the batch's points hash is recorded or checked (a resumed study must replay
   the same points), and the batch's stored ``"ok"`` runs are read, not run again; so are
   the points that a study named in ``share_runs_with`` ran (copied into this batch);
2. the other points are split into chunks and mapped over the executor; each completed chunk
   is written to the store in one transaction before anything else uses it;
3. failed points (the model raised, returned NaN or inf, or its worker process died) are run
   again up to ``retries`` times; if some still fail, :class:`~multiexpect.ModelEvaluationError`
   is raised naming how many, the first failing input and the model's own message, after the
   successes were stored. Failed points are never dropped: that would bias every estimate.

Resume is exact: the algorithm draws batch ``k`` from a generator derived from the seed, so a
re-run replays the same points and gets the same outputs (stored float64 bytes), hence the
same result bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np

from ..errors import ModelEvaluationError
from .chunking import ChunkSizer
from .config import Evaluation
from .evaluator import check_model
from .executors import ChunkResult, Runner
from .progress import Progress
from .store import Store, canonical_settings, open_store

__all__ = ["StudyEvaluator", "build_evaluate", "evaluate_for_call", "study_id_for"]


def model_name(model) -> str:
    """A readable name of the model (``CommandModel`` gives its program)."""
    name = getattr(model, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(model, "__qualname__", None) or getattr(model, "__name__", None) \
        or type(model).__name__


def study_id_for(model, settings: dict) -> str:
    """The default study id: the model's name and a hash of the method, laws, options, seed
    and budget.

    The budget is hashed because it decides the draws: the pilot and batch sizes default to
    ``budget // 10`` (and enter the resolved options), so a larger budget draws other points
    from batch 0 on and could reuse none of the stored runs. A different budget therefore
    starts a new study in the same store, whether or not the sizes were given explicitly.
    ``weights`` and the library version are not hashed: they are checked against the store,
    so that changing them is reported (:class:`~multiexpect.StoreMismatchError`), not
    silently started afresh.
    """
    keyed = {k: settings.get(k) for k in ("method", "laws", "options", "seed", "budget")}
    if "analysis" in settings:  # Sobol' / perturbed-law studies: not an expectations study
        keyed["analysis"] = settings["analysis"]
        keyed["law"] = settings.get("law")
    text = json.dumps(canonical_settings(keyed), sort_keys=True)
    return f"{model_name(model)}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class StudyEvaluator:
    """``evaluate(x, batch) -> outputs`` for a study; built by :func:`build_evaluate`.

    Parameters
    ----------
    model : callable
        The user's model, or a :class:`~multiexpect.CommandModel`.
    vectorized : bool
        Whether ``model`` takes a whole (n, d) array.
    evaluation : Evaluation, optional
        Where and how the model runs (default: in-process, nothing stored).
    settings : dict, optional
        What defines the study, complete: hashed into the default study id and recorded in
        the store at the first call.
    budget : int, optional
        Total runs, for the progress bar.

    Attributes
    ----------
    n_new : int
        Model runs made by this object (retries included).
    n_reused : int
        Runs read from the store instead of being run.
    study_id : str or None
        The study's id once known (after the first call).
    """

    def __init__(self, model, *, vectorized: bool = True, evaluation: Evaluation | None = None,
                 settings: dict | None = None, budget: int | None = None):
        check_model(model)
        evaluation = Evaluation() if evaluation is None else evaluation
        if not isinstance(vectorized, bool):
            raise ValueError(f"'vectorized' must be True or False, got {vectorized!r}")
        store, study_id = evaluation.store, evaluation.study_id
        if store is not None and study_id is None and "<lambda>" in model_name(model):
            # the default id keys a study by the model's name (a fixed model resumes its
            # study), and every lambda has the same one: two would share stored runs
            raise ValueError(
                "'study_id' is needed with a store when the model is a lambda (every lambda "
                "is named '<lambda>', so two of them would read each other's stored runs): "
                "pass study_id='...' or use a named function")
        self.retries = evaluation.retries
        self.chunk_size = evaluation.eval_chunk_size
        self._store_spec = store
        self.store: Store | None = store if isinstance(store, Store) else None
        self._owns_store = store is not None and not isinstance(store, Store)
        self.model = model
        self.pointwise = not vectorized
        self.runner = Runner(model, self.pointwise, evaluation.executor, evaluation.n_workers)
        self.settings = settings if settings is not None else {}
        self.study_id = study_id
        self.shared = evaluation.share_runs_with
        self._opened = False
        self.progress = Progress(evaluation.progress, budget)
        self.sizer = ChunkSizer(self.chunk_size, inline=self.runner.kind == "inline",
                                stored=store is not None, n_workers=self.runner.n_workers,
                                budget=budget)
        self.n_new = self.n_reused = 0
        self.n_outputs: int | None = None

    # ------------------------------------------------------------------ the study
    def _open(self) -> None:
        if self._opened:
            return
        if self._owns_store and self.store is None:
            self.store = open_store(self._store_spec)
        if self.store is not None:  # the id keys the store only: no hash of the laws without
            if self.study_id is None:
                self.study_id = study_id_for(self.model, self.settings)
            self.store.open_study(self.study_id, self.settings)
        self._opened = True

    def observe(self, stage) -> None:
        """Called by the driver after each adaptive stage (shows the predicted error)."""
        error = getattr(stage, "predicted_error", None)
        if error is not None:
            self.progress.note(predicted_error=float(error))

    # ------------------------------------------------------------------ evaluation
    def __call__(self, x, batch: int = 0) -> np.ndarray:
        """Outputs ((n, m)) at the points ``x`` ((n, d)) of batch ``batch``."""
        self._open()
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"evaluate expects points of shape (n, d), got {x.shape}")
        n = x.shape[0]
        if n == 0:
            return np.empty((0, self.n_outputs or 0))
        batch = int(batch)
        done = np.zeros(n, dtype=bool)
        pieces: list[tuple[np.ndarray, np.ndarray]] = []
        if self.store is not None:
            self.store.begin_batch(self.study_id, batch, x)
            stored = self.store.load_runs(self.study_id, batch)
            ok = np.asarray(np.asarray(stored["status"], dtype=object) == "ok", dtype=bool)
            if ok.any():
                idx, ys = stored["index"][ok], stored["y"][ok]
                self._check_width(ys.shape[1])
                done[idx] = True
                pieces.append((idx, ys))
                self.n_reused += int(ok.sum())
                self.progress.update(int(ok.sum()))
        failures: dict[int, str] = {}
        todo = np.flatnonzero(~done)
        if todo.size and self.shared:
            todo = self._read_shared(x, batch, todo, pieces)
        for _ in range(self.retries + 1):
            if todo.size == 0:
                break
            failures = self._run_points(x, batch, todo, pieces)
            todo = np.array(sorted(failures), dtype=np.int64)
        if failures:
            self._raise(x, batch, failures)
        if len(pieces) == 1 and np.array_equal(pieces[0][0], np.arange(n)):
            out = pieces[0][1]
        else:
            out = np.empty((n, self.n_outputs or 0))
            for idx, ys in pieces:
                out[idx] = ys
        return out

    def _read_shared(self, x, batch, todo, pieces) -> np.ndarray:
        """Read the points ``todo`` that a study in ``share_runs_with`` already ran (copied
        into this batch in one transaction, so that a resume finds them there); return the
        points left to run."""
        others = [s for s in self.shared if s != self.study_id]
        found, ys = self.store.find_runs(others, x[todo])
        if not found.any():
            return todo
        idx, ys = todo[found], ys[found]
        self._check_width(ys.shape[1])
        self.store.put_runs(self.study_id, batch, idx, x[idx], ys, ["ok"] * idx.size,
                            [""] * idx.size, np.zeros(idx.size))
        pieces.append((idx, ys))
        self.n_reused += int(idx.size)
        self.progress.update(int(idx.size))
        return todo[~found]

    def _check_width(self, m: int) -> None:
        if self.n_outputs is None:
            self.n_outputs = int(m)
        elif m != self.n_outputs:
            raise ValueError(
                f"the model returned {m} columns, but {self.n_outputs} earlier"
            )

    def _run_points(self, x, batch, todo, pieces) -> dict[int, str]:
        """Run the points ``todo`` of the batch; store each chunk; return failures.

        Interrupted (KeyboardInterrupt, or SIGTERM in the command-line tool), it stores the
        chunks that finished, stops the executor's workers and lets the interrupt go on."""
        chunks: dict[int, np.ndarray] = {}

        def plan():
            start = 0
            while start < todo.size:
                size = self.sizer.size(todo.size - start, todo.size)
                chunks[len(chunks)] = idx = todo[start:start + size]
                start += size
                yield len(chunks) - 1, x[idx]

        isolate = self.store is not None or self.retries > 0
        failures: dict[int, str] = {}
        lost: list[int] = []
        accepting = None
        try:
            for cid, result in self.runner.run(plan(), isolate, self.n_outputs):
                if isinstance(result, BaseException):
                    lost.append(cid)
                    continue
                accepting = (cid, result)
                self.sizer.record(chunks[cid].size, float(np.sum(result.seconds)))
                self._accept(x, batch, chunks[cid], result, pieces, failures)
                accepting = None
        except (KeyboardInterrupt, SystemExit):
            finished = self.runner.harvest()
            self.runner.abort()
            if accepting is not None:  # stored again if the interrupt cut its transaction
                finished.insert(0, accepting)
            for cid, result in finished:
                try:
                    self._accept(x, batch, chunks[cid], result, pieces, failures)
                except Exception:  # keep what can be kept, then stop anyway
                    continue
            raise
        if lost:
            # a worker died: replace the pool, then run the lost chunks one at a time, and the
            # points of a chunk that kills its worker again one by one, so that the culprit is
            # told from its innocent neighbours (whose runs were lost, never returned)
            self.runner.recover()
            for cid in sorted(lost):
                self._run_alone(x, batch, chunks[cid], pieces, failures, isolate, split=True)
        return failures

    def _run_alone(self, x, batch, idx, pieces, failures, isolate, split) -> None:
        for _, result in self.runner.run([(0, x[idx])], isolate, self.n_outputs):
            if not isinstance(result, BaseException):
                self._accept(x, batch, idx, result, pieces, failures)
                return
            self.runner.recover()
            if split and idx.size > 1:
                for i in idx:
                    self._run_alone(x, batch, np.array([i]), pieces, failures, isolate,
                                    split=False)
                return
            if isinstance(result, ImportError):  # the task reached a worker that could not
                # load the model (a Dask worker without the study's module): nobody died
                text = (f"the executor's worker could not load the model "
                        f"({type(result).__name__}: {result}); make the model's module "
                        f"importable on the workers (install it, or set PYTHONPATH)")
            else:
                text = (f"the worker process died while running it "
                        f"({type(result).__name__}: {result})")
            self._accept(x, batch, idx, ChunkResult(
                np.empty((idx.size, 0)), np.zeros(idx.size, bool), [text] * idx.size,
                np.zeros(idx.size)), pieces, failures)

    def _accept(self, x, batch, idx, result: ChunkResult, pieces, failures) -> None:
        if result.shape_error:
            raise ValueError(result.shape_error)
        if result.ok.any():
            self._check_width(result.y.shape[1])
        if self.store is not None:
            status = np.where(result.ok, "ok", "failed")
            self.store.put_runs(self.study_id, batch, idx, x[idx], result.y, status,
                                result.errors, result.seconds)
        self.n_new += idx.size
        if result.ok.all():
            pieces.append((idx, result.y))
        elif result.ok.any():
            pieces.append((idx[result.ok], result.y[result.ok]))
        for k in np.flatnonzero(~result.ok):
            failures[int(idx[k])] = result.errors[k]
        self.progress.update(int(result.ok.sum()))

    def _raise(self, x, batch, failures: dict[int, str]) -> None:
        first = min(failures)
        message = failures[first]
        n_failed = len(failures)
        n = x.shape[0]
        if message.startswith("non-finite output"):
            head = (f"the model returned a non-finite value (NaN or inf) at {n_failed} of {n} "
                    f"points")
        elif message.startswith("the worker process died"):
            head = f"a worker process died running {n_failed} of {n} points"
        elif message.startswith("the executor's worker could not load"):
            head = f"the executor could not run {n_failed} of {n} points"
        else:
            head = f"the model failed at {n_failed} of {n} points"
        where = (f"the other {n - n_failed} runs of batch {batch} are in the store (study "
                 f"{self.study_id!r}): fix the model and re-run the same call to resume"
                 if self.store is not None else
                 "pass store= to keep the successful runs and resume after a fix")
        retry = f" after {self.retries} retries" if self.retries else ""
        raise ModelEvaluationError(
            f"{head}{retry}; first failing input: {x[first].tolist()}: {message}. {where}",
            n_failed=n_failed, first_input=x[first].copy(), message=message)

    def close(self) -> None:
        """Shut down the owned process pool, the store opened from a path and the bar."""
        self.runner.close()
        self.progress.close()
        if self._owns_store and self.store is not None:
            self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_evaluate(model: Callable, *, vectorized: bool = True, executor=None,
                   n_workers: int | None = None, store=None, study_id: str | None = None,
                   settings: dict | None = None, retries: int = 0, progress: bool = False,
                   budget: int | None = None, chunk_size: int | None = None,
                   share_runs_with: tuple = ()) -> StudyEvaluator:
    """Compose the ``evaluate(x, batch)`` callable of a study.

    Parameters
    ----------
    model : callable
        The user's model (see :func:`multiexpect.expectations`), or a
        :class:`~multiexpect.CommandModel`.
    vectorized : bool
        Whether ``model`` takes a whole (n, d) array.
    executor : None, "processes" or concurrent.futures.Executor
        In-process (default), a local process pool of ``n_workers`` (default: the cores), or
        any executor (``distributed.Client(...).get_executor()``,
        ``mpi4py.futures.MPIPoolExecutor()``).
    n_workers : int, optional
        Size of the ``"processes"`` pool.
    store : None, str, os.PathLike or Store
        Where runs are kept: nothing kept (None), an SQLite file, or a store object.
    study_id : str, optional
        The study's key in the store; by default :func:`study_id_for` ``(model, settings)``.
    settings : dict, optional
        What defines the study (method, laws, options, seed, budget, weights, version);
        recorded in the store and compared on resume; complete when given (it is hashed
        into the default study id at the first call).
    retries : int
        How many times failed points are run again before the study stops.
    progress : bool
        Show a progress bar (no-op without a terminal or without tqdm).
    budget : int, optional
        Total runs, for the progress bar.
    chunk_size : int, optional
        Points per task and per store transaction (the public keyword is
        ``eval_chunk_size``); by default sized by wall time and budget
        (:mod:`~multiexpect.evaluation.chunking`): about two seconds of work, and a small
        share of the budget, so that a crash loses little.
    share_runs_with : tuple of str
        Studies of the same deterministic model in the store whose runs at the same points
        are read, not run (:class:`~multiexpect.Evaluation`).

    Returns
    -------
    StudyEvaluator
        Callable ``(x, batch) -> (n, m) outputs`` with ``n_new``, ``n_reused`` and
        ``close()`` (the runs a call spent are counted by
        :class:`~multiexpect.evaluation.evaluator.RunCounter`).
    """
    evaluation = Evaluation(executor=executor, n_workers=n_workers, store=store,
                            study_id=study_id, retries=retries, progress=progress,
                            eval_chunk_size=chunk_size, share_runs_with=share_runs_with)
    return StudyEvaluator(model, vectorized=vectorized, evaluation=evaluation,
                          settings=settings, budget=budget)


def evaluate_for_call(model: Callable, evaluate: Callable | None, *, vectorized: bool,
                      settings: dict, budget: int, evaluation: Evaluation
                      ) -> tuple[Callable, StudyEvaluator | None]:
    """The ``evaluate`` callable of one public call (``expectations``, ``sobol_indices``,
    ``perturbed_law_indices``) and the study to close after it (None for the caller's own).

    With a caller's ``evaluate``, ``evaluation`` must keep its defaults.
    """
    if evaluate is not None:
        if not evaluation.is_default:
            raise ValueError("'evaluate' replaces the model evaluation: do not combine it with "
                             "executor, n_workers, store, study_id, retries, progress or "
                             "eval_chunk_size")
        return evaluate, None
    study = StudyEvaluator(model, vectorized=vectorized, evaluation=evaluation,
                           settings=settings, budget=budget)
    return study, study

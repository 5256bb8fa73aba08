"""Run a validated study: each analysis through a stored, resumable ``evaluate``.

Every (analysis, method) pair is one study in the store, keyed
``"<study name>/<analysis>/<method>"``, with the settings that define it (seed, inputs,
model, the analysis's keys). The store keeps the model's raw outputs; re-running the same
study with the same store reads the runs already paid for and runs the model only from
there on (the points of each batch are replayed from the seed), so the result equals the
uninterrupted one.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

from ..evaluation.builder import build_evaluate
from ..version import __version__
from .quantities import analysis_rows, call_analysis, statistic_label
from .study import Study, StudyError, load_model

__all__ = ["RESULTS_FORMAT", "check_store", "make_executor", "results_path_for",
           "run_study", "versions", "write_results"]

RESULTS_FORMAT = "multiexpect-results/1"


def versions() -> dict:
    """Versions of Python, the platform and the libraries that produced a result."""
    import numpy
    import scipy

    out = {"multiexpect": __version__, "python": platform.python_version(),
           "numpy": numpy.__version__, "scipy": scipy.__version__,
           "platform": platform.platform()}
    for name in ("matplotlib", "distributed", "tqdm"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "?")
    return out


def results_path_for(store: str) -> str:
    """``study.sqlite`` -> ``study.results.json`` (next to the store)."""
    root, _ = os.path.splitext(store)
    return root + ".results.json"


def make_executor(spec: str | None):
    """``(executor argument, closer)`` for ``None``, ``"processes"`` or ``"dask://H:P"``."""
    if spec is None or spec == "processes":
        return spec, (lambda: None)
    try:
        from distributed import Client
    except ImportError as exc:
        raise StudyError("executor", "'dask://' executors need dask distributed: "
                         "pip install 'multiexpect[dask]'") from exc
    address = "tcp://" + spec[len("dask://"):]
    try:
        client = Client(address, timeout=10)
    except OSError as exc:
        raise StudyError("executor", f"cannot connect to the Dask scheduler at {address}: "
                         f"{exc}") from exc
    return client.get_executor(), client.close


def _store_settings(study: Study, analysis, method: str) -> dict:
    return study.run_identity(analysis, method, _study_id(study, analysis, method))


def _plan(study: Study) -> list:
    return [(a, m) for a in study.analyses for m in (a.method, a.baseline) if m is not None]


def _study_id(study: Study, analysis, method: str) -> str:
    return f"{study.name}/{analysis.kind}/{method}"


def _shared_studies(study: Study, plan: list) -> dict[str, tuple]:
    """For each study of the plan, the others whose runs it may read (``[run] share_runs``):
    those of the same model identity (the ``[model]`` table and its code's hash, which
    ``--accept-model-change`` may keep per study)."""
    if not study.run["share_runs"]:
        return {}
    identity = {}
    for analysis, method in plan:
        model = _store_settings(study, analysis, method)["model"]
        identity[_study_id(study, analysis, method)] = json.dumps(model, sort_keys=True)
    return {sid: tuple(other for other, same in identity.items()
                       if other != sid and same == mine)
            for sid, mine in identity.items()}


def check_store(study: Study, store: str) -> None:
    """Before any run: the store, if it exists, must be an SQLite store whose copies of this
    study's analyses (if any) have the same settings (else the study would not resume).

    Raises
    ------
    StudyError
        Naming the first analysis whose stored settings differ, and how.
    """
    import sqlite3

    from ..errors import MultiexpectError, StoreMismatchError
    from ..evaluation.store import SQLiteStore, canonical_settings, settings_diff

    if not os.path.exists(store):
        return
    try:
        opened = SQLiteStore(store)
    except StoreMismatchError as exc:
        raise StudyError("--store", " ".join(str(exc).split())) from exc
    except (sqlite3.DatabaseError, MultiexpectError, ValueError) as exc:
        raise StudyError("--store", f"{store} is not a multiexpect store: "
                         f"{' '.join(str(exc).split())}") from exc
    try:
        if opened.read_only:
            raise StudyError("--store", f"{store} is read-only (read-only file system or "
                             f"file): 'run' writes to the store and the results next to it; "
                             f"copy it to a writable folder ('multiexpect report' reads a "
                             f"finished study's results file)")
        for analysis, method in _plan(study):
            study_id = _study_id(study, analysis, method)
            stored = opened.study_settings(study_id)
            new = canonical_settings(_store_settings(study, analysis, method))
            if stored is not None and stored != new:
                diffs = settings_diff(stored, new)
                if all(d.startswith("model.code_sha256:") for d in diffs):
                    if study.accept_model_change:
                        study.accepted_code[study_id] = stored["model"]["code_sha256"]
                        continue
                    raise StudyError("--store", f"{store} holds runs of {study_id!r} made by "
                                     f"another version of the model's code: restore the "
                                     f"model to resume; use a new store to start again; or, "
                                     f"if the change alters no output, re-run with "
                                     f"--accept-model-change to keep the stored runs")
                diff = "; ".join(diffs)
                raise StudyError("--store", f"{store} holds {study_id!r} with other settings "
                                 f"({diff}): restore the study file to resume, or use a "
                                 f"new store for a new study")
    finally:
        opened.close()


def run_study(study: Study, *, store: str, executor=None, workers: int | None = None,
              progress: bool = True, log=None) -> dict:
    """Run every analysis of ``study``; return the results document (JSON-able dict).

    Parameters
    ----------
    study : Study
        Validated (see :func:`~multiexpect.cli.study.load_study`).
    store : str
        SQLite file keeping every run (created if missing; resumed if present).
    executor : None, "processes" or an Executor
    workers : int, optional
        Size of the ``"processes"`` pool.
    progress : bool
        Progress bar on a terminal.
    log : callable, optional
        ``log(line)`` for one-line status messages.
    """
    log = log or (lambda line: None)
    model = load_model(study)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    out_analyses = []
    totals = {"spent": 0, "new": 0, "reused": 0}
    run = study.run
    plan = _plan(study)
    shared = _shared_studies(study, plan)
    for step, (analysis, method) in enumerate(plan, start=1):
        label = f"[{step}/{len(plan)}] {analysis.kind} by {method} ({analysis.budget} runs)"
        log(label + " ...")
        tic = time.perf_counter()
        evaluate = build_evaluate(
            model, vectorized=study.model.get("vectorized", True), executor=executor,
            n_workers=workers if executor == "processes" else None, store=store,
            study_id=_study_id(study, analysis, method),
            settings=_store_settings(study, analysis, method), retries=run["retries"],
            progress=progress, budget=analysis.budget, chunk_size=run["chunk_size"],
            share_runs_with=shared.get(_study_id(study, analysis, method), ()))
        try:
            result = call_analysis(study, analysis, method, evaluate)
        finally:
            evaluate.close()
        seconds = time.perf_counter() - tic
        runs = {"spent": int(result.n_evaluations), "new": int(evaluate.n_new),
                "reused": int(evaluate.n_reused)}
        for key in totals:
            totals[key] += runs[key]
        log(f"{label}: done in {seconds:.1f} s, {runs['new']} new runs, "
            f"{runs['reused']} read from the store")
        record = {"method": method, "type": type(result).__name__, "result": result.to_dict(),
                  "rows": analysis_rows(result, study.level, analysis.kind),
                  "runs": runs, "seconds": round(seconds, 3)}
        if method == analysis.method:
            title = analysis.title
            if analysis.kind == "laws":
                title += ": " + statistic_label(analysis.spec, study.model["output_name"])
            out_analyses.append({"kind": analysis.kind, "title": title,
                                 "main": record, "baseline": None})
        else:
            out_analyses[-1]["baseline"] = record
    return {
        "format": RESULTS_FORMAT,
        "study": {"name": study.name, "description": study.description,
                  "file": study.path, "source": study.source},
        "settings": study.settings(),
        "level": study.level,
        "analyses": out_analyses,
        "reproducibility": {
            "seed": study.seed, "versions": versions(), "model_runs": totals,
            "store": os.path.abspath(store), "started": started,
            "seconds": round(time.perf_counter() - t0, 3),
            "executor": executor if isinstance(executor, str) or executor is None
            else type(executor).__name__,
            "workers": workers},
    }


def write_results(doc: dict, path: str) -> None:
    """Write the results document as JSON (NaN/inf as strings, like the result classes)."""
    from ..results import jsonable

    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(jsonable(doc), fh, indent=1)
    os.replace(tmp, path)

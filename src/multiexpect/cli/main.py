"""The ``multiexpect`` command: ``run``, ``report``, ``demo``.

A thin layer over the library (see ``docs/cli.md``). Exit codes: 0 success, 1 the model
failed during a study (the runs that succeeded are in the store: fix the model and re-run to
resume), 2 a usage error or a mistake in the study file, the store or the arguments, or the
store or a file could not be read or written (read-only, disk full, corrupt: one line on
standard error, no traceback); 130 interrupted (SIGINT, Ctrl-C) and 143 terminated
(SIGTERM): every finished run is stored, the workers are stopped, one line says so.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import threading
import warnings
from importlib import resources

from ..version import __version__

__all__ = ["main"]

EXIT_OK, EXIT_MODEL, EXIT_USAGE = 0, 1, 2
_PROG = "multiexpect"


class UsageError(Exception):
    """A command-line mistake: printed as one line, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a study stops like on Ctrl-C (the finished runs
    are stored, the workers stopped)."""


class _Termination:
    """SIGTERM handling: raise :class:`Terminated` in the main thread, and raise it again
    every :attr:`REPEAT` seconds until :func:`main` has caught it.

    Python drops an exception raised by a signal handler that happens to run inside an
    "exception ignored" context (an at-fork hook while a process pool starts, a ``__del__``):
    the study would then run on to its end. The repeat makes the request stick.
    """

    REPEAT = 2.0

    def __init__(self):
        self.caught = threading.Event()
        self.lock = threading.Lock()
        self.requested = False

    def handler(self, signum, frame):
        if self.caught.is_set():  # a repeat that arrived after main caught the first one
            return
        if not self.requested:
            self.requested = True
            threading.Thread(target=self._repeat, daemon=True,
                             name="multiexpect-sigterm").start()
        raise Terminated()

    def done(self):
        with self.lock:
            self.caught.set()

    def _repeat(self):
        while not self.caught.wait(self.REPEAT):
            with self.lock:  # never after done(): the default action would kill us
                if not self.caught.is_set():
                    os.kill(os.getpid(), signal.SIGTERM)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not a usage dump."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _int_at_least(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def _seed(text: str) -> int:
    return _int_at_least(text, 0, "an integer >= 0")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_PROG,
        description="Many expectations from one simulation budget: run a study file, write "
                    "its results and an HTML report.",
        epilog="Study file format: docs/cli.md. Exit codes: 0 ok, 1 the model failed "
               "(runs kept in the store), 2 usage, study-file or store error, 130/143 "
               "interrupted by SIGINT/SIGTERM (finished runs kept in the store).")
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run", help="run a study file (resumes from its store)",
        description="Run the study described by a TOML file. Every model run is kept in the "
                    "store (an SQLite file); re-running the same command resumes from it. "
                    "The results (estimates, standard errors, intervals, settings, versions) "
                    "are written as JSON next to the store: STORE.sqlite -> "
                    "STORE.results.json.")
    run.add_argument("study", metavar="STUDY.toml", help="the study file")
    run.add_argument("--store", metavar="PATH",
                     help="SQLite file of the runs (default: [run] store of the study, else "
                          "STUDY.sqlite in the current directory)")
    run.add_argument("--executor", metavar="processes|dask://HOST:PORT",
                     help="where the model runs (default: [run] executor, else in-process)")
    run.add_argument("--workers", type=_positive_int, metavar="N",
                     help="size of the 'processes' pool (default: the CPU count)")
    run.add_argument("--seed", type=_seed, metavar="S", help="override [study] seed")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--report", metavar="HTML", help="also write the HTML report here")
    run.add_argument("--accept-model-change", action="store_true",
                     help="keep the stored runs although the model's code changed since "
                          "(only for a change that alters no output)")

    report = sub.add_parser(
        "report", help="write the HTML report of a finished study",
        description="Write one self-contained HTML file (images and styles inline, nothing "
                    "fetched from the network) from a results file or its store.")
    report.add_argument("source", metavar="STORE_OR_RESULTS",
                        help="a results JSON file, or the store it sits next to")
    report.add_argument("-o", "--output", metavar="report.html",
                        help="output file (default: next to the results, .html)")

    demo = sub.add_parser(
        "demo", help="run the bundled cantilever-beam study and write its report",
        description="Run the bundled study (the cantilever beam: moments, exceedance "
                    "probabilities and Sobol' indices, with crude Monte Carlo baselines) "
                    "and write its store, results and HTML report to DIR.")
    demo.add_argument("--out", metavar="DIR", default="multiexpect-demo",
                      help="output folder (default: %(default)s)")
    demo.add_argument("--executor", metavar="processes|dask://HOST:PORT",
                      help="where the model runs (default: in-process)")
    demo.add_argument("--workers", type=_positive_int, metavar="N")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning raised while a study runs: one line on standard error."""
    _log(f"{_PROG}: warning: {' '.join(str(message).split())}")


def _default_store(study_path: str, study) -> str:
    if study.run.get("store"):
        store = study.run["store"]
        if not os.path.isabs(store):
            store = os.path.join(os.path.dirname(os.path.abspath(study_path)), store)
        return store
    stem = os.path.splitext(os.path.basename(study_path))[0]
    return os.path.abspath(stem + ".sqlite")


def _run(args, study_path: str, store: str | None = None) -> int:
    from .paths import check_output_path
    from .runner import (
        check_store,
        make_executor,
        results_path_for,
        run_study,
        write_results,
    )
    from .study import StudyError, check_executor_spec, load_study

    if args.executor is not None:
        try:
            check_executor_spec(args.executor, "--executor")
        except StudyError as exc:
            raise UsageError(str(exc)) from exc
    study = load_study(study_path, seed=getattr(args, "seed", None))
    study.accept_model_change = bool(getattr(args, "accept_model_change", False))
    given = store or args.store
    store = given or _default_store(study_path, study)
    # the option that set the store, for its errors: the flag, or the study's run.store
    option = "run.store" if not given and study.run.get("store") else "--store"
    html = getattr(args, "report", None)
    # checked before the study runs: an output that cannot be written would come too late
    check_output_path(store, option)
    check_output_path(results_path_for(store), f"{option} (its results file)")
    if html:
        check_output_path(html, "--report")
    executor_spec = args.executor or study.run["executor"]
    workers = args.workers or study.run["workers"]
    if workers is not None and executor_spec != "processes":
        raise UsageError("--workers applies to --executor processes only")
    check_store(study, store)
    executor, close = make_executor(executor_spec)
    try:
        _log(f"study {study.name!r}: {len(study.analyses)} analyses, store {store}")
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            doc = run_study(study, store=store, executor=executor, workers=workers,
                            progress=not args.no_progress and study.run["progress"], log=_log)
    finally:
        close()
    results = results_path_for(store)
    write_results(doc, results)
    _log(f"results: {results}")
    print(_summary(doc))
    if html:
        from .report import write_report

        write_report(doc, html)
        _log(f"report: {html}")
    return EXIT_OK


def _summary(doc: dict) -> str:
    from ..intervals import FEW_HITS, FEW_POINTS, FLAG_FEW_HITS, FLAG_FEW_POINTS, FLAG_NO_HIT
    from .quantities import result_from_dict

    marks = {FLAG_FEW_HITS: f"  ! fewer than {FEW_HITS:g} effective hits: not to be trusted",
             FLAG_FEW_POINTS: f"  ! fewer than {FEW_POINTS:g} effective points: not to be "
                              "trusted",
             FLAG_NO_HIT: "  (no hit: an upper bound)"}
    lines = []
    for analysis in doc["analyses"]:
        for rec in (analysis["main"], analysis["baseline"]):
            if rec is None:
                continue
            lines.append(f"{analysis['title']} ({rec['method']}, {rec['runs']['spent']} runs)")
            trust = getattr(result_from_dict(rec["result"]), "trust", ())
            for k, row in enumerate(rec["rows"]):
                se = float(row["stderr"])  # NaN (a quantile read off a curve): none
                flag = trust[k] if k < len(trust) else ""
                lines.append(f"  {row['name']:<28} {float(row['estimate']):>12.6g} "
                             + (f"± {se:.2g}  " if se == se else " " * 4)
                             + f"[{float(row['low']):.6g}, {float(row['high']):.6g}]"
                             + marks.get(flag, ""))
    return "\n".join(lines)


def _report(args) -> int:
    from .report import load_results, write_report

    doc, results_path = load_results(args.source)
    output = args.output or os.path.splitext(results_path)[0].removesuffix(".results") \
        + ".report.html"
    write_report(doc, output)
    _log(f"report: {output}")
    return EXIT_OK


def _demo(args) -> int:
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out: {out} exists and is not a folder")
    os.makedirs(out, exist_ok=True)
    source = resources.files("multiexpect").joinpath("cli/demo/cantilever.toml")
    study_path = os.path.join(out, "cantilever.toml")
    with open(study_path, "w", encoding="utf-8") as fh:
        fh.write(source.read_text(encoding="utf-8"))
    args.store, args.seed = None, None
    args.report = os.path.join(out, "report.html")
    return _run(args, study_path, store=os.path.join(out, "cantilever.sqlite"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``multiexpect`` command; returns the exit code."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    termination = _Termination()
    previous = signal.signal(signal.SIGTERM, termination.handler) if in_main_thread else None
    unraisable = sys.unraisablehook

    def quiet(info):  # a dropped Terminated is raised again: no traceback for it
        if not isinstance(info.exc_value, Terminated):
            unraisable(info)

    sys.unraisablehook = quiet
    try:
        return _main(argv)
    except Terminated:  # raised again while main was reporting the first one
        return 128 + signal.SIGTERM
    finally:
        termination.done()
        sys.unraisablehook = unraisable
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    from ..errors import ModelEvaluationError, MultiexpectError
    from .study import StudyError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if args.command == "run":
            return _run(args, args.study)
        if args.command == "report":
            return _report(args)
        return _demo(args)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    except (UsageError, StudyError) as exc:
        _log(f"{_PROG}: error: {exc}")
        return EXIT_USAGE
    except ModelEvaluationError as exc:
        _log(f"{_PROG}: model error: {' '.join(str(exc).split())}")
        return EXIT_MODEL
    # MultiexpectError: e.g. the store holds different settings; ValueError: a user mistake
    # found at run time (e.g. the model's outputs)
    except (MultiexpectError, ValueError) as exc:
        _log(f"{_PROG}: error: {' '.join(str(exc).split())}")
        return EXIT_USAGE
    except sqlite3.Error as exc:  # the store wraps its own; this is any other SQLite failure
        _log(f"{_PROG}: error: SQLite: {' '.join(str(exc).split())}")
        return EXIT_USAGE
    except OSError as exc:  # a file that cannot be read or written (full disk, read-only)
        _log(f"{_PROG}: error: {' '.join(str(exc).split())}")
        return EXIT_USAGE
    except Terminated:
        _log(f"{_PROG}: terminated (SIGTERM): every finished run is in the store; re-run the "
             f"same command to resume")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        _log(f"{_PROG}: interrupted: every finished run is in the store; re-run the same "
             f"command to resume")
        return 128 + signal.SIGINT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""External simulators: run a program once per point, never through a shell.

:class:`CommandModel` turns a command line into a model. For each point it makes a fresh
working directory, writes the inputs to a JSON file there, starts the program on an argument
list (no shell: nothing in the inputs, their names or the paths is ever interpreted) in a
session of its own, waits at most ``timeout`` seconds, and reads the outputs from a file the
program wrote (see :func:`read_outputs`). When the program ends, times out or the study is
interrupted, its whole process group is killed, so a wrapper script's solver does not outlive
it; a process-pool worker kills its programs when it is stopped or its parent dies (see
:mod:`~multiexpect.evaluation.executors`). No Python code runs between fork and exec (no
``preexec_fn``: safe in threads, e.g. on Dask workers). Only a bounded tail
of its standard error is kept (for the error message); its standard output is discarded. The
working directory is removed after a success and kept after a failure, for inspection.

It is picklable, so it runs under any executor (process pool, Dask, MPI); each point's
failure is reported on its own (see :meth:`CommandModel.run_points`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import ModelEvaluationError

__all__ = ["CommandModel", "kill_running_commands", "read_outputs"]

_KEEP = ("failed", "all", "none")
#: placeholders of the command line; no input may be named like one of them
RESERVED_NAMES = ("input", "output", "workdir")
#: bytes of standard error kept while the program runs; the message shows the last 500 chars
_TAIL_BYTES = 64 * 1024
_TAIL_CHARS = 500
#: the largest output file read (a few numbers are expected)
_MAX_OUTPUT_BYTES = 16 * 1024 * 1024

#: a ``{name}`` placeholder of the command line (not a shell's ``${name}``)
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_.-]*)\}")

# process groups of the programs running in this process (killed by kill_running_commands)
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def kill_running_commands() -> None:
    """Kill the process group of every program this process is running (used by a pool
    worker that is told to stop, or whose parent died).

    It may run in a signal handler that interrupted this very thread while it held the
    registry's lock, so the lock is awaited one second at most, then the set is read as is."""
    locked = _RUNNING_LOCK.acquire(timeout=1.0)
    try:
        groups = list(_RUNNING)
    finally:
        if locked:
            _RUNNING_LOCK.release()
    for pgid in groups:
        _kill_group(pgid)


def _kill_group(pgid: int) -> None:
    """SIGKILL to process group ``pgid`` (a run's session leader's pid); gone is fine."""
    killpg = getattr(os, "killpg", None)
    if killpg is None:  # pragma: no cover - Windows: no process groups; the run is killed
        return
    try:
        killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def read_outputs(text: str, expected: int | None = None, source: str = "the output file"
                 ) -> np.ndarray:
    """The numbers of an output file: a JSON list of numbers, or numbers separated by
    whitespace (spaces, tabs, newlines: one per line is fine).

    A comma is not a separator: ``10,397`` may be a decimal comma (10.397) or two numbers,
    and reading it either way could silently give a wrong result, so it is refused.

    Raises
    ------
    ValueError
        Empty, not numbers, or not exactly ``expected`` numbers (when given).
    """
    body = text.strip()
    if not body:
        raise ValueError(f"{source} is empty")
    if body.startswith("["):
        try:
            values = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} starts with '[' but is not a JSON list: {exc}") from None
        if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"{source} must be a JSON list of numbers, got {body[:60]!r}")
    else:
        values = []
        for token in body.split():
            try:
                values.append(float(token))
            except ValueError:
                raise ValueError(
                    f"{source}: {token[:40]!r} is not a number (write numbers separated by "
                    f"spaces or newlines, or a JSON list; a comma is neither a separator nor "
                    f"a decimal mark here)") from None
    y = np.array(values, dtype=float)
    if y.size == 0:
        raise ValueError(f"{source} holds no number")
    if expected is not None and y.size != expected:
        raise ValueError(f"{source} holds {y.size} numbers, {expected} expected")
    return y


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _keep_tail(stream, tail: bytearray) -> None:
    """Read ``stream`` to its end, keeping only its last :data:`_TAIL_BYTES` bytes."""
    try:
        while True:
            block = stream.read1(65536)
            if not block:
                break
            tail += block
            if len(tail) > 2 * _TAIL_BYTES:
                del tail[:-_TAIL_BYTES]
    except (OSError, ValueError):  # the pipe was closed under us
        pass


def _check_placeholders(argv, names: list[str]) -> None:
    """Every ``{name}`` in the command line is an input's name or a reserved placeholder;
    a ValueError naming ``argv`` otherwise (an unknown or misspelt one would reach the
    program as literal text, and the study would run on)."""
    known = set(names) | set(RESERVED_NAMES)
    for arg in argv:
        for found in _PLACEHOLDER.findall(str(arg)):
            if found not in known:
                raise ValueError(
                    f"'argv' uses the placeholder {{{found}}}, which is neither an input "
                    f"name ({', '.join(names)}) nor one of "
                    f"{', '.join('{' + r + '}' for r in RESERVED_NAMES)}")


class CommandModel:
    """A model that runs an external program per point.

    Parameters
    ----------
    argv : sequence of str
        The command as an argument list, e.g. ``["python3", "sim.py", "{input}",
        "{output}"]``. Placeholders, replaced in each argument in one pass (never parsed by
        a shell): ``{input}`` the input file, ``{output}`` the output file, ``{workdir}`` the
        working directory, and ``{<name>}`` the value of input ``<name>`` (``repr`` of a
        float, exact). The program runs in the per-point working directory, so relative
        paths are resolved here, against the current directory: the program when it contains
        a path separator (``./simulate``), and any other argument naming an existing file
        (``sim.py``). A program without a separator is looked up on ``PATH``.
    names : sequence of str, optional
        Input names (keys of the JSON input file); ``x0, x1, ...`` by default. ``input``,
        ``output`` and ``workdir`` are refused: ``{input}`` etc. would be ambiguous.
    input_file, output_file : str
        File names inside the working directory. The input file holds one JSON object
        ``{name: value}``; the program writes its outputs to the output file: numbers
        separated by whitespace (one per line is fine) or a JSON list (:func:`read_outputs`;
        a comma is not a separator).
    timeout : float, optional
        Seconds before the program (its whole process group) is killed and the point failed.
    workdir : str or os.PathLike, optional
        Parent of the per-point working directories (the system temporary directory by
        default); created if missing.
    keep : {"failed", "all", "none"}
        Which working directories to keep.
    env : mapping, optional
        Extra environment variables for the program.
    n_outputs : int, optional
        Numbers each point must write; by default the count the first points agree on (a
        point writing another count fails).

    Attributes
    ----------
    identity : str
        SHA-256 of what decides the outputs: the argument list as given, the names, the file
        names, ``env``, and the contents of every file the arguments name (the program or
        script). Part of :attr:`name`, hence of the default study id: two different programs,
        or an edited script, never share stored runs.

    Examples
    --------
    >>> model = CommandModel(["python3", "sim.py", "{input}", "{output}"],
    ...                      names=["E", "F"], timeout=600)  # doctest: +SKIP
    >>> me.expectations(model, law, budget=200, vectorized=True,
    ...                 executor="processes", store="study.sqlite")  # doctest: +SKIP
    """

    input_dim = None

    def __init__(self, argv: Sequence[str], *, names: Sequence[str] | None = None,
                 input_file: str = "inputs.json", output_file: str = "outputs.txt",
                 timeout: float | None = None, workdir=None, keep: str = "failed",
                 env=None, n_outputs: int | None = None):
        if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence) or not argv \
                or not all(isinstance(a, str) for a in argv):
            raise ValueError(
                "'argv' must be a non-empty list of str (the program and its arguments; "
                f"no shell is used), got {argv!r}"
            )
        if keep not in _KEEP:
            raise ValueError(f"'keep' must be one of {_KEEP}, got {keep!r}")
        if timeout is not None and not (
                isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                and 0 < timeout <= threading.TIMEOUT_MAX):
            raise ValueError(f"'timeout' must be a positive number of seconds, at most "
                             f"{threading.TIMEOUT_MAX:.3g}, got {timeout!r}")
        if n_outputs is not None and (isinstance(n_outputs, bool)
                                      or not isinstance(n_outputs, int) or n_outputs < 1):
            raise ValueError(f"'n_outputs' must be a positive int, got {n_outputs!r}")
        for label, fname in (("input_file", input_file), ("output_file", output_file)):
            if not isinstance(fname, str) or not fname or os.path.basename(fname) != fname:
                raise ValueError(f"'{label}' must be a plain file name, got {fname!r}")
        if names is not None:
            names = [str(n) for n in names]
            clash = sorted(set(names) & set(RESERVED_NAMES))
            if clash:
                raise ValueError(
                    f"'names': an input may not be named {clash[0]!r}, the name of the "
                    f"{{{clash[0]}}} placeholder ({', '.join(RESERVED_NAMES)} are reserved): "
                    f"rename the input")
            _check_placeholders(argv, names)
        if workdir is not None:
            workdir = os.path.abspath(os.fspath(workdir))
            if os.path.exists(workdir) and not os.path.isdir(workdir):
                raise ValueError(f"'workdir' must be a folder, but {workdir} is a file")
        self.argv, files = _resolve_paths(list(argv), (input_file, output_file))
        self.names = names
        if self.names is not None:
            self.input_dim = len(self.names)
        self.input_file = input_file
        self.output_file = output_file
        self.timeout = timeout
        self.workdir = workdir
        self.keep = keep
        self.env = {str(k): str(v) for k, v in env.items()} if env else None
        self.n_outputs = n_outputs
        self.program = os.path.basename(self.argv[0])
        described = {"argv": list(argv), "names": self.names, "env": self.env,
                     "input_file": input_file, "output_file": output_file,
                     "files": [[arg, digest] for arg, digest in files]}
        self.identity = hashlib.sha256(
            json.dumps(described, sort_keys=True).encode()).hexdigest()

    @property
    def name(self) -> str:
        """``command:<program>-<identity[:12]>`` (the default study id starts with it)."""
        return f"command:{self.program}-{self.identity[:12]}"

    def __repr__(self) -> str:
        return f"CommandModel({self.argv!r}, timeout={self.timeout!r})"

    def _names(self, d: int) -> list[str]:
        if self.names is None:
            return [f"x{i}" for i in range(d)]
        if len(self.names) != d:
            raise ValueError(f"CommandModel has {len(self.names)} input names, points have {d}")
        return self.names

    def _command(self, subs: dict[str, str]) -> list[str]:
        """The argument list with every placeholder replaced in one pass (a value is never
        scanned again, so a path or a value holding ``{x0}`` stays as it is)."""
        pattern = re.compile("|".join(re.escape(k) for k in sorted(subs, key=len,
                                                                    reverse=True)))
        return [pattern.sub(lambda m: subs[m.group(0)], arg) for arg in self.argv]

    def run_point(self, point: np.ndarray, n_outputs: int | None = None
                  ) -> tuple[np.ndarray | None, str, float]:
        """Run the program at one point: ``(outputs or None, error text, seconds)``.

        ``n_outputs`` (else the constructor's) is the number of outputs required."""
        names = self._names(point.size)
        values = {n: float(v) for n, v in zip(names, point)}
        expected = n_outputs if n_outputs is not None else self.n_outputs
        try:
            if self.workdir is not None:
                os.makedirs(self.workdir, exist_ok=True)
            wd = tempfile.mkdtemp(prefix="run-", dir=self.workdir)
        except OSError as exc:
            return None, f"cannot make a working directory in {self.workdir}: {exc}", 0.0
        inp = os.path.join(wd, self.input_file)
        outp = os.path.join(wd, self.output_file)
        start = time.perf_counter()
        error = ""
        y = None
        try:
            with open(inp, "w") as fh:
                json.dump(values, fh)
            subs = {"{input}": inp, "{output}": outp, "{workdir}": wd}
            subs.update({"{" + n + "}": repr(v) for n, v in values.items()})
            env = None if self.env is None else {**os.environ, **self.env}
            code, tail, timed_out = self._run(self._command(subs), wd, env)
            if timed_out:
                error = f"timed out after {self.timeout} s"
            elif code != 0:
                error = f"exit status {code}: {tail}"
            else:
                if os.path.getsize(outp) > _MAX_OUTPUT_BYTES:
                    raise ValueError(f"{self.output_file} is larger than "
                                     f"{_MAX_OUTPUT_BYTES} bytes")
                with open(outp) as fh:
                    y = read_outputs(fh.read(), expected, self.output_file)
        except (OSError, ValueError) as exc:
            error = str(exc) if isinstance(exc, ValueError) else \
                f"{type(exc).__name__}: {exc}"
            y = None
        seconds = time.perf_counter() - start
        if error:
            error = f"{error} (working directory kept: {wd})" if self.keep != "none" \
                else error
        if self.keep == "none" or (self.keep == "failed" and not error):
            shutil.rmtree(wd, ignore_errors=True)
        return y, error, seconds

    def _run(self, argv: list[str], wd: str, env) -> tuple[int, str, bool]:
        """Run ``argv`` in ``wd`` in a session of its own; ``(exit status, tail of standard
        error, timed out)``. The process group is killed when the program ends, times out,
        or this call is interrupted (e.g. KeyboardInterrupt)."""
        proc = subprocess.Popen(argv, cwd=wd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, shell=False)
        with _RUNNING_LOCK:
            _RUNNING.add(proc.pid)
        tail = bytearray()
        reader = threading.Thread(target=_keep_tail, args=(proc.stderr, tail), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # the group outlives its leader when the program left children behind
            _kill_group(proc.pid)
            if proc.poll() is None:  # without process groups (Windows)
                proc.kill()
            proc.wait()
            with _RUNNING_LOCK:
                _RUNNING.discard(proc.pid)
            reader.join(timeout=5.0)
            proc.stderr.close()
        text = bytes(tail).decode(errors="replace").strip()[-_TAIL_CHARS:]
        return proc.returncode, text, timed_out

    def run_points(self, x: np.ndarray, n_outputs: int | None = None):
        """Run every point; ``(y (n, m) NaN where failed, ok (n,), errors, seconds)``.

        The outputs must count ``n_outputs`` numbers (else the constructor's ``n_outputs``,
        else the count most points of ``x`` agree on); a point writing another count fails.
        """
        x = np.atleast_2d(np.asarray(x, dtype=float))
        expected = n_outputs if n_outputs is not None else self.n_outputs
        results = [self.run_point(p, expected) for p in x]
        widths = Counter(r[0].size for r in results if r[0] is not None)
        m = expected if expected is not None else \
            (widths.most_common(1)[0][0] if widths else 0)
        y = np.full((x.shape[0], m), np.nan)
        errors = []
        for i, (row, err, _) in enumerate(results):
            if row is not None and row.size == m:
                y[i] = row
            elif row is not None and not err:
                err = f"{self.output_file} holds {row.size} numbers, other points gave {m}"
            errors.append(err)
        ok = np.array([not e for e in errors], dtype=bool)
        return y, ok, errors, np.array([r[2] for r in results])

    def __call__(self, x) -> np.ndarray:
        """Outputs at ``x`` ((n, d)); raises :class:`~multiexpect.ModelEvaluationError` if a
        point failed (use it through ``expectations`` to keep the successes)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        y, ok, errors, _ = self.run_points(x)
        if not ok.all():
            first = int(np.flatnonzero(~ok)[0])
            raise ModelEvaluationError(
                f"the command failed at {int((~ok).sum())} of {x.shape[0]} points; first "
                f"failing input: {x[first].tolist()}: {errors[first]}",
                n_failed=int((~ok).sum()), first_input=x[first].copy(), message=errors[first])
        return y


def _resolve_paths(argv: list[str], own_files: tuple[str, str]
                   ) -> tuple[list[str], list[tuple[str, str]]]:
    """``argv`` with relative paths made absolute against the current directory, and
    ``(argument as given, SHA-256 of the file)`` for each argument naming an existing file.

    The program (first argument) is resolved when it holds a path separator; another
    argument when it names an existing file here (and holds no placeholder, nor is the
    input or output file's own name).
    """
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    out, files = [], []
    for i, arg in enumerate(argv):
        path = arg
        if "{" not in arg and arg and not os.path.isabs(arg):
            if (i == 0 and any(s in arg for s in seps)) or \
                    (i > 0 and arg not in own_files and os.path.isfile(arg)):
                path = os.path.abspath(arg)
        if "{" not in path and os.path.isabs(path) and os.path.isfile(path):
            try:
                files.append((arg, _file_digest(path)))
            except OSError:  # unreadable here (e.g. execute-only): known by its path only
                files.append((arg, ""))
        out.append(path)
    return out, files

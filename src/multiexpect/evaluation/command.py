"""External simulators: run a program once per point, never through a shell.

:class:`CommandModel` turns a command line into a model. For each point it makes a fresh
working directory, writes the inputs to a JSON file there, runs the program with
:func:`subprocess.run` on an argument list (no shell: nothing in the inputs, their names or
the paths is ever interpreted), waits at most ``timeout`` seconds, and reads the outputs
(whitespace- or comma-separated numbers) from a file the program wrote. The working
directory is removed after a success and kept after a failure, for inspection.

It is picklable, so it runs under any executor (process pool, Dask, MPI); each point's
failure is reported on its own (see :meth:`CommandModel.run_points`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence

import numpy as np

from ..errors import ModelEvaluationError

__all__ = ["CommandModel"]

_KEEP = ("failed", "all", "none")


class CommandModel:
    """A model that runs an external program per point.

    Parameters
    ----------
    argv : sequence of str
        The command as an argument list, e.g. ``["python3", "sim.py", "{input}",
        "{output}"]``. Placeholders, replaced in each argument (never parsed by a shell):
        ``{input}`` the input file, ``{output}`` the output file, ``{workdir}`` the working
        directory, and ``{<name>}`` the value of input ``<name>`` (``repr`` of a float, exact).
    names : sequence of str, optional
        Input names (keys of the JSON input file); ``x0, x1, ...`` by default.
    input_file, output_file : str
        File names inside the working directory. The input file holds one JSON object
        ``{name: value}``; the program writes its outputs (one or more numbers) to the output
        file.
    timeout : float, optional
        Seconds before the program is killed and the point failed.
    workdir : str or os.PathLike, optional
        Parent of the per-point working directories (the system temporary directory by
        default).
    keep : {"failed", "all", "none"}
        Which working directories to keep.
    env : mapping, optional
        Extra environment variables for the program.

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
                 env=None):
        if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence) or not argv \
                or not all(isinstance(a, str) for a in argv):
            raise ValueError(
                "'argv' must be a non-empty list of str (the program and its arguments; "
                f"no shell is used), got {argv!r}"
            )
        if keep not in _KEEP:
            raise ValueError(f"'keep' must be one of {_KEEP}, got {keep!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"'timeout' must be a positive number of seconds, got {timeout!r}")
        for label, fname in (("input_file", input_file), ("output_file", output_file)):
            if not isinstance(fname, str) or not fname or os.path.basename(fname) != fname:
                raise ValueError(f"'{label}' must be a plain file name, got {fname!r}")
        self.argv = list(argv)
        self.names = None if names is None else [str(n) for n in names]
        if self.names is not None:
            self.input_dim = len(self.names)
        self.input_file = input_file
        self.output_file = output_file
        self.timeout = timeout
        self.workdir = None if workdir is None else os.fspath(workdir)
        self.keep = keep
        self.env = dict(env) if env else None

    @property
    def name(self) -> str:
        return "command:" + os.path.basename(self.argv[-1] if len(self.argv) > 1
                                              else self.argv[0])

    def __repr__(self) -> str:
        return f"CommandModel({self.argv!r}, timeout={self.timeout!r})"

    def _names(self, d: int) -> list[str]:
        if self.names is None:
            return [f"x{i}" for i in range(d)]
        if len(self.names) != d:
            raise ValueError(f"CommandModel has {len(self.names)} input names, points have {d}")
        return self.names

    def run_point(self, point: np.ndarray) -> tuple[np.ndarray | None, str, float]:
        """Run the program at one point: ``(outputs or None, error text, seconds)``."""
        names = self._names(point.size)
        values = {n: float(v) for n, v in zip(names, point)}
        if self.workdir is not None:
            os.makedirs(self.workdir, exist_ok=True)
        wd = tempfile.mkdtemp(prefix="run-", dir=self.workdir)
        inp = os.path.join(wd, self.input_file)
        outp = os.path.join(wd, self.output_file)
        with open(inp, "w") as fh:
            json.dump(values, fh)
        subs = {"{input}": inp, "{output}": outp, "{workdir}": wd}
        subs.update({"{" + n + "}": repr(v) for n, v in values.items()})
        argv = []
        for arg in self.argv:
            for key, value in subs.items():
                arg = arg.replace(key, value)
            argv.append(arg)
        env = None if self.env is None else {**os.environ, **self.env}
        start = time.perf_counter()
        error = ""
        y = None
        try:
            proc = subprocess.run(argv, cwd=wd, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=self.timeout, check=False,
                                  shell=False)
            if proc.returncode != 0:
                tail = proc.stderr.decode(errors="replace").strip()[-500:]
                error = f"exit status {proc.returncode}: {tail}"
            else:
                with open(outp) as fh:
                    text = fh.read().replace(",", " ").split()
                y = np.array([float(t) for t in text], dtype=float)
                if y.size == 0:
                    error, y = f"empty output file {self.output_file}", None
        except subprocess.TimeoutExpired:
            error = f"timed out after {self.timeout} s"
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        if error:
            error = f"{error} (working directory kept: {wd})" if self.keep != "none" \
                else error
        if self.keep == "none" or (self.keep == "failed" and not error):
            shutil.rmtree(wd, ignore_errors=True)
        return y, error, seconds

    def run_points(self, x: np.ndarray):
        """Run every point; ``(y (n, m) NaN where failed, ok (n,), errors, seconds)``."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        results = [self.run_point(p) for p in x]
        widths = {r[0].size for r in results if r[0] is not None}
        m = max(widths) if widths else 0
        y = np.full((x.shape[0], m), np.nan)
        errors = []
        for i, (row, err, _) in enumerate(results):
            if row is not None and row.size == m:
                y[i] = row
            elif row is not None and not err:
                err = f"output has {row.size} numbers, other points gave {m}"
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

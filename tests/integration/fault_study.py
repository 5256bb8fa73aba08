"""The study of ``test_fault_injection.py``, and a launcher that forks it on demand.

``python fault_study.py`` imports the library once, then reads commands on standard input,
one JSON object per line, and answers each with one JSON line:

* ``{"op": "run", "args": {...}, "out": PATH}``: fork a child, in a process group of its
  own, that runs :func:`study` with ``args`` and writes its result as JSON to ``PATH``;
  answers ``{"pid": PID}`` at once (the test then kills the child when it likes);
* ``{"op": "wait", "pid": PID}``: reap the child; answers ``{"status": S}`` (the exit code,
  or minus the signal that killed it).

Forking from an interpreter that has already imported numpy, scipy and multiexpect starts a
study in milliseconds instead of seconds, so the test can kill and resume many times.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback

import numpy as np
from scipy import stats

import multiexpect as me


class Model:
    """(n, 4) -> (n, 3), ``seconds`` per point; appends the SHA-1 of each point's bytes to
    ``log`` (one write per call) before running it."""

    def __init__(self, seconds: float, log: str | None):
        self.seconds = seconds
        self.log = log

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.log:
            with open(self.log, "a") as fh:
                fh.write("".join(hashlib.sha1(row.tobytes()).hexdigest() + "\n" for row in x))
        if self.seconds:
            time.sleep(self.seconds * len(x))
        return np.column_stack([x[:, 0] ** 2, np.exp(0.5 * x[:, 1]), x[:, 2] * x[:, 3] + 1.0])


def study(*, budget: int, seconds: float = 0.0, store: str | None = None,
          executor: str | None = None, log: str | None = None, seed: int = 11) -> dict:
    """Run the study; the exact estimates and standard errors (float hex)."""
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1), stats.uniform(0, 2), stats.gumbel_r()])
    res = me.expectations(Model(seconds, log), law, budget=budget, rng=seed, store=store,
                          study_id=None if store is None else "fault", executor=executor,
                          n_workers=2 if executor == "processes" else None)
    return {"estimate": [float(v).hex() for v in res.estimate],
            "stderr": [float(v).hex() for v in res.stderr],
            "n_evaluations": int(res.n_evaluations)}


def point_hash(row: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(row, dtype=np.float64).tobytes()).hexdigest()


def _child(args: dict, out: str) -> None:
    os.setpgid(0, 0)
    try:
        result = study(**args)
        with open(out + ".tmp", "w") as fh:
            json.dump(result, fh)
        os.replace(out + ".tmp", out)
        code = 0
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "run":
            pid = os.fork()
            if pid == 0:
                _child(command["args"], command["out"])
            try:  # also here, so that the group exists as soon as the pid is known
                os.setpgid(pid, pid)
            except OSError:
                pass
            answer = {"pid": pid}
        else:
            _, status = os.waitpid(command["pid"], 0)
            answer = {"status": os.waitstatus_to_exitcode(status)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()

"""The engine's own cost: wall time of aISCV beside crude MC on cheap models, in one process.

    python benchmarks/engine_cost.py                  # every case
    python benchmarks/engine_cost.py --case laws100   # one case
    python benchmarks/engine_cost.py --profile gauss  # cProfile of one aISCV run
    python benchmarks/engine_cost.py --case laws100 --against /path/to/other/src --rounds 8
    python benchmarks/engine_cost.py --case gauss --against /path/to/other/src --sampling rqmc

Cases (the goals of issue 14 in brackets):

gauss
    Gaussian moments ``x^(2j)``, ``j = 1..10``, one N(0, 1) input, budget 2·10^4
    [aISCV <= 5x crude MC's wall time].
laws100
    the cantilever beam under its 100 laws, budget 2·10^4, absolute weights [<= 0.5 s a run].
big
    ``exp(0.1 x A)``, d = 10, J = 100 outputs, budget 10^6 (``benchmarks/scale.py``'s model)
    [<= 15 s beside the model's time].

Times (wall and process CPU: on a shared machine the CPU time is the steadier figure) are
the medians of ``--reps`` runs (seeds 1, 2, ...); the model's own time is measured by
wrapping it.

``--against SRC`` compares two source trees in one process: the ``multiexpect`` package
imported here and the one under ``SRC`` are copied under two names, imported side by side
and run in turn, seed by seed (seeds 1-3, 1 for ``big``), the order swapped every round, so
that both meet the same load; it prints each tree's median process CPU time per run and
the median of the paired ratios (this tree / the other). ``--sampling`` sets aISCV's
``sampling`` (its default, ``"auto"``, when omitted); crude MC stays i.i.d.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

import multiexpect as me


class Timed:
    """A vectorised model that adds up its own wall time."""

    def __init__(self, model):
        self.model, self.seconds = model, 0.0

    def __call__(self, x):
        start = time.perf_counter()
        out = self.model(x)
        self.seconds += time.perf_counter() - start
        return out


def _gauss(pkg):
    j = np.arange(1, 11)
    return (lambda x: x[:, [0]] ** (2 * j)), pkg.Law([stats.norm(0, 1)]), 20_000, {}


def _laws100(pkg):
    functions = importlib.import_module(pkg.__name__ + ".testfunctions")
    laws, _ = functions.cantilever_laws()
    return functions.cantilever_beam, laws, 20_000, {"weights": "absolute"}


def _big(pkg):
    a = np.random.default_rng(0).normal(size=(10, 100))
    return (lambda x: np.exp(0.1 * (x @ a))), pkg.Law([stats.norm()] * 10), 10**6, {}


CASES = {"gauss": _gauss, "laws100": _laws100, "big": _big}


def _sampling(sampling: str | None) -> dict:
    """aISCV's ``sampling`` keyword from ``--sampling`` (none: the library's default)."""
    return {"sampling": sampling} if sampling else {}


def measure(name: str, reps: int, sampling: str | None = None) -> dict:
    model, law, budget, kwargs = CASES[name](me)
    row = {"case": name, "budget": budget}
    for method in ("mc", "aiscv"):
        times, cpu, model_times = [], [], []
        for seed in range(1, reps + 1):
            timed = Timed(model)
            start, start_cpu = time.perf_counter(), time.process_time()
            extra = _sampling(sampling) if method == "aiscv" else {}
            me.expectations(timed, law, budget=budget, method=method, rng=seed, **kwargs,
                            **extra)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            model_times.append(timed.seconds)
        row[method] = float(np.median(times))
        row[method + "_cpu"] = float(np.median(cpu))
        row[method + "_model"] = float(np.median(model_times))
    row["ratio"] = row["aiscv"] / row["mc"]
    row["cpu_ratio"] = row["aiscv_cpu"] / row["mc_cpu"]
    return row


def against(name: str, other_src: str, rounds: int, sampling: str | None = None) -> None:
    """The A/B comparison of ``--against`` (module docstring)."""
    trees = {"this": Path(me.__file__).parent, "other": Path(other_src) / "multiexpect"}
    root = Path(tempfile.mkdtemp(prefix="engine_cost_"))
    try:
        for label, tree in trees.items():
            shutil.copytree(tree, root / f"mx_{label}",
                            ignore=shutil.ignore_patterns("__pycache__"))
        sys.path.insert(0, str(root))
        studies = {}
        for label in trees:  # each study built by its own package (its Law)
            pkg = importlib.import_module(f"mx_{label}")
            studies[label] = (pkg, *CASES[name](pkg))
        seeds = [1] if name == "big" else [1, 2, 3]

        def run(label: str, seed: int) -> float:
            pkg, model, law, budget, kwargs = studies[label]
            start = time.process_time()
            pkg.expectations(model, law, budget=budget, rng=seed, **kwargs, **_sampling(sampling))
            return time.process_time() - start

        if name != "big":
            for label in trees:  # warm both (imports, first-call set-up)
                run(label, 99)
        cpu: dict = {label: [] for label in trees}
        for r in range(rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for seed in seeds:
                for label in order:
                    cpu[label].append(run(label, seed))
        this, other = np.array(cpu["this"]), np.array(cpu["other"])
        print(f"{name}: {this.size} runs each, CPU s a run, median: this tree "
              f"{np.median(this):.4f}, {other_src} {np.median(other):.4f}; median of the "
              f"paired ratios this / other {np.median(this / other):.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", choices=sorted(CASES))
    parser.add_argument("--against", metavar="SRC",
                        help="another source tree (the directory holding its multiexpect)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of --against")
    parser.add_argument("--sampling", choices=("auto", "mc", "rqmc"),
                        help="aISCV's sampling (default: the library's default)")
    args = parser.parse_args()
    if args.against:
        for name in args.case or list(CASES):
            against(name, args.against, args.rounds, args.sampling)
        return
    if args.profile:
        model, law, budget, kwargs = CASES[args.profile](me)
        cProfile.runctx("me.expectations(model, law, budget=budget, rng=1, **kwargs)",
                        globals(), {"me": me, "model": model, "law": law, "budget": budget,
                                    "kwargs": kwargs}, "/tmp/engine_cost.prof")
        pstats.Stats("/tmp/engine_cost.prof").sort_stats("cumulative").print_stats(30)
        return
    print(f"{'case':8s} {'budget':>8s} {'mc s':>8s} {'cpu':>8s} {'(model)':>8s} "
          f"{'aiscv s':>8s} {'cpu':>8s} {'(model)':>8s} {'ratio':>6s} {'cpu':>6s}")
    for name in args.case or list(CASES):
        r = measure(name, args.reps, args.sampling)
        print(f"{r['case']:8s} {r['budget']:8d} {r['mc']:8.3f} {r['mc_cpu']:8.3f} "
              f"{r['mc_model']:8.3f} {r['aiscv']:8.3f} {r['aiscv_cpu']:8.3f} "
              f"{r['aiscv_model']:8.3f} {r['ratio']:6.1f} {r['cpu_ratio']:6.1f}")


if __name__ == "__main__":
    main()

"""The flood's moments with a 1e-3 event: the split route, its edge probe, the supports' bounds.

One study per seed, the defaults (``sampling="auto"``), budget 10 000: ``log H``,
``(log H)^2``, ``sqrt H`` and ``1{H > 7.646}`` of the flood's water height
(``tests/helpers.py:flood_moments_and_event``), infinite at ``K_s = 0``, the lower bound
of its truncated normal law. Reports the studies that stopped with an error, the routes,
and per quantity over the seeds of each route: coverage of the 95% intervals, the bias
over the standard error of the mean estimate (the spread of the estimates over
``sqrt(seeds)``), MSE, mean reported ``se^2`` over the estimates' variance.

The reference is crude RQMC of the law, 16 scrambled nets of 2^20 points (28 s), kept in
``flood_event_reference.json`` (``--make-reference`` rebuilds it).

    cd benchmarks && python flood_event.py --reps 300 --workers 2
"""

from __future__ import annotations

import _one_blas_thread  # noqa: F401  (before numpy)

# isort: split
import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import multiexpect as me
from multiexpect.testproblems.sensitivity import problem

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.helpers import flood_moments_and_event  # noqa: E402

REFERENCE = HERE / "flood_event_reference.json"
NAMES = ("log H", "(log H)^2", "sqrt H", "H > 7.646")


def make_reference() -> dict:
    res = me.expectations(flood_moments_and_event, problem("flood").law, budget=16 * 2**20,
                          method="mc", sampling="rqmc", replicates=16, rng=12345)
    ref = {"value": res.estimate.tolist(), "se": res.stderr.tolist(),
           "method": "crude RQMC, 16 scrambled Sobol' nets of 2^20 points, rng 12345"}
    REFERENCE.write_text(json.dumps(ref, indent=1) + "\n")
    return ref


def one(seed: int) -> dict:
    try:
        res = me.expectations(flood_moments_and_event, problem("flood").law, budget=10_000,
                              rng=seed)
    except Exception as exc:  # counted and reported
        return {"seed": seed, "error": f"{type(exc).__name__}: {str(exc)[:160]}"}
    low, high = res.confidence_interval(0.95)
    diag = res.diagnostics
    return {"seed": seed, "route": diag.get("route"), "estimate": res.estimate.tolist(),
            "stderr": res.stderr.tolist(), "low": low.tolist(), "high": high.tolist(),
            "law_quantities": diag.get("law_quantities"),
            "singular": (diag.get("edge_probe") or {}).get("singular"),
            "runs": int(res.n_evaluations), "not_run": diag.get("points_not_run")}


def report(records: list, truth: np.ndarray) -> None:
    failed = [r for r in records if "error" in r]
    print(f"{len(failed)} of {len(records)} studies stopped with an error"
          + (f", e.g. seed {failed[0]['seed']}: {failed[0]['error']}" if failed else ""))
    done = [r for r in records if "error" not in r]
    routes = sorted({r["route"] for r in done})
    for route in routes:
        rs = [r for r in done if r["route"] == route]
        est = np.array([r["estimate"] for r in rs])
        se = np.array([r["stderr"] for r in rs])
        low, high = np.array([r["low"] for r in rs]), np.array([r["high"] for r in rs])
        cover = np.mean((low <= truth) & (truth <= high), axis=0)
        bias = (est - truth).mean(axis=0) / (est.std(axis=0, ddof=1) / np.sqrt(len(rs)))
        print(f"route {route}: {len(rs)} seeds, {sum(r['not_run'] > 0 for r in rs)} with "
              f"points not run")
        for j, name in enumerate(NAMES):
            print(f"  {name:10s} coverage {cover[j]:.3f}  bias {bias[j]:+.2f} s.e.  "
                  f"MSE {np.mean((est[:, j] - truth[j])**2):.3g}  "
                  f"se2/Var {np.mean(se[:, j]**2) / est[:, j].var():.2f}")
    probed = [r for r in done if r["singular"] is not None]
    if probed:
        kinds = {}
        for r in probed:
            key = f"nets {r['law_quantities']}, singular {r['singular']}"
            kinds[key] = kinds.get(key, 0) + 1
        print("split by the probe:", kinds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--make-reference", action="store_true")
    parser.add_argument("--json", help="write the records here")
    args = parser.parse_args(argv)
    ref = make_reference() if args.make_reference or not REFERENCE.exists() else \
        json.loads(REFERENCE.read_text())
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        records = list(pool.map(one, range(args.reps)))
    report(records, np.array(ref["value"]))
    print(f"{time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(records) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

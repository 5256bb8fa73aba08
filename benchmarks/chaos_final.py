"""The chaos control of aISCV's RQMC final stage on the 100-law beam: error, honesty, tails.

For each setting (the default, ``surrogate="chaos"``, ...) over the no-regret seeds of
``cantilever_100`` (20 000 runs, weights 1): the summed variance of the estimates over the
repetitions, the summed mean reported ``se²`` and their ratio, the coverage of the 95%
intervals against the RQMC reference (``no_regret_reference.json``), the share of
``|error / se| > 4`` (about 0.5% for Student's t on 7 degrees of freedom: more means
heavy-tailed replicates), the largest ``|bias| / s.e.`` and the seconds a study takes.

    python benchmarks/chaos_final.py --reps 100
    python benchmarks/chaos_final.py --reps 60 --settings chaos
"""

from __future__ import annotations

import argparse
import time
from multiprocessing import Pool

import numpy as np

import multiexpect as me
import no_regret as nr

SETTINGS = {"default": {}, "chaos": {"surrogate": "chaos"}}


def _one(args):
    setting, rep = args
    model, laws, _, _, _ = nr.BY_NAME["cantilever_100"].setup()
    t0 = time.perf_counter()
    res = me.expectations(model, laws, budget=20_000, weights="absolute", method="aiscv",
                          rng=nr._aiscv_seed(rep), **SETTINGS[setting])
    low, high = res.confidence_interval()
    return res.estimate, res.stderr, low, high, time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--settings", default="default,chaos")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    _, _, truth, _, _ = nr.BY_NAME["cantilever_100"].setup()
    print(f"{'setting':8s} {'sum Var':>9s} {'sum se2':>9s} {'se2/Var':>7s} {'cover':>6s} "
          f"{'|z|>4':>6s} {'|b|/se':>6s} {'s/study':>7s}")
    for setting in args.settings.split(","):
        with Pool(args.processes) as pool:
            out = pool.map(_one, [(setting, r) for r in range(args.reps)], chunksize=1)
        est, se, low, high, secs = (np.array([o[k] for o in out]) for k in range(5))
        var = est.var(axis=0, ddof=1)
        cover = np.mean((low <= truth) & (truth <= high))
        tails = np.mean(np.abs((est - truth) / se) > 4)
        bias = np.max(np.abs(est.mean(axis=0) - truth) / np.sqrt(var / args.reps))
        print(f"{setting:8s} {var.sum():9.3g} {(se**2).mean(axis=0).sum():9.3g} "
              f"{(se**2).mean(axis=0).sum() / var.sum():7.3f} {cover:6.3f} {tails:6.3f} "
              f"{bias:6.2f} {secs.mean():7.2f}", flush=True)


if __name__ == "__main__":
    main()

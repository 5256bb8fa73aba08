"""Case A of ``tests/statistical/test_unbiased.py`` under aISCV's default sampling: the
coverage of the test's normal intervals, the mean ``se²`` over the variance across seeds,
the bias's z-scores, and how many seeds gave each standard error of the event (the tied
replicates show as one value). Runs the test's own ``runs_a("aiscv", 400, 1000)``.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/unbiased_case_a.py

(the test's two worker processes take one BLAS thread each).
"""

import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.statistical import test_unbiased as case


def main():
    runs = case.runs_a("aiscv", 400, 1000)
    print("coverage", np.round(runs.coverage, 4), "band", case.coverage_band(runs.reps))
    print("se2/Var", np.round(np.mean(runs.stderr**2, axis=0) / runs.variance, 3))
    print("z", np.round(runs.z_scores, 2))
    print("rms se", np.sqrt(np.mean(runs.stderr**2, axis=0)), "sd", np.sqrt(runs.variance))
    print("runs", np.unique(runs.n_evaluations))
    if np.all(runs.n_evaluations == 960):  # every run on the law route: 15 nets, t on 14
        half = stats.t.ppf(0.975, 14) * runs.stderr
        inside = np.abs(runs.estimate - runs.truth) <= half
        print("coverage of the results' Student-t intervals", np.round(inside.mean(axis=0), 4))
    values, counts = np.unique(np.round(runs.stderr[:, 2], 5), return_counts=True)
    print("event se: seeds per value", dict(zip(values.tolist(), counts.tolist())))


if __name__ == "__main__":
    main()

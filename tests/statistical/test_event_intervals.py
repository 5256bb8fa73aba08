"""Coverage of event-probability intervals over repetitions, where hits are few.

``P(x_1 + ... + x_4 > 7) = Φ(-3.5) = 2.3e-4`` with 3000 runs of aISCV: about half the runs
see no hit and most of the others a handful. A correct 95% interval covers in 95% of the
runs; with ``R = 100`` fixed seeds the observed coverage has s.d. 0.022, so the floor
``0.95 - 3 * 0.022 = 0.885`` fails a correct interval with probability ~0.002. The normal
interval ``p̂ ± 1.96 se`` (zero width without a hit) covers in about half the runs.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect.intervals import normal_interval

REPS = 100
BETA = 3.5
LAW = me.Law([stats.norm()] * 4)
TRUTH = float(stats.norm.sf(BETA))


def _event(x):
    return (x.sum(axis=1) / 2.0 > BETA).astype(float)


def test_few_hit_event_intervals_cover_over_repetitions():
    covered, normal_covered, widths = [], [], []
    for seed in range(REPS):
        res = me.expectations(_event, LAW, budget=3000, rng=seed)
        low, high = res.confidence_interval(0.95)
        covered.append(low[0] <= TRUTH <= high[0])
        widths.append(high[0] - low[0])
        n_low, n_high = normal_interval(res.estimate, res.stderr, 0.95)
        normal_covered.append(n_low[0] <= TRUTH <= n_high[0])
    floor = 0.95 - 3.0 * np.sqrt(0.95 * 0.05 / REPS)
    assert np.mean(covered) >= floor
    assert min(widths) > 0.0
    assert np.mean(normal_covered) < floor  # what the interval fixes

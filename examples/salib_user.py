"""A SALib user: a problem dict in, Sobol' indices out under SALib's keys.

The Ishigami function with SALib's usual problem dict. ``Law.from_salib`` reads the dict
(``names``, ``bounds``, ``dists``), ``multiexpect.sobol_indices`` estimates first- and
total-order indices from one budget of runs, and ``to_salib()`` gives the dict of
``SALib.analyze.sobol.analyze`` (``S1``, ``S1_conf``, ``ST``, ``ST_conf``). For comparison,
SALib's own Saltelli design and analysis with about the same number of model runs.

Array layouts: points are (n, d) here and in SALib; ``scipy.stats.sobol_indices`` hands the
function (d, n) arrays.

Run: ``python examples/salib_user.py``
"""

import numpy as np
from SALib.analyze import sobol as salib_sobol
from SALib.sample import sobol as salib_sample

import multiexpect as me
from multiexpect.testfunctions import ishigami, ishigami_indices

problem = {
    "num_vars": 3,
    "names": ["x1", "x2", "x3"],
    "bounds": [[-np.pi, np.pi]] * 3,
    "dists": ["unif", "unif", "unif"],
}


def main() -> None:
    law = me.Law.from_salib(problem)
    print("law:", law)
    res = me.sobol_indices(ishigami, law, budget=10_000, rng=7)
    print(res.summary())
    ours = res.to_salib()

    # SALib alone: Saltelli sampling with N (d + 2) = 2048 * 5 = 10240 runs (first and total)
    x = salib_sample.sample(problem, 2048, calc_second_order=False, seed=7)
    y = ishigami(x)
    theirs = salib_sobol.analyze(problem, y, calc_second_order=False, seed=7)

    first, total = ishigami_indices()
    print(f"\n{'':4} {'exact S1':>9} {'multiexpect':>18} {'SALib':>18}")
    for i, name in enumerate(problem["names"]):
        print(f"{name:4} {first[i]:9.4f} {ours['S1'][i]:9.4f} ± {ours['S1_conf'][i]:.4f}"
              f" {theirs['S1'][i]:9.4f} ± {theirs['S1_conf'][i]:.4f}")
    print(f"\n{'':4} {'exact ST':>9} {'multiexpect':>18} {'SALib':>18}")
    for i, name in enumerate(problem["names"]):
        print(f"{name:4} {total[i]:9.4f} {ours['ST'][i]:9.4f} ± {ours['ST_conf'][i]:.4f}"
              f" {theirs['ST'][i]:9.4f} ± {theirs['ST_conf'][i]:.4f}")
    print(f"\nmodel runs: multiexpect {res.n_evaluations}, SALib {len(y)}")
    print("(± is the 95% half-width; SALib's comes from a bootstrap, ours from the delta "
          "method)")


if __name__ == "__main__":
    main()

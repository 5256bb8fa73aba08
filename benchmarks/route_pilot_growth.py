"""Offline screen: would more pilot nets let ``sampling="auto"`` take a larger law margin?

``E_law`` rests on the spread of ``R_0 = 2`` pilot nets (one degree of freedom per
quantity), so ``E_ad / E_law`` spans three decades over the seeds of one case, and a margin
``K`` large enough for the cases where adaptation wins sends some seeds of ``x_a + x_b^2``
(where the law wins 14x) to adaptation. The screened rule: on the two-net pilot, go
adaptive when ``E_ad / E_law < LO``; otherwise grow the pilot to ``R_g`` nets of the law
(the law route's next replicates), re-read ``E_law`` on them and take the law route when
``K E_law <= E_ad`` (or ``E_iid <= ADAPTIVE_GAIN E_ad``, as today). It is scored on the
records of ``route_margin.py --json`` (each seed run with each route forced on a pilot of
two nets, the library's growth switched off, the law route's ``R`` replicate estimates
kept): a seed that grows its pilot and then adapts takes its forced adaptive run on a
pilot of ``R_g`` nets from ``--grown`` (``route_margin.py --pilot-nets R_g``, the cap
raised by the extra nets, as the library does), or without it its two-net run times
``--penalty`` (an assumption). The library's rule since growpilot is ``3:10:4``.

    cd benchmarks
    python route_margin.py --reps 100 --json /tmp/route_margin.json --cases \
        x+y2_lognormal,exp_linear_d2,prod_lognormal_d5,power_singular,smooth_d15,flood_log,\
mixed_marginals,d50_normal,d50_lognormal,ishigami_moments,oscillating
    python route_margin.py --reps 100 --pilot-nets 4 --json /tmp/route_margin_p4.json \
        --cases x+y2_lognormal,exp_linear_d2,prod_lognormal_d5,power_singular,smooth_d15,flood_log
    python route_pilot_growth.py /tmp/route_margin.json --grown /tmp/route_margin_p4.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from multiexpect.engine.law_first import ADAPTIVE_GAIN, RQMC_FINAL_LAW_MARGIN


def score(records: list, case: str, low: float, margin: float, nets: int,
          penalty: float, grown: list | None = None) -> tuple[float, float, int, int]:
    """Weighted MSE, coverage, seeds on the law route and seeds that grew their pilot.
    ``grown``: the records of ``route_margin.py --pilot-nets R_g`` (the same seeds), whose
    forced adaptive runs and pilot numbers replace the penalty and the grown ``E_law``."""
    law = {r["rep"]: r for r in records if r["case"] == case and r["force"] == "law"}
    ad = {r["rep"]: r for r in records if r["case"] == case and r["force"] == "adaptive"}
    after = {} if grown is None else {r["rep"]: r for r in grown
                                      if r["case"] == case and r["force"] == "adaptive"}
    errors, covered, on_law, n_grown = [], [], 0, 0
    for rep in sorted(law):
        first, other = law[rep], ad[rep]
        grew = False
        if first["pilot"] is None:  # the event or tail guard decided: its own route
            pick = first["law_route"]
        else:
            law_error, adaptive_error, iid_error = first["pilot"]
            if adaptive_error < low * law_error:
                pick = False
            elif nets <= 2:
                pick = margin * law_error <= adaptive_error
            elif rep in after and after[rep]["pilot"] is not None:
                grew = True
                law_error, adaptive_error, iid_error = after[rep]["pilot"]
                pick = margin * law_error <= adaptive_error
                other = after[rep]
            else:
                grew = True
                values = np.array(first["replicate_values"])
                w = np.array(first["weights"])
                grown_error = float(w @ values[:nets].var(axis=0, ddof=1)) / values.shape[0]
                pick = margin * grown_error <= adaptive_error
            pick = pick or iid_error <= ADAPTIVE_GAIN * adaptive_error
        n_grown += grew
        on_law += pick
        chosen = first if pick else other
        charged = penalty if grew and not pick and rep not in after else 1.0
        errors.append(chosen["error"] * charged)
        covered.append(chosen["coverage"])
    return float(np.mean(errors)), float(np.mean(covered)), on_law, n_grown


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("records")
    parser.add_argument("--rules", default="1:10:4,1:15:4,1:20:4,1:10:6,1:15:6,1:20:6",
                        help="LO:K:R_g, comma-separated")
    parser.add_argument("--penalty", type=float, default=1.5)
    parser.add_argument("--grown", help="records of route_margin.py --pilot-nets R_g: the "
                        "grown seeds' adaptive runs, measured (then every rule's R_g is it)")
    args = parser.parse_args(argv)
    records = json.loads(open(args.records).read())
    grown = None if args.grown is None else json.loads(open(args.grown).read())
    cases = list(dict.fromkeys(r["case"] for r in records))
    rules = [tuple(float(v) for v in rule.split(":")) for rule in args.rules.split(",")]
    print(f"per case: today (K = {RQMC_FINAL_LAW_MARGIN:g}, two nets) MSE / coverage / seeds "
          f"on the law; then per rule LO:K:R_g MSE over today's / coverage / law / grown")
    for case in cases:
        base = score(records, case, RQMC_FINAL_LAW_MARGIN, RQMC_FINAL_LAW_MARGIN, 2, 1.0)
        line = f"{case:18s} {base[0]:.3g} / {base[1]:.2f} / {base[2]}  |"
        for low, margin, nets in rules:
            mse, cov, on_law, seeds = score(records, case, low, margin, int(nets),
                                            args.penalty, grown)
            line += (f" {low:g}:{margin:g}:{nets:g} {mse / base[0]:.2f}x / {cov:.2f} / "
                     f"{on_law} / {seeds} |")
        print(line)


if __name__ == "__main__":
    main()

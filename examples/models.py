"""Tiny models for the example study files (importable because the study's folder is put on
``sys.path`` by ``multiexpect run``).

Each takes an ``(n, d)`` array of inputs (columns in the order of the study's ``[[inputs]]``)
and returns ``(n,)`` outputs.
"""

import numpy as np


def stress_margin(x: np.ndarray) -> np.ndarray:
    """Margin ``R - S`` of a bar: resistance ``R = f_y A`` minus the load effect ``S = P``.

    Inputs ``(f_y, A, P)``: yield strength (MPa), section (mm^2), load (N). Failure is
    ``R - S < 0``; the examples ask for ``P(-(R - S) > 0)`` through ``output_name``.
    """
    x = np.asarray(x, dtype=float)
    fy, area, load = x.T
    return fy * area - load


def load_effect(x: np.ndarray) -> np.ndarray:
    """``S - R``: positive when the bar fails (inputs as :func:`stress_margin`)."""
    return -stress_margin(x)

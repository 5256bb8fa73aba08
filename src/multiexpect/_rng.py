"""Normalising the ``rng`` argument into a Generator and a study's root seed."""

from __future__ import annotations

import numbers

import numpy as np

from .batch_keys import generator as batch_generator  # keys and their streams: batch_keys

__all__ = ["batch_generator", "check_rng", "root_seed"]


def check_rng(rng) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from ``None``, an int seed or a Generator.

    Raises
    ------
    ValueError
        If ``rng`` is anything else (a legacy ``RandomState`` included).
    """
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        if rng is not None and int(rng) < 0:
            raise ValueError(f"'rng' must be a non-negative int seed, got {rng}")
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise ValueError(
        f"'rng' must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}"
    )


def root_seed(rng) -> int:
    """Draw the study's root seed: every batch generator derives from it.

    An int seed is used as is (so a study is identified by its seed); a Generator gives one
    draw, so passing the same Generator state twice gives the same study.
    """
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
        return int(rng)
    return int(check_rng(rng).integers(0, 2**63 - 1))

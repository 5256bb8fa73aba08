"""Outputs of extreme magnitude, scaled by a power of two so their variances stay finite.

A column of outputs near ``1e160`` has squares beyond the largest double (its variance is
``inf`` or NaN); one near ``1e-200`` has squares below the smallest (its variance is 0: a
zero-width interval from a sample). :class:`OutputScale` divides each such column by
``2^e_k``, with ``e_k`` the binary exponent of its largest magnitude in the first batch, so
the engine and the baselines see values of order 1, and multiplies the estimates and
standard errors back by ``2^e_k``. Multiplying by a power of two is exact, and columns of
ordinary magnitude (``2^-400 <= max |y| <= 2^400``) are left untouched, so every other
result is unchanged bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

__all__ = ["EXPONENT_LIMIT", "OutputScale", "column_exponents"]

#: columns whose largest magnitude has a binary exponent beyond this are scaled
EXPONENT_LIMIT = 400


def column_exponents(outputs: np.ndarray) -> np.ndarray:
    """``e_k``: the binary exponent of column ``k``'s largest finite magnitude where it lies
    beyond ``±EXPONENT_LIMIT``, else 0."""
    magnitude = np.where(np.isfinite(outputs), np.abs(outputs), 0.0)
    largest = magnitude.max(axis=0) if magnitude.shape[0] else np.zeros(magnitude.shape[1])
    _, exponent = np.frexp(largest)
    extreme = (largest > 0) & (np.abs(exponent) > EXPONENT_LIMIT)
    return np.where(extreme, exponent, 0).astype(int)


class OutputScale:
    """``evaluate(x, batch)`` with each extreme output column divided by ``2^e_k``, the
    exponents fixed at the first call (the pilot), so every batch is scaled alike."""

    def __init__(self, evaluate: Callable):
        self.evaluate = evaluate
        self.exponents: np.ndarray | None = None

    def __call__(self, x: np.ndarray, batch: int) -> np.ndarray:
        outputs = self.evaluate(x, batch)
        if self.exponents is None:
            self.exponents = column_exponents(np.asarray(outputs, dtype=float).reshape(
                np.shape(x)[0], -1))
        if not np.any(self.exponents):
            return outputs
        return np.ldexp(np.asarray(outputs, dtype=float).reshape(np.shape(x)[0], -1),
                        -self.exponents)

    @property
    def n_runs(self) -> int:
        """The wrapped callable's run count."""
        return self.evaluate.n_runs

    def observe(self, stage) -> None:
        """Forward a finished stage to the wrapped callable's ``observe``, if any."""
        observe = getattr(self.evaluate, "observe", None)
        if observe is not None:
            observe(stage)

    def unscale(self, result):
        """``result`` (an ``ExpectationResult``) in the model's units: estimates and
        standard errors times ``2^e``, weights times ``2^-2e``, the kept sample's outputs
        and the replicates' values (``diagnostics["replicate_values"]``, which the
        subset-means interval reads) times ``2^e``; ``diagnostics["output_exponents"]``
        says which columns were scaled (the history and the other diagnostics stay in the
        scaled units). A weight beyond the doubles' range becomes ``inf`` (or a subnormal
        number), so the criterion ``sum_j w_j se_j^2``, which the scale leaves unchanged,
        is kept as computed in the scaled units (``diagnostics["weighted_variance"]``, read by
        ``ExpectationResult.weighted_variance``)."""
        if self.exponents is None or not np.any(self.exponents):
            return result
        column = _quantity_columns(result, self.exponents.size)
        exps = self.exponents[column]
        sample = result.sample
        if sample is not None:
            sample = dataclasses.replace(sample, outputs=np.ldexp(sample.outputs,
                                                                  self.exponents))
        with np.errstate(over="ignore"):  # a weight beyond the range: inf, said above
            weights = np.ldexp(result.weights, -2 * exps)
        diagnostics = {**result.diagnostics, "output_exponents": self.exponents.tolist(),
                       "weighted_variance": result.weighted_variance}
        replicates = result.diagnostics.get("replicate_values")
        if replicates is not None:  # the subset-means interval reads them: model units too
            on_nets = exps[result.replicate_mask()]
            values = np.asarray(replicates, dtype=float).reshape(-1, on_nets.size)
            diagnostics["replicate_values"] = np.ldexp(values, on_nets).tolist()
        return dataclasses.replace(
            result, estimate=np.ldexp(result.estimate, exps),
            stderr=np.ldexp(result.stderr, exps), weights=weights, sample=sample,
            diagnostics=diagnostics)


def _quantity_columns(result, n_outputs: int) -> np.ndarray:
    """The output column of each quantity (as ``Problem.build`` maps them): ``j`` for one
    law or ``L`` laws on ``L`` columns, 0 for ``L`` laws sharing one column."""
    return np.arange(len(result.estimate)) % max(n_outputs, 1)

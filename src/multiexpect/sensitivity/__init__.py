"""Sensitivity analysis from one sample: Sobol' indices and perturbed-law indices."""

from .perturbed_laws import mean_shift_perturbations, perturbed_law_indices
from .results import PerturbedLawResult, SobolResult
from .sobol import sobol_indices

__all__ = [
    "PerturbedLawResult",
    "SobolResult",
    "mean_shift_perturbations",
    "perturbed_law_indices",
    "sobol_indices",
]

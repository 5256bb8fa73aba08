"""Proposal families: Gaussian (full, diagonal), Gaussian mixtures, and their mixtures."""

from .base import Proposal, effective_sample_size, normalised_weights
from .gaussian import Gaussian, fit_gaussian, fit_widened_law, scaled_reference, shrink_mean
from .gmm import GaussianMixture, fit_gmm, fit_regions, fit_student_mixture
from .mixture import Mixture
from .student import StudentT, fit_student

__all__ = [
    "Gaussian",
    "GaussianMixture",
    "Mixture",
    "Proposal",
    "StudentT",
    "effective_sample_size",
    "fit_gaussian",
    "fit_gmm",
    "fit_regions",
    "fit_student",
    "fit_student_mixture",
    "fit_widened_law",
    "normalised_weights",
    "scaled_reference",
    "shrink_mean",
]

"""Point sets: randomised quasi-Monte Carlo nets, their maps to laws and proposals, replicates."""

from .rqmc import (
    DEFAULT_REPLICATES,
    SAMPLINGS,
    ReplicateEstimate,
    allocate,
    check_replicates,
    check_sampling,
    gaussian_from_normal,
    law_from_uniform,
    normal_from_uniform,
    replicate_estimate,
    replicate_plan,
    replicates_for,
    sobol_normal,
    sobol_uniform,
    student_from_uniform,
)

__all__ = [
    "DEFAULT_REPLICATES",
    "SAMPLINGS",
    "ReplicateEstimate",
    "allocate",
    "check_replicates",
    "check_sampling",
    "gaussian_from_normal",
    "law_from_uniform",
    "normal_from_uniform",
    "replicate_estimate",
    "replicate_plan",
    "replicates_for",
    "sobol_normal",
    "sobol_uniform",
    "student_from_uniform",
]

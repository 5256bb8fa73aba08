"""multiexpect: many expectations from one simulation budget.

Adaptive importance sampling with control variates (aISCV) after Demange-Chryst, Bachoc &
Morio (Statistics and Computing, 2023), with confidence intervals you can trust.
"""

from .aiscv import AISCV, AiscvOptions
from .api import expectations
from .curves import ExceedanceCurve, exceedance_curve
from .errors import ModelEvaluationError, MultiexpectError, StoreMismatchError
from .evaluation import CommandModel, Evaluation, InMemoryStore, SQLiteStore
from .laws import Law
from .quantities import Exceedance, Moment, Output
from .reanalysis import reanalyse
from .results import ExpectationResult, FinalSample
from .sensitivity import (
    PerturbedLawResult,
    SobolResult,
    mean_shift_perturbations,
    perturbed_law_indices,
    sobol_indices,
)
from .version import __version__

__all__ = [
    "AISCV",
    "AiscvOptions",
    "CommandModel",
    "Evaluation",
    "Exceedance",
    "ExceedanceCurve",
    "ExpectationResult",
    "FinalSample",
    "InMemoryStore",
    "Law",
    "ModelEvaluationError",
    "Moment",
    "MultiexpectError",
    "Output",
    "PerturbedLawResult",
    "SQLiteStore",
    "SobolResult",
    "StoreMismatchError",
    "__version__",
    "exceedance_curve",
    "expectations",
    "mean_shift_perturbations",
    "perturbed_law_indices",
    "reanalyse",
    "sobol_indices",
]

"""Evaluating the model: checks, executors, the run store, external commands."""

from .builder import StudyEvaluator, build_evaluate, study_id_for
from .command import CommandModel
from .config import Evaluation
from .evaluator import RunCounter
from .store import InMemoryStore, SQLiteStore, Store, open_store

__all__ = [
    "CommandModel",
    "Evaluation",
    "InMemoryStore",
    "RunCounter",
    "SQLiteStore",
    "Store",
    "StudyEvaluator",
    "build_evaluate",
    "open_store",
    "study_id_for",
]

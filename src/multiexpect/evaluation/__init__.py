"""Evaluating the model: checks, executors, the run store, external commands."""

from .builder import StudyEvaluator, build_evaluate, study_id_for
from .command import CommandModel
from .evaluator import ModelEvaluator, check_outputs, wrap_model
from .store import InMemoryStore, SQLiteStore, Store, open_store

__all__ = [
    "CommandModel",
    "InMemoryStore",
    "ModelEvaluator",
    "SQLiteStore",
    "Store",
    "StudyEvaluator",
    "build_evaluate",
    "check_outputs",
    "open_store",
    "study_id_for",
    "wrap_model",
]

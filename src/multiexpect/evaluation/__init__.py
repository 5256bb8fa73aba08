"""Evaluating the model: checks, executors, the run store, external commands."""

from .evaluator import ModelEvaluator, check_outputs, wrap_model

__all__ = ["ModelEvaluator", "check_outputs", "wrap_model"]

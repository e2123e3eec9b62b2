"""The small fitting framework the learned steps share (scikit-learn style): features are code in the
step's own module, fitted parameters are JSON data in the package (:class:`LinearModel`), fitting is a
command (``python -m qa_assistant.learn.fit_answer``) and a notebook. Serving needs numpy only."""
from .linear import LinearModel, fit_logistic, group_folds, load_model

__all__ = ["LinearModel", "fit_logistic", "group_folds", "load_model"]

"""A logistic model as inspectable data: named features, their standardisation, weights, bias and the
decision threshold, saved as JSON (never pickle). ``fit_logistic`` fits one with scikit-learn (a fitting
dependency only); ``proba`` is the same numpy code in fitting, evaluation and serving."""
from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    """p = σ(b + Σ wᵢ·(xᵢ − meanᵢ)/scaleᵢ); a decision is ``p >= threshold``."""
    name: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5
    notes: dict = field(default_factory=dict)  # how and on what it was fitted, and its cross-validated figures

    def logit(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        if rows.shape[1] != len(self.features):
            raise ValueError(f"{self.name}: {rows.shape[1]} features given, {len(self.features)} expected")
        return ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.bias

    def proba(self, rows: np.ndarray) -> np.ndarray:
        """The probability of the positive class for each row (features in ``self.features`` order)."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(rows), -40, 40)))

    def with_threshold(self, threshold: float, **notes) -> "LinearModel":
        return LinearModel(self.name, self.features, self.weights, self.bias, self.mean, self.scale,
                           float(threshold), {**self.notes, **notes})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LinearModel":
        model = cls(str(data["name"]), tuple(data["features"]), tuple(float(w) for w in data["weights"]),
                    float(data["bias"]), tuple(float(m) for m in data["mean"]), tuple(float(s) for s in data["scale"]),
                    float(data.get("threshold", 0.5)), dict(data.get("notes", {})))
        if not len(model.features) == len(model.weights) == len(model.mean) == len(model.scale):
            raise ValueError(f"{model.name}: features, weights, mean and scale differ in length")
        return model

    def save(self, path: str | Path) -> None:
        """Write atomically (a temporary file renamed over the old one)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the package's data is readable by all
        os.replace(temporary, path)


def fit_logistic(name: str, rows: np.ndarray, labels: np.ndarray, features: Sequence[str], c: float = 1.0,
                 weights: np.ndarray | None = None) -> LinearModel:
    """An L2-regularised logistic regression on standardised features (scikit-learn's lbfgs); ``weights``
    weigh the rows (e.g. to give every data set the same say)."""
    from sklearn.linear_model import LogisticRegression
    rows = np.asarray(rows, dtype=np.float64)
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    fitted = LogisticRegression(C=c, max_iter=2000).fit((rows - mean) / scale, labels, sample_weight=weights)
    return LinearModel(name, tuple(features), tuple(float(w) for w in fitted.coef_[0]), float(fitted.intercept_[0]),
                       tuple(float(m) for m in mean), tuple(float(s) for s in scale))


def group_folds(groups: Sequence[str], folds: int = 5, seed: int = 13) -> np.ndarray:
    """Fold number per row, whole groups (articles) to one fold: no article is both fitted and tested."""
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[i]: n % folds for n, i in enumerate(order)}
    return np.asarray([fold_of[g] for g in groups])


@functools.lru_cache(maxsize=None)
def load_model(name: str) -> LinearModel:
    """A fitted model shipped in the package (``qa_assistant/data/models/NAME.json``)."""
    text = resources.files("qa_assistant").joinpath("data", "models", f"{name}.json").read_text(encoding="utf-8")
    return LinearModel.from_dict(json.loads(text))

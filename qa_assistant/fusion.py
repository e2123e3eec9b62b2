"""Hybrid fusion: how a question's dense (cosine) and BM25 scores over the candidate passages become one
ranking. :class:`AdaptiveFusion`, the default, weighs each list by how decisive it is for this question, so
a BM25 list whose best passage stands far above the rest (a rare name matched) is not outvoted by a dense
list that is flat across many similar stories; :class:`ZScoreFusion` is the fixed-weight fusion it replaces.

A strategy is a small frozen object whose fields are its parameters (as in pyserini's ``HybridSearcher``),
recorded with :meth:`to_dict` and rebuilt with :func:`fusion_from_dict`. Pure numpy, no model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar, Mapping

import numpy as np

_TINY = 1e-6  # decisiveness floor: a list whose scores are all equal still keeps a sliver of weight


def zscore(values: np.ndarray) -> np.ndarray:
    """(x - mean) / std; all zeros when the values do not spread."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def has_signal(sparse: np.ndarray) -> bool:
    """Does a BM25 list say anything? Not when no question word occurs in any candidate (an English
    question over Chinese text): then it is left out rather than adding noise."""
    return bool(np.size(sparse)) and float(np.max(sparse)) > 0


@dataclass(frozen=True)
class ZScoreFusion:
    """Fixed weights: z-scored cosine plus ``bm25_weight`` times the z-scored BM25 score, both over the union
    of the two top-``candidates`` lists, plus ``answer_type_bonus`` (in z units) times each candidate's prior
    (the share of three answers of the asked type it holds: company names for 「哪些企业」, …)."""
    name: ClassVar[str] = "zscore"
    candidates: int = 50  # passages taken from the top of each list
    bm25_weight: float = 0.9  # BM25 against dense (1.0)
    answer_type_bonus: float = 1.0

    def __post_init__(self):
        if int(self.candidates) != self.candidates or self.candidates < 1:
            raise ValueError(f"{self.name} fusion: candidates must be a positive integer, got {self.candidates!r}")
        for field in fields(self):
            value = getattr(self, field.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{self.name} fusion: {field.name} must be a finite number ≥ 0, got {value!r}")

    def weights(self, dense: np.ndarray, sparse: np.ndarray) -> tuple[float, float]:
        """The weights of the z-scored dense and BM25 lists for this question."""
        return 1.0, (self.bm25_weight if has_signal(sparse) else 0.0)

    def fuse(self, rows, dense, sparse, prior=None) -> tuple[np.ndarray, np.ndarray]:
        """Rank the candidate ``rows`` (the union of both top lists) by fused score. ``dense`` and ``sparse``
        hold each candidate's cosine and BM25 score (0 where no question word occurs), ``prior`` an optional
        answer-type share in [0, 1]. Returns the rows and their fused scores, best first; ties go to the
        lower row, so the result is deterministic."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        dense = np.asarray(dense, dtype=np.float64).reshape(-1)
        sparse = np.asarray(sparse, dtype=np.float64).reshape(-1)
        if not (len(rows) == len(dense) == len(sparse)):
            raise ValueError(f"fuse: rows, dense and sparse differ in length ({len(rows)}, {len(dense)}, {len(sparse)})")
        w_dense, w_sparse = self.weights(dense, sparse)
        fused = w_dense * zscore(dense)
        if w_sparse > 0:
            fused = fused + w_sparse * zscore(sparse)
        if prior is not None and self.answer_type_bonus:
            prior = np.asarray(prior, dtype=np.float64).reshape(-1)
            if len(prior) != len(rows):
                raise ValueError(f"fuse: prior has {len(prior)} values for {len(rows)} rows")
            fused = fused + self.answer_type_bonus * prior
        order = np.lexsort((rows, -fused))
        return rows[order], fused[order]

    def to_dict(self) -> dict:
        """The strategy and its parameters, JSON-ready (for the index manifest)."""
        return {"name": self.name, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ZScoreFusion":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"name"})
        if unknown:
            raise ValueError(f"{cls.name} fusion: unknown parameter(s) {', '.join(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class AdaptiveFusion(ZScoreFusion):
    """:class:`ZScoreFusion` whose two weights adapt to each question, without labels. A list's
    decisiveness is how far its best candidate stands above the candidates' mean, in standard deviations
    (the top z-score): a BM25 list where a rare name or number lifted one passage far above the rest scores
    high, a dense list that is flat across many similar stories scores low. Each prior weight (dense 1,
    BM25 ``bm25_weight``) is scaled by its list's decisiveness to the power ``sharpness``, and the pair is
    rescaled to keep the prior total (1 + ``bm25_weight``), so the answer-type bonus keeps its size and
    two equally decisive lists fuse exactly as :class:`ZScoreFusion` does (as does ``sharpness`` 0)."""
    name: ClassVar[str] = "adaptive"
    sharpness: float = 1.0

    @staticmethod
    def decisiveness(scores: np.ndarray) -> float:
        """The best candidate's z-score among the candidates (0 when the scores do not spread)."""
        z = zscore(scores)
        return float(z.max()) if z.size else 0.0

    def weights(self, dense: np.ndarray, sparse: np.ndarray) -> tuple[float, float]:
        if not has_signal(sparse):
            return 1.0, 0.0
        d = max(self.decisiveness(dense), _TINY) ** self.sharpness
        s = max(self.decisiveness(sparse), _TINY) ** self.sharpness
        mean = (d + self.bm25_weight * s) / (1 + self.bm25_weight)
        return d / mean, self.bm25_weight * s / mean


STRATEGIES = {cls.name: cls for cls in (ZScoreFusion, AdaptiveFusion)}
DEFAULT_FUSION = AdaptiveFusion()


def fusion_from_dict(data: Mapping | None) -> ZScoreFusion:
    """The strategy a :meth:`~ZScoreFusion.to_dict` record describes (the default for None)."""
    if data is None:
        return DEFAULT_FUSION
    name = data.get("name")
    if name not in STRATEGIES:
        raise ValueError(f"unknown fusion {name!r} (use one of: {', '.join(STRATEGIES)})")
    return STRATEGIES[name].from_dict(data)

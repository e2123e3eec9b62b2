"""Retrieve: dense (FAISS), sparse (BM25) and hybrid search over one index, with parallel
``search`` / ``batch_search`` signatures. Hybrid fuses the two rankings by reciprocal rank, and
ignores a BM25 ranking that carries no signal (all-zero scores, e.g. an English question)."""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .index import IndexData
from .passages import Passage
import unicodedata

from .text import search_tokens, to_simplified

MODES = ("hybrid", "dense", "bm25")
RRF_K = 60
CANDIDATES = 100


class Hit(NamedTuple):
    passage: Passage
    score: float  # the score of the mode asked for (fused score for hybrid)
    dense: float  # cosine similarity of question and passage
    bm25: float  # BM25 score (0 when no question word occurs in the passage)
    row: int


class HybridSearcher:
    """Composes a dense and a sparse index over the same passage rows (pyserini-style)."""

    def __init__(self, data: IndexData, embedder):
        self.data, self.embedder = data, embedder

    def __len__(self) -> int:
        return len(self.data.passages)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        return self.batch_search([question], k=k, mode=mode)[0]

    def batch_search(self, questions: Sequence[str], k: int = 5, mode: str = "hybrid") -> list[list[Hit]]:
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r} (use one of: {', '.join(MODES)})")
        if not questions:
            return []
        n = len(self)
        if n == 0 or k <= 0:
            return [[] for _ in questions]
        vectors = self.embedder.encode_queries([normalise_query(q) for q in questions])
        depth = min(n, max(CANDIDATES, k))
        dense_scores, dense_rows = self.data.dense.search(vectors, depth)
        results = []
        for question, vector, scores, rows in zip(questions, vectors, dense_scores, dense_rows):
            results.append(self._rank(question, vector, scores, rows, k, mode))
        return results

    def _rank(self, question: str, vector: np.ndarray, dense_scores: np.ndarray, dense_rows: np.ndarray,
              k: int, mode: str) -> list[Hit]:
        valid = dense_rows >= 0
        dense_rows, dense_scores = dense_rows[valid], dense_scores[valid]
        bm25_all = self.data.sparse.scores(search_tokens(question))
        depth = len(dense_rows)
        bm25_rows = np.argsort(-bm25_all, kind="stable")[:depth]
        bm25_rows = bm25_rows[bm25_all[bm25_rows] > 0]
        if mode == "dense":
            order = [(int(r), float(s)) for r, s in zip(dense_rows, dense_scores)]
        elif mode == "bm25":
            order = [(int(r), float(bm25_all[r])) for r in bm25_rows]
        else:
            fused: dict[int, float] = {}
            for rank, row in enumerate(dense_rows):
                fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (RRF_K + rank + 1)
            for rank, row in enumerate(bm25_rows):  # empty when BM25 found nothing: dense order stands
                fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (RRF_K + rank + 1)
            order = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        top = order[:k]
        cosines = self._cosines(vector, [row for row, _ in top])
        return [Hit(self.data.passages[row], score, cosine, float(bm25_all[row]), row)
                for (row, score), cosine in zip(top, cosines)]

    def _cosines(self, vector: np.ndarray, rows: list[int]) -> list[float]:
        if not rows:
            return []
        stored = np.stack([self.data.dense.index.reconstruct(int(r)) for r in rows])
        return [float(x) for x in stored @ vector]


def normalise_query(question: str) -> str:
    """Questions are embedded in the corpus's script: traditional characters become simplified."""
    return to_simplified(unicodedata.normalize("NFKC", question)).strip()

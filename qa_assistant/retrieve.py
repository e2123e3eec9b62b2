"""Retrieve: dense (FAISS), sparse (BM25) and hybrid search over one index, with parallel
``search`` / ``batch_search`` signatures. Hybrid fuses the two over the union of their top lists with a
fusion strategy (fusion.py: z-scores weighted by how decisive each list is for the question), and ignores a
BM25 list that carries no signal (all zero, e.g. an English question)."""
from __future__ import annotations

import logging
import re
from typing import NamedTuple, Sequence

import numpy as np

from .answer_type import type_matches
from .fusion import DEFAULT_FUSION, ZScoreFusion
from .passages import Passage
from .question import DateRange, Question
from .settings import MODES, Settings, SettingsError
from .store.base import SearchData
from .store.errors import IndexLoadError
from .text import normalise
from .threads import FEW_QUESTIONS, faiss_threads

ARTICLE_REACH = 64  # rows looked at either side of a hit for the rest of its article (its passages are consecutive)


def _quiet_bm25s() -> None:
    import bm25s  # noqa: F401  (it sets its own logger to DEBUG when imported)
    logging.getLogger("bm25s").setLevel(logging.WARNING)


_quiet_bm25s()
# How hybrid fuses the two lists is a strategy object (fusion.py), measured in benchmarks/fusion.py on the
# sample page, CMRC 2018 trial and the news-like stress set; z-scored fusion beat reciprocal-rank fusion.


class Hit(NamedTuple):
    passage: Passage
    score: float  # the score of the mode asked for (fused z-score for hybrid)
    dense: float  # cosine similarity of question and passage
    bm25: float  # BM25 score (0 when no question word occurs in the passage)
    row: int
    also: tuple[Passage, ...] = ()  # the same text elsewhere in the archive (another file, a reprint)

    @property
    def passages(self) -> tuple[Passage, ...]:
        """This passage and every copy of its text, best first."""
        return (self.passage,) + self.also


class HybridSearcher:
    """Composes a dense and a sparse index over the same passage rows (pyserini-style)."""

    def __init__(self, data: SearchData, embedder, fusion: ZScoreFusion | None = None):
        self.data, self.embedder = data, embedder
        self.fusion = DEFAULT_FUSION if fusion is None else fusion  # a fusion.py strategy

    def __len__(self) -> int:
        return len(self.data.passages)

    def search(self, question: Question, k: int = Settings.k, mode: str = Settings.mode,
               vector: np.ndarray | None = None, dates: DateRange | None = None) -> list[Hit]:
        return self.batch_search([question], k=k, mode=mode, vectors=None if vector is None else vector[None, :],
                                 dates=dates)[0]

    def batch_search(self, questions: Sequence[Question], k: int = Settings.k, mode: str = Settings.mode,
                     vectors: np.ndarray | None = None, dates: DateRange | None = None) -> list[list[Hit]]:
        """``vectors``: the questions' vectors when the caller has them already (see :meth:`query_vectors`);
        ``dates``: only passages of articles dated in that range are searched (the filter comes first)."""
        if mode not in MODES:
            raise SettingsError(f"mode: unknown retrieval mode {mode!r} (use one of: {', '.join(MODES)})")
        if not questions:
            return []
        allowed = None if dates is None else self.data.rows_dated(dates)
        n = len(self) if allowed is None else len(allowed)
        if n == 0 or k <= 0:
            return [[] for _ in questions]
        if vectors is None:
            vectors = self.query_vectors(questions)
        depth = min(n, max(self.fusion.candidates, k))
        with faiss_threads(1 if len(questions) <= FEW_QUESTIONS else 0):
            dense_scores, dense_rows = self.data.dense.search(vectors, depth, allowed)
        results = []
        for question, vector, scores, rows in zip(questions, vectors, dense_scores, dense_rows):
            results.append(self._rank(question, vector, scores, rows, k, mode, allowed))
        return results

    def query_vectors(self, questions: Sequence[Question]) -> np.ndarray:
        return self.embedder.encode_queries([q.normalised for q in questions])

    def _rank(self, question: Question, vector: np.ndarray, dense_scores: np.ndarray, dense_rows: np.ndarray,
              k: int, mode: str, allowed: np.ndarray | None = None) -> list[Hit]:
        valid = dense_rows >= 0
        dense_rows, dense_scores = dense_rows[valid].astype(np.int64), dense_scores[valid]
        bm25_all = self.data.sparse.scores(question.tokens, dense_rows)  # exact for the dense candidates too
        if allowed is not None:  # passages outside the date range take no part
            kept = np.zeros_like(bm25_all)
            kept[allowed] = bm25_all[allowed]
            bm25_all = kept
        if mode == "dense":
            order = list(zip(dense_rows.tolist(), dense_scores.tolist()))
            cosine = dict(order)
        elif mode == "bm25":
            rows = top_rows(bm25_all, max(k, self.fusion.candidates))
            rows = rows[bm25_all[rows] > 0]
            order = [(int(r), float(bm25_all[r])) for r in rows]
            cosine = {}
        else:
            order, cosine = self._fuse(vector, dense_rows, dense_scores, bm25_all, question.kind)
        passages = self.data.passages
        chosen = collapse_copies(order, passages, k)
        cosine.update(self._cosines(vector, [row for row, _, _ in chosen if row not in cosine]))
        return [Hit(passages[row], float(score), float(cosine[row]), float(bm25_all[row]), row,
                    tuple(passages[copy] for copy in copies))
                for row, score, copies in chosen]

    def _fuse(self, vector: np.ndarray, dense_rows: np.ndarray, dense_scores: np.ndarray,
              bm25_all: np.ndarray, answer_type: str | None) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """Hybrid score over the union of both top lists, by ``self.fusion`` (see fusion.py): the cosine and
        BM25 score of every candidate, and as prior the share of three answers of the asked type it holds
        (e.g. company names for 「哪些企业」). A BM25 list with no matching word adds nothing (dense order stands)."""
        depth = self.fusion.candidates
        head = dense_rows[:depth]
        cosine = dict(zip(head.tolist(), dense_scores[:depth].tolist()))
        sparse_rows = top_rows(bm25_all, depth)
        sparse_rows = sparse_rows[bm25_all[sparse_rows] > 0]
        cosine.update(self._cosines(vector, [int(r) for r in sparse_rows if int(r) not in cosine]))
        rows = np.fromiter(cosine, dtype=np.int64)
        dense = np.array([cosine[int(r)] for r in rows])
        prior = None
        if answer_type is not None:
            prior = np.array([min(type_matches(answer_type, self.data.passages[int(r)].text), 3) / 3 for r in rows])
        ranked, fused = self.fusion.fuse(rows, dense, bm25_all[rows], prior)
        return list(zip(ranked.tolist(), fused.tolist())), cosine

    def article(self, hit: Hit) -> tuple[Passage, ...]:
        """The passages of the hit's article within ARTICLE_REACH rows either side, in order, the hit's own
        among them: what the answer step reads beyond the passage (the lead that names the event, the
        names the article holds)."""
        passages, passage = self.data.passages, hit.passage
        earliest, latest = max(hit.row - ARTICLE_REACH, 0), hit.row + ARTICLE_REACH
        self.data.hint(range(earliest, latest + 1))  # a store that fetches rows (Milvus): one query for the stretch

        def same_article(row: int) -> Passage | None:
            try:
                other = passages[row]
            except (IndexError, IndexLoadError):  # past the end, or a row removed from a Milvus archive
                return None
            return other if (other.article_id, other.source) == (passage.article_id, passage.source) else None

        before, after = [], []
        for rows, found in ((range(hit.row - 1, earliest - 1, -1), before), (range(hit.row + 1, latest + 1), after)):
            for row in rows:
                other = same_article(row)
                if other is None:
                    break
                found.append(other)
        return (*reversed(before), passage, *after)

    def _cosines(self, vector: np.ndarray, rows: list[int]) -> dict[int, float]:
        return dict(zip(rows, self.data.dense.cosines(vector, rows).tolist())) if rows else {}


def _same_text(text: str) -> str:
    """The form in which two copies of a paragraph are the same text: script, width, case, spaces and
    punctuation aside (an e-paper PDF, the website's HTML and a Big5 reprint of one story)."""
    return _NOT_WORD.sub("", normalise(text))


_NOT_WORD = re.compile(r"[\W_]+")


def collapse_copies(order: Sequence[tuple[int, float]], passages: Sequence[Passage],
                    k: int) -> list[tuple[int, float, list[int]]]:
    """The first ``k`` distinct texts of a ranking, each with the rows further down that hold the same
    text (the same story in two files, or a reprint): top-k holds k different texts."""
    first: dict[str, int] = {}
    chosen: list[tuple[int, float, list[int]]] = []
    for row, score in order:
        key = _same_text(passages[row].text)
        if key in first:
            chosen[first[key]][2].append(row)
        elif len(chosen) < k:
            first[key] = len(chosen)
            chosen.append((row, score, []))
    return chosen


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest scores, best first, ties in row order — what
    ``np.argsort(-scores, kind="stable")[:k]`` gives, without sorting every passage (1M: 80 ms → 5 ms)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(scores) <= 4 * k:
        return np.argsort(-scores, kind="stable")[:k]
    threshold = scores[np.argpartition(-scores, k - 1)[:k]].min()
    above = np.flatnonzero(scores > threshold)
    above = above[np.argsort(-scores[above], kind="stable")]
    ties = np.flatnonzero(scores == threshold)[:k - len(above)]  # in row order, as a stable sort leaves them
    return np.concatenate([above, ties])

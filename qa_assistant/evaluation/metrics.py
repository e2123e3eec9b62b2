"""Metric functions over plain data: a ranking is a list of booleans (does the passage at this rank hold
an answer?), as in sentence-transformers' ``InformationRetrievalEvaluator``."""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from .testset import EvalQuestion, squash

RANK_DEPTH = 10  # MRR@10 and nDCG@10


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    haystack = squash(text)
    return any(squash(a) and squash(a) in haystack for a in answers)


def relevance(texts: Iterable[str], answers: Sequence[str]) -> list[bool]:
    """Binary relevance of a ranking: does each text contain an answer?"""
    return [contains_answer(text, answers) for text in texts]


def first_rank(flags: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((rank for rank, flag in enumerate(flags, start=1) if flag), None)


def hit_at_k(flags: Sequence[bool], k: int) -> float:
    return 1.0 if any(flags[:k]) else 0.0


def reciprocal_rank(flags: Sequence[bool], k: int = RANK_DEPTH) -> float:
    rank = first_rank(flags[:k])
    return 1.0 / rank if rank else 0.0


def dcg_at_k(flags: Sequence[bool], k: int = RANK_DEPTH) -> float:
    return sum(1.0 / math.log2(rank + 1) for rank, flag in enumerate(flags[:k], start=1) if flag)


def ndcg_at_k(flags: Sequence[bool], k: int = RANK_DEPTH, n_relevant: int | None = None) -> float:
    """nDCG@k with binary relevance; ``n_relevant`` is how many relevant items exist in the whole
    collection (default: those in ``flags``), so the ideal ranking puts that many first."""
    n = sum(map(bool, flags)) if n_relevant is None else n_relevant
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n, k) + 1))
    return dcg_at_k(flags, k) / ideal if ideal else 0.0


def mean(values: Iterable[float | bool]) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None


def from_article(passage: Any, item: EvalQuestion) -> bool:
    """Is ``passage`` (anything with ``article_id`` and ``title``) from the article ``item`` names?"""
    if item.doc_id is not None:
        article_id = str(getattr(passage, "article_id", ""))  # JSONL ids are scoped by their file: "corpus:ID"
        return article_id == item.doc_id or article_id.partition(":")[2] == item.doc_id
    if item.article is not None:
        return squash(getattr(passage, "title", "")) == squash(item.article)
    return False



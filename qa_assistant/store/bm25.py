"""BM25 as sparse vectors, computed by the client so that a Milvus archive scores exactly as the local
store's bm25s index (Lucene variant: idf = ln(1 + (N − df + 0.5)/(df + 0.5)), term weight
tf/(tf + k1·(1 − b + b·dl/avgdl)); a query token counts once per occurrence)."""
from __future__ import annotations

import hashlib
import math
from collections import Counter
from typing import Mapping, Sequence

DIMENSIONS = 2**32 - 1  # Milvus sparse indices are below 2^32 - 1


def term_id(token: str) -> int:
    """A token's dimension: a hash, so that every writer and reader agrees with no shared vocabulary (in an
    archive of a million distinct tokens, about one query token in 4,300 shares its dimension with another)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little") % DIMENSIONS


def document_terms(tokens: Sequence[str]) -> Counter:
    """Term frequencies by dimension; a passage without tokens counts as one empty token (as bm25s does)."""
    return Counter(term_id(t) for t in (tokens or [""]))


def document_length(tokens: Sequence[str]) -> int:
    return max(len(tokens), 1)


def document_weights(tokens: Sequence[str], average_length: float, k1: float, b: float) -> dict[int, float]:
    """The passage's BM25 term weights (the IDF is the query's part)."""
    norm = k1 * ((1 - b) + b * document_length(tokens) / max(average_length, 1e-9))
    return {term: tf / (norm + tf) for term, tf in document_terms(tokens).items()}


def idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def query_weights(tokens: Sequence[str], df: Mapping[int, int], n: int) -> dict[int, float]:
    """The question's sparse vector: IDF of each token in the archive, times its count in the question;
    tokens no passage holds are left out."""
    counts = Counter(term_id(t) for t in tokens)
    return {term: count * idf(df[term], n) for term, count in counts.items() if df.get(term, 0) > 0}


__all__ = ["document_length", "document_terms", "document_weights", "idf", "query_weights", "term_id"]

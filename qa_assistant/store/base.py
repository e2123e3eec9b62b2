"""The store interface the rest of the code sees: passages by row, dense search, BM25 scores, the sources
with their checksums, and one kind of write. Two implementations: a local folder (folder.py) and Milvus
(milvus.py); retrieval, answers and the facade work on this interface only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, ContextManager, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..passages import Passage
from ..settings import Settings


class DenseSearch(Protocol):
    """Inner product over normalised vectors (= cosine); rows are the store's passage rows."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the ``k`` nearest passages of each query (rows -1 where fewer exist)."""

    def cosines(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Cosine of ``vector`` with the passages of ``rows``."""


class SparseScores(Protocol):
    """BM25 over the jieba/OpenCC search tokens of heading and passage."""

    def scores(self, query_tokens: Sequence[str], rows: Sequence[int] | None = None) -> np.ndarray:
        """BM25 score of every row (an array indexed by row): exact for the best-scoring rows and for
        ``rows``; 0 for a row holding no query token."""


class SearchData(Protocol):
    """What retrieval reads (``HybridSearcher``): passages by row, the dense and sparse indexes, the manifest."""
    passages: Sequence[Passage]
    dense: DenseSearch
    sparse: SparseScores
    manifest: dict


@dataclass(frozen=True)
class Update:
    """One write. ``replaced``: sources read again (source → checksum) whose passages become ``passages``
    (row i has ``vectors[i]``); ``drop``: passage ids taken out of the sources that keep their checksum;
    ``settings``: what the store is built with from now on. A source left without passages is forgotten."""
    replaced: Mapping[str, str] = field(default_factory=dict)
    passages: Sequence[Passage] = ()
    vectors: np.ndarray | None = None
    drop: Collection[str] = frozenset()
    settings: Settings | None = None


@runtime_checkable
class Store(Protocol):
    """An archive of passages: read by retrieval through :attr:`data`, updated by :meth:`apply` inside
    :meth:`writing` (one writer at a time; a write leaves each source old or new, never half of one)."""
    location: str  # the folder or URI, for messages (never a credential)

    @property
    def data(self) -> SearchData: ...

    @property
    def manifest(self) -> dict: ...

    @property
    def saved(self) -> bool:
        """Is the archive there (saved at least once)?"""

    def count(self) -> int: ...

    def sources(self) -> dict[str, str]:
        """Every source with passages in the archive → the checksum of the file they were read from."""

    def passages_of(self, sources: Iterable[str]) -> list[Passage]:
        """The passages of ``sources``, in row order."""

    def article_sources(self, article_ids: Iterable[str]) -> dict[str, str]:
        """Which source holds each of ``article_ids`` (those the archive has)."""

    def articles_named(self, key: str) -> dict[str, str]:
        """Article ids that a file calls ``key`` (``news:1`` for ``1``) → their source."""

    def vectors_for(self, keys: Sequence[tuple[str, str]], sources: Collection[str]) -> dict[tuple[str, str], np.ndarray]:
        """Stored vectors of passages with these (heading, text) keys, to reuse instead of embedding again
        (at least those of ``sources``)."""

    def apply(self, update: Update) -> None: ...

    def save_if_new(self) -> None:
        """Create the (empty) archive if it is not there yet."""

    def writing(self) -> ContextManager[None]:
        """Be the one writer, starting from the archive as it is now (another writer may have changed it)."""

    def describe(self) -> dict:
        """What the archive is: location, model, size, index types, settings, sources, times."""


__all__ = ["DenseSearch", "SearchData", "SparseScores", "Store", "Update"]

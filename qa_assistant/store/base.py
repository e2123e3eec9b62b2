"""The store interface the rest of the code sees, all of it: passages by row, dense search, BM25 scores and the
date filter retrieval needs; the sources with their checksums, one kind of write and one writer at a time that
updates need; starting, re-reading and describing an archive. Two implementations: a local folder (folder.py)
and Milvus (milvus/); retrieval, answers and the facade work on this interface only, and open a store through
factory.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, ContextManager, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..passages import Passage
from ..settings import Settings


class DenseSearch(Protocol):
    """Inner product over normalised vectors (= cosine); rows are the store's passage rows."""

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the ``k`` nearest passages of each query (rows -1 where fewer exist); with
        ``allowed``, only those rows are searched (the filter inside the search, so k come back when k are allowed)."""

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

    def rows_dated(self, dates) -> np.ndarray:
        """Rows of the passages whose article is dated within ``dates`` (a ``question.DateRange``), ascending."""

    def hint(self, rows: Iterable[int]) -> None:
        """Rows retrieval is about to read one by one: a store that fetches rows reads them together (a
        folder holds them all in memory and ignores this)."""


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
    folder: Path | None  # the local folder that holds the archive (and its uploaded originals); None otherwise

    @property
    def data(self) -> SearchData: ...

    @property
    def manifest(self) -> dict:
        """The archive's record: model, settings, index types, sources ({} for one not started)."""

    @property
    def saved(self) -> bool:
        """Is the archive there (saved at least once)?"""

    def start(self, model: dict, settings: Settings) -> None:
        """Begin a new, empty archive made with the encoder ``model`` (its ``ModelInfo.to_dict()``) and
        ``settings``; it is saved by its first write (or :meth:`save_if_new`)."""

    def refresh(self) -> None:
        """Read the archive as saved now (another process may have written it since)."""

    def changed(self) -> bool:
        """Has another process saved the archive since this store read it? Cheap (a folder: one ``stat``);
        a store that reads live (Milvus) is never behind."""

    def settled(self) -> bool:
        """Is nothing left that an interrupted writer must have cleared by the next one (a folder: always)?"""

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

    def close(self) -> None:
        """Let go of the archive (an embedded Milvus archive can then be opened by another process)."""


__all__ = ["DenseSearch", "SearchData", "SparseScores", "Store", "Update"]

"""Reading a Milvus archive the way retrieval and updates read a store (store/base.py): which generations are
live (a snapshot re-read at most every REFRESH_SECONDS), passages by row (fetched in one query with the rows
the search just found, then cached), dense search and BM25 scores over the live generations, the sources
and their records."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator, Sequence

import numpy as np

from ...passages import Passage
from ...settings import Settings
from .. import bm25
from ..errors import IndexLoadError
from .client import FORMAT, Connection, in_list, passage_fields, quote, to_passage

REFRESH_SECONDS = 0.5  # a reader re-reads which generations are live at most this often
WINDOW = 16384  # BM25 rows scored exactly per question besides the dense candidates (a server's top-k limit)
SOURCE_FIELDS = ["key", "checksum", "gen", "pending", "retired", "passages", "articles", "tokens"]


def live_filter(hidden: frozenset, extra: str = "") -> str:
    """A filter for the rows of every generation but the ``hidden`` ones (and ``extra``)."""
    parts = [f"not ({in_list('gen', sorted(hidden))})" if hidden else "", extra]
    return " and ".join(p for p in parts if p)


@dataclass(frozen=True)
class Snapshot:
    """What readers see now: the generations to hide, the live passage count, the row space, the record."""
    hidden: frozenset
    count: int
    row_space: int
    manifest: dict
    taken: float = field(default_factory=time.monotonic)

    def live(self, extra: str = "") -> str:
        """A filter for the live rows (and ``extra``)."""
        return live_filter(self.hidden, extra)


class Reader:
    """The archive as readers see it; the :class:`~qa_assistant.store.base.SearchData` of a Milvus store.
    ``record`` is the archive's record as last read (or, before the first write, the one a new archive
    will be created with)."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.record: dict = {}
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._cache: dict[int, Passage] = {}
        self._hints = threading.local()
        self.passages = MilvusPassages(self)
        self.dense = MilvusDense(self)
        self.sparse = MilvusSparse(self)

    @property
    def manifest(self) -> dict:
        return dict(self.record, passages=self.count()) if self.saved else self.record

    @property
    def saved(self) -> bool:
        return bool(self.record.get("created")) and self.record.get("format") == FORMAT

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """What readers see, re-read when older than REFRESH_SECONDS (a writer waits longer than that
        between announcing a generation and writing it, and between retiring one and deleting it)."""
        snap = self._snapshot
        if snap is not None and not fresh and time.monotonic() - snap.taken < REFRESH_SECONDS:
            return snap
        connection = self.connection
        with self._lock:
            meta = connection.read_meta() if self.saved or fresh else None
            if meta is None:
                snap = Snapshot(frozenset(), 0, 0, self.record)
            else:
                hidden = frozenset(g for r in connection.query(connection.sources_name, "pending > 0 or retired > 0",
                                                               ["pending", "retired"])
                                   for g in (r["pending"], r["retired"]) if g > 0)
                counted = connection.call("count", connection.client.query, connection.name,
                                          filter=live_filter(hidden), output_fields=["count(*)"])
                snap = Snapshot(hidden, int(counted[0]["count(*)"]) if counted else 0, int(meta.get("next_row", 0)),
                                meta)
                self.record = meta
            self._snapshot = snap
        return snap

    def refresh(self) -> None:
        self.snapshot(fresh=True)

    def count(self) -> int:
        return self.snapshot().count if self.saved else 0

    def query(self, expr: str, fields: list[str], snap: Snapshot | None = None) -> list[dict]:
        """Every passage record matching ``expr`` that is live in ``snap`` (default: the current snapshot)."""
        connection = self.connection
        return connection.query(connection.name, (snap or self.snapshot()).live(expr), fields)

    # ------------------------------------------------------------------ the sources
    def sources(self) -> dict[str, str]:
        if not self.saved:
            return {}
        connection = self.connection
        return {r["key"]: r["checksum"] for r in connection.query(connection.sources_name,
                                                                  'kind == "source" and gen > 0', ["key", "checksum"])}

    def source_records(self) -> dict[str, dict]:
        connection = self.connection
        return {r["key"]: r for r in connection.query(connection.sources_name, 'kind == "source"', SOURCE_FIELDS)}

    def passages_of(self, sources: Iterable[str]) -> list[Passage]:
        return [p for p, _ in self.rows_of(sources)]

    def rows_of(self, sources: Iterable[str], vectors: bool = False) -> list[tuple[Passage, np.ndarray | None]]:
        """The live passages of ``sources`` in row order, with their vectors when asked."""
        sources = sorted(set(sources))
        if not sources or not self.saved:
            return []
        snap, fields = self.snapshot(), passage_fields() + (["dense"] if vectors else [])
        found: list[dict] = []
        for start in range(0, len(sources), 100):
            found += self.query(in_list("source", sources[start:start + 100]), fields, snap)
        found.sort(key=lambda r: r["row"])
        return [(to_passage(r), np.asarray(r["dense"], np.float32) if vectors else None) for r in found]

    def article_sources(self, article_ids: Iterable[str]) -> dict[str, str]:
        ids, out = sorted(set(article_ids)), {}
        if not ids or not self.saved:
            return out
        snap = self.snapshot()
        for start in range(0, len(ids), 500):
            for r in self.query(in_list("article_id", ids[start:start + 500]), ["article_id", "source"], snap):
                out[r["article_id"]] = r["source"]
        return out

    def articles_named(self, key: str) -> dict[str, str]:
        if not self.saved or not key or any(c in key for c in '%"\\'):
            return {}
        rows = self.query(f"article_id like {quote('%:' + key)}", ["article_id", "source"])
        return {r["article_id"]: r["source"] for r in rows if r["article_id"].partition(":")[2] == key}

    def vectors_for(self, keys: Sequence[tuple[str, str]], sources: Collection[str]) -> dict:
        wanted = set(keys)
        return {(p.heading, p.text): v for p, v in self.rows_of(sources, vectors=True) if (p.heading, p.text) in wanted}

    # ------------------------------------------------------------------ what retrieval reads
    def rows_dated(self, dates) -> np.ndarray:
        """Rows of live passages dated within ``dates`` (a ``question.DateRange``), filtered by Milvus."""
        parts = ['date != ""']
        if dates.since:
            parts.append(f"date >= {quote(dates.since)}")
        if dates.until:
            parts.append(f"date < {quote(dates.until + '~')}")  # date[:len(until)] <= until
        rows = self.query(" and ".join(parts), ["row"])
        return np.sort(np.fromiter((r["row"] for r in rows), np.int64, len(rows)))

    def hint(self, rows: Iterable[int]) -> None:
        """Rows retrieval is about to read: fetched together with the next one it asks for."""
        pending = getattr(self._hints, "rows", None) or set()
        pending.update(int(r) for r in rows if r >= 0)
        self._hints.rows = pending

    def passage(self, row: int) -> Passage:
        row = int(row)
        found = self._cache.get(row)
        if found is not None:
            return found
        wanted = {row} | {r for r in (getattr(self._hints, "rows", None) or ()) if r not in self._cache}
        self._hints.rows = set()
        wanted = sorted(wanted)[:4096] if len(wanted) > 4096 else sorted(wanted)
        if row not in wanted:
            wanted.append(row)
        connection = self.connection
        rows = connection.call("query", connection.client.query, connection.name, filter=in_list("row", wanted),
                               output_fields=passage_fields())
        fetched = {int(r["row"]): to_passage(r) for r in rows}
        if len(self._cache) > 200_000:  # a bound, not an LRU: the next questions fill it again
            self._cache = {}
        self._cache.update(fetched)
        if row not in fetched:
            raise IndexLoadError(f"{connection.location}: passage row {row} is gone (rewritten while being read); "
                                 f"ask again")
        return fetched[row]


class MilvusPassages(Sequence):
    """The live passages, by row (fetched when first read, then cached: a row's content never changes)."""

    def __init__(self, reader: Reader):
        self.reader = reader

    def __len__(self) -> int:
        return self.reader.count()

    def __getitem__(self, row):
        if isinstance(row, slice):
            raise TypeError("a Milvus archive's passages are read by row, not sliced")
        return self.reader.passage(row)

    def __iter__(self) -> Iterator[Passage]:
        """Every live passage, in row order (streamed)."""
        if not self.reader.saved:
            return iter(())
        rows = self.reader.query("", passage_fields())
        rows.sort(key=lambda r: r["row"])
        return (to_passage(r) for r in rows)


class MilvusDense:
    """Dense search in Milvus (inner product over normalised vectors), over the live generations."""

    def __init__(self, reader: Reader):
        self.reader = reader

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        reader, snap = self.reader, self.reader.snapshot()
        connection = reader.connection
        k = min(k, snap.count if allowed is None else len(allowed))
        scores = np.full((len(queries), max(k, 0)), -np.inf, np.float32)
        rows = np.full((len(queries), max(k, 0)), -1, np.int64)
        if k <= 0 or not len(queries):
            return scores, rows
        params: dict = {"metric_type": "IP", "params": {}}
        if (snap.manifest.get("dense") or {}).get("type") == "hnsw":
            params["params"]["ef"] = max(Settings.from_dict(snap.manifest.get("settings", {})).index.hnsw_ef_search, k)
        expr = snap.live(in_list("row", allowed) if allowed is not None else "")
        found = connection.call("search", connection.client.search, connection.name,
                                data=[np.asarray(q, np.float32).tolist() for q in queries], anns_field="dense",
                                limit=k, filter=expr, search_params=params, output_fields=["row"])
        for i, hits in enumerate(found):
            for j, hit in enumerate(h for h in hits if int(h["row"]) < snap.row_space):  # (rows newer than the view)
                if j < k:
                    rows[i, j], scores[i, j] = int(hit["row"]), float(hit["distance"])
        reader.hint(rows[rows >= 0].tolist())
        return scores, rows

    def cosines(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.float32)
        connection = self.reader.connection
        found = connection.call("query", connection.client.query, connection.name, filter=in_list("row", rows),
                                output_fields=["row", "dense"])
        by_row = {int(r["row"]): np.asarray(r["dense"], np.float32) for r in found}
        return np.array([float(by_row[int(r)] @ vector) if int(r) in by_row else 0.0 for r in rows], np.float32)


class MilvusSparse:
    """BM25 in Milvus: client-computed sparse vectors (bm25.py), IDF from ``<name>_terms``."""

    def __init__(self, reader: Reader):
        self.reader = reader

    def document_frequencies(self, terms: Sequence[int]) -> dict[int, int]:
        if not terms:
            return {}
        connection = self.reader.connection
        rows = connection.get(connection.terms_name, sorted(set(terms)), ["term", "df"])
        return {int(r["term"]): int(r["df"]) for r in rows}

    def scores(self, query_tokens: Sequence[str], rows: Sequence[int] | None = None) -> np.ndarray:
        reader = self.reader
        connection, snap = reader.connection, reader.snapshot()
        out = np.zeros(snap.row_space, np.float32)
        if not snap.count or not query_tokens:
            return out
        weights = bm25.query_weights(query_tokens, self.document_frequencies([bm25.term_id(t) for t in query_tokens]),
                                     snap.count)
        if not weights:
            return out
        params = {"metric_type": "IP", "params": {"drop_ratio_search": 0.0}}
        found = connection.call("search", connection.client.search, connection.name, data=[weights],
                                anns_field="sparse", limit=min(WINDOW, snap.count), filter=snap.live(),
                                search_params=params, output_fields=["row"])
        seen = self._fill(out, found)
        missing = [int(r) for r in (rows if rows is not None else ()) if int(r) >= 0 and int(r) not in seen]
        if missing and len(seen) >= min(WINDOW, snap.count):
            found = connection.call("search", connection.client.search, connection.name, data=[weights],
                                    anns_field="sparse", limit=len(missing), filter=snap.live(in_list("row", missing)),
                                    search_params=params, output_fields=["row"])
            self._fill(out, found)
        top = np.flatnonzero(out > 0)
        if len(top) > 200:  # the rows retrieval will read: fetched with the first one it asks for
            top = top[np.argpartition(-out[top], 199)[:200]]
        reader.hint(top.tolist())
        return out

    @staticmethod
    def _fill(out: np.ndarray, found) -> set[int]:
        seen = set()
        for hit in (found[0] if found else []):
            row = int(hit["row"])
            if row < len(out):
                out[row] = float(hit["distance"])
                seen.add(row)
        return seen


__all__ = ["MilvusDense", "MilvusPassages", "MilvusSparse", "REFRESH_SECONDS", "Reader", "Snapshot"]

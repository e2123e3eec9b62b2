"""The archive in Milvus (a server, a cluster, or milvus-lite embedded): one collection of passages (text
and metadata as fields, the dense vector, the BM25 sparse vector), ``<name>_sources`` (one record per
source: checksum and live generation; plus the archive's record: model, settings, counters; and the
writer's lease) and ``<name>_terms`` (BM25 document frequencies). Rows are int64 keys that are never
reused; a source's rows carry its generation, and readers see only live generations (milvus_writes.py)."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Collection, Iterable, Sequence

import numpy as np

from ..passages import Passage
from ..settings import Settings
from .errors import IndexLoadError
from .factory import MilvusTarget
from .milvus_search import (BATCH, MilvusDense, MilvusPassages, MilvusSparse, _call, in_list,
                            passage_fields, quote, to_passage)

log = logging.getLogger(__name__)

FORMAT = "qa-assistant-milvus"
FORMAT_VERSION = 1
META, LEASE = "@archive", "@lease"  # keys of the archive's own records in <name>_sources
REFRESH_SECONDS = 0.5  # a reader re-reads which generations are live at most this often


class _Snapshot:
    """What readers see now: the generations to hide, the live passage count, the row space, the manifest."""

    def __init__(self, hidden: frozenset, count: int, row_space: int, manifest: dict, taken: float):
        self.hidden, self.count, self.row_space, self.manifest, self.taken = hidden, count, row_space, manifest, taken

    def live(self, extra: str = "") -> str:
        parts = [f"not ({in_list('gen', sorted(self.hidden))})" if self.hidden else "", extra]
        return " and ".join(p for p in parts if p)


class MilvusStore:
    """A :class:`~qa_assistant.store.base.Store` in Milvus; it is its own search data (passages, dense, sparse)."""

    def __init__(self, client, target: MilvusTarget):
        self.client, self.target, self.location = client, target, str(target)
        self.name, self.sources_name, self.terms_name = (target.collection, f"{target.collection}_sources",
                                                         f"{target.collection}_terms")
        self._manifest: dict = {}
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._cache: dict[int, Passage] = {}
        self._hints = threading.local()
        self.passages = MilvusPassages(self)
        self.dense = MilvusDense(self)
        self.sparse = MilvusSparse(self)
        self.lease: str | None = None

    @classmethod
    def connect(cls, target: MilvusTarget, create: bool = True) -> "MilvusStore":
        """Connect (``create`` False: an embedded archive that is not there is refused, not made)."""
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexLoadError(f"{target}: Milvus archives need pymilvus (and milvus-lite for milvus-lite:// URIs): "
                                 f"pip install 'qa-assistant[milvus]'") from None
        if target.embedded:
            from pathlib import Path
            if not create and not Path(target.uri).exists():
                raise IndexLoadError(f"{target}: no such index (build one with: qa-assistant index PATH --index {target})")
            Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
        options: dict = {"uri": target.uri, "token": target.token}
        if target.embedded:  # an in-process server: keep-alive pings only earn a GOAWAY (too_many_pings) on stderr
            options["grpc_options"] = {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": 0}
        if target.db_name:
            options["db_name"] = target.db_name
        try:
            client = MilvusClient(**options)
        except Exception as error:  # noqa: BLE001 — pymilvus raises several kinds; the user gets one line
            hint = (" (a milvus-lite archive is open in one process only: serve it with `milvus-lite server "
                    "--data-dir PATH --port 19530` and use milvus://127.0.0.1:19530/COLLECTION)") if target.embedded else ""
            raise IndexLoadError(f"{target}: cannot open the Milvus archive: {getattr(error, 'message', error)}{hint}") from None
        if target.embedded:  # milvus-lite keeps no server timestamps: each paged query logs that it fell back
            logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # (the in-process server's side of it)
        store = cls(client, target)
        store._load_collections()
        store._manifest = store._read_meta() or {}
        return store

    def _load_collections(self) -> None:
        """Load the archive's collections into memory (milvus-lite reopens an archive with them released)."""
        for name in (self.name, self.sources_name, self.terms_name):
            if _call("listing", self.location, self.client.has_collection, name):
                state = _call("load", self.location, self.client.get_load_state, name).get("state")
                if "NotLoad" in str(state):
                    _call("load", self.location, self.client.load_collection, name)

    def close(self) -> None:
        """Let go of the archive (an embedded milvus-lite archive can then be opened by another process)."""
        self.client.close()
        if self.target.embedded:
            from milvus_lite.server_manager import server_manager_instance
            server_manager_instance.release_server(self.target.uri)

    # ------------------------------------------------------------------ state
    @property
    def data(self) -> "MilvusStore":
        return self

    @property
    def manifest(self) -> dict:
        return dict(self._manifest, passages=self.count()) if self.saved else self._manifest

    @property
    def saved(self) -> bool:
        return bool(self._manifest.get("created")) and self._manifest.get("format") == FORMAT

    def start(self, model_info: dict, settings: Settings) -> None:
        """The record of a new archive (written with the collections on the first update)."""
        self._manifest = new_manifest(model_info, settings)

    def _read_meta(self) -> dict | None:
        if not _call("listing", self.location, self.client.has_collection, self.sources_name):
            return None
        rows = _call("query", self.location, self.client.get, self.sources_name, ids=[META], output_fields=["data"])
        if not rows:
            return None
        meta = rows[0]["data"]
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise IndexLoadError(f"{self.location}: not a qa-assistant archive of format {FORMAT_VERSION} "
                                 f"({meta.get('format')} {meta.get('format_version')})")
        return meta

    def snapshot(self, fresh: bool = False) -> _Snapshot:
        """What readers see, re-read when older than REFRESH_SECONDS (a writer waits longer than that
        between announcing a generation and writing it, and between retiring one and deleting it)."""
        snap = self._snapshot
        if snap is not None and not fresh and time.monotonic() - snap.taken < REFRESH_SECONDS:
            return snap
        with self._lock:
            meta = self._read_meta() if self.saved or fresh else None
            if meta is None:
                snap = _Snapshot(frozenset(), 0, 0, self._manifest, time.monotonic())
            else:
                hidden = {g for r in self.query(self.sources_name, "pending > 0 or retired > 0", ["pending", "retired"])
                          for g in (r["pending"], r["retired"]) if g > 0}
                snap = _Snapshot(frozenset(hidden), 0, int(meta.get("next_row", 0)), meta, time.monotonic())
                counted = _call("count", self.location, self.client.query, self.name, filter=snap.live(),
                                output_fields=["count(*)"])
                snap.count = int(counted[0]["count(*)"]) if counted else 0
                self._manifest = meta
            self._snapshot = snap
        return snap

    def refresh(self) -> None:
        self.snapshot(fresh=True)

    def count(self) -> int:
        return self.snapshot().count if self.saved else 0

    def query(self, collection: str, expr: str, fields: list[str], limit: int | None = None) -> list[dict]:
        """Every record matching ``expr`` (paged by primary key: no server limit on the result)."""
        out: list[dict] = []
        iterator = _call("query", self.location, self.client.query_iterator, collection, batch_size=BATCH * 2,
                         limit=limit if limit is not None else -1, filter=expr, output_fields=fields)
        try:
            while True:
                page = _call("query", self.location, iterator.next)
                if not page:
                    return out
                out.extend(page)
        finally:
            iterator.close()

    # ------------------------------------------------------------------ the sources
    def sources(self) -> dict[str, str]:
        if not self.saved:
            return {}
        return {r["key"]: r["checksum"] for r in self.query(self.sources_name, 'kind == "source" and gen > 0',
                                                            ["key", "checksum"])}

    def source_records(self) -> dict[str, dict]:
        fields = ["key", "checksum", "gen", "pending", "retired", "passages", "articles", "tokens"]
        return {r["key"]: r for r in self.query(self.sources_name, 'kind == "source"', fields)}

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
            found += self.query(self.name, snap.live(in_list("source", sources[start:start + 100])), fields)
        found.sort(key=lambda r: r["row"])
        return [(to_passage(r), np.asarray(r["dense"], np.float32) if vectors else None) for r in found]

    def article_sources(self, article_ids: Iterable[str]) -> dict[str, str]:
        ids, out = sorted(set(article_ids)), {}
        if not ids or not self.saved:
            return out
        snap = self.snapshot()
        for start in range(0, len(ids), 500):
            for r in self.query(self.name, snap.live(in_list("article_id", ids[start:start + 500])),
                                ["article_id", "source"]):
                out[r["article_id"]] = r["source"]
        return out

    def articles_named(self, key: str) -> dict[str, str]:
        if not self.saved or not key or any(c in key for c in '%"\\'):
            return {}
        rows = self.query(self.name, self.snapshot().live(f"article_id like {quote('%:' + key)}"), ["article_id", "source"])
        return {r["article_id"]: r["source"] for r in rows if r["article_id"].partition(":")[2] == key}

    def vectors_for(self, keys: Sequence[tuple[str, str]], sources: Collection[str]) -> dict:
        wanted = set(keys)
        return {(p.heading, p.text): v for p, v in self.rows_of(sources, vectors=True) if (p.heading, p.text) in wanted}

    def rows_dated(self, dates) -> np.ndarray:
        """Rows of live passages dated within ``dates`` (a ``question.DateRange``)."""
        parts = ['date != ""']
        if dates.since:
            parts.append(f"date >= {quote(dates.since)}")
        if dates.until:
            parts.append(f"date < {quote(dates.until + '~')}")  # date[:len(until)] <= until
        rows = self.query(self.name, self.snapshot().live(" and ".join(parts)), ["row"])
        return np.sort(np.fromiter((r["row"] for r in rows), np.int64, len(rows)))

    # ------------------------------------------------------------------ writing (milvus_writes.py)
    def apply(self, update) -> None:
        from .milvus_writes import apply
        apply(self, update)

    def save_if_new(self) -> None:
        from .milvus_writes import create
        if not self.saved:
            create(self)

    @contextmanager
    def writing(self):
        from .milvus_writes import writing
        with writing(self):
            yield

    def describe(self) -> dict:
        manifest = self.manifest
        records = self.source_records() if self.saved else {}
        live = {k: r for k, r in records.items() if r["gen"] > 0}
        return {"index": self.location, "model": manifest.get("model"), "passages": self.count(),
                "articles": sum(r["articles"] for r in live.values()), "dense": manifest.get("dense"),
                "sparse": manifest.get("sparse"), "sources": sorted(live), "settings": manifest.get("settings"),
                "created": manifest.get("created"), "updated": manifest.get("updated")}

    # ------------------------------------------------------------------ passages by row
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
        rows = _call("query", self.location, self.client.query, self.name, filter=in_list("row", wanted),
                     output_fields=passage_fields())
        fetched = {int(r["row"]): to_passage(r) for r in rows}
        if len(self._cache) > 200_000:  # a bound, not an LRU: the next questions fill it again
            self._cache = {}
        self._cache.update(fetched)
        if row not in fetched:
            raise IndexLoadError(f"{self.location}: passage row {row} is gone (rewritten while being read); ask again")
        return fetched[row]


def new_manifest(model_info: dict, settings: Settings) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "model": model_info, "settings": settings.recorded(),
            "dense": {"type": None, "requested": settings.index.dense, "metric": "inner_product", "normalised": True},
            "sparse": {"type": "bm25", "vectors": "client (bm25.py, same as bm25s lucene)",
                       "tokenizer": "jieba-search+opencc-t2s"},
            "next_row": 0, "next_gen": 1, "terms_dirty": False}


__all__ = ["MilvusStore", "new_manifest", "passage_fields", "to_passage"]

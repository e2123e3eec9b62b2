"""Writing a Milvus archive so that a kill -9 at any moment leaves each source old or new, never half.

Per source: announce a new generation in the source's record (readers hide announced generations), wait
for readers to see that, insert the new rows under it, then flip the record — checksum, live generation
and the old one retired, in one upsert — wait again, and delete the retired rows. A writer killed anywhere
leaves announced or retired generations recorded; the next writer deletes their rows first. BM25 document
frequencies are derived data: marked dirty before the first flip and rebuilt from the live rows if a
writer died before updating them. One writer at a time: a lease record names it (pid, host, expiry)."""
from __future__ import annotations

import os
import socket
import time
import uuid
from collections import Counter
from contextlib import contextmanager

import numpy as np

from ...settings import Settings
from ...text import SEARCH_TOKENIZER
from .. import bm25
from ..dense import choose_dense_kind
from ..errors import IndexLockedError, IndexWriteError
from ..sparse import SparseIndex
from .client import BATCH, FORMAT, FORMAT_VERSION, LEASE, META, PASSAGE_FIELDS, STORED_FIELDS, in_list
from .reading import REFRESH_SECONDS, SOURCE_FIELDS, Reader

GRACE_SECONDS = 2 * REFRESH_SECONDS + 0.2  # longer than a reader keeps its view of the live generations
LEASE_SECONDS = 600.0  # a writer renews its lease as it goes; a dead one's lapses (at once on its own host)
TEXT_LIMITS = {"passage_id": 64, "article_id": 2048, "title": 65535, "subtitle": 65535, "text": 65535,
               "source": 4096, "kind": 64, "date": 64, "url": 8192}  # bytes (UTF-8), as Milvus counts them
INT_FIELDS = ("paragraph", "part", "start_offset", "end_offset", "length")


def dense_index_params(params: dict, kind: str) -> dict:
    """Milvus's index on the dense field: exact (FLAT) or HNSW with ``params``' hnsw_m and hnsw_ef_construction."""
    if kind == "hnsw":  # index parameters nested in params: milvus-lite ignores them given flat
        return {"field_name": "dense", "index_type": "HNSW", "metric_type": "IP",
                "params": {"M": params["hnsw_m"], "efConstruction": params["hnsw_ef_construction"]}}
    return {"field_name": "dense", "index_type": "FLAT", "metric_type": "IP"}


def new_record(model: dict, settings: Settings) -> dict:
    """The record of a new archive (written with the collections on the first update)."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "model": model, "settings": settings.recorded(),
            "dense": {"type": None, "requested": settings.index.dense, "metric": "inner_product", "normalised": True},
            "sparse": {"type": "bm25", "vectors": "client (bm25.py, same as bm25s lucene)", "tokenizer": SEARCH_TOKENIZER},
            "next_row": 0, "next_gen": 1, "terms_dirty": False}


class Writer:
    """The one writer of an archive (while it holds the lease), over the reader whose view it updates."""

    def __init__(self, reader: Reader):
        self.reader, self.connection = reader, reader.connection
        self.lease: str | None = None  # this writer's lease owner, while it holds it

    # ------------------------------------------------------------------ collections
    def _create_collections(self, kind: str) -> None:
        from pymilvus import DataType
        connection, record = self.connection, self.reader.record
        client = connection.client
        if not connection.has(connection.name):
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("gen", DataType.INT64)
            for name, limit in TEXT_LIMITS.items():
                schema.add_field(name, DataType.VARCHAR, max_length=limit)
            for name in INT_FIELDS:
                schema.add_field(name, DataType.INT64)
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=int(record["model"]["dimension"]))
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            indexes = client.prepare_index_params()
            indexes.add_index(**dense_index_params(record.get("settings", {}).get("index", {}), kind))
            indexes.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
            connection.call("create", client.create_collection, connection.name, schema=schema, index_params=indexes,
                            consistency_level="Strong")
        for name, key_type in ((connection.sources_name, DataType.VARCHAR), (connection.terms_name, DataType.INT64)):
            if connection.has(name):
                continue
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            if key_type == DataType.VARCHAR:
                schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4096)
                schema.add_field("kind", DataType.VARCHAR, max_length=16)
                schema.add_field("checksum", DataType.VARCHAR, max_length=128)
                for field in ("gen", "pending", "retired", "passages", "articles", "tokens"):
                    schema.add_field(field, DataType.INT64)
                schema.add_field("data", DataType.JSON)
            else:
                schema.add_field("term", DataType.INT64, is_primary=True)
                schema.add_field("df", DataType.INT64)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
            indexes = client.prepare_index_params()
            indexes.add_index(field_name="vec", index_type="FLAT", metric_type="L2")
            connection.call("create", client.create_collection, name, schema=schema, index_params=indexes,
                            consistency_level="Strong")

    def _put(self, collection: str, records: list[dict]) -> None:
        connection = self.connection
        for start in range(0, len(records), BATCH):
            connection.call("write", connection.client.upsert, collection, records[start:start + BATCH])

    def _write_meta(self, meta: dict) -> None:
        self._put(self.connection.sources_name, [_record(META, "archive", meta)])
        self.reader.record = meta

    def create(self) -> None:
        """The collections and the archive's record (model, settings) of a new archive."""
        record = self.reader.record
        kind = choose_dense_kind(0, record["dense"]["requested"], record["settings"]["index"]["hnsw_threshold"])
        self._create_collections(kind)
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._write_meta({**record, "dense": {**record["dense"], "type": kind}, "created": now, "updated": now})
        self.reader.refresh()

    def drop(self) -> None:
        connection = self.connection
        for name in (connection.name, connection.sources_name, connection.terms_name):
            if connection.client.has_collection(name):
                connection.client.drop_collection(name)

    # ------------------------------------------------------------------ one writer
    @contextmanager
    def writing(self):
        """Hold the archive's lease, clear what a killed writer left, start from the archive as it is now."""
        reader, connection = self.reader, self.connection
        new = not reader.saved and not connection.has(connection.sources_name)
        if not reader.saved:
            self._create_collections("flat")  # the lease needs somewhere to live; dropped if this run saves nothing
        self._acquire()
        try:
            reader.refresh()
            if reader.saved:
                self.recover()
            yield
        finally:
            self._release()
            if new and not reader.saved:
                self.drop()

    def holder(self) -> dict:
        """The lease as recorded: who writes the archive now (owner, pid, host, expiry), {} when nobody does."""
        rows = self.connection.get(self.connection.sources_name, [LEASE], ["data"])
        return rows[0]["data"] if rows else {}

    def _acquire(self) -> None:
        me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        held = self.holder()
        if held and held.get("owner") != me and held.get("expires", 0) > time.time() and _alive(held):
            raise IndexLockedError(f"{self.connection.location}: index is being written by pid {held.get('pid')} on "
                                   f"{held.get('host')}; try again when it has finished")
        self.lease = me
        self._renew()
        time.sleep(0.05)
        held = self.holder()
        if held.get("owner") != me:  # another writer took it at the same moment: it goes first
            self.lease = None
            raise IndexLockedError(f"{self.connection.location}: index is being written by pid {held.get('pid')} on "
                                   f"{held.get('host')}; try again when it has finished")

    def _renew(self) -> None:
        if self.lease:
            data = {"owner": self.lease, "pid": os.getpid(), "host": socket.gethostname(),
                    "expires": time.time() + LEASE_SECONDS}
            self._put(self.connection.sources_name, [_record(LEASE, "lease", data)])

    def _release(self) -> None:
        connection = self.connection
        if self.lease and self.holder().get("owner") == self.lease:
            connection.call("write", connection.client.delete, connection.sources_name, ids=[LEASE])
        self.lease = None

    def recover(self) -> None:
        """Delete the rows of generations a killed writer announced or retired; rebuild dirty BM25 statistics."""
        connection = self.connection
        for record in self.reader.source_records().values():
            if not (record["pending"] or record["retired"]):
                continue
            for generation in (record["pending"], record["retired"]):
                if generation:
                    connection.call("delete", connection.client.delete, connection.name, filter=f"gen == {generation}")
            self._settle(record)
        if self.reader.record.get("terms_dirty"):
            self.rebuild_terms()

    def _settle(self, record: dict) -> None:
        connection = self.connection
        if record["gen"] == 0:
            connection.call("delete", connection.client.delete, connection.sources_name, ids=[record["key"]])
        else:
            self._put(connection.sources_name, [_record(**{**_fields(record), "pending": 0, "retired": 0})])

    def rebuild_terms(self) -> None:
        reader, connection = self.reader, self.connection
        counts: Counter = Counter()
        for row in reader.query("", ["row", "sparse"], reader.snapshot(fresh=True)):
            counts.update(_terms_of(row["sparse"]))
        connection.call("drop", connection.client.drop_collection, connection.terms_name)
        self._create_collections(reader.record["dense"]["type"] or "flat")
        self._put(connection.terms_name, [{"term": t, "df": n, "vec": [0.0, 0.0]} for t, n in counts.items()])
        self._write_meta({**reader.record, "terms_dirty": False})

    # ------------------------------------------------------------------ one update
    def apply(self, update) -> None:
        """Write ``update`` (store/base.py ``Update``) source by source, each flipped atomically."""
        reader, connection = self.reader, self.connection
        settings = update.settings or Settings.from_dict(reader.record.get("settings", {}))
        if not reader.saved:
            self.create()
        records = reader.source_records()
        live = {k: r for k, r in records.items() if r["gen"] > 0}
        targets = self._targets(update, live)
        params = settings.index
        kept = [r for s, r in live.items() if s not in targets]
        tokens = {s: [SparseIndex.document_tokens(p, params.heading_chars) for p in t[1]] for s, t in targets.items()}
        total = sum(r["passages"] for r in kept) + sum(len(t[1]) for t in targets.values())
        length = sum(r["tokens"] for r in kept) + sum(bm25.document_length(x) for ts in tokens.values() for x in ts)
        average = length / total if total else 1.0
        meta = connection.read_meta() or reader.record
        gens = {s: meta["next_gen"] + i for i, s in enumerate(sorted(targets))}
        first_row = meta["next_row"]
        meta = {**meta, "next_gen": meta["next_gen"] + len(gens),
                "next_row": first_row + sum(len(t[1]) for t in targets.values())}
        self._write_meta(meta)  # rows and generations are never handed out twice
        announced = [_record(**{**(_fields(live[s]) if s in live else {"key": s, "kind": "source"}),
                                "pending": gens[s]}) for s in sorted(targets)]
        self._put(connection.sources_name, announced)
        time.sleep(GRACE_SECONDS)  # readers now hide the new generations
        row, delta = first_row, Counter()
        for source in sorted(targets):
            checksum, passages, vectors = targets[source]
            records_out = []
            for passage, vector, words in zip(passages, vectors, tokens[source]):
                records_out.append(_row(passage, row, gens[source], vector, words, average, params))
                delta.update(bm25.document_terms(words).keys())
                row += 1
            for start in range(0, len(records_out), BATCH):
                connection.call("write", connection.client.insert, connection.name, records_out[start:start + BATCH])
            self._renew()
            if source in live:
                for old in connection.query(connection.name, f"gen == {live[source]['gen']}", ["row", "sparse"]):
                    delta.subtract(_terms_of(old["sparse"]))
        self._write_meta({**meta, "terms_dirty": True})
        for source in sorted(targets):  # the switch, one record per source
            checksum, passages, _ = targets[source]
            old_gen = live[source]["gen"] if source in live else 0
            flipped = {"key": source, "kind": "source", "checksum": checksum if passages else "",
                       "gen": gens[source] if passages else 0, "pending": 0, "retired": old_gen,
                       "passages": len(passages), "articles": len({p.article_id for p in passages}),
                       "tokens": sum(bm25.document_length(x) for x in tokens[source])}
            self._put(connection.sources_name, [_record(**flipped)])
        self._update_terms(delta)
        kind = choose_dense_kind(total, params.dense, params.hnsw_threshold)
        meta = {**meta, "terms_dirty": False, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "settings": settings.recorded(), "dense": {**meta["dense"], "requested": params.dense, "type": kind}}
        self._write_meta(meta)
        time.sleep(GRACE_SECONDS)  # readers have moved to the new generations
        self.recover()
        if kind != (connection.client.describe_index(connection.name, "dense").get("index_type", "").lower()):
            self._switch_dense(params, kind)
        reader.refresh()

    def _targets(self, update, live: dict) -> dict[str, tuple[str, list, np.ndarray]]:
        """Source → (checksum, passages, vectors) of every source this update changes."""
        reader = self.reader
        by_source: dict[str, list[int]] = {}
        for i, passage in enumerate(update.passages):
            by_source.setdefault(passage.source, []).append(i)
        dimension = int(reader.record["model"]["dimension"])
        targets = {}
        for source, checksum in update.replaced.items():
            rows = by_source.get(source, [])
            if rows or source in live:
                vectors = update.vectors[rows] if rows else np.zeros((0, dimension), np.float32)
                targets[source] = (checksum, [update.passages[i] for i in rows], vectors)
        if update.drop:
            drop = set(update.drop)
            ids = sorted(drop)
            touched = set()
            for start in range(0, len(ids), 500):
                touched |= {r["source"] for r in reader.query(in_list("passage_id", ids[start:start + 500]), ["source"])}
            for source in sorted(touched - set(targets)):
                rows = [(p, v) for p, v in reader.rows_of([source], vectors=True) if p.id not in drop]
                vectors = np.stack([v for _, v in rows]) if rows else np.zeros((0, dimension), np.float32)
                targets[source] = (live[source]["checksum"], [p for p, _ in rows], vectors)
        current: dict[str, list] = {}
        for passage in reader.passages_of([s for s in targets if s in live]):
            current.setdefault(passage.source, []).append(passage)
        return {s: t for s, t in targets.items()
                if not (s in live and live[s]["checksum"] == t[0] and current.get(s, []) == t[1])}

    def _update_terms(self, delta: Counter) -> None:
        connection = self.connection
        changed = [t for t, n in delta.items() if n]
        current: dict[int, int] = {}
        for start in range(0, len(changed), 4096):
            current.update(self.reader.sparse.document_frequencies(changed[start:start + 4096]))
        after = {t: current.get(t, 0) + delta[t] for t in changed}
        self._put(connection.terms_name, [{"term": t, "df": n, "vec": [0.0, 0.0]} for t, n in after.items() if n > 0])
        gone = [t for t, n in after.items() if n <= 0]
        for start in range(0, len(gone), 4096):
            connection.call("delete", connection.client.delete, connection.terms_name, ids=gone[start:start + 4096])

    def _switch_dense(self, params, kind: str) -> None:
        """Rebuild the dense index as ``kind`` (exact below the HNSW threshold, HNSW from there, or as asked)."""
        connection = self.connection
        client = connection.client
        connection.call("index", client.release_collection, connection.name)
        connection.call("index", client.drop_index, connection.name, "dense")
        indexes = client.prepare_index_params()
        indexes.add_index(**dense_index_params({"hnsw_m": params.hnsw_m,
                                                "hnsw_ef_construction": params.hnsw_ef_construction}, kind))
        connection.call("index", client.create_index, connection.name, indexes)
        connection.call("index", client.load_collection, connection.name)


def _record(key: str, kind: str, data: dict | None = None, **fields) -> dict:
    base = {"key": key, "kind": kind, "checksum": "", "gen": 0, "pending": 0, "retired": 0, "passages": 0,
            "articles": 0, "tokens": 0, "data": data or {}, "vec": [0.0, 0.0]}
    return {**base, **fields}


def _fields(record: dict) -> dict:
    return {"kind": "source", **{k: record[k] for k in SOURCE_FIELDS}}


def _terms_of(sparse) -> list[int]:
    if isinstance(sparse, dict):
        return [int(t) for t in sparse]
    return [int(t) for t in getattr(sparse, "indices", []) or []]


def _alive(lease: dict) -> bool:
    if lease.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(lease.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _row(passage, row: int, gen: int, vector: np.ndarray, words: list[str], average: float, params) -> dict:
    record = {PASSAGE_FIELDS.get(k, k): v for k, v in passage.to_dict().items() if k in STORED_FIELDS}
    for name, limit in TEXT_LIMITS.items():
        size = len(record[name].encode("utf-8"))
        if size > limit:
            raise IndexWriteError(f"{passage.source}: article {passage.article_id}: {name} is {size} bytes, over "
                                  f"Milvus's limit of {limit}")
    return {**record, "row": row, "gen": gen, "length": bm25.document_length(words),
            "dense": np.asarray(vector, np.float32).tolist(),
            "sparse": bm25.document_weights(words, average, params.bm25_k1, params.bm25_b)}


__all__ = ["GRACE_SECONDS", "LEASE_SECONDS", "Writer", "dense_index_params", "new_record"]

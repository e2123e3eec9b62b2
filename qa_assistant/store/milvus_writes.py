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

from ..embedding import ModelMismatchError
from ..settings import Settings
from . import bm25
from .dense import choose_dense_kind
from .errors import IndexLockedError
from .milvus import LEASE, META, REFRESH_SECONDS, MilvusStore
from .milvus_search import BATCH, PASSAGE_FIELDS, _call, in_list
from .sparse import SparseIndex

GRACE_SECONDS = 2 * REFRESH_SECONDS + 0.2  # longer than a reader keeps its view of the live generations
LEASE_SECONDS = 600.0  # a writer renews its lease as it goes; a dead one's lapses (at once on its own host)
TEXT_LIMITS = {"passage_id": 64, "article_id": 2048, "title": 65535, "subtitle": 65535, "text": 65535,
               "source": 4096, "kind": 64, "date": 64, "url": 8192}  # bytes (UTF-8), as Milvus counts them
INT_FIELDS = ("paragraph", "part", "start_offset", "end_offset", "length")


# ------------------------------------------------------------------ collections
def _dense_index(params, kind: str) -> dict:
    if kind == "hnsw":  # index parameters nested in params: milvus-lite ignores them given flat
        return {"field_name": "dense", "index_type": "HNSW", "metric_type": "IP",
                "params": {"M": params["hnsw_m"], "efConstruction": params["hnsw_ef_construction"]}}
    return {"field_name": "dense", "index_type": "FLAT", "metric_type": "IP"}


def _create_collections(store: MilvusStore, kind: str) -> None:
    from pymilvus import DataType
    client, where = store.client, store.location
    manifest = store._manifest
    index = manifest.get("settings", {}).get("index", {})
    if not _call("listing", where, client.has_collection, store.name):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("gen", DataType.INT64)
        for name, limit in TEXT_LIMITS.items():
            schema.add_field(name, DataType.VARCHAR, max_length=limit)
        for name in INT_FIELDS:
            schema.add_field(name, DataType.INT64)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=int(manifest["model"]["dimension"]))
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        indexes = client.prepare_index_params()
        indexes.add_index(**_dense_index(index, kind))
        indexes.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        _call("create", where, client.create_collection, store.name, schema=schema, index_params=indexes,
              consistency_level="Strong")
    for name, key_type in ((store.sources_name, DataType.VARCHAR), (store.terms_name, DataType.INT64)):
        if _call("listing", where, client.has_collection, name):
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
        _call("create", where, client.create_collection, name, schema=schema, index_params=indexes,
              consistency_level="Strong")


def _record(key: str, kind: str, data: dict | None = None, **fields) -> dict:
    base = {"key": key, "kind": kind, "checksum": "", "gen": 0, "pending": 0, "retired": 0, "passages": 0,
            "articles": 0, "tokens": 0, "data": data or {}, "vec": [0.0, 0.0]}
    return {**base, **fields}


def _put(store: MilvusStore, collection: str, records: list[dict]) -> None:
    for start in range(0, len(records), BATCH):
        _call("write", store.location, store.client.upsert, collection, records[start:start + BATCH])


def _write_meta(store: MilvusStore, meta: dict) -> None:
    _put(store, store.sources_name, [_record(META, "archive", meta)])
    store._manifest = meta


def create(store: MilvusStore) -> None:
    """The collections and the archive's record (model, settings) of a new archive."""
    manifest = store._manifest
    kind = choose_dense_kind(0, manifest["dense"]["requested"], manifest["settings"]["index"]["hnsw_threshold"])
    _create_collections(store, kind)
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    _write_meta(store, {**manifest, "dense": {**manifest["dense"], "type": kind}, "created": now, "updated": now})
    store.refresh()


def drop(store: MilvusStore) -> None:
    for name in (store.name, store.sources_name, store.terms_name):
        if store.client.has_collection(name):
            store.client.drop_collection(name)


# ------------------------------------------------------------------ one writer
@contextmanager
def writing(store: MilvusStore):
    """Hold the archive's lease, clear what a killed writer left, start from the archive as it is now."""
    model = store._manifest.get("model")
    new = not store.saved and not _call("listing", store.location, store.client.has_collection, store.sources_name)
    if not store.saved:
        _create_collections(store, "flat")  # the lease needs somewhere to live; dropped if this run saves nothing
    _acquire(store)
    try:
        store.refresh()
        recorded = store._manifest.get("model") if store.saved else None
        if recorded and model and recorded["fingerprint"] != model["fingerprint"]:
            raise ModelMismatchError(f"{store.location}: index was built with model {recorded['name']} (weights "
                                     f"{recorded['fingerprint'][:12]}…), not {model['name']}")
        if not store.saved and model:
            store._manifest = {**store._manifest, "model": model}
        if store.saved:
            recover(store)
        yield
    finally:
        _release(store)
        if new and not store.saved:
            drop(store)


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


def _lease(store: MilvusStore) -> dict:
    rows = _call("query", store.location, store.client.get, store.sources_name, ids=[LEASE], output_fields=["data"])
    return rows[0]["data"] if rows else {}


def _acquire(store: MilvusStore) -> None:
    me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    held = _lease(store)
    if held and held.get("owner") != me and held.get("expires", 0) > time.time() and _alive(held):
        raise IndexLockedError(f"{store.location}: index is being written by pid {held.get('pid')} on "
                               f"{held.get('host')}; try again when it has finished")
    store.lease = me
    _renew(store)
    time.sleep(0.05)
    held = _lease(store)
    if held.get("owner") != me:  # another writer took it at the same moment: it goes first
        store.lease = None
        raise IndexLockedError(f"{store.location}: index is being written by pid {held.get('pid')} on "
                               f"{held.get('host')}; try again when it has finished")


def _renew(store: MilvusStore) -> None:
    if store.lease:
        data = {"owner": store.lease, "pid": os.getpid(), "host": socket.gethostname(),
                "expires": time.time() + LEASE_SECONDS}
        _put(store, store.sources_name, [_record(LEASE, "lease", data)])


def _release(store: MilvusStore) -> None:
    if store.lease and _lease(store).get("owner") == store.lease:
        _call("write", store.location, store.client.delete, store.sources_name, ids=[LEASE])
    store.lease = None


def recover(store: MilvusStore) -> None:
    """Delete the rows of generations a killed writer announced or retired; rebuild dirty BM25 statistics."""
    for record in store.source_records().values():
        if not (record["pending"] or record["retired"]):
            continue
        for generation in (record["pending"], record["retired"]):
            if generation:
                _call("delete", store.location, store.client.delete, store.name, filter=f"gen == {generation}")
        _settle(store, record)
    if store._manifest.get("terms_dirty"):
        rebuild_terms(store)


def _settle(store: MilvusStore, record: dict) -> None:
    if record["gen"] == 0:
        _call("delete", store.location, store.client.delete, store.sources_name, ids=[record["key"]])
    else:
        _put(store, store.sources_name, [_record(**{**_fields(record), "pending": 0, "retired": 0})])


def _fields(record: dict) -> dict:
    keep = ("key", "checksum", "gen", "pending", "retired", "passages", "articles", "tokens")
    return {"kind": "source", **{k: record[k] for k in keep}}


def rebuild_terms(store: MilvusStore) -> None:
    counts: Counter = Counter()
    for row in store.query(store.name, store.snapshot(fresh=True).live(), ["row", "sparse"]):
        counts.update(_terms_of(row["sparse"]))
    _call("drop", store.location, store.client.drop_collection, store.terms_name)
    _create_collections(store, store._manifest["dense"]["type"] or "flat")
    _put(store, store.terms_name, [{"term": t, "df": n, "vec": [0.0, 0.0]} for t, n in counts.items()])
    _write_meta(store, {**store._manifest, "terms_dirty": False})


def _terms_of(sparse) -> list[int]:
    if isinstance(sparse, dict):
        return [int(t) for t in sparse]
    return [int(t) for t in getattr(sparse, "indices", []) or []]


# ------------------------------------------------------------------ one update
def apply(store: MilvusStore, update) -> None:
    """Write ``update`` (store/base.py ``Update``) source by source, each flipped atomically."""
    settings = update.settings or Settings.from_dict(store._manifest.get("settings", {}))
    if not store.saved:
        create(store)
    records = store.source_records()
    live = {k: r for k, r in records.items() if r["gen"] > 0}
    targets = _targets(store, update, live)
    params = settings.index
    kept = [r for s, r in live.items() if s not in targets]
    tokens = {s: [SparseIndex.document_tokens(p) for p in t[1]] for s, t in targets.items()}
    total = sum(r["passages"] for r in kept) + sum(len(t[1]) for t in targets.values())
    length = sum(r["tokens"] for r in kept) + sum(bm25.document_length(x) for ts in tokens.values() for x in ts)
    average = length / total if total else 1.0
    meta = store._read_meta() or store._manifest
    gens = {s: meta["next_gen"] + i for i, s in enumerate(sorted(targets))}
    first_row = meta["next_row"]
    meta = {**meta, "next_gen": meta["next_gen"] + len(gens),
            "next_row": first_row + sum(len(t[1]) for t in targets.values())}
    _write_meta(store, meta)  # rows and generations are never handed out twice
    announced = [_record(**{**(_fields(live[s]) if s in live else {"key": s, "kind": "source"}), "pending": gens[s]})
                 for s in sorted(targets)]
    _put(store, store.sources_name, announced)
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
            _call("write", store.location, store.client.insert, store.name, records_out[start:start + BATCH])
        _renew(store)
        if source in live:
            for old in store.query(store.name, f"gen == {live[source]['gen']}", ["row", "sparse"]):
                delta.subtract(_terms_of(old["sparse"]))
    _write_meta(store, {**meta, "terms_dirty": True})
    for source in sorted(targets):  # the switch, one record per source
        checksum, passages, _ = targets[source]
        old_gen = live[source]["gen"] if source in live else 0
        flipped = {"key": source, "kind": "source", "checksum": checksum if passages else "",
                   "gen": gens[source] if passages else 0, "pending": 0, "retired": old_gen,
                   "passages": len(passages), "articles": len({p.article_id for p in passages}),
                   "tokens": sum(bm25.document_length(x) for x in tokens[source])}
        _put(store, store.sources_name, [_record(**flipped)])
    _update_terms(store, delta)
    kind = choose_dense_kind(total, params.dense, params.hnsw_threshold)
    meta = {**meta, "terms_dirty": False, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "settings": settings.recorded(), "dense": {**meta["dense"], "requested": params.dense, "type": kind}}
    _write_meta(store, meta)
    time.sleep(GRACE_SECONDS)  # readers have moved to the new generations
    recover(store)
    if kind != (store.client.describe_index(store.name, "dense").get("index_type", "").lower()):
        _switch_dense(store, params, kind)
    store.refresh()


def _targets(store: MilvusStore, update, live: dict) -> dict[str, tuple[str, list, np.ndarray]]:
    """Source → (checksum, passages, vectors) of every source this update changes."""
    by_source: dict[str, list[int]] = {}
    for i, passage in enumerate(update.passages):
        by_source.setdefault(passage.source, []).append(i)
    dimension = int(store._manifest["model"]["dimension"])
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
            touched |= {r["source"] for r in store.query(store.name, store.snapshot().live(
                in_list("passage_id", ids[start:start + 500])), ["source"])}
        for source in sorted(touched - set(targets)):
            rows = [(p, v) for p, v in store.rows_of([source], vectors=True) if p.id not in drop]
            vectors = np.stack([v for _, v in rows]) if rows else np.zeros((0, dimension), np.float32)
            targets[source] = (live[source]["checksum"], [p for p, _ in rows], vectors)
    current: dict[str, list] = {}
    for passage in store.passages_of([s for s in targets if s in live]):
        current.setdefault(passage.source, []).append(passage)
    return {s: t for s, t in targets.items()
            if not (s in live and live[s]["checksum"] == t[0] and current.get(s, []) == t[1])}


def _row(passage, row: int, gen: int, vector: np.ndarray, words: list[str], average: float, params) -> dict:
    record = {PASSAGE_FIELDS.get(k, k): v for k, v in passage.to_dict().items()}
    for name, limit in TEXT_LIMITS.items():
        size = len(record[name].encode("utf-8"))
        if size > limit:
            raise ValueError(f"{passage.source}: article {passage.article_id}: {name} is {size} bytes, over "
                             f"Milvus's limit of {limit}")
    return {**record, "row": row, "gen": gen, "length": bm25.document_length(words),
            "dense": np.asarray(vector, np.float32).tolist(),
            "sparse": bm25.document_weights(words, average, params.bm25_k1, params.bm25_b)}


def _update_terms(store: MilvusStore, delta: Counter) -> None:
    changed = [t for t, n in delta.items() if n]
    current: dict[int, int] = {}
    for start in range(0, len(changed), 4096):
        current.update(store.sparse.document_frequencies(changed[start:start + 4096]))
    after = {t: current.get(t, 0) + delta[t] for t in changed}
    _put(store, store.terms_name, [{"term": t, "df": n, "vec": [0.0, 0.0]} for t, n in after.items() if n > 0])
    gone = [t for t, n in after.items() if n <= 0]
    for start in range(0, len(gone), 4096):
        _call("delete", store.location, store.client.delete, store.terms_name, ids=gone[start:start + 4096])


def _switch_dense(store: MilvusStore, params, kind: str) -> None:
    """Rebuild the dense index as ``kind`` (exact below the HNSW threshold, HNSW from there, or as asked)."""
    client = store.client
    _call("index", store.location, client.release_collection, store.name)
    _call("index", store.location, client.drop_index, store.name, "dense")
    indexes = client.prepare_index_params()
    indexes.add_index(**_dense_index({"hnsw_m": params.hnsw_m, "hnsw_ef_construction": params.hnsw_ef_construction},
                                     kind))
    _call("index", store.location, client.create_index, store.name, indexes)
    _call("index", store.location, client.load_collection, store.name)


__all__ = ["apply", "create", "drop", "rebuild_terms", "recover", "writing"]

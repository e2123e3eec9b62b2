"""Reading a Milvus archive the way retrieval reads a store (store/base.py): passages by row (fetched in
one query with the rows the search just found, then cached), dense search and BM25 scores over the live
generations, and the small helpers every Milvus module shares."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

from ..passages import Passage
from . import bm25
from .errors import IndexLoadError

if TYPE_CHECKING:
    from .milvus import MilvusStore

WINDOW = 16384  # BM25 rows scored exactly per question besides the dense candidates (a server's top-k limit)
BATCH = 512  # rows per insert or query page
PASSAGE_FIELDS = {"id": "passage_id", "start": "start_offset", "end": "end_offset"}  # Passage → Milvus field


def quote(text: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(str(text), ensure_ascii=False)


def in_list(field: str, values: Iterable) -> str:
    values = list(values)
    return f"{field} in [{', '.join(quote(v) if isinstance(v, str) else str(int(v)) for v in values)}]"


def _call(what: str, location: str, function, *args, **kwargs):
    """A Milvus call whose failure is one clear line naming the archive."""
    from pymilvus.exceptions import MilvusException
    try:
        return function(*args, **kwargs)
    except MilvusException as error:
        raise IndexLoadError(f"{location}: Milvus {what} failed ({getattr(error, 'message', error)})") from None


class MilvusPassages(Sequence):
    """The live passages, by row (fetched when first read, then cached: a row's content never changes)."""

    def __init__(self, store: MilvusStore):
        self.store = store

    def __len__(self) -> int:
        return self.store.count()

    def __getitem__(self, row):
        if isinstance(row, slice):
            raise TypeError("a Milvus archive's passages are read by row, not sliced")
        return self.store.passage(row)

    def hint(self, rows: Iterable[int]) -> None:
        """Rows about to be read one by one: fetched together with the first."""
        self.store.hint(rows)

    def __iter__(self) -> Iterator[Passage]:
        """Every live passage, in row order (streamed)."""
        if not self.store.saved:
            return iter(())
        rows = self.store.query(self.store.name, self.store.snapshot().live(), passage_fields())
        rows.sort(key=lambda r: r["row"])
        return (to_passage(r) for r in rows)


class MilvusDense:
    """Dense search in Milvus (inner product over normalised vectors), over the live generations."""

    def __init__(self, store: MilvusStore):
        self.store = store

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        store, snap = self.store, self.store.snapshot()
        k = min(k, snap.count if allowed is None else len(allowed))
        scores = np.full((len(queries), max(k, 0)), -np.inf, np.float32)
        rows = np.full((len(queries), max(k, 0)), -1, np.int64)
        if k <= 0 or not len(queries):
            return scores, rows
        params: dict = {"metric_type": "IP", "params": {}}
        if (snap.manifest.get("dense") or {}).get("type") == "hnsw":
            params["params"]["ef"] = max(snap.manifest.get("settings", {}).get("index", {}).get("hnsw_ef_search", 128), k)
        expr = snap.live(in_list("row", allowed) if allowed is not None else "")
        found = _call("search", store.location, store.client.search, store.name,
                      data=[np.asarray(q, np.float32).tolist() for q in queries], anns_field="dense", limit=k,
                      filter=expr, search_params=params, output_fields=["row"])
        for i, hits in enumerate(found):
            for j, hit in enumerate(h for h in hits if int(h["row"]) < snap.row_space):  # (rows newer than the view)
                if j < k:
                    rows[i, j], scores[i, j] = int(hit["row"]), float(hit["distance"])
        store.hint(rows[rows >= 0].tolist())
        return scores, rows

    def cosines(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.float32)
        store = self.store
        found = _call("query", store.location, store.client.query, store.name, filter=in_list("row", rows),
                      output_fields=["row", "dense"])
        by_row = {int(r["row"]): np.asarray(r["dense"], np.float32) for r in found}
        return np.array([float(by_row[int(r)] @ vector) if int(r) in by_row else 0.0 for r in rows], np.float32)


class MilvusSparse:
    """BM25 in Milvus: client-computed sparse vectors (bm25.py), IDF from ``<name>_terms``."""

    def __init__(self, store: MilvusStore):
        self.store = store

    def document_frequencies(self, terms: Sequence[int]) -> dict[int, int]:
        store = self.store
        if not terms:
            return {}
        rows = _call("query", store.location, store.client.get, store.terms_name, ids=sorted(set(terms)),
                     output_fields=["term", "df"])
        return {int(r["term"]): int(r["df"]) for r in rows}

    def scores(self, query_tokens: Sequence[str], rows: Sequence[int] | None = None) -> np.ndarray:
        store = self.store
        snap = store.snapshot()
        out = np.zeros(snap.row_space, np.float32)
        if not snap.count or not query_tokens:
            return out
        weights = bm25.query_weights(query_tokens, self.document_frequencies([bm25.term_id(t) for t in query_tokens]),
                                     snap.count)
        if not weights:
            return out
        params = {"metric_type": "IP", "params": {"drop_ratio_search": 0.0}}
        found = _call("search", store.location, store.client.search, store.name, data=[weights], anns_field="sparse",
                      limit=min(WINDOW, snap.count), filter=snap.live(), search_params=params, output_fields=["row"])
        seen = self._fill(out, found)
        missing = [int(r) for r in (rows if rows is not None else ()) if int(r) >= 0 and int(r) not in seen]
        if missing and len(seen) >= min(WINDOW, snap.count):
            found = _call("search", store.location, store.client.search, store.name, data=[weights],
                          anns_field="sparse", limit=len(missing), filter=snap.live(in_list("row", missing)),
                          search_params=params, output_fields=["row"])
            self._fill(out, found)
        top = np.flatnonzero(out > 0)
        if len(top) > 200:  # the rows retrieval will read: fetched with the first one it asks for
            top = top[np.argpartition(-out[top], 199)[:200]]
        store.hint(top.tolist())
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


def passage_fields() -> list[str]:
    return ["row"] + [PASSAGE_FIELDS.get(name, name) for name in Passage.__dataclass_fields__]


def to_passage(record: dict) -> Passage:
    return Passage(**{name: record[PASSAGE_FIELDS.get(name, name)] for name in Passage.__dataclass_fields__})

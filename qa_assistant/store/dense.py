"""Dense index: FAISS inner product over L2-normalised vectors (= cosine), exact or HNSW by size."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..settings import DENSE_KINDS, IndexSettings, SettingsError


def choose_dense_kind(n_passages: int, requested: str = "auto", threshold: int = IndexSettings.hnsw_threshold) -> str:
    """Exact search (flat) below ``threshold`` passages, HNSW from there, unless one is ``requested``."""
    if requested != "auto":
        if requested not in DENSE_KINDS:
            raise SettingsError(f"index.dense: unknown dense index type {requested!r} (use {', '.join(DENSE_KINDS)})")
        return requested
    return "hnsw" if n_passages >= threshold else "flat"


class DenseIndex:
    """Inner product over L2-normalised vectors (= cosine); row i is passage i of the store."""

    def __init__(self, index, kind: str):
        self.index, self.kind = index, kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", params: IndexSettings = IndexSettings()) -> "DenseIndex":
        import faiss
        dimension = vectors.shape[1]
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.hnsw_ef_construction
            index.hnsw.efSearch = params.hnsw_ef_search
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows of each query; with ``allowed``, only those rows are searched (a filter
        applied inside the search, not after it, so k results come back when k are allowed)."""
        k = min(k, len(self) if allowed is None else len(allowed))
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is None:
            return self.index.search(queries, k)
        import faiss
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.index.hnsw.efSearch, k))
                  if self.kind == "hnsw" else faiss.SearchParameters(sel=selector))
        return self.index.search(queries, k, params=params)

    def cosines(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Cosine of ``vector`` with the stored vectors of ``rows`` (candidates the search did not score)."""
        if not len(rows):
            return np.zeros(0, np.float32)
        return np.stack([self.index.reconstruct(int(r)) for r in rows]) @ vector

    def vectors(self) -> np.ndarray:
        if len(self) == 0:
            return np.zeros((0, self.index.d), np.float32)
        return self.index.reconstruct_n(0, len(self))

    def to_bytes(self) -> bytes:
        import faiss
        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def from_file(cls, path: Path, kind: str) -> "DenseIndex":
        import faiss
        return cls(faiss.read_index(str(path)), kind)



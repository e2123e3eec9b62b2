"""Dense index: FAISS inner product over L2-normalised vectors (= cosine), exact or HNSW by size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

HNSW_THRESHOLD = 200_000  # passages; below it exact search is fast enough and exact

def choose_dense_kind(n_passages: int, requested: str = "auto") -> str:
    if requested != "auto":
        if requested not in ("flat", "hnsw"):
            raise ValueError(f"unknown dense index type {requested!r} (use auto, flat or hnsw)")
        return requested
    return "hnsw" if n_passages >= HNSW_THRESHOLD else "flat"


class DenseIndex:
    """Inner product over L2-normalised vectors (= cosine); row i is passage i of the store."""

    def __init__(self, index, kind: str):
        self.index, self.kind = index, kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat") -> "DenseIndex":
        import faiss
        dimension = vectors.shape[1]
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self))
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

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



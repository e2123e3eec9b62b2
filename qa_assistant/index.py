"""Index: FAISS dense vectors plus BM25 over jieba tokens, with the passage store, saved as a JSON
manifest and content-named files. Saves are atomic: new files are written aside, the manifest is
replaced last, and only then are files the manifest no longer names removed. No pickle."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .passages import Passage
from .text import search_tokens

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HNSW_THRESHOLD = 200_000  # passages; below it exact search is fast enough and exact


class IndexLoadError(RuntimeError):
    """A missing, foreign, truncated or altered index (named by its folder and file)."""




def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# ---------------------------------------------------------------- dense (FAISS)

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


# ---------------------------------------------------------------- sparse (BM25)

class SparseIndex:
    """BM25 (bm25s) over jieba search tokens of the normalised heading + passage text."""

    def __init__(self, model, vocabulary: dict[str, int], size: int):
        self.model, self.vocabulary, self.size = model, vocabulary, size

    @staticmethod
    def document_tokens(passage: Passage) -> list[str]:
        return search_tokens(f"{passage.heading}\n{passage.text}")

    @classmethod
    def build(cls, token_lists: Sequence[list[str]]) -> "SparseIndex":
        import bm25s
        model = bm25s.BM25(k1=1.2, b=0.75)
        if token_lists:
            model.index([tokens or [""] for tokens in token_lists], show_progress=False)
            vocabulary = dict(model.vocab_dict)
        else:
            vocabulary = {}
        return cls(model, vocabulary, len(token_lists))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage (all zeros when no query token is in the vocabulary)."""
        known = [t for t in query_tokens if t in self.vocabulary]
        if not known or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.model.save(str(folder), show_progress=False)
        (folder / "size.json").write_text(json.dumps({"size": self.size}))

    @classmethod
    def load(cls, folder: Path) -> "SparseIndex":
        import bm25s
        size = json.loads((folder / "size.json").read_text())["size"]
        if not size:
            return cls.build([])
        model = bm25s.BM25.load(str(folder), load_corpus=False, mmap=False)
        return cls(model, dict(model.vocab_dict), size)


# ---------------------------------------------------------------- the index folder

@dataclass
class IndexData:
    """Everything an index holds in memory: passages (row order), dense and sparse indexes, manifest."""
    passages: list[Passage]
    dense: DenseIndex
    sparse: SparseIndex
    manifest: dict


def _store_bytes(passages: Sequence[Passage]) -> bytes:
    lines = [json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) for p in passages]
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def build_index_data(passages: list[Passage], vectors: np.ndarray, model_info: dict, dense_kind: str = "auto",
                     sources: dict[str, str] | None = None, previous: dict | None = None,
                     sparse_tokens: Callable[[Passage], list[str]] | None = None) -> IndexData:
    kind = choose_dense_kind(len(passages), dense_kind)
    dense = DenseIndex.build(vectors, kind)
    tokenize = sparse_tokens or SparseIndex.document_tokens
    sparse = SparseIndex.build([tokenize(p) for p in passages])
    manifest = {
        "format": "qa-assistant-index", "format_version": FORMAT_VERSION, "model": model_info,
        "dense": {"type": kind, "requested": dense_kind, "metric": "inner_product", "normalised": True},
        "sparse": {"type": "bm25", "library": "bm25s", "k1": 1.2, "b": 0.75, "tokenizer": "jieba-search+opencc-t2s"},
        "passages": len(passages), "articles": len({p.article_id for p in passages}),
        "sources": dict(sorted((sources or {}).items())),
        "created": (previous or {}).get("created") or time.strftime("%Y-%m-%dT%H:%M:%S"),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return IndexData(passages, dense, sparse, manifest)


def save_index(data: IndexData, folder: str | Path) -> dict:
    """Write the index atomically; returns the manifest written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = _store_bytes(data.passages)
    tag = hashlib.sha256(store).hexdigest()[:12]
    dense_bytes = data.dense.to_bytes()
    dense_tag = hashlib.sha256(dense_bytes).hexdigest()[:12]
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        files: dict[str, str] = {}
        store_name, dense_name, sparse_name = f"passages-{tag}.jsonl", f"dense-{dense_tag}.faiss", f"bm25-{tag}"
        _fsync_write(scratch / store_name, store)
        _fsync_write(scratch / dense_name, dense_bytes)
        data.sparse.save(scratch / sparse_name)
        for path in sorted((scratch / sparse_name).iterdir()):
            with open(path, "rb+") as handle:
                os.fsync(handle.fileno())
            files[f"{sparse_name}/{path.name}"] = sha256_file(path)
        files[store_name] = hashlib.sha256(store).hexdigest()
        files[dense_name] = hashlib.sha256(dense_bytes).hexdigest()
        for name in (store_name, dense_name, sparse_name):
            destination = folder / name
            if destination.is_dir():
                shutil.rmtree(destination)
            os.replace(scratch / name, destination)
        manifest = dict(data.manifest)
        manifest["files"] = {"store": store_name, "dense": dense_name, "sparse": sparse_name, "sha256": files}
        manifest_tmp = scratch / MANIFEST
        _fsync_write(manifest_tmp, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        os.replace(manifest_tmp, folder / MANIFEST)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    keep = {MANIFEST, store_name, dense_name, sparse_name}
    for stale in folder.iterdir():
        if stale.name not in keep and (stale.name.startswith(("passages-", "dense-", "bm25-", ".tmp-"))):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    data.manifest = manifest
    return manifest


def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise IndexLoadError(f"{folder}: no such index folder (build one with: qa-assistant index PATH --index {folder})")
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexLoadError(f"{folder}: not an index (no {MANIFEST}; build one with: qa-assistant index PATH --index {folder})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IndexLoadError(f"{path}: damaged manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "qa-assistant-index":
        raise IndexLoadError(f"{path}: not a qa-assistant index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"{path}: index format {manifest.get('format_version')} is not supported "
                                f"(this version reads {FORMAT_VERSION}); rebuild the index")
    return manifest


def load_index(folder: str | Path, verify: bool = True) -> IndexData:
    """Load an index; with ``verify`` every file is checked against the manifest's sha256 first."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    files = manifest["files"]
    if verify:
        for name, expected in files["sha256"].items():
            path = folder / name
            if not path.is_file():
                raise IndexLoadError(f"{path}: missing index file")
            if sha256_file(path) != expected:
                raise IndexLoadError(f"{path}: checksum mismatch (file truncated or altered); rebuild the index")
    try:
        lines = (folder / files["store"]).read_text(encoding="utf-8").splitlines()
        passages = [Passage.from_dict(json.loads(line)) for line in lines if line]
        dense = DenseIndex.from_file(folder / files["dense"], manifest["dense"]["type"])
        sparse = SparseIndex.load(folder / files["sparse"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise IndexLoadError(f"{folder}: cannot read index files ({error})") from None
    if not (len(passages) == len(dense) == sparse.size == manifest["passages"]):
        raise IndexLoadError(f"{folder}: index parts disagree ({len(passages)} passages, {len(dense)} vectors, "
                                f"{sparse.size} BM25 rows, manifest says {manifest['passages']})")
    log.info("index %s: %d passages from %d articles, dense %s, model %s (weights %s…)", folder,
             len(passages), manifest["articles"], manifest["dense"]["type"], manifest["model"]["name"],
             manifest["model"]["fingerprint"][:12])
    return IndexData(passages, dense, sparse, manifest)

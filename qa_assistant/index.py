"""Index: FAISS dense vectors plus BM25 over jieba tokens, with the passage store, saved as a JSON
manifest and content-named files. Saves are atomic: new files are written aside, the manifest is
replaced last, and only then are files the manifest no longer names removed. No pickle."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .passages import Passage, context_heading
from .text import search_tokens

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HNSW_THRESHOLD = 200_000  # passages; below it exact search is fast enough and exact


class IndexLoadError(RuntimeError):
    """A missing, foreign, truncated or altered index (named by its folder and file)."""


class IndexLockedError(IndexLoadError):
    """Another process (or thread) is writing the index right now."""


LOCK = "index.lock"
SCRATCH_PREFIX = ".tmp-qa-index-"
SCRATCH_MARK = ".qa-assistant-scratch"  # the first file written into a scratch folder: it is ours to remove
_CONTENT_NAMED = re.compile(r"(?:passages-(?P<store>[0-9a-f]{12})\.jsonl|dense-(?P<dense>[0-9a-f]{12})\.faiss"
                            r"|bm25-(?P<sparse>[0-9a-f]{12}))")


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


def _fsync_dir(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _sparse_tag(files: dict[str, str]) -> str:
    """The name tag of a BM25 folder: a hash over its files' names and checksums."""
    return hashlib.sha256("".join(f"{n}\0{h}\n" for n, h in sorted(files.items())).encode()).hexdigest()


def written_by_index(path: Path) -> bool:
    """Did an index save write this file or folder? Index files are named by their content (the name
    holds the start of its checksum, which is checked), scratch folders carry a mark file; nothing else
    in an index folder is ever removed or counted as the index's own."""
    if path.is_symlink():
        return False
    if path.name.startswith(SCRATCH_PREFIX) and path.is_dir():
        return (path / SCRATCH_MARK).is_file() or not any(path.iterdir())
    match = _CONTENT_NAMED.fullmatch(path.name)
    if match is None:
        return False
    try:
        if match["sparse"]:
            if not path.is_dir() or any(not p.is_file() for p in path.iterdir()):
                return False
            return _sparse_tag({p.name: sha256_file(p) for p in path.iterdir()})[:12] == match["sparse"]
        return path.is_file() and sha256_file(path)[:12] == (match["store"] or match["dense"])
    except OSError:
        return False


# ---------------------------------------------------------------- writers: one at a time

def check_index_folder(folder: str | Path) -> None:
    """Refuse to write an index into something that is not one: a file, or a folder that holds other
    things and no manifest (a typo in ``--index`` must not scatter index files among a user's files)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexLoadError(f"{folder}: is a file, not an index folder")
    if not folder.is_dir() or (folder / MANIFEST).is_file():
        return
    foreign = sorted(p.name for p in folder.iterdir() if p.name != LOCK and not written_by_index(p))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise IndexLoadError(f"{folder}: not an index (no {MANIFEST}) and not empty ({shown}); "
                             f"give a new or empty folder for the index")


_thread_locks: dict[str, threading.RLock] = {}
_lock_depth: dict[str, int] = {}
_registry_lock = threading.Lock()


@contextmanager
def write_lock(folder: str | Path) -> Iterator[None]:
    """Hold the index folder's write lock: ``index.lock`` with an exclusive ``flock`` (released by the
    kernel when the process dies, even by kill -9, so a crash never leaves a stale lock). A second
    writer fails at once with :class:`IndexLockedError` naming the pid of the first. Re-entrant
    within one thread."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    with _registry_lock:
        thread_lock = _thread_locks.setdefault(key, threading.RLock())
    if not thread_lock.acquire(blocking=False):
        raise IndexLockedError(f"{folder}: index is being written by pid {os.getpid()} (another thread); "
                               f"try again when it has finished")
    descriptor = None
    try:
        if _lock_depth.get(key, 0) == 0:
            descriptor = _acquire_file_lock(folder)
        _lock_depth[key] = _lock_depth.get(key, 0) + 1
        try:
            yield
        finally:
            _lock_depth[key] -= 1
            if descriptor is not None:
                _release_file_lock(descriptor)
    finally:
        thread_lock.release()


def _acquire_file_lock(folder: Path) -> int:
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        return -1
    descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = ""
        for _ in range(20):  # the holder writes its pid right after taking the lock
            holder = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
            if holder:
                break
            time.sleep(0.05)
        os.close(descriptor)
        raise IndexLockedError(f"{folder}: index is being written by pid {holder or '(unknown)'}; "
                               f"try again when it has finished") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
    return descriptor


def _release_file_lock(descriptor: int) -> None:
    if descriptor < 0:
        return
    import fcntl
    try:
        os.ftruncate(descriptor, 0)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


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
        return search_tokens(f"{context_heading(passage.heading)}\n{passage.text}")

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


def _sparse_matches(folder: Path, expected: dict[str, str]) -> bool:
    """Does the BM25 folder hold exactly the expected files with the expected contents?"""
    try:
        present = {p.name for p in folder.iterdir() if p.is_file()}
        return present == set(expected) and all(sha256_file(folder / n) == h for n, h in expected.items())
    except OSError:
        return False


def save_index(data: IndexData, folder: str | Path) -> dict:
    """Write the index atomically; returns the manifest written.

    Crash safety (kill -9 at any moment leaves a loadable index, the old or the new one): every file is
    named by its content and written into a scratch folder first, then moved next to the old files
    (which keep their names), and only then is the manifest replaced — the single atomic switch from
    the old index to the new one. Files the new manifest does not name are removed after that. A
    file or folder that already has its content-derived name is the same content; a damaged one
    (its checksum disagrees) is replaced. The folder's write lock is held throughout."""
    folder = Path(folder)
    check_index_folder(folder)
    with write_lock(folder):
        return _save_locked(data, folder)


def _save_locked(data: IndexData, folder: Path) -> dict:
    store = _store_bytes(data.passages)
    store_sha = hashlib.sha256(store).hexdigest()
    dense_bytes = data.dense.to_bytes()
    dense_sha = hashlib.sha256(dense_bytes).hexdigest()
    store_name, dense_name = f"passages-{store_sha[:12]}.jsonl", f"dense-{dense_sha[:12]}.faiss"
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=folder))
    try:
        (scratch / SCRATCH_MARK).touch()
        _fsync_write(scratch / store_name, store)
        _fsync_write(scratch / dense_name, dense_bytes)
        sparse_scratch = scratch / "bm25"
        data.sparse.save(sparse_scratch)
        sparse_files: dict[str, str] = {}
        for path in sorted(sparse_scratch.iterdir()):
            with open(path, "rb+") as handle:
                os.fsync(handle.fileno())
            sparse_files[path.name] = sha256_file(path)
        _fsync_dir(sparse_scratch)
        sparse_name = f"bm25-{_sparse_tag(sparse_files)[:12]}"
        files = {store_name: store_sha, dense_name: dense_sha}
        files.update({f"{sparse_name}/{n}": h for n, h in sparse_files.items()})

        # new files next to the old ones (renames are atomic; an existing name holds the same bytes)
        os.replace(scratch / store_name, folder / store_name)
        os.replace(scratch / dense_name, folder / dense_name)
        destination = folder / sparse_name
        if destination.is_dir() and not _sparse_matches(destination, sparse_files):
            os.replace(destination, scratch / "damaged")  # already unusable: whoever names it fails its checksum
        if not destination.is_dir():
            os.replace(sparse_scratch, destination)
        _fsync_dir(folder)

        # the switch: one atomic rename of the manifest
        manifest = dict(data.manifest)
        manifest["files"] = {"store": store_name, "dense": dense_name, "sparse": sparse_name, "sha256": files}
        _fsync_write(scratch / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        os.replace(scratch / MANIFEST, folder / MANIFEST)
        _fsync_dir(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    keep = {MANIFEST, LOCK, store_name, dense_name, sparse_name}
    for stale in folder.iterdir():  # files of older indexes and scratch folders of crashed writers, only
        if stale.name not in keep and written_by_index(stale):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    data.manifest = manifest
    return manifest


def _safe_name(name) -> bool:
    return isinstance(name, str) and bool(name) and not name.startswith(("/", "\\")) and ".." not in Path(name).parts


def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexLoadError(f"{folder}: is a file, not an index folder")
    if not folder.is_dir():
        raise IndexLoadError(f"{folder}: no such index folder (build one with: qa-assistant index PATH --index {folder})")
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexLoadError(f"{folder}: not an index (no {MANIFEST}; build one with: qa-assistant index PATH --index {folder})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IndexLoadError(f"{path}: damaged manifest ({error})") from None
    except OSError as error:
        raise IndexLoadError(f"{path}: cannot read ({error.strerror or error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "qa-assistant-index":
        raise IndexLoadError(f"{path}: not a qa-assistant index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"{path}: index format {manifest.get('format_version')} is not supported "
                                f"(this version reads {FORMAT_VERSION}); rebuild the index")
    files = manifest.get("files")
    model = manifest.get("model")
    valid = (isinstance(files, dict) and isinstance(files.get("sha256"), dict)
             and all(_safe_name(files.get(k)) for k in ("store", "dense", "sparse"))
             and all(_safe_name(n) and isinstance(h, str) for n, h in files["sha256"].items())
             and isinstance(model, dict) and isinstance(model.get("name"), str) and isinstance(model.get("fingerprint"), str)
             and isinstance(manifest.get("dense"), dict) and isinstance(manifest.get("passages"), int)
             and isinstance(manifest.get("sources", {}), dict))
    if not valid:
        raise IndexLoadError(f"{path}: damaged manifest (missing or malformed fields); rebuild the index")
    return manifest


def load_index(folder: str | Path, verify: bool = True) -> IndexData:
    """Load an index; with ``verify`` every file is checked against the manifest's sha256 first.
    A writer that replaces the index while it is being read makes the reader start again."""
    folder = Path(folder)
    for attempt in range(3):
        manifest = read_manifest(folder)
        try:
            return _load(folder, manifest, verify)
        except IndexLoadError:
            try:
                changed = read_manifest(folder).get("files") != manifest.get("files")
            except IndexLoadError:
                changed = False
            if not changed or attempt == 2:
                raise
            log.info("index %s was replaced while loading; reading it again", folder)
    raise AssertionError("unreachable")


def _load(folder: Path, manifest: dict, verify: bool) -> IndexData:
    files = manifest["files"]
    listed = files["sha256"]
    if verify:
        unlisted = [n for n in (files["store"], files["dense"]) if n not in listed]
        if not any(n.startswith(files["sparse"] + "/") for n in listed):
            unlisted.append(files["sparse"])
        if unlisted:
            raise IndexLoadError(f"{folder / MANIFEST}: no checksum for {', '.join(unlisted)} (manifest altered); rebuild the index")
        for name, expected in listed.items():
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
    except Exception as error:  # noqa: BLE001 — whatever the readers raise, the user gets one clear line
        raise IndexLoadError(f"{folder}: cannot read index files ({type(error).__name__}: {error}); "
                             f"rebuild the index") from None
    if not (len(passages) == len(dense) == sparse.size == manifest["passages"]):
        raise IndexLoadError(f"{folder}: index parts disagree ({len(passages)} passages, {len(dense)} vectors, "
                                f"{sparse.size} BM25 rows, manifest says {manifest['passages']})")
    dimension = manifest["model"].get("dimension")
    if dimension is not None and len(dense) and dense.index.d != dimension:
        raise IndexLoadError(f"{folder / files['dense']}: vectors have {dense.index.d} dimensions, "
                             f"the model has {dimension}; rebuild the index")
    log.info("index %s: %d passages from %d articles, dense %s, model %s (weights %s…)", folder,
             len(passages), manifest.get("articles", "?"), manifest["dense"].get("type"), manifest["model"]["name"],
             manifest["model"]["fingerprint"][:12])
    return IndexData(passages, dense, sparse, manifest)

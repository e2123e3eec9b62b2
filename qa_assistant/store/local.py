"""The local index folder: passages, dense and sparse indexes and a JSON manifest, saved atomically
under content-derived names (new files aside, the manifest replaced last, then only the index's own
stale files removed) and loaded with every file checked against the manifest. No pickle."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..passages import Passage
from ..settings import Settings
from ..text import SEARCH_TOKENIZER
from .dense import DenseIndex, choose_dense_kind
from .errors import IndexLoadError, IndexWriteError
from .files import (LOCK, MANIFEST, SCRATCH_MARK, SCRATCH_PREFIX, check_index_folder, fsync_dir, fsync_write,
                    sha256_file, sparse_tag, written_by_index)
from .lock import write_lock
from .sparse import SparseIndex, check_tokenizer

log = logging.getLogger(__name__)

FORMAT_VERSION = 1

@dataclass
class IndexData:
    """Everything an index holds in memory: passages (row order), dense and sparse indexes, manifest; the
    :class:`~qa_assistant.store.base.SearchData` of a folder store."""
    passages: list[Passage]
    dense: DenseIndex
    sparse: SparseIndex
    manifest: dict
    _dated: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # date range → rows (the last 32)

    def rows_dated(self, dates) -> np.ndarray:
        """Rows of passages whose article is dated within ``dates``: one pass over the passages per range, cached."""
        cached = self._dated.get(dates)
        if cached is None:
            cached = np.fromiter((row for row, p in enumerate(self.passages) if dates.contains(p.date)), np.int64)
            self._dated = {**dict(list(self._dated.items())[-31:]), dates: cached}
        return cached

    def hint(self, rows) -> None:
        """Nothing to fetch: every passage is in memory."""


def _store_bytes(passages: Sequence[Passage]) -> bytes:
    lines = [json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) for p in passages]
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def build_index_data(passages: list[Passage], vectors: np.ndarray, model_info: dict, dense_kind: str | None = None,
                     sources: dict[str, str] | None = None, previous: dict | None = None,
                     settings: Settings | None = None) -> IndexData:
    """Build the in-memory index of ``passages`` (row i has vector i); ``settings`` are recorded in the
    manifest, and their index parameters (dense type, HNSW, BM25 k1/b, the headline budget) shape it."""
    settings = settings or Settings()
    params = settings.index
    dense_kind = dense_kind or params.dense
    kind = choose_dense_kind(len(passages), dense_kind, params.hnsw_threshold)
    dense = DenseIndex.build(vectors, kind, params)
    sparse = SparseIndex.build([SparseIndex.document_tokens(p, params.heading_chars) for p in passages],
                               params.bm25_k1, params.bm25_b)
    if dense_kind != params.dense:
        settings = settings.replace(index=dataclasses.replace(params, dense=dense_kind))
    now, before = time.strftime("%Y-%m-%dT%H:%M:%S"), previous or {}
    # when each source was indexed: kept while its checksum is unchanged (older indexes: their last update)
    old_sources, old_times = before.get("sources", {}), before.get("indexed", {})
    indexed = {s: (old_times.get(s) or before.get("updated") or now) if old_sources.get(s) == d else now
               for s, d in sorted((sources or {}).items())}
    manifest = {
        "format": "qa-assistant-index", "format_version": FORMAT_VERSION, "model": model_info,
        "settings": settings.recorded(),
        "dense": {"type": kind, "requested": dense_kind, "metric": "inner_product", "normalised": True},
        "sparse": {"type": "bm25", "library": "bm25s", "tokenizer": SEARCH_TOKENIZER},
        "passages": len(passages), "articles": len({p.article_id for p in passages}),
        "sources": dict(sorted((sources or {}).items())), "indexed": indexed,
        "created": before.get("created") or now, "updated": now,
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
        try:
            return _save_locked(data, folder)
        except OSError as error:  # full disk, read-only or vanished folder: the manifest was not switched
            raise IndexWriteError(f"{folder}: cannot write the index ({_reason(error)}); nothing was "
                                  f"changed, the previous version of the index is intact") from None


def _reason(error: OSError) -> str:
    """An OSError in words (No space left on device …), with the file it names."""
    where = f": {Path(error.filename).name}" if error.filename else ""
    return f"{error.strerror or error}{where}"


def _save_locked(data: IndexData, folder: Path) -> dict:
    store = _store_bytes(data.passages)
    store_sha = hashlib.sha256(store).hexdigest()
    dense_bytes = data.dense.to_bytes()
    dense_sha = hashlib.sha256(dense_bytes).hexdigest()
    store_name, dense_name = f"passages-{store_sha[:12]}.jsonl", f"dense-{dense_sha[:12]}.faiss"
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=folder))
    try:
        (scratch / SCRATCH_MARK).touch()
        fsync_write(scratch / store_name, store)
        fsync_write(scratch / dense_name, dense_bytes)
        sparse_scratch = scratch / "bm25"
        data.sparse.save(sparse_scratch)
        sparse_files: dict[str, str] = {}
        for path in sorted(sparse_scratch.iterdir()):
            with open(path, "rb+") as handle:
                os.fsync(handle.fileno())
            sparse_files[path.name] = sha256_file(path)
        fsync_dir(sparse_scratch)
        sparse_name = f"bm25-{sparse_tag(sparse_files)[:12]}"
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
        fsync_dir(folder)

        # the switch: one atomic rename of the manifest
        manifest = dict(data.manifest)
        manifest["files"] = {"store": store_name, "dense": dense_name, "sparse": sparse_name, "sha256": files}
        fsync_write(scratch / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        os.replace(scratch / MANIFEST, folder / MANIFEST)
        fsync_dir(folder)
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
    check_tokenizer(manifest, path)
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

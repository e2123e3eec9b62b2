"""The local folder as a :class:`~qa_assistant.store.base.Store`: the whole index in memory (``IndexData``),
rewritten and saved atomically on every update (local.py), one writer at a time (lock.py), and another
process's save noticed at one ``stat`` of the manifest."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np

from ..settings import Settings
from .base import Update
from .errors import IndexLoadError
from .files import LOCK, MANIFEST, check_index_folder
from .local import IndexData, build_index_data, load_index, read_manifest, save_index
from .lock import write_lock

log = logging.getLogger(__name__)


def manifest_stamp(folder: Path | None) -> tuple | None:
    """The manifest file's identity (inode, mtime, size): a save replaces the file, so every save changes it."""
    if folder is None:
        return None
    try:
        status = os.stat(folder / MANIFEST)
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class FolderStore:
    """An index folder (or, with ``folder`` None, an index in memory only); ``data`` None until it is loaded
    or started."""

    def __init__(self, folder: str | Path | None = None, data: IndexData | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.location = str(self.folder) if self.folder else "(in memory)"
        self._data = data
        self._stamp: tuple | None = None  # the manifest as of the index in memory

    @classmethod
    def open(cls, folder: str | Path | None, verify: bool = True, create: bool = True) -> "FolderStore":
        """The index in ``folder``, loaded (every file checked against its checksum unless ``verify`` is
        False); without one, a store to start (``create``), or the clear "no such index" error. A folder
        that holds other things is refused before anything is written or loaded."""
        store = cls(folder)
        if store.folder is None:
            return store
        if (store.folder / MANIFEST).is_file():
            store._load(verify)
            return store
        if not create:
            read_manifest(store.folder)  # raises the error that says what is there instead
        check_index_folder(store.folder)
        return store

    def _load(self, verify: bool = True) -> None:
        stamp = manifest_stamp(self.folder)  # taken first: a save while loading shows as a change
        self._data = load_index(self.folder, verify=verify)
        self._stamp = stamp

    # ------------------------------------------------------------------ state
    @property
    def data(self) -> IndexData:
        return self._data

    @property
    def manifest(self) -> dict:
        return self._data.manifest if self._data is not None else {}

    @property
    def saved(self) -> bool:
        return "files" in self.manifest

    def start(self, model: dict, settings: Settings) -> None:
        self._data = build_index_data([], np.zeros((0, model["dimension"]), np.float32), model, settings=settings)

    def changed(self) -> bool:
        """One stat when nothing changed; a manifest rewritten with the same files is no change."""
        now = manifest_stamp(self.folder)
        if now is None or now == self._stamp:
            return False
        try:
            same = read_manifest(self.folder).get("files") == self.manifest.get("files")
        except IndexLoadError:  # damaged or vanished right now: keep answering from what is loaded
            return False
        if same:
            self._stamp = now
        return not same

    def refresh(self) -> None:
        if self.folder is None or not (self.folder / MANIFEST).is_file():
            return
        stamp = manifest_stamp(self.folder)
        if read_manifest(self.folder).get("files") == self.manifest.get("files"):
            self._stamp = stamp
            return
        log.info("index %s was changed since it was loaded; reading the saved version", self.folder)
        self._load()

    def settled(self) -> bool:
        """A save is one rename: a killed writer leaves only files the next save removes."""
        return True

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        return len(self._data.passages)

    def sources(self) -> dict[str, str]:
        return dict(self.manifest.get("sources", {}))

    def passages_of(self, sources: Iterable[str]) -> list:
        wanted = set(sources)
        return [p for p in self._data.passages if p.source in wanted]

    def article_sources(self, article_ids: Iterable[str]) -> dict[str, str]:
        wanted = set(article_ids)
        return {p.article_id: p.source for p in self._data.passages if p.article_id in wanted}

    def articles_named(self, key: str) -> dict[str, str]:
        return {p.article_id: p.source for p in self._data.passages if p.article_id.partition(":")[2] == key}

    def vectors_for(self, keys: Sequence[tuple[str, str]], sources: Collection[str]) -> dict:
        """Vectors of passages anywhere in the index with the same heading and text."""
        rows = {(p.heading, p.text): row for row, p in enumerate(self._data.passages)}
        found = {key: rows[key] for key in keys if key in rows}
        if not found:
            return {}
        vectors = self._data.dense.vectors()
        return {key: vectors[row] for key, row in found.items()}

    def describe(self) -> dict:
        manifest = self.manifest
        return {"index": str(self.folder) if self.folder else None, "model": manifest["model"],
                "passages": manifest["passages"], "articles": manifest["articles"],
                "dense": manifest["dense"], "sparse": manifest["sparse"], "sources": list(manifest.get("sources", {})),
                "settings": manifest.get("settings"), "created": manifest.get("created"),
                "updated": manifest.get("updated")}

    # ------------------------------------------------------------------ writing
    def apply(self, update: Update) -> None:
        """The new index: other sources' passages in their rows, then the new ones; saved atomically."""
        data, replaced, drop = self._data, dict(update.replaced), set(update.drop)
        keep = [i for i, p in enumerate(data.passages) if p.source not in replaced and p.id not in drop]
        kept_ids = {data.passages[i].id for i in keep}
        fresh = [i for i, p in enumerate(update.passages) if p.id not in kept_ids]
        passages = [data.passages[i] for i in keep] + [update.passages[i] for i in fresh]
        dimension = data.dense.index.d
        old = data.dense.vectors()[keep] if keep else np.zeros((0, dimension), np.float32)
        new = update.vectors[fresh] if fresh else np.zeros((0, dimension), np.float32)
        live = {p.source for p in passages}
        sources = {s: d for s, d in data.manifest.get("sources", {}).items() if s not in replaced}
        sources.update(replaced)
        sources = {s: d for s, d in sorted(sources.items()) if s in live}
        built = build_index_data(passages, np.concatenate([old, new]), data.manifest["model"], sources=sources,
                                 previous=data.manifest, settings=update.settings)
        self._save(built)
        self._data = built

    def save_if_new(self) -> None:
        if self.folder is not None and not (self.folder / MANIFEST).is_file():
            self._save(self._data)

    def _save(self, data: IndexData) -> None:
        if self.folder is not None:
            save_index(data, self.folder)
            self._stamp = manifest_stamp(self.folder)  # the write lock is held: no other save came in between

    @contextmanager
    def writing(self):
        """Hold the folder's write lock and start from the index as saved: another writer may have
        saved it since this object loaded it, and its work must not be lost."""
        if self.folder is None:
            yield
            return
        folder = self.folder
        check_index_folder(folder)
        created = not folder.exists()
        try:
            with write_lock(folder):
                self.refresh()
                yield
        finally:
            if created and not (folder / MANIFEST).is_file():  # a failed first run leaves no folder behind
                (folder / LOCK).unlink(missing_ok=True)
                try:
                    folder.rmdir()
                except OSError:
                    pass

    def close(self) -> None:
        """Nothing is held open between calls."""


__all__ = ["FolderStore", "manifest_stamp"]

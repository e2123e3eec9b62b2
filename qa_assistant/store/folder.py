"""The local folder as a :class:`~qa_assistant.store.base.Store`: the whole index in memory (``IndexData``),
rewritten and saved atomically on every update (local.py), one writer at a time (lock.py)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np

from ..embedding import ModelMismatchError
from .base import Update
from .files import LOCK, MANIFEST, check_index_folder
from .local import IndexData, build_index_data, load_index, read_manifest, save_index
from .lock import write_lock

log = logging.getLogger(__name__)


class FolderStore:
    """An index folder (or, with ``folder`` None, an index in memory only)."""

    def __init__(self, data: IndexData, folder: str | Path | None = None):
        self._data = data
        self.folder = Path(folder) if folder else None
        self.location = str(self.folder) if self.folder else "(in memory)"

    @property
    def data(self) -> IndexData:
        return self._data

    @property
    def manifest(self) -> dict:
        return self._data.manifest

    @property
    def saved(self) -> bool:
        return "files" in self._data.manifest

    def count(self) -> int:
        return len(self._data.passages)

    def sources(self) -> dict[str, str]:
        return dict(self._data.manifest.get("sources", {}))

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
        if self.folder is not None:
            save_index(built, self.folder)
        self._data = built

    def save_if_new(self) -> None:
        if self.folder is not None and not (self.folder / MANIFEST).is_file():
            save_index(self._data, self.folder)

    def save(self, folder: str | Path) -> Path:
        save_index(self._data, folder)
        self.folder, self.location = Path(folder), str(folder)
        return self.folder

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

    def refresh(self) -> None:
        if self.folder is None or not (self.folder / MANIFEST).is_file():
            return
        on_disk = read_manifest(self.folder)
        mine = self._data.manifest
        if on_disk.get("files") == mine.get("files"):
            return
        if on_disk["model"]["fingerprint"] != mine["model"]["fingerprint"]:
            raise ModelMismatchError(f"{self.folder}: index was built with model {on_disk['model']['name']} "
                                     f"(weights {on_disk['model']['fingerprint'][:12]}…), not "
                                     f"{mine['model']['name']}")
        log.info("index %s was changed since it was loaded; updating the saved version", self.folder)
        self._data = load_index(self.folder)

    def describe(self) -> dict:
        manifest = self._data.manifest
        return {"index": str(self.folder) if self.folder else None, "model": manifest["model"],
                "passages": manifest["passages"], "articles": manifest["articles"],
                "dense": manifest["dense"], "sparse": manifest["sparse"], "sources": list(manifest.get("sources", {})),
                "settings": manifest.get("settings"), "created": manifest.get("created"),
                "updated": manifest.get("updated")}


__all__ = ["FolderStore"]

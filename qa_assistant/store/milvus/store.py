"""The archive in Milvus (a server, a cluster, or milvus-lite embedded) as a :class:`~qa_assistant.store.base.Store`:
one collection of passages (text and metadata as fields, the dense vector, the BM25 sparse vector),
``<name>_sources`` (one record per source: checksum and live generation; plus the archive's record: model,
settings, counters; and the writer's lease) and ``<name>_terms`` (BM25 document frequencies). Rows are int64
keys that are never reused; a source's rows carry its generation, and readers see only live generations.
Composes the connection (client.py), the reader (reading.py) and the writer (writing.py)."""
from __future__ import annotations

from typing import Collection, Iterable, Sequence

from ...passages import Passage
from ...settings import Settings
from .client import Connection
from .reading import Reader
from .target import MilvusTarget
from .writing import Writer, new_record


class MilvusStore:
    """A Milvus archive; its reader is the search data (passages, dense, sparse, date filter)."""
    folder = None  # nothing of it is in a local folder (uploads need one)

    def __init__(self, connection: Connection):
        self.connection, self.location = connection, connection.location
        self.reader = Reader(connection)
        self.writer = Writer(self.reader)

    @classmethod
    def connect(cls, target: MilvusTarget, create: bool = True) -> "MilvusStore":
        """Connect and read the archive's record (``create`` False: an embedded archive that is not there is
        refused, not made)."""
        connection = Connection.open(target, create)
        connection.load_collections()
        store = cls(connection)
        store.reader.record = connection.read_meta() or {}
        return store

    # ------------------------------------------------------------------ state
    @property
    def data(self) -> Reader:
        return self.reader

    @property
    def manifest(self) -> dict:
        return self.reader.manifest

    @property
    def saved(self) -> bool:
        return self.reader.saved

    def start(self, model: dict, settings: Settings) -> None:
        self.reader.record = new_record(model, settings)

    def refresh(self) -> None:
        self.reader.refresh()

    def changed(self) -> bool:
        """Never behind: every read sees the live generations (re-read at most every REFRESH_SECONDS)."""
        return False

    def settled(self) -> bool:
        """No generation announced or retired by a writer that did not finish, no BM25 statistics to rebuild."""
        return not self.reader.snapshot().hidden and not self.reader.record.get("terms_dirty")

    def count(self) -> int:
        return self.reader.count()

    def describe(self) -> dict:
        manifest = self.manifest
        records = self.reader.source_records() if self.saved else {}
        live = {k: r for k, r in records.items() if r["gen"] > 0}
        return {"index": self.location, "model": manifest.get("model"), "passages": self.count(),
                "articles": sum(r["articles"] for r in live.values()), "dense": manifest.get("dense"),
                "sparse": manifest.get("sparse"), "sources": sorted(live), "settings": manifest.get("settings"),
                "created": manifest.get("created"), "updated": manifest.get("updated")}

    # ------------------------------------------------------------------ the sources (reading.py)
    def sources(self) -> dict[str, str]:
        return self.reader.sources()

    def passages_of(self, sources: Iterable[str]) -> list[Passage]:
        return self.reader.passages_of(sources)

    def article_sources(self, article_ids: Iterable[str]) -> dict[str, str]:
        return self.reader.article_sources(article_ids)

    def articles_named(self, key: str) -> dict[str, str]:
        return self.reader.articles_named(key)

    def vectors_for(self, keys: Sequence[tuple[str, str]], sources: Collection[str]) -> dict:
        return self.reader.vectors_for(keys, sources)

    # ------------------------------------------------------------------ writing (writing.py)
    def apply(self, update) -> None:
        self.writer.apply(update)

    def save_if_new(self) -> None:
        if not self.saved:
            self.writer.create()

    def writing(self):
        return self.writer.writing()

    def close(self) -> None:
        self.connection.close()


__all__ = ["MilvusStore"]

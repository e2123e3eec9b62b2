"""The connection to a Milvus archive and what every Milvus module shares: the client (one clear line when
it cannot be made, also for a milvus-lite file another process holds), calls whose failure names the
archive, paged queries, filter literals, and the passage ↔ record mapping."""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Iterable

from ...passages import Passage
from ..errors import IndexLoadError
from ..sparse import check_tokenizer
from .target import MilvusTarget

FORMAT = "qa-assistant-milvus"
FORMAT_VERSION = 1
META, LEASE = "@archive", "@lease"  # keys of the archive's own records in <name>_sources
BATCH = 512  # rows per insert or query page
PASSAGE_FIELDS = {"id": "passage_id", "start": "start_offset", "end": "end_offset"}  # Passage → Milvus field
# the Passage fields a Milvus archive keeps (its schema is fixed: ``ocr`` is not kept, it reads back as None)
STORED_FIELDS = tuple(name for name in Passage.__dataclass_fields__ if name != "ocr")
LITE_HINT = (" (a milvus-lite archive is open in one process only: serve it with `milvus-lite server --data-dir PATH "
             "--port 19530` and use milvus://127.0.0.1:19530/COLLECTION)")


def quote(text: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(str(text), ensure_ascii=False)


def in_list(field: str, values: Iterable) -> str:
    values = list(values)
    return f"{field} in [{', '.join(quote(v) if isinstance(v, str) else str(int(v)) for v in values)}]"


def passage_fields() -> list[str]:
    return ["row"] + [PASSAGE_FIELDS.get(name, name) for name in STORED_FIELDS]


def to_passage(record: dict) -> Passage:
    return Passage(**{name: record[PASSAGE_FIELDS.get(name, name)] for name in STORED_FIELDS})


@contextlib.contextmanager
def _quiet(name: str, level: int = logging.CRITICAL):
    """Raise one logger's level for a moment (milvus-lite logs a traceback before it raises)."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


class Connection:
    """A client connected to the archive ``target`` names, with the names of its three collections: the
    passages, ``<name>_sources`` (one record per source, the archive's record, the writer's lease) and
    ``<name>_terms`` (BM25 document frequencies)."""

    def __init__(self, client, target: MilvusTarget):
        self.client, self.target, self.location = client, target, str(target)
        self.name, self.sources_name, self.terms_name = (target.collection, f"{target.collection}_sources",
                                                         f"{target.collection}_terms")

    @classmethod
    def open(cls, target: MilvusTarget, create: bool = True) -> "Connection":
        """Connect (``create`` False: an embedded archive that is not there is refused, not made)."""
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexLoadError(f"{target}: Milvus archives need pymilvus (and milvus-lite for milvus-lite:// URIs): "
                                 f"pip install 'qa-assistant[milvus]'") from None
        if target.embedded:
            if not create and not Path(target.uri).exists():
                raise IndexLoadError(f"{target}: no such index (build one with: qa-assistant index PATH --index {target})")
            Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
        options: dict = {"uri": target.uri, "token": target.token}
        if target.embedded:  # an in-process server: keep-alive pings only earn a GOAWAY (too_many_pings) on stderr
            options["grpc_options"] = {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": 0}
        if target.db_name:
            options["db_name"] = target.db_name
        try:
            with _quiet("milvus_lite.server_manager"):  # it logs the lock's traceback, then raises: one line instead
                client = MilvusClient(**options)
        except Exception as error:  # noqa: BLE001 — pymilvus raises several kinds; the user gets one line
            raise IndexLoadError(f"{target}: cannot open the Milvus archive: {getattr(error, 'message', error)}"
                                 f"{LITE_HINT if target.embedded else ''}") from None
        if target.embedded:  # milvus-lite keeps no server timestamps: each paged query logs that it fell back
            logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # (the in-process server's side of it)
        return cls(client, target)

    def call(self, what: str, function, *args, **kwargs):
        """A Milvus call whose failure is one clear line naming the archive."""
        from pymilvus.exceptions import MilvusException
        try:
            return function(*args, **kwargs)
        except MilvusException as error:
            raise IndexLoadError(f"{self.location}: Milvus {what} failed ({getattr(error, 'message', error)})") from None

    def has(self, collection: str) -> bool:
        return self.call("listing", self.client.has_collection, collection)

    def get(self, collection: str, ids: list, fields: list[str]) -> list[dict]:
        return self.call("query", self.client.get, collection, ids=ids, output_fields=fields)

    def query(self, collection: str, expr: str, fields: list[str], limit: int | None = None) -> list[dict]:
        """Every record matching ``expr`` (paged by primary key: no server limit on the result)."""
        out: list[dict] = []
        iterator = self.call("query", self.client.query_iterator, collection, batch_size=BATCH * 2,
                             limit=limit if limit is not None else -1, filter=expr, output_fields=fields)
        try:
            while True:
                page = self.call("query", iterator.next)
                if not page:
                    return out
                out.extend(page)
        finally:
            iterator.close()

    def load_collections(self) -> None:
        """Load the archive's collections into memory (milvus-lite reopens an archive with them released)."""
        for name in (self.name, self.sources_name, self.terms_name):
            if self.has(name):
                state = self.call("load", self.client.get_load_state, name).get("state")
                if "NotLoad" in str(state):
                    self.call("load", self.client.load_collection, name)

    def read_meta(self) -> dict | None:
        """The archive's record (model, settings, counters, dense type), or None when there is none yet."""
        if not self.has(self.sources_name):
            return None
        rows = self.get(self.sources_name, [META], ["data"])
        if not rows:
            return None
        meta = rows[0]["data"]
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise IndexLoadError(f"{self.location}: not a qa-assistant archive of format {FORMAT_VERSION} "
                                 f"({meta.get('format')} {meta.get('format_version')})")
        check_tokenizer(meta, self.location)
        return meta

    def close(self) -> None:
        """Let go of the archive (an embedded milvus-lite archive can then be opened by another process)."""
        self.client.close()
        if self.target.embedded:
            from milvus_lite.server_manager import server_manager_instance
            server_manager_instance.release_server(self.target.uri)


__all__ = ["BATCH", "Connection", "FORMAT", "FORMAT_VERSION", "LEASE", "META", "PASSAGE_FIELDS", "STORED_FIELDS",
           "in_list", "passage_fields", "quote", "to_passage"]

"""Where a Milvus archive is: a ``milvus-lite:///path/archive.db`` (embedded, one process) or
``milvus://host:19530/collection`` (a server or cluster) URI parsed into a :class:`MilvusTarget`. Credentials
never come in the URI: the command line reads them from the environment."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import IndexLoadError

SCHEMES = ("milvus-lite://", "milvus://", "milvus+https://")
TOKEN_VARIABLE = "QA_ASSISTANT_MILVUS_TOKEN"  # "user:password" or an API key, read by the CLI only
DEFAULT_COLLECTION = "qa_assistant"


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus archive is: the client URI, the database and the collection (the name of the
    passages collection; its sources go in ``<collection>_sources``, its BM25 statistics in
    ``<collection>_terms``). ``token`` is never shown."""
    uri: str  # what pymilvus connects to: a local .db path (lite) or http(s)://host:port
    collection: str = DEFAULT_COLLECTION
    db_name: str = ""
    token: str = field(default="", repr=False)
    text: str = ""  # the URI as the user wrote it

    @property
    def embedded(self) -> bool:
        return not self.uri.startswith(("http://", "https://"))

    def __str__(self) -> str:
        return self.text or self.uri


def is_uri(index) -> bool:
    """Does ``index`` name a Milvus archive rather than a folder?"""
    return isinstance(index, MilvusTarget) or str(index).startswith(SCHEMES)


def parse_uri(text: str, token: str = "") -> MilvusTarget:
    """``milvus-lite:///abs/archive.db``, ``milvus-lite://relative/archive.db`` (``?collection=name``), or
    ``milvus://host:port[/db]/collection`` (``milvus+https://`` for TLS)."""
    text = str(text)
    if text.startswith("milvus-lite://"):
        rest, _, query = text[len("milvus-lite://"):].partition("?")
        if not rest:
            raise IndexLoadError(f"{text}: give the archive's path, e.g. milvus-lite:///data/archive.db")
        collection = parse_qs(query).get("collection", [DEFAULT_COLLECTION])[0]
        path = str(Path(rest).expanduser().resolve())
        if not path.endswith(".db"):
            raise IndexLoadError(f"{text}: a milvus-lite archive's name ends in .db (e.g. milvus-lite:///data/archive.db)")
        return MilvusTarget(uri=path, collection=_name(collection, text), token=token, text=text)
    parts = urlsplit(text)
    if parts.scheme not in ("milvus", "milvus+https") or not parts.hostname:
        raise IndexLoadError(f"{text}: not a Milvus URI (milvus://host:19530/collection or milvus-lite:///path/archive.db)")
    if parts.username or parts.password:
        raise IndexLoadError(f"{text}: no credentials in the URI; set {TOKEN_VARIABLE} instead")
    scheme = "https" if parts.scheme == "milvus+https" else "http"
    path = [p for p in parts.path.split("/") if p]
    if len(path) > 2:
        raise IndexLoadError(f"{text}: expected milvus://host:port[/database]/collection")
    collection = _name(path[-1], text) if path else DEFAULT_COLLECTION
    db_name = _name(path[0], text) if len(path) == 2 else ""
    port = parts.port or 19530
    return MilvusTarget(uri=f"{scheme}://{parts.hostname}:{port}", collection=collection, db_name=db_name,
                        token=token, text=text)


def _name(name: str, text: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii() or name[0].isdigit():
        raise IndexLoadError(f"{text}: {name!r} is not a valid Milvus name (letters, digits and _, not first a digit)")
    return name


__all__ = ["DEFAULT_COLLECTION", "MilvusTarget", "SCHEMES", "TOKEN_VARIABLE", "is_uri", "parse_uri"]

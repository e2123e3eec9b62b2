"""Which store an ``--index`` names (txtai style): a folder, or a Milvus URI — ``milvus-lite:///path/archive.db``
(embedded, one process) or ``milvus://host:19530/collection`` (a server or cluster). Credentials never come
in the URI: the command line reads them from the environment and passes a :class:`MilvusTarget`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs, urlsplit

from .errors import IndexLoadError

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
            raise ValueError(f"{text}: give the archive's path, e.g. milvus-lite:///data/archive.db")
        collection = parse_qs(query).get("collection", [DEFAULT_COLLECTION])[0]
        path = str(Path(rest).expanduser().resolve())
        if not path.endswith(".db"):
            raise ValueError(f"{text}: a milvus-lite archive's name ends in .db (e.g. milvus-lite:///data/archive.db)")
        return MilvusTarget(uri=path, collection=_name(collection, text), token=token, text=text)
    parts = urlsplit(text)
    if parts.scheme not in ("milvus", "milvus+https") or not parts.hostname:
        raise ValueError(f"{text}: not a Milvus URI (milvus://host:19530/collection or milvus-lite:///path/archive.db)")
    if parts.username or parts.password:
        raise ValueError(f"{text}: no credentials in the URI; set {TOKEN_VARIABLE} instead")
    scheme = "https" if parts.scheme == "milvus+https" else "http"
    path = [p for p in parts.path.split("/") if p]
    if len(path) > 2:
        raise ValueError(f"{text}: expected milvus://host:port[/database]/collection")
    collection = _name(path[-1], text) if path else DEFAULT_COLLECTION
    db_name = _name(path[0], text) if len(path) == 2 else ""
    port = parts.port or 19530
    return MilvusTarget(uri=f"{scheme}://{parts.hostname}:{port}", collection=collection, db_name=db_name,
                        token=token, text=text)


def _name(name: str, text: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii() or name[0].isdigit():
        raise ValueError(f"{text}: {name!r} is not a valid Milvus name (letters, digits and _, not first a digit)")
    return name


_URI_LIKE = re.compile(r"[A-Za-z][\w+.\-]+:/")  # scheme:/… — not a folder (C:/ is one letter)


def location(index, environ: Mapping[str, str] | None = None):
    """What ``--index`` names: a folder path as given, or a :class:`MilvusTarget` with the token from
    ``environ`` (read at the edge, by the CLI). A URI with an unknown scheme (``milvus_lite:///x.db``) is
    refused rather than taken for a folder of that name."""
    if isinstance(index, MilvusTarget):
        return index
    if not is_uri(index):
        if _URI_LIKE.match(str(index)):
            raise IndexLoadError(f"{index}: unknown kind of index URI; use a folder, "
                                 f"milvus-lite:///path/archive.db or milvus://host:19530/collection")
        return index
    return parse_uri(str(index), ((environ or {}).get(TOKEN_VARIABLE) or "").strip())


def open_store(index, verify: bool = True, create: bool = True):
    """The store ``index`` names: a Milvus store for a URI (connected; collections are created on the first
    write; ``create`` False refuses a milvus-lite archive that is not there), else the index in that folder
    (loaded; see local.py)."""
    if is_uri(index):
        from .milvus import MilvusStore
        return MilvusStore.connect(index if isinstance(index, MilvusTarget) else parse_uri(str(index)), create)
    from .folder import FolderStore
    from .local import load_index
    return FolderStore(load_index(index, verify=verify), index)


def store_exists(index) -> bool:
    """Is there an archive at ``index`` (a folder with a manifest, or a Milvus collection with its record)?"""
    if is_uri(index):
        try:
            return open_store(index, create=False).saved
        except IndexLoadError:
            return False
    from .files import MANIFEST
    return (Path(index) / MANIFEST).is_file()


__all__ = ["DEFAULT_COLLECTION", "MilvusTarget", "TOKEN_VARIABLE", "is_uri", "location", "open_store", "parse_uri",
           "store_exists"]

"""Which store an ``--index`` names (txtai style), and the one way every store is opened: a folder, or a
Milvus URI — ``milvus-lite:///path/archive.db`` (embedded, one process) or ``milvus://host:19530/collection``
(a server or cluster). Credentials never come in the URI: the command line reads them from the environment
and passes a :class:`~qa_assistant.store.milvus.MilvusTarget`."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from .base import Store
from .errors import IndexLoadError
from .files import MANIFEST
from .folder import FolderStore
from .milvus import TOKEN_VARIABLE, MilvusStore, MilvusTarget, is_uri, parse_uri

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


def open_store(index, verify: bool = True, create: bool = True) -> Store:
    """The store ``index`` names: a Milvus archive for a URI (connected; collections are made on the first
    write), else the index in that folder (loaded; see folder.py), or with ``index`` None one in memory.
    An archive that is not there is a store to start (``store.saved`` False) with ``create``, else refused."""
    if is_uri(index):
        return MilvusStore.connect(index if isinstance(index, MilvusTarget) else parse_uri(str(index)), create)
    return FolderStore.open(index, verify=verify, create=create)


def store_exists(index) -> bool:
    """Is there an archive at ``index`` (a folder with a manifest, or a Milvus collection with its record)?"""
    if is_uri(index):
        try:
            return open_store(index, create=False).saved
        except IndexLoadError:
            return False
    return (Path(index) / MANIFEST).is_file()


__all__ = ["is_uri", "location", "open_store", "store_exists"]

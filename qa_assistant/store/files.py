"""The files of an index folder: checksums, durable writes, and the rule that tells the index's own
files (content-named, or marked scratch folders) from anything else a user keeps there."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..identity import sha256_file
from .errors import IndexLoadError

MANIFEST = "manifest.json"
LOCK = "index.lock"
SCRATCH_PREFIX = ".tmp-qa-index-"
SCRATCH_MARK = ".qa-assistant-scratch"  # the first file written into a scratch folder: it is ours to remove
ORIGINALS = "originals"  # uploaded files kept with the index (qa_assistant.uploads): the index's own, never stale
ORIGINALS_MARK = ".qa-assistant-originals"  # written first into that folder: it marks the folder as ours
_CONTENT_NAMED = re.compile(r"(?:passages-(?P<store>[0-9a-f]{12})\.jsonl|dense-(?P<dense>[0-9a-f]{12})\.faiss"
                            r"|bm25-(?P<sparse>[0-9a-f]{12}))")


def fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def sparse_tag(files: dict[str, str]) -> str:
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
            return sparse_tag({p.name: sha256_file(p) for p in path.iterdir()})[:12] == match["sparse"]
        return path.is_file() and sha256_file(path)[:12] == (match["store"] or match["dense"])
    except OSError:
        return False


def is_originals_folder(path: Path) -> bool:
    """Is this the index's folder of uploaded originals (``originals``, a real folder with our mark)? It
    belongs to the index, so the folder guard accepts it; a save never removes it (it is not stale)."""
    return path.name == ORIGINALS and not path.is_symlink() and path.is_dir() and (path / ORIGINALS_MARK).is_file()


def check_index_folder(folder: str | Path) -> None:
    """Refuse to write an index into something that is not one: a file, or a folder that holds other
    things and no manifest (a typo in ``--index`` must not scatter index files among a user's files)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexLoadError(f"{folder}: is a file, not an index folder")
    if not folder.is_dir() or (folder / MANIFEST).is_file():
        return
    foreign = sorted(p.name for p in folder.iterdir()
                     if p.name != LOCK and not written_by_index(p) and not is_originals_folder(p))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise IndexLoadError(f"{folder}: not an index (no {MANIFEST}) and not empty ({shown}); "
                             f"give a new or empty folder for the index")



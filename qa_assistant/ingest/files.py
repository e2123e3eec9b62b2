"""Which files are read, and by which reader: folders are walked for supported files (index folders,
hidden folders, virtual environments and a saved web page's 「X_files」 folder are left out), oversized
files are refused unread, and each file goes to the reader of its kind (path → articles)."""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..settings import Settings
from .encoding import read_text
from .formats import FORMAT_READERS
from .jsonl import parse_jsonl
from .model import Article, FileTooLargeError, IngestError

log = logging.getLogger(__name__)

Reader = Callable[[Path, str], list[Article]]  # (path, source name) -> articles


def _read_jsonl(path: Path, source: str) -> list[Article]:
    return parse_jsonl(read_text(path), source)


# text pages, Markdown, PDF, HTML, DOCX and images are read by formats.py; listed in the order users see
READERS: dict[str, Reader] = {".txt": FORMAT_READERS[".txt"], ".md": FORMAT_READERS[".md"], ".jsonl": _read_jsonl,
                              **FORMAT_READERS}
INDEX_MANIFEST = "manifest.json"
_NON_CONTENT_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "dist-packages"})


def supported_suffixes() -> tuple[str, ...]:
    return tuple(READERS)


def unsupported_kind(path: Path) -> IngestError:
    return IngestError(path, f"unsupported kind of file ({path.suffix or 'no suffix'}); "
                             f"supported: {', '.join(supported_suffixes())}")


MAX_FILE_MB = Settings.max_file_mb  # the default per-file limit (Settings); a 10 MB page file is some 20,000 passages
_MB = 1 << 20


def max_file_bytes(limit_mb: float = MAX_FILE_MB) -> int | None:
    """The per-file size limit in bytes (1 MB = 2**20 bytes); 0 means no limit (None is returned)."""
    if limit_mb < 0:
        raise ValueError(f"the file size limit must be 0 (no limit) or more megabytes, not {limit_mb:g}")
    return None if limit_mb == 0 else int(limit_mb * _MB)


def check_file_size(path: str | Path, limit: int | None) -> int:
    """Refuse a file over ``limit`` bytes by its name, size and the limit, without reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None
    if limit is not None and size > limit:
        raise FileTooLargeError(
            path, f"file is {_human(size)}, over the limit of {_human(limit)} per file; split it, or "
                  f"raise the limit with --max-file-mb {int(size // _MB) + 1} "
                  f"(or QA_ASSISTANT_MAX_FILE_MB; 0 = no limit)")
    return size


def _human(size: int) -> str:
    return f"{size / _MB:.4g} MB" if size >= _MB else f"{size / 1024:.4g} KB"


def is_index_folder(folder: Path) -> bool:
    """Does ``folder`` hold a qa-assistant index (its manifest names the format)?"""
    manifest = folder / INDEX_MANIFEST
    try:
        with open(manifest, "rb") as handle:
            return b'"qa-assistant-index"' in handle.read(4096)
    except OSError:
        return False


def is_saved_page_files(folder: Path) -> bool:
    """A saved web page's own folder (「X_files」 beside 「X.html」 or 「X.htm」): its images, styles and
    scripts, not articles."""
    stem = folder.name[:-len("_files")] if folder.name.endswith("_files") else ""
    return bool(stem) and any((folder.parent / (stem + suffix)).is_file() for suffix in (".html", ".htm"))


def _skip_reason(folder: Path) -> str | None:
    if folder.name.startswith("."):
        return "hidden folder"
    if is_saved_page_files(folder):
        return "a saved web page's images and scripts"
    if (folder / "pyvenv.cfg").is_file() or folder.name in _NON_CONTENT_FOLDERS:
        return "virtual environment or package folder"
    if is_index_folder(folder):
        return "index folder"
    return None


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files to ingest, in a stable order. A given file must be of a supported kind; folders are walked
    for supported files, leaving out index folders, hidden folders, virtual environments and a saved web
    page's 「X_files」 folder (the log says what was left out, and which files were not of a supported kind)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            if path.suffix.lower() not in READERS:
                raise unsupported_kind(path)
            yield path
        else:
            raise IngestError(path, "no such file or folder")


def _walk(root: Path) -> list[Path]:
    if is_index_folder(root):
        raise IngestError(root, "is an index folder; give the folder of the articles to index")
    found: list[Path] = []
    other_kinds: Counter[str] = Counter()
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        kept = []
        for name in sorted(subfolders):
            reason = _skip_reason(here / name)
            if reason:
                log.info("%s: %s, skipped", here / name, reason)
            else:
                kept.append(name)
        subfolders[:] = kept
        for name in names:
            if name.startswith("."):
                continue
            suffix = Path(name).suffix.lower()
            if suffix in READERS:
                found.append(here / name)
            else:
                other_kinds[suffix or "(no suffix)"] += 1
    if other_kinds:
        log.info("%s: %d files of other kinds not read (%s); supported: %s", root, sum(other_kinds.values()),
                 ", ".join(f"{k} ×{n}" for k, n in other_kinds.most_common(5)), ", ".join(supported_suffixes()))
    return sorted(found)


_DEFAULT_LIMIT = -1


def load_articles(path: str | Path, max_bytes: int | None = _DEFAULT_LIMIT) -> list[Article]:
    """All articles of one file, by the reader of its kind. A file over the size limit (``max_bytes``,
    default :func:`max_file_bytes`; None = no limit) is refused unread; an empty file has no articles."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise unsupported_kind(path)
    check_file_size(path, max_file_bytes() if max_bytes == _DEFAULT_LIMIT else max_bytes)
    return reader(path, str(path.resolve()))

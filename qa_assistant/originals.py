"""Uploaded originals kept with the index, in INDEX/originals: names that cannot leave that folder, a file
copied in with the one it replaces set aside until the new one is indexed (so a failed run puts it back),
leftovers of a killed run settled, and only files in that folder ever deleted. The folder carries a mark
file; the index folder guard (store/files.py) accepts it as the index's own."""
from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

from .ingest import IngestError, supported_suffixes
from .store import IndexLoadError, sha256_file
from .store.files import ORIGINALS, ORIGINALS_MARK, is_originals_folder

MAX_NAME_CHARS = 120  # a stored original's name, suffix included
PREVIOUS, INCOMING = ".previous-", ".incoming-"  # an original being replaced / being copied in (ours, hidden)
_UNSAFE = re.compile(r"[^\w\-.()（）【】\[\] ]+")  # \w is Unicode here: Chinese names stay readable


def safe_name(name: str) -> str:
    """A name that stays inside the originals folder: the last path part only, NFC, no control or shell
    characters, no leading dot or dash, a supported suffix in lower case, at most MAX_NAME_CHARS characters."""
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", str(name))[-1]).strip()
    stem, dot, suffix = base.rpartition(".")
    stem, suffix = (stem, "." + suffix.lower()) if dot else (base, "")
    if suffix not in supported_suffixes():
        raise IngestError(base or "(no name)", f"不支持的文件类型（{suffix or '没有扩展名'}）；支持："
                                               f"{'、'.join(supported_suffixes())}")
    stem = re.sub(r"_{2,}", "_", _UNSAFE.sub("_", stem)).strip(" ._-")
    return (stem[:MAX_NAME_CHARS - len(suffix)].rstrip(" .") or "upload") + suffix


def stage(upload: Path, target: Path) -> Path | None:
    """Copy the upload to ``target``; an original already there is moved aside (returned) until the new
    one is indexed, so a failed run can put it back."""
    previous = None
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise IndexLoadError(f"{target}: not a file qa-assistant wrote; move it away")
    if target.exists():
        previous = target.with_name(PREVIOUS + target.name)
        os.replace(target, previous)
    incoming = target.with_name(INCOMING + target.name)
    shutil.copyfile(upload, incoming)
    os.replace(incoming, target)
    return previous


def unstage(target: Path, previous: Path | None) -> None:
    """Undo :func:`stage`: the original set aside goes back, or the new file goes."""
    if previous is not None:
        os.replace(previous, target)
    else:
        target.unlink(missing_ok=True)


def unstage_all(staged: dict) -> None:
    """Undo every staged file of an upload (position → (name, target, previous))."""
    for _, target, previous in staged.values():
        unstage(target, previous)
    staged.clear()


def originals_folder(folder: Path, manifest: dict) -> Path:
    """The originals folder, made and marked on first use. A folder of that name that qa-assistant did not
    make is refused. Leftovers of a run that was killed are settled: an original set aside is put back
    when it is what the index holds, else dropped."""
    path = folder / ORIGINALS
    if path.is_symlink() or (path.exists() and not path.is_dir()) or (
            path.is_dir() and not is_originals_folder(path) and any(path.iterdir())):
        raise IndexLoadError(f"{path}: was not made by qa-assistant; move it away to upload files here")
    path.mkdir(exist_ok=True)
    mark = path / ORIGINALS_MARK
    if not mark.is_file():
        mark.write_text("Uploaded originals of this index, kept by qa-assistant so the archive can be rebuilt:\n"
                        "  qa-assistant index originals --index NEW_INDEX\n", encoding="utf-8")
    path = path.resolve()
    known = manifest.get("sources", {})
    for leftover in path.iterdir():
        if leftover.name.startswith(INCOMING) and leftover.is_file():
            leftover.unlink()
        elif leftover.name.startswith(PREVIOUS) and leftover.is_file():
            target = path / leftover.name[len(PREVIOUS):]
            if known.get(str(target)) == sha256_file(leftover):
                os.replace(leftover, target)
            else:
                leftover.unlink()
    return path


def delete_originals(folder: Path, sources_gone: list[str]) -> list[str]:
    """Delete the originals of sources no longer indexed; only plain files in our marked folder, never elsewhere."""
    originals = folder / ORIGINALS
    if not is_originals_folder(originals):
        return []
    home, deleted = originals.resolve(), []
    for source in sources_gone:
        path = Path(source)
        if path.parent == home and path.is_file() and not path.is_symlink() and not path.name.startswith("."):
            path.unlink()
            deleted.append(f"{ORIGINALS}/{path.name}")
    return deleted

"""Uploaded originals kept with the index, in INDEX/originals: one stored name per uploaded name (two
different names never share one, and the same name always gets the same one), names that cannot leave
that folder, a journal of the files an upload stages (written before the first byte is copied), a file
copied in with the one it replaces set aside until the new one is indexed, and what a killed upload left
settled by that journal. Only files this program wrote there are ever deleted. The folder carries a mark
file; the index folder guard (store/files.py) accepts it as the index's own."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import unicodedata
from pathlib import Path

from .ingest import IngestError, supported_suffixes
from .identity import sha256_file
from .store import MANIFEST, IndexLoadError, IndexLockedError, read_manifest, write_lock
from .store.files import ORIGINALS, ORIGINALS_MARK, fsync_dir, fsync_write, is_originals_folder

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 120  # a stored original's name, suffix included
PREVIOUS, INCOMING = ".previous-", ".incoming-"  # an original being replaced / being copied in (ours, hidden)
MAX_NAME_BYTES = 255 - len(PREVIOUS)  # UTF-8 bytes: a file name holds 255, and ours get a prefix while staged
JOURNAL = ".qa-assistant-uploading"  # the files an upload is staging, {stored name: sha256}; gone when it ends
TAG = "__"  # before the hash in a stored name; never in a name safe_name keeps, so the two kinds never meet
HASH_CHARS = 12  # hex digits of that hash (48 bits)
_UNSAFE = re.compile(r"[^\w\-.()（）【】\[\] ]+")  # \w is Unicode here: Chinese names stay readable


def uploaded_name(name: str) -> str:
    """What a user named the file: the last part of the path a browser or client sent, in NFC."""
    return unicodedata.normalize("NFC", re.split(r"[\\/]", str(name))[-1])


def name_suffix(name: str) -> str:
    """The suffix a stored name keeps: what follows the last dot of the uploaded name, in lower case
    ("" without a dot; ``.txt`` alone is a suffix with an empty name)."""
    _, dot, suffix = uploaded_name(name).strip().rpartition(".")
    return "." + suffix.lower() if dot else ""


def safe_name(name: str) -> str:
    """A name that stays inside the originals folder: the last path part only, NFC, no control or shell
    characters, no leading dot or dash, a supported suffix in lower case, at most MAX_NAME_CHARS characters
    (and MAX_NAME_BYTES bytes). Different names can give the same safe name: see :func:`stored_name`."""
    base = uploaded_name(name).strip()
    suffix = name_suffix(name)
    if suffix not in supported_suffixes():
        raise IngestError(base or "(no name)", f"unsupported kind of file ({suffix or 'no suffix'}); "
                                               f"supported: {', '.join(supported_suffixes())}")
    stem = base.rpartition(".")[0] if suffix else base
    stem = re.sub(r"_{2,}", "_", _UNSAFE.sub("_", stem)).strip(" ._-")
    return (_cut(stem, 0, suffix).rstrip(" .") or "upload") + suffix


def stored_name(name: str) -> str:
    """The name an upload is kept under: its safe name when that is the uploaded name itself, else the safe
    name with a hash of the uploaded name before the suffix (``A&B.txt`` → ``A_B__8a619fe38597.txt``).
    Stable (the same name maps to the same file, which a new upload replaces) and unique: a hashed name
    holds ``__``, which a kept name never does, and two hashed ones differ in their hash."""
    safe = safe_name(name)
    base = uploaded_name(name)
    if safe == base:
        return safe
    return with_tag(safe, hashlib.sha256(base.encode("utf-8", "surrogatepass")).hexdigest())


def with_tag(safe: str, digest: str) -> str:
    """``safe`` (a safe name) with ``__`` and the start of ``digest`` before its suffix, shortened to fit."""
    stem, suffix = safe[:-len(Path(safe).suffix)], Path(safe).suffix
    tag = TAG + digest[:HASH_CHARS]
    return _cut(stem, len(tag), suffix) + tag + suffix


def _cut(stem: str, reserved: int, suffix: str) -> str:
    """``stem`` shortened so that it, ``reserved`` more ASCII characters and ``suffix`` fit both limits."""
    stem = stem[:MAX_NAME_CHARS - reserved - len(suffix)]
    room = MAX_NAME_BYTES - reserved - len(suffix.encode())
    while len(stem.encode("utf-8", "surrogatepass")) > room:
        stem = stem[:-1]
    return stem


# ------------------------------------------------------------------ staging, with its journal

def write_journal(home: Path, staged: dict[str, str]) -> None:
    """Record the stored names an upload stages and the checksum of each (``staged``), atomically and on
    disk before their files are touched: after a crash, these files and only these are settled."""
    scratch = home / (JOURNAL + ".tmp")
    fsync_write(scratch, json.dumps({"pid": os.getpid(), "staged": staged}, ensure_ascii=False).encode("utf-8"))
    os.replace(scratch, home / JOURNAL)
    fsync_dir(home)


def end_journal(home: Path) -> None:
    """The upload is over (indexed, or every staged file put back): nothing left to settle."""
    (home / JOURNAL).unlink(missing_ok=True)


def stage(upload: Path, target: Path) -> Path | None:
    """Copy the upload to ``target``; an original already there is moved aside (returned) until the new
    one is indexed, so a failed run can put it back. The caller records ``target`` in the journal first."""
    previous = None
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise IndexLoadError(f"{target}: not a file qa-assistant wrote; move it away")
    if target.exists():
        previous = target.with_name(PREVIOUS + target.name)
        os.replace(target, previous)
    incoming = target.with_name(INCOMING + target.name)
    try:
        shutil.copyfile(upload, incoming)
        with open(incoming, "rb") as copied:  # on disk before it takes the name, like the index's own files
            os.fsync(copied.fileno())
        os.replace(incoming, target)
    except BaseException:  # e.g. a full disk: the original set aside goes back at once
        incoming.unlink(missing_ok=True)
        if previous is not None:
            os.replace(previous, target)
        raise
    return previous


def unstage(target: Path, previous: Path | None) -> None:
    """Undo :func:`stage`: the original set aside goes back, or the new file goes."""
    if previous is not None:
        os.replace(previous, target)
    else:
        target.unlink(missing_ok=True)


def unstage_all(staged: dict) -> None:
    """Undo every staged file of an upload (position → (name, target, previous))."""
    for position in list(staged):
        unstage(*staged[position][1:])
        del staged[position]


# ------------------------------------------------------------------ the folder, and a killed upload settled

def originals_folder(folder: Path, manifest: dict) -> Path:
    """The originals folder, made and marked on first use, with what a killed upload left settled (see
    :func:`settle`; ``manifest`` is the index's as saved). A folder of that name that qa-assistant did not
    make is refused."""
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
    settle(path, manifest.get("sources", {}))
    return path


def unsettled(home: Path) -> bool:
    """Did an upload leave something here that :func:`settle` must look at (one listing of the folder)?"""
    try:
        return any(p.name.startswith((JOURNAL, PREVIOUS, INCOMING)) for p in home.iterdir())
    except OSError:
        return False


def settle(home: Path, known: dict) -> list[str]:
    """Make the originals folder agree with the index after a killed upload; call under the write lock.
    ``known`` is the index's sources (path → sha256). For each name the journal lists (and each hidden
    file of ours): a half-copied file goes; a staged file the index holds stays and the version it
    replaced goes; a staged file it does not hold goes, and the version set aside comes back. A file is
    deleted only when it is ours: hidden and named by us, or a staged file whose checksum the journal
    records. Returns what was done, one line per file, also logged."""
    staged = _read_journal(home)
    names = set(staged)
    for path in home.iterdir():
        for prefix in (PREVIOUS, INCOMING):
            if path.name.startswith(prefix) and _plain(path.name[len(prefix):]):
                names.add(path.name[len(prefix):])
    done: list[str] = []
    for name in sorted(names):
        done += _settle_one(home, name, staged.get(name), known.get(str(home / name)))
    for leftover in (home / JOURNAL, home / (JOURNAL + ".tmp")):
        if _ours(leftover):
            leftover.unlink()
    if done:
        log.warning("%s: settled what an interrupted upload left: %s", home, "; ".join(done))
    return done


def _settle_one(home: Path, name: str, staged: str | None, held: str | None) -> list[str]:
    """Settle one stored name: ``staged`` is the checksum the journal records for it, ``held`` the index's."""
    target, previous, incoming = home / name, home / (PREVIOUS + name), home / (INCOMING + name)
    done = []
    if _ours(incoming):
        incoming.unlink()
        done.append(f"{INCOMING}{name} removed (copy not finished)")
    kept = _ours(previous) and sha256_file(previous) == held  # set aside, and what the index holds
    if _ours(target):
        digest = sha256_file(target)
        if digest == held:
            if _ours(previous):
                previous.unlink()
                done.append(f"{name} kept (indexed); the version it replaced removed")
            return done
        # what the upload copied in: by the journal; without one (an older version's upload), a file that
        # set the indexed version aside
        if not (digest == staged if staged is not None else kept):
            if _ours(previous) and not kept:
                previous.unlink()
                done.append(f"{PREVIOUS}{name} removed (not in the index)")
            elif _ours(previous):
                done.append(f"{PREVIOUS}{name} left: {name} was not written by the upload")
            return done
        target.unlink()
        done.append(f"{name} removed (not in the index)")
    if _ours(previous):
        if kept:
            os.replace(previous, target)
            done.append(f"{name} restored (the version the index holds)")
        else:
            previous.unlink()
            done.append(f"{PREVIOUS}{name} removed (not in the index)")
    return done


def _read_journal(home: Path) -> dict[str, str]:
    """The journal's {stored name: sha256}, plain names only; a missing or garbled one is empty."""
    try:
        staged = json.loads((home / JOURNAL).read_text(encoding="utf-8")).get("staged", {})
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(staged, dict):
        return {}
    return {n: d for n, d in staged.items() if isinstance(n, str) and isinstance(d, str) and _plain(n)}


def _plain(name: str) -> bool:
    """A name the upload could have stored: one path part, not hidden."""
    return bool(name) and name == Path(name).name and not name.startswith(".") and "\\" not in name


def _ours(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


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


def settle_uploads(folder: str | Path) -> list[str]:
    """On opening an index folder: settle what a killed upload left in INDEX/originals (originals.settle),
    under the write lock, and log it; returns what was done. Costs one listing when nothing is left; a
    live writer's files are left to it, and a folder that cannot be written is logged and left as it is."""
    folder = Path(folder)
    home = folder / ORIGINALS
    if not is_originals_folder(home) or not unsettled(home):
        return []
    try:
        with write_lock(folder):
            known = read_manifest(folder).get("sources", {}) if (folder / MANIFEST).is_file() else {}
            return settle(home.resolve(), known)
    except IndexLockedError:
        log.info("%s: an upload is running in another process; its files are left to it", home)
    except (IndexLoadError, OSError) as error:
        log.warning("%s: cannot settle what an interrupted upload left (%s); the index is unchanged", home, error)
    return []

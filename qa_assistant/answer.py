"""Answer: turn retrieved passages into a quoted answer, with three small models fitted on labelled
questions (``learn/fit_answer.py``; features in ``answer_features.py``, weights in
``data/models/*.json``): whether each of the top passages answers (「未找到」 when none does), which of
its sentences holds the answer, and — when confident — the exact short answer inside that sentence.
An answer is data; render.py writes it for the terminal, the page and the API."""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .answer_features import (SENTENCE_FEATURES, SentenceClues, candidates, names_gate, passage_features,
                              sentence_features, span_features)
from .learn import LinearModel, load_model
from .passages import Passage
from .question import Question
from .retrieve import Hit
from .settings import AnswerSettings
from .text import Span, sentence_spans

NOTHING_TO_SEARCH = "nothing_to_search"  # Answer.reason: the question holds no word to search
NOT_FOUND = "not_found"  # no retrieved passage answers
NOT_IN_PERIOD = "not_in_period"  # nothing answers in the period the question names (the nearest in time is shown)


@dataclass(frozen=True)
class Quote:
    """One quoted passage with the sentences that answer the question picked out."""
    number: int
    passage: Passage
    score: float
    dense: float
    bm25: float
    highlights: tuple[Span, ...]
    also: tuple[Passage, ...] = ()  # the same text in other files (another format, a reprint)
    probability: float = 1.0  # that this passage answers (the fitted answer/refuse model)

    @property
    def citation(self) -> str:
        """Where the quote stands, with every other file that holds the same text."""
        if not self.also:
            return self.passage.citation
        others = "、".join(dict.fromkeys(f"{Path(p.source).name} {p.citation}" for p in self.also))
        return f"{self.passage.citation}（另见：{others}）"

    @property
    def highlight_texts(self) -> tuple[str, ...]:
        return tuple(self.passage.text[s.start:s.end] for s in self.highlights)


@dataclass(frozen=True)
class ShortAnswer:
    """The exact answer: a span of the first quote's passage (inside its highlighted sentence)."""
    text: str
    span: Span  # offsets in the quoted passage's text
    probability: float


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    quotes: tuple[Quote, ...]  # the passages the answer quotes, best first
    hits: tuple[Hit, ...] = field(default=())  # everything retrieved, best first
    query: str = ""  # what was searched (the question, completed from the conversation if needed)
    mode: str = "hybrid"
    short_answer: ShortAnswer | None = None
    reason: str = ""  # why nothing was found: NOTHING_TO_SEARCH, NOT_FOUND or NOT_IN_PERIOD ('' when found)
    period: Any = None  # the period the question names (when.TimeAsked), when it names one
    several: bool = False  # the quotes are different stories giving different answers, newest first
    undated: tuple[Passage, ...] = ()  # undated passages that may answer too (a named period cannot include them)

    @property
    def sentence(self) -> str:
        """The sentence that holds the answer ('' when not found)."""
        return self.quotes[0].highlight_texts[0] if self.found and self.quotes and self.quotes[0].highlights else ""


@dataclass(frozen=True)
class AnswerModels:
    """The three fitted models of the answer step (see the module docstring)."""
    passage: LinearModel
    sentence: LinearModel
    span: LinearModel

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def shipped() -> "AnswerModels":
        return AnswerModels(load_model("answer_passage"), load_model("answer_sentence"), load_model("short_answer"))


def nothing_to_search(asked: Question, mode: str = "hybrid") -> Answer:
    """The reply to a question with no word in it (only punctuation, emoji, spaces): refused unsearched."""
    return Answer(asked.text, False, (), (), asked.query, mode, reason=NOTHING_TO_SEARCH)


def quote_order(probabilities: Sequence[float], threshold: float, max_quotes: int) -> list[int]:
    """Which retrieved passages are quoted: those whose answer probability reaches the threshold, in
    retrieval order (the ranking decides which comes first; the model decides whether each answers)."""
    return [i for i, p in enumerate(probabilities) if p >= threshold][:max_quotes]


@dataclass(frozen=True)
class _Read:
    """One retrieved passage as the answer step read it: its sentences and their probabilities."""
    hit: Hit
    spans: tuple[Span, ...]
    sentence_probabilities: np.ndarray
    probability: float

    @property
    def best(self) -> int:
        return int(np.argmax(self.sentence_probabilities))


class SentenceVectors:
    """Sentence vectors kept across questions (the same passages come back question after question), up
    to ``limit`` sentences, least recently used first out; keyed by the encoder's identity and the text."""

    def __init__(self, limit: int = 20_000):
        self.limit, self._vectors, self._lock = limit, OrderedDict(), threading.Lock()

    def encode(self, embedder, sentences: Sequence[str]) -> np.ndarray:
        info = getattr(embedder, "info", None)
        identity = (getattr(info, "fingerprint", id(embedder)), getattr(info, "precision", ""))
        keys = [(identity, s) for s in sentences]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        fresh = dict(zip(missing, embedder.encode_sentences([k[1] for k in missing]))) if missing else {}
        with self._lock:
            self._vectors.update(fresh)
            found = []
            for key in keys:  # a vector another thread's question pushed out meanwhile is in ``fresh``
                vector = self._vectors.get(key)
                if vector is None:
                    vector = fresh[key] if key in fresh else embedder.encode_sentences([key[1]])[0]
                else:
                    self._vectors.move_to_end(key)
                found.append(vector)
            while len(self._vectors) > self.limit:
                self._vectors.popitem(last=False)
        return np.stack(found) if found else np.zeros((0, 1), np.float32)


SENTENCE_VECTORS = SentenceVectors()


def compose_answer(asked: Question, hits: Sequence[Hit], embedder, query_vector: np.ndarray, mode: str = "hybrid",
                   limits: AnswerSettings = AnswerSettings(),
                   article: Callable[[Hit], Sequence[Passage]] = lambda hit: (hit.passage,),
                   models: AnswerModels | None = None) -> Answer:
    """Read the top ``limits.look_ahead`` passages; quote those the passage model says answer (best
    first), each with its most likely sentence; lead with the short answer when the span model is
    confident. ``query_vector`` is the vector ``hits`` were searched with; ``article`` gives the passages
    of a hit's article around it, in order (its lead, and its text for the question's names)."""
    models = models or AnswerModels.shipped()
    if not asked.searchable:
        return nothing_to_search(asked, mode)
    read = _read(asked, list(hits[:limits.look_ahead]), embedder, query_vector, article, models)
    order = quote_order([r.probability for r in read], models.passage.threshold, limits.max_quotes)
    if not order:
        return Answer(asked.text, False, (), tuple(hits), asked.query, mode, reason=NOT_FOUND)
    quotes = tuple(Quote(number, r.hit.passage, r.hit.score, r.hit.dense, r.hit.bm25, (r.spans[r.best],), r.hit.also,
                         r.probability)
                   for number, r in enumerate((read[i] for i in order), start=1))
    return Answer(asked.text, True, quotes, tuple(hits), asked.query, mode,
                  short_answer=short_answer(asked, quotes[0], models.span))


def _read(asked: Question, hits: list[Hit], embedder, query_vector: np.ndarray,
          article: Callable[[Hit], Sequence[Passage]], models: AnswerModels) -> list[_Read]:
    """Sentence and passage probabilities of each hit (all sentences encoded in one batch)."""
    if not hits:
        return []
    spans = [tuple(sentence_spans(h.passage.text)) or (Span(0, len(h.passage.text)),) for h in hits]
    texts = [[h.passage.text[s.start:s.end] for s in ss] for h, ss in zip(hits, spans)]
    similarity = SENTENCE_VECTORS.encode(embedder, [t for ts in texts for t in ts]) @ query_vector
    best_dense, best_bm25 = max(h.dense for h in hits), max(h.bm25 for h in hits)
    out, offset = [], 0
    for rank, (hit, ss, ts) in enumerate(zip(hits, spans, texts)):
        similarities = [float(v) for v in similarity[offset:offset + len(ts)]]
        offset += len(ts)
        rows = sentence_features(SentenceClues.of(asked, hit.passage.heading), ts, similarities)
        lead, whole = _context(asked, hit, article)
        row = passage_features(asked, hit.dense, best_dense, hit.bm25, best_bm25, rank, hit.passage.heading, lead,
                               whole, hit.passage.text, max(similarities),
                               float(rows[:, SENTENCE_FEATURES.index("characters")].max()))
        probability = float(names_gate(row, models.passage.proba(row))[0])
        out.append(_Read(hit, ss, models.sentence.proba(rows), probability))
    return out


def _context(asked: Question, hit: Hit, article: Callable[[Hit], Sequence[Passage]]) -> tuple[str, str]:
    """The hit's article lead (when the hit is a later paragraph) and, when the question names something
    jieba does not know, the article's text (the name may stand in another paragraph)."""
    if hit.passage.paragraph <= 1 and not asked.names:
        return "", ""
    passages = article(hit)
    lead = next((p.text for p in passages if p.paragraph == 1 and p.part <= 1), "") if hit.passage.paragraph > 1 else ""
    return lead, "\n".join(p.text for p in passages) if asked.names else ""


def short_answer(asked: Question, quote: Quote, model: LinearModel) -> ShortAnswer | None:
    """The best candidate span of the quote's highlighted sentence, when the span model is confident."""
    sentence_span = quote.highlights[0]
    sentence = quote.passage.text[sentence_span.start:sentence_span.end]
    found = candidates(sentence, asked)
    if not found:
        return None
    probabilities = model.proba(span_features(asked, sentence, found))
    best = int(np.argmax(probabilities))
    if probabilities[best] < model.threshold:
        return None
    span = found[best]
    start, end = sentence_span.start + span.start, sentence_span.start + span.end
    return ShortAnswer(quote.passage.text[start:end], Span(start, end), float(probabilities[best]))

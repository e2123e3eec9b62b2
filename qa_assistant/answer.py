"""Answer: turn retrieved passages into a quoted answer. Picks the sentences that answer the
question, decides whether the corpus answers at all ("未找到" otherwise), resolves follow-up
questions against the conversation, and writes the Markdown reply with numbered citations."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .passages import Passage
from .retrieve import Hit, normalise_query
from .text import Span, content_terms, has_cjk, normalise, sentence_spans

NOT_FOUND = "未找到"
MAX_QUOTES = 3
# Thresholds on the top passage: cosine of question and passage, and the share of the question's
# content words found in it. Measured on the sample page and CMRC 2018 (see notebooks/).
MIN_COSINE = 0.80
STRONG_COSINE = 0.88
MIN_COVERAGE = 0.5
_ANAPHORA = re.compile(r"(他们|她们|它们|他|她|它|该|其|此|这些|那些|这个|那个|这家|那家|这里|那里|上述|对方|这次|那次|这项|此次)")


@dataclass(frozen=True)
class Quote:
    """One quoted passage with the sentences that answer the question picked out."""
    number: int
    passage: Passage
    score: float
    dense: float
    bm25: float
    highlights: tuple[Span, ...]

    @property
    def highlight_texts(self) -> tuple[str, ...]:
        return tuple(self.passage.text[s.start:s.end] for s in self.highlights)


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    reply: str  # Markdown: a one-line answer, then the quotes with citations
    quotes: tuple[Quote, ...]  # the passages the reply quotes, best first
    hits: tuple[Hit, ...] = field(default=())  # everything retrieved, best first
    query: str = ""  # what was searched (the question, completed from the conversation if needed)
    mode: str = "hybrid"

    @property
    def sentence(self) -> str:
        """The sentence that holds the answer ('' when not found)."""
        return self.quotes[0].highlight_texts[0] if self.found and self.quotes and self.quotes[0].highlights else ""

    def to_dict(self) -> dict:
        """The JSON shape shared by ``qa-assistant ask --json`` and the chat page's API."""
        quoted = {q.passage.id: q for q in self.quotes}
        passages = []
        for rank, hit in enumerate(self.hits, start=1):
            quote = quoted.get(hit.passage.id)
            spans = quote.highlights if quote else ()
            passages.append({
                "rank": rank, "id": hit.passage.id, "article_id": hit.passage.article_id,
                "title": hit.passage.title, "paragraph": hit.passage.paragraph, "part": hit.passage.part,
                "text": hit.passage.text, "source": hit.passage.source, "citation": hit.passage.citation,
                "score": round(hit.score, 6), "dense": round(hit.dense, 6), "bm25": round(hit.bm25, 6),
                "quoted": quote is not None,
                "highlights": [hit.passage.text[s.start:s.end] for s in spans],
                "highlight_spans": [[s.start, s.end] for s in spans],
            })
        return {"question": self.question, "found": self.found, "answer": self.reply,
                "sentence": self.sentence, "query": self.query, "mode": self.mode, "passages": passages}


def contextual_query(question: str, history: Sequence[str], searcher=None, mode: str = "hybrid") -> str:
    """A follow-up that leans on the conversation (a pronoun, or too few words of its own) is searched
    together with the previous question; a self-contained question is searched alone."""
    if not history:
        return question
    previous = history[-1]
    own_terms = content_terms(question)
    if _ANAPHORA.search(question) or len(own_terms) <= 1:
        return f"{previous} {question}"
    return question


def _coverage(terms: Sequence[str], text: str) -> float:
    """Share of the question's content words (weighted by length) that occur in ``text``."""
    if not terms:
        return 0.0
    haystack = normalise(text)
    total = sum(len(t) for t in terms)
    return sum(len(t) for t in terms if t in haystack) / total


def is_answerable(question_terms: Sequence[str], cjk_question: bool, top: Hit) -> bool:
    """Does the best passage answer? Strong similarity, or good similarity plus shared content words."""
    if top.dense >= STRONG_COSINE:
        return True
    if not cjk_question:
        return top.dense >= MIN_COSINE + 0.02
    coverage = _coverage(question_terms, f"{top.passage.heading}\n{top.passage.text}")
    return top.dense >= MIN_COSINE and coverage >= MIN_COVERAGE


def pick_sentences(query_vector: np.ndarray, terms: Sequence[str], passages: Sequence[Passage],
                   embedder) -> list[list[tuple[Span, float]]]:
    """Score every sentence of each passage: similarity to the question plus shared content words."""
    spans = [sentence_spans(p.text) or [Span(0, len(p.text))] for p in passages]
    flat = [p.text[s.start:s.end] for p, ss in zip(passages, spans) for s in ss]
    vectors = embedder.encode_sentences(flat) if flat else np.zeros((0, len(query_vector)))
    similarity = vectors @ query_vector
    scored, i = [], 0
    for p, ss in zip(passages, spans):
        row = []
        for s in ss:
            row.append((s, float(similarity[i]) + 0.3 * _coverage(terms, p.text[s.start:s.end])))
            i += 1
        scored.append(row)
    return scored


def compose_answer(question: str, query: str, hits: Sequence[Hit], embedder, mode: str = "hybrid") -> Answer:
    terms = content_terms(query)
    if not hits or not is_answerable(terms, has_cjk(query), hits[0]):
        return Answer(question, False, not_found_reply(question), (), tuple(hits), query, mode)
    candidates = [hits[0]] + [h for h in hits[1:MAX_QUOTES] if _worth_quoting(h, hits[0], terms)]
    query_vector = embedder.encode_queries([normalise_query(query)])[0]
    scored = pick_sentences(query_vector, terms, [h.passage for h in candidates], embedder)
    quotes = []
    for number, (hit, sentences) in enumerate(zip(candidates, scored), start=1):
        best = max(sentences, key=lambda item: item[1])
        chosen = [span for span, score in sentences if span == best[0]]
        quotes.append(Quote(number, hit.passage, hit.score, hit.dense, hit.bm25, tuple(chosen)))
    return Answer(question, True, render_reply(quotes), tuple(quotes), tuple(hits), query, mode)


def _worth_quoting(hit: Hit, top: Hit, terms: Sequence[str]) -> bool:
    """A further passage is quoted only when it is nearly as close to the question as the best one."""
    return hit.dense >= top.dense - 0.015 and _coverage(terms, hit.passage.text) >= MIN_COVERAGE


def not_found_reply(question: str) -> str:
    return f"**{NOT_FOUND}**：资料中没有能回答「{question}」的段落。"


def _escape(text: str) -> str:
    """Markdown-escape corpus text so it is shown as text (no HTML, no formatting)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~])", r"\\\1", text)


def render_reply(quotes: Sequence[Quote]) -> str:
    """One-line answer (the answering sentence, cited), then each quote with its sentence in bold."""
    first = quotes[0]
    lines = [f"**答：** {_escape(first.highlight_texts[0]) if first.highlights else ''} [{first.number}]", ""]
    for quote in quotes:
        text, pieces, cursor = quote.passage.text, [], 0
        for span in quote.highlights:
            pieces.append(_escape(text[cursor:span.start]))
            pieces.append(f"**{_escape(text[span.start:span.end])}**")
            cursor = span.end
        pieces.append(_escape(text[cursor:]))
        lines.append("> " + "".join(pieces))
        lines.append(f"> — [{quote.number}] {_escape(quote.passage.citation)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

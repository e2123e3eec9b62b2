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
from .answer_type import answer_requirement, question_type, type_matches
from .text import Span, content_terms, has_cjk, normalise, sentence_spans, word_tokens

NOT_FOUND = "未找到"
MAX_QUOTES = 3
# Thresholds on the top passage: cosine of question and passage, and the share of the question's
# content words found in it. Measured on the sample page and CMRC 2018 (see notebooks/).
MIN_COSINE = 0.84
MIN_COSINE_CROSSLINGUAL = 0.74  # an English question scores lower against Chinese text
STRONG_COSINE = 0.93
MIN_COVERAGE = 0.45
LOOK_AHEAD = 3  # the first passage that answers among the top three is quoted first
# Sentence choice weights, measured on the sample page and CMRC 2018 (answer-sentence hit@1).
SENTENCE_WORDS_WEIGHT = 0.1
SENTENCE_REQUIREMENT_BONUS = 0.1
SENTENCE_TYPE_BONUS = 0.025
HEADLINE_PENALTY = 0.4
SENTENCE_POSITION_WEIGHT = 0.02
_ANAPHORA = frozenset("他们 她们 它们 他 她 它 该 其 上述 对方 这些 那些 这家 那家 这位 那位 此人 这个 那个 they them it its he she his her those these".split())


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
    words = set(word_tokens(question))
    if words & _ANAPHORA or len(content_terms(question)) <= 1:
        return f"{previous} {question}"
    return question


def _coverage(terms: Sequence[str], text: str) -> float:
    """Share of the question's content words (weighted by length) that occur in ``text``."""
    if not terms:
        return 0.0
    haystack = normalise(text)
    total = sum(len(t) for t in terms)
    return sum(len(t) for t in terms if t in haystack) / total


@dataclass(frozen=True)
class _Question:
    """What the answer step knows about a question: content words, script, asked-for type."""
    terms: tuple[str, ...]
    cjk: bool
    kind: str | None
    requirement: re.Pattern | None

    @classmethod
    def of(cls, query: str) -> "_Question":
        simplified = normalise_query(query)
        return cls(tuple(content_terms(simplified)), has_cjk(simplified), question_type(simplified),
                   answer_requirement(simplified))


def answers(question: _Question, hit: Hit) -> bool:
    """Can this passage answer? Close enough to the question, sharing enough of its content words
    (for Chinese questions), and holding what the question asks for (a number with its unit, …)."""
    if hit.dense < (MIN_COSINE if question.cjk else MIN_COSINE_CROSSLINGUAL):
        return False
    if question.requirement is not None and not question.requirement.search(normalise(hit.passage.text)):
        return False
    if not question.cjk:  # an English question shares no words with Chinese text: similarity decides
        return True
    coverage = _coverage(question.terms, f"{hit.passage.heading}\n{hit.passage.text}")
    return coverage >= MIN_COVERAGE or hit.dense >= STRONG_COSINE


def pick_sentences(query_vector: np.ndarray, question: _Question, passages: Sequence[Passage],
                   embedder) -> list[list[tuple[Span, float]]]:
    """Score every sentence of each passage: similarity to the question, shared content words,
    holding what the question asks for (its requirement, or an answer of its type), less its
    similarity to the headline (a sentence that only restates the headline answers nothing new)."""
    spans = [sentence_spans(p.text) or [Span(0, len(p.text))] for p in passages]
    flat = [p.text[s.start:s.end] for p, ss in zip(passages, spans) for s in ss]
    headings = sorted({p.heading for p in passages})
    vectors = embedder.encode_sentences(flat + headings)
    heading_vector = dict(zip(headings, vectors[len(flat):]))
    similarity = vectors[:len(flat)] @ query_vector
    scored, i = [], 0
    for p, ss in zip(passages, spans):
        row = []
        restates = vectors[i:i + len(ss)] @ heading_vector[p.heading]
        for j, s in enumerate(ss):
            sentence = p.text[s.start:s.end]
            score = (float(similarity[i]) + SENTENCE_WORDS_WEIGHT * _coverage(question.terms, sentence)
                     - HEADLINE_PENALTY * float(restates[j]) + SENTENCE_POSITION_WEIGHT * j / len(ss))
            if question.requirement is not None and question.requirement.search(normalise(sentence)):
                score += SENTENCE_REQUIREMENT_BONUS
            elif type_matches(question.kind, sentence):
                score += SENTENCE_TYPE_BONUS
            row.append((s, score))
            i += 1
        scored.append(row)
    return scored


def compose_answer(question: str, query: str, hits: Sequence[Hit], embedder, mode: str = "hybrid") -> Answer:
    """Quote the best passage that answers (looking a little past the first), plus close seconds."""
    asked = _Question.of(query)
    answering = [h for h in hits[:LOOK_AHEAD] if answers(asked, h)]
    if not answering:
        return Answer(question, False, not_found_reply(question), (), tuple(hits), query, mode)
    best = answering[0]
    candidates = [best] + [h for h in answering[1:] if _worth_quoting(h, best, asked)][:MAX_QUOTES - 1]
    query_vector = embedder.encode_queries([normalise_query(query)])[0]
    scored = pick_sentences(query_vector, asked, [h.passage for h in candidates], embedder)
    quotes = []
    for number, (hit, sentences) in enumerate(zip(candidates, scored), start=1):
        top_span, _ = max(sentences, key=lambda item: item[1])
        quotes.append(Quote(number, hit.passage, hit.score, hit.dense, hit.bm25, (top_span,)))
    return Answer(question, True, render_reply(quotes), tuple(quotes), tuple(hits), query, mode)


def _worth_quoting(hit: Hit, best: Hit, asked: _Question) -> bool:
    """A further passage is quoted only when it is nearly as close to the question as the best one."""
    return hit.dense >= best.dense - 0.01 and _coverage(asked.terms, hit.passage.text) >= MIN_COVERAGE


def not_found_reply(question: str) -> str:
    return (f"**{NOT_FOUND}**：资料中没有能回答「{escape_markdown(question)}」的段落。"
            "可以换个问法，或问问资料里报道过的人和事。\n")


def escape_markdown(text: str) -> str:
    """Show corpus or user text literally inside Markdown: no HTML, no formatting."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", text)


def render_reply(quotes: Sequence[Quote]) -> str:
    """One-line answer (the answering sentence, cited), then each quote with its sentence in bold
    (an HTML <strong>: Markdown's ** cannot close between CJK punctuation and a letter)."""
    first = quotes[0]
    lines = [f"**答：** {escape_markdown(first.highlight_texts[0]) if first.highlights else ''} [{first.number}]", ""]
    for quote in quotes:
        text, pieces, cursor = quote.passage.text, [], 0
        for span in quote.highlights:
            pieces.append(escape_markdown(text[cursor:span.start]))
            pieces.append(f"<strong>{escape_markdown(text[span.start:span.end])}</strong>")  # ** does not close before CJK
            cursor = span.end
        pieces.append(escape_markdown(text[cursor:]))
        lines.append("> " + "".join(pieces))
        lines.append(f"> — [{quote.number}] {escape_markdown(quote.passage.citation)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

"""Answer: turn retrieved passages into a quoted answer. Picks the sentences that answer the
question, decides whether the corpus answers at all ("未找到" otherwise), resolves follow-up
questions against the conversation, and writes the Markdown reply with numbered citations."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .passages import Passage, context_heading
from .retrieve import Hit, normalise_query
from .answer_type import NUMBER, TIME, answer_requirement, asks_cause, gives_cause, question_type, type_values
from .text import WORD_CHAR, Span, content_terms, has_cjk, normalise, sentence_spans, word_tokens

NOT_FOUND = "未找到"
MAX_QUOTES = 3
# Thresholds on the top passage: cosine of question and passage, and the share of the question's
# content words found in it. Measured on the sample page and CMRC 2018 (see notebooks/).
MIN_COSINE = 0.84
MIN_COSINE_CROSSLINGUAL = 0.74  # an English question scores lower against Chinese text
STRONG_COSINE = 0.93
MIN_COVERAGE = 0.45
MIN_COVERAGE_REQUIRED_MET = 0.35  # the passage holds what the question specifically asks for (「“联”字」 for 「哪几个字」)
LOOK_AHEAD = 3  # the first passage that answers among the top three is quoted first
# A further answering passage is also quoted when its best sentence scores this much above the first
# quote's (about the weight of restating most of the question): 「想把公司建成怎样的企业」 is answered
# by a later paragraph's 「打造公司成为……的书香企业」, not by the lead.
CLEARLY_BETTER_SENTENCE = 1.0
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
    also: tuple[Passage, ...] = ()  # the same text in other files (another format, a reprint)

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
                "sources": [{"id": p.id, "article_id": p.article_id, "source": p.source, "citation": p.citation}
                            for p in hit.passages],
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


def _share(items: Sequence[str], text: str, weight=len) -> float:
    """Share of ``items`` (weighted by length, unless ``weight`` says otherwise) that occur in ``text``."""
    total = sum(weight(item) for item in items)
    return sum(weight(item) for item in items if item in text) / total if total else 0.0


_QUESTION_CHARS = frozenset("什么哪谁多少几怎样如何为何吗呢的是了在有")
# Words that name what is asked about rather than words the answer repeats: the passage that answers
# 「牡蒿的外貌特征是什么？」 describes the plant without using the word 特征.
_ASPECT_WORDS = frozenset(
    "特点 特征 外貌 样子 形状 结构 位置 地理位置 时间 情况 方面 内容 原因 意义 作用 影响 方式 过程 经过 背景 "
    "情节 故事情节 职业 工作 注意事项 事项 成果 名称 称号 身份 地位 用途 功能 区别 不同 关系 性格 目的 环节".split())


@dataclass(frozen=True)
class _Question:
    """What the answer step knows about a question: content words, characters and character bigrams
    (question words left out), script, asked-for type."""
    text: str  # normalised
    terms: tuple[str, ...]
    characters: tuple[str, ...]
    bigrams: tuple[str, ...]
    cjk: bool
    kind: str | None
    requirement: re.Pattern | None

    @classmethod
    def of(cls, query: str) -> "_Question":
        simplified = normalise_query(query)
        text = normalise(simplified)
        usable = [c if (WORD_CHAR.match(c) and c not in _QUESTION_CHARS) else " " for c in text]
        characters = tuple(dict.fromkeys(c for c in usable if c != " "))
        bigrams = tuple(dict.fromkeys(a + b for a, b in zip(usable, usable[1:]) if a != " " and b != " "))
        return cls(text, tuple(content_terms(simplified)), characters, bigrams, has_cjk(simplified),
                   question_type(simplified), answer_requirement(simplified))


def question_coverage(question: _Question, text: str) -> float:
    """Share of the question found in ``text``: of its content words (words naming the aspect asked
    about aside), or of its character bigrams when that is higher — jieba cuts unfamiliar names
    badly (康直病死后康忠 → 后康忠), characters still match."""
    haystack = normalise(text)
    words = [t for t in question.terms if t not in _ASPECT_WORDS] or question.terms
    return max(_share(words, haystack), _share(question.bigrams, haystack, weight=lambda _: 1))


def answers(question: _Question, hit: Hit) -> bool:
    """Can this passage answer? Close enough to the question, sharing enough of it (for Chinese
    questions), and holding what the question asks for (a number with its unit, …)."""
    if hit.dense < (MIN_COSINE if question.cjk else MIN_COSINE_CROSSLINGUAL):
        return False
    if question.requirement is not None and not question.requirement.search(normalise(hit.passage.text)):
        return False
    if not question.cjk:  # an English question shares no words with Chinese text: similarity decides
        return True
    coverage = question_coverage(question, f"{context_heading(hit.passage.heading)}\n{hit.passage.text}")
    needed = MIN_COVERAGE if question.requirement is None else MIN_COVERAGE_REQUIRED_MET
    return coverage >= needed or hit.dense >= STRONG_COSINE


def pick_sentences(query_vector: np.ndarray, question: _Question, passages: Sequence[Passage],
                   embedder) -> list[list[tuple[Span, float]]]:
    """Score every sentence of each passage (see :func:`sentence_score`); the sentence vectors are
    encoded in one batch."""
    spans = [sentence_spans(p.text) or [Span(0, len(p.text))] for p in passages]
    flat = [p.text[s.start:s.end] for p, ss in zip(passages, spans) for s in ss]
    similarity = embedder.encode_sentences(flat) @ query_vector
    scored, i = [], 0
    for p, ss in zip(passages, spans):
        clues = _SentenceClues.of(question, context_heading(p.heading))
        scored.append([(s, sentence_score(float(similarity[i + j]), clues, p.text[s.start:s.end]))
                       for j, s in enumerate(ss)])
        i += len(ss)
    return scored


@dataclass(frozen=True)
class SentenceWeights:
    """How much each clue counts when picking the answering sentence of a passage. Fitted as a listwise
    softmax over the sentences of the right passage on CMRC 2018 trial questions, and rounded: weights
    fitted on half the articles pick the answering sentence of the other half 84–87 % of the time, as
    often as weights fitted on all. Checked on the sample page's questions (see notebooks/)."""
    similarity: float = 1.0   # cosine of question and sentence
    words: float = 1.5        # share of the question's words, those of the headline left out
    characters: float = 1.7   # share of the question's characters, headline characters left out
    bigrams: float = 1.4      # share of the question's character bigrams, headline bigrams left out
    answer_type: float = 0.4  # a time/number question, and the sentence holds a time/number the question does not
    cause: float = 0.45       # a why-question, and the sentence states a cause (因为, 由于, 得名…)
    requirement: float = 0.2  # the sentence holds what the question requires (a number with its unit, …)


SENTENCE_WEIGHTS = SentenceWeights()


@dataclass(frozen=True)
class _SentenceClues:
    """What a sentence is matched against: the question's words, characters and bigrams that are not
    already in the headline. Every sentence of an article is about its headline's subject, so the
    subject tells sentences apart poorly; the rest of the question (叶柄, 注册资本, 为食) is what the
    answering sentence restates."""
    question: _Question
    words: tuple[str, ...]
    characters: tuple[str, ...]
    bigrams: tuple[str, ...]

    @classmethod
    def of(cls, question: _Question, heading: str) -> "_SentenceClues":
        headline = normalise(heading)
        return cls(question, tuple(t for t in question.terms if t not in headline) or question.terms,
                   tuple(c for c in question.characters if c not in headline),
                   tuple(b for b in question.bigrams if b not in headline))


def sentence_score(similarity: float, clues: _SentenceClues, sentence: str,
                   weights: SentenceWeights = SENTENCE_WEIGHTS) -> float:
    """How likely ``sentence`` is the one that answers: its similarity to the question, the share of
    the question (beyond the headline's subject) it restates, and whether it holds the kind of thing
    asked for."""
    text = normalise(sentence)
    asked = clues.question
    score = (weights.similarity * similarity + weights.words * _share(clues.words, text)
             + weights.characters * _share(clues.characters, text, weight=lambda _: 1)
             + weights.bigrams * _share(clues.bigrams, text, weight=lambda _: 1))
    if asked.kind in (TIME, NUMBER) and any(v not in asked.text for v in type_values(asked.kind, text)):
        score += weights.answer_type
    if asks_cause(asked.text) and gives_cause(text):
        score += weights.cause
    if asked.requirement is not None and asked.requirement.search(text):
        score += weights.requirement
    return score


def compose_answer(question: str, query: str, hits: Sequence[Hit], embedder, query_vector: np.ndarray,
                   mode: str = "hybrid") -> Answer:
    """Quote the best passage that answers (looking a little past the first), plus close seconds and
    any further answering passage with a clearly better answering sentence. ``query_vector`` is the
    vector ``hits`` were searched with."""
    asked = _Question.of(query)
    answering = [h for h in hits[:LOOK_AHEAD] if answers(asked, h)]
    if not answering:
        return Answer(question, False, not_found_reply(question), (), tuple(hits), query, mode)
    scored = pick_sentences(query_vector, asked, [h.passage for h in answering], embedder)
    tops = [max(sentences, key=lambda item: item[1]) for sentences in scored]
    best = answering[0]
    chosen = [0] + [i for i in range(1, len(answering))
                    if _worth_quoting(answering[i], best, asked) or tops[i][1] >= tops[0][1] + CLEARLY_BETTER_SENTENCE]
    quotes = tuple(Quote(number, answering[i].passage, answering[i].score, answering[i].dense, answering[i].bm25,
                         (tops[i][0],), answering[i].also)
                   for number, i in enumerate(chosen[:MAX_QUOTES], start=1))
    return Answer(question, True, render_reply(quotes), quotes, tuple(hits), query, mode)


def _worth_quoting(hit: Hit, best: Hit, asked: _Question) -> bool:
    """A further passage is quoted when it is nearly as close to the question as the best one."""
    return hit.dense >= best.dense - 0.01 and _share(asked.terms, normalise(hit.passage.text)) >= MIN_COVERAGE


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
        lines.append(f"> — [{quote.number}] {escape_markdown(quote.citation)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

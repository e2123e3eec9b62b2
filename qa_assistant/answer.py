"""Answer: turn retrieved passages into a quoted answer. Decides whether the archive answers at all
("未找到" otherwise), picks the passages to quote and the sentence in each that answers. An answer is
data; render.py writes it for the terminal, the page and the API."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .answer_type import NUMBER, TIME, asks_cause, gives_cause, type_values
from .passages import Passage, context_heading
from .question import Question
from .retrieve import Hit
from .settings import AnswerSettings, SentenceWeights
from .text import Span, normalise, sentence_spans


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
    quotes: tuple[Quote, ...]  # the passages the answer quotes, best first
    hits: tuple[Hit, ...] = field(default=())  # everything retrieved, best first
    query: str = ""  # what was searched (the question, completed from the conversation if needed)
    mode: str = "hybrid"

    @property
    def sentence(self) -> str:
        """The sentence that holds the answer ('' when not found)."""
        return self.quotes[0].highlight_texts[0] if self.found and self.quotes and self.quotes[0].highlights else ""


def _share(items: Sequence[str], text: str, weight=len) -> float:
    """Share of ``items`` (weighted by length, unless ``weight`` says otherwise) that occur in ``text``."""
    total = sum(weight(item) for item in items)
    return sum(weight(item) for item in items if item in text) / total if total else 0.0


# Words that name what is asked about rather than words the answer repeats: the passage that answers
# 「牡蒿的外貌特征是什么？」 describes the plant without using the word 特征.
_ASPECT_WORDS = frozenset(
    "特点 特征 外貌 样子 形状 结构 位置 地理位置 时间 情况 方面 内容 原因 意义 作用 影响 方式 过程 经过 背景 "
    "情节 故事情节 职业 工作 注意事项 事项 成果 名称 称号 身份 地位 用途 功能 区别 不同 关系 性格 目的 环节".split())


def question_coverage(question: Question, text: str) -> float:
    """Share of the question found in ``text``: of its content words (words naming the aspect asked
    about aside), or of its character bigrams when that is higher — jieba cuts unfamiliar names
    badly (康直病死后康忠 → 后康忠), characters still match."""
    haystack = normalise(text)
    words = [t for t in question.terms if t not in _ASPECT_WORDS] or question.terms
    return max(_share(words, haystack), _share(question.bigrams, haystack, weight=lambda _: 1))


def answers(question: Question, hit: Hit, limits: AnswerSettings = AnswerSettings(), lead: str = "",
            article: str = "") -> bool:
    """Can this passage answer? About what was asked — every name of the question that jieba does not know
    (阿雷亚萨) occurs in its headline, passage or ``article`` text, so a similar story about another town is
    not quoted — close enough to the question, sharing enough of it (for Chinese questions) with its
    headline and its article's ``lead`` paragraph — a news question names the event (乌汉伦维尔持刀袭击案)
    that only the lead states — and holding what the question asks for (a number with its unit, …)."""
    if question.names:
        where = normalise(f"{hit.passage.heading}\n{lead}\n{article}\n{hit.passage.text}")
        if not all(name_occurs(name, where) for name in question.names):
            return False
    if hit.dense < (limits.min_cosine if question.cjk else limits.min_cosine_crosslingual):
        return False
    if question.requirement is not None and not question.requirement.search(normalise(hit.passage.text)):
        return False
    if not question.cjk:  # an English question shares no words with Chinese text: similarity decides
        return True
    coverage = question_coverage(question, f"{context_heading(hit.passage.heading)}\n{lead}\n{hit.passage.text}")
    needed = limits.min_coverage if question.requirement is None else limits.min_coverage_required_met
    return coverage >= needed or hit.dense >= limits.strong_cosine


def name_occurs(name: str, text: str) -> bool:
    """Does (normalised) ``text`` hold ``name`` but for at most two characters at its ends? jieba glues
    neighbouring characters to a name it does not know (2016年林郁智以 → 年林郁智以), and a reader may
    mistype one end."""
    size = max(2, len(name) - 2)
    return any(name[start:start + size] in text for start in range(len(name) - size + 1))


def pick_sentences(query_vector: np.ndarray, question: Question, passages: Sequence[Passage], embedder,
                   weights: SentenceWeights = SentenceWeights()) -> list[list[tuple[Span, float]]]:
    """Score every sentence of each passage (see :func:`sentence_score`); the sentence vectors are
    encoded in one batch."""
    spans = [sentence_spans(p.text) or [Span(0, len(p.text))] for p in passages]
    flat = [p.text[s.start:s.end] for p, ss in zip(passages, spans) for s in ss]
    similarity = embedder.encode_sentences(flat) @ query_vector
    scored, i = [], 0
    for p, ss in zip(passages, spans):
        clues = _SentenceClues.of(question, context_heading(p.heading))
        scored.append([(s, sentence_score(float(similarity[i + j]), clues, p.text[s.start:s.end], weights))
                       for j, s in enumerate(ss)])
        i += len(ss)
    return scored


@dataclass(frozen=True)
class _SentenceClues:
    """What a sentence is matched against: the question's words, characters and bigrams that are not
    already in the headline. Every sentence of an article is about its headline's subject, so the
    subject tells sentences apart poorly; the rest of the question (叶柄, 注册资本, 为食) is what the
    answering sentence restates."""
    question: Question
    words: tuple[str, ...]
    characters: tuple[str, ...]
    bigrams: tuple[str, ...]

    @classmethod
    def of(cls, question: Question, heading: str) -> "_SentenceClues":
        headline = normalise(heading)
        return cls(question, tuple(t for t in question.terms if t not in headline) or question.terms,
                   tuple(c for c in question.characters if c not in headline),
                   tuple(b for b in question.bigrams if b not in headline))


def sentence_score(similarity: float, clues: _SentenceClues, sentence: str,
                   weights: SentenceWeights = SentenceWeights()) -> float:
    """How likely ``sentence`` is the one that answers: its similarity to the question, the share of
    the question (beyond the headline's subject) it restates, and whether it holds the kind of thing
    asked for."""
    text = normalise(sentence)
    asked = clues.question
    score = (weights.similarity * similarity + weights.words * _share(clues.words, text)
             + weights.characters * _share(clues.characters, text, weight=lambda _: 1)
             + weights.bigrams * _share(clues.bigrams, text, weight=lambda _: 1))
    if asked.kind in (TIME, NUMBER) and any(v not in asked.search_form for v in type_values(asked.kind, text)):
        score += weights.answer_type
    if asks_cause(asked.search_form) and gives_cause(text):
        score += weights.cause
    if asked.requirement is not None and asked.requirement.search(text):
        score += weights.requirement
    return score


def compose_answer(asked: Question, hits: Sequence[Hit], embedder, query_vector: np.ndarray, mode: str = "hybrid",
                   limits: AnswerSettings = AnswerSettings(), weights: SentenceWeights = SentenceWeights(),
                   article: Callable[[Hit], Sequence[Passage]] = lambda hit: (hit.passage,)) -> Answer:
    """Quote the best passage that answers (looking a little past the first), plus close seconds and
    any further answering passage whose best sentence is clearly better than the first quote's (about
    the weight of restating most of the question: 「想把公司建成怎样的企业」 is answered by a later
    paragraph's 「打造公司成为……的书香企业」). ``query_vector`` is the vector ``hits`` were searched with;
    ``article`` gives the passages of a hit's article around it, in order (see :func:`answers`)."""
    answering = [h for h in hits[:limits.look_ahead] if _answers_in_article(asked, h, limits, article(h))]
    if not answering:
        return Answer(asked.text, False, (), tuple(hits), asked.query, mode)
    scored = pick_sentences(query_vector, asked, [h.passage for h in answering], embedder, weights)
    tops = [max(sentences, key=lambda item: item[1]) for sentences in scored]
    best = answering[0]
    chosen = [0] + [i for i in range(1, len(answering))
                    if _worth_quoting(answering[i], best, asked, limits)
                    or tops[i][1] >= tops[0][1] + limits.clearly_better_sentence]
    quotes = tuple(Quote(number, answering[i].passage, answering[i].score, answering[i].dense, answering[i].bm25,
                         (tops[i][0],), answering[i].also)
                   for number, i in enumerate(chosen[:limits.max_quotes], start=1))
    return Answer(asked.text, True, quotes, tuple(hits), asked.query, mode)


def _answers_in_article(asked: Question, hit: Hit, limits: AnswerSettings, article: Sequence[Passage]) -> bool:
    """:func:`answers`, reading the hit's article: its lead (when the hit is a later paragraph) and its text."""
    lead = next((p.text for p in article if p.paragraph == 1 and p.part <= 1), "") if hit.passage.paragraph > 1 else ""
    return answers(asked, hit, limits, lead, "\n".join(p.text for p in article) if asked.names else "")


def _worth_quoting(hit: Hit, best: Hit, asked: Question, limits: AnswerSettings) -> bool:
    """A further passage is quoted when it is nearly as close to the question as the best one."""
    return hit.dense >= best.dense - 0.01 and _share(asked.terms, normalise(hit.passage.text)) >= limits.min_coverage

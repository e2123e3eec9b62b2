"""Features of the learned answer step (code; the fitted weights are data, see learn/): for each
sentence of a passage, how likely it holds the answer; for each retrieved passage, whether it answers
at all; for each candidate span of the answering sentence (a number with its unit, a date, a name, a
title in 《》, a quoted phrase), whether it is the exact short answer. The same functions serve fitting
(``learn/fit_answer.py``) and answering (``answer.py``)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from .answer_type import NUMBER, ORG, PERSON, PLACE, TIME, asks_cause, gives_cause, type_values
from .question import Question
from .text import normalise, to_simplified

# Words that name what is asked about rather than words the answer repeats: the passage that answers
# 「牡蒿的外貌特征是什么？」 describes the plant without using the word 特征.
ASPECT_WORDS = frozenset(
    "特点 特征 外貌 样子 形状 结构 位置 地理位置 时间 情况 方面 内容 原因 意义 作用 影响 方式 过程 经过 背景 "
    "情节 故事情节 职业 工作 注意事项 事项 成果 名称 称号 身份 地位 用途 功能 区别 不同 关系 性格 目的 环节".split())


def share(items: Sequence[str], text: str, weight=len) -> float:
    """Share of ``items`` (weighted by length, unless ``weight`` says otherwise) that occur in ``text``."""
    total = sum(weight(item) for item in items)
    return sum(weight(item) for item in items if item in text) / total if total else 0.0


def question_coverage(question: Question, text: str) -> float:
    """Share of the question found in ``text``: of its content words (aspect words aside), or of its
    character bigrams when that is higher (jieba cuts unfamiliar names badly; characters still match)."""
    haystack = normalise(text)
    words = [t for t in question.terms if t not in ASPECT_WORDS] or question.terms
    return max(share(words, haystack), share(question.bigrams, haystack, weight=lambda _: 1))


def name_occurs(name: str, text: str) -> bool:
    """Does (normalised) ``text`` hold ``name`` but for at most two characters at its ends? jieba glues
    neighbouring characters to a name it does not know (2016年林郁智以 → 年林郁智以)."""
    size = max(2, len(name) - 2)
    return any(name[start:start + size] in text for start in range(len(name) - size + 1))


def holds_asked_kind(question: Question, text: str) -> bool:
    """Does ``text`` hold a thing of the kind asked for (a time, number, person …) that the question
    does not already say?"""
    return any(v not in question.search_form for v in type_values(question.kind, text))


# ------------------------------------------------------------------ sentences

SENTENCE_FEATURES = (
    "similarity", "similarity_gap", "words", "characters", "bigrams", "characters_gap", "own_words",
    "asked_kind", "cause", "requirement", "first", "position", "length", "next_characters", "previous_characters",
    "rare_words", "rare_bigrams", "rare_gap", "similarity_rank", "longest_common", "longest_gap", "wh_aligned",
    "quoted_speech", "listing")


@dataclass(frozen=True)
class SentenceClues:
    """What a sentence is matched against: the question's words, characters and bigrams that are not
    already in the headline (every sentence of an article is about its headline's subject), and the
    follow-up's own words (「给他们送了什么慰问品」: 送, 慰问品) apart from the conversation's."""
    question: Question
    words: tuple[str, ...]
    characters: tuple[str, ...]
    bigrams: tuple[str, ...]
    own: tuple[str, ...]

    @classmethod
    def of(cls, question: Question, heading: str) -> "SentenceClues":
        headline = normalise(heading)
        own = tuple(c for t in question.own_terms for c in t) or question.characters
        return cls(question, tuple(t for t in question.terms if t not in headline) or question.terms,
                   tuple(c for c in question.characters if c not in headline),
                   tuple(b for b in question.bigrams if b not in headline),
                   tuple(dict.fromkeys(c for c in own if c not in headline)) or tuple(dict.fromkeys(own)))


def sentence_features(clues: SentenceClues, sentences: Sequence[str], similarities: Sequence[float]) -> np.ndarray:
    """One row of SENTENCE_FEATURES per sentence of a passage (in order); similarities are the cosines of
    each sentence and the question."""
    asked = clues.question
    texts = [normalise(s) for s in sentences]
    characters = [share(clues.characters, t, weight=lambda _: 1) for t in texts]
    best_similarity, best_characters, count = max(similarities), max(characters), len(texts)
    rare_words = _rare_share(clues.words, texts)
    rare_bigrams = _rare_share(clues.bigrams, texts)
    best_rare = max(rare_words)
    ranks = np.argsort(np.argsort(-np.asarray(similarities)))
    question_form = asked.search_form.rstrip(_TRAILING)
    common = [_longest_common_substring(question_form, t) / max(1, len(question_form)) for t in texts]
    best_common = max(common)
    rows = []
    for i, text in enumerate(texts):
        rows.append((
            similarities[i], similarities[i] - best_similarity, share(clues.words, text), characters[i],
            share(clues.bigrams, text, weight=lambda _: 1), characters[i] - best_characters,
            share(clues.own, text, weight=lambda _: 1),
            float(asked.kind is not None and holds_asked_kind(asked, text)),
            float(asks_cause(asked.search_form) and gives_cause(text)),
            float(asked.requirement is not None and asked.requirement.search(text) is not None),
            float(i == 0), i / (count - 1) if count > 1 else 0.0, math.log1p(len(text)) / 5,
            characters[i + 1] if i + 1 < count else 0.0, characters[i - 1] if i else 0.0,
            rare_words[i], rare_bigrams[i], rare_words[i] - best_rare, min(int(ranks[i]), 5) / 5,
            common[i], common[i] - best_common, float(any(k == "between" for *_, k in aligned(question_form, text))),
            float(text.lstrip()[:1] in "“「\"" or "：“" in text), float("、" in text)))
    return np.asarray(rows, dtype=np.float64)


def _rare_share(items: Sequence[str], texts: Sequence[str]) -> list[float]:
    """Per text, the share of ``items`` it holds weighted by how few of the texts hold each (an IDF
    within the passage): a question word found in one sentence only tells that sentence apart."""
    count = len(texts)
    weights = {}
    for item in items:
        holding = sum(item in t for t in texts)
        if holding:
            weights[item] = math.log(1 + count / holding)
    total = sum(weights.values())
    if not total:
        return [0.0] * count
    return [sum(w for item, w in weights.items() if item in t) / total for t in texts]


# ------------------------------------------------------------------ passages

PASSAGE_FEATURES = (
    "dense", "dense_gap", "bm25_share", "rank", "coverage", "coverage_text", "names_missing", "has_names",
    "requirement_set", "requirement_met", "asked_kind", "best_sentence_similarity", "best_sentence_characters",
    "cjk", "question_terms", "answerless_kind")


def passage_features(question: Question, dense: float, best_dense: float, bm25: float, best_bm25: float, rank: int,
                     heading: str, lead: str, article: str, text: str, best_similarity: float,
                     best_characters: float) -> np.ndarray:
    """One row of PASSAGE_FEATURES: does this passage (its headline, lead and article around it) answer?"""
    normal = normalise(text)
    where = normalise(f"{heading}\n{lead}\n{article}\n{text}")
    missing = sum(not name_occurs(name, where) for name in question.names)
    met = question.requirement is not None and question.requirement.search(normal) is not None
    return np.asarray((
        dense, dense - best_dense, bm25 / best_bm25 if best_bm25 > 0 else 0.0, float(rank),
        question_coverage(question, f"{heading}\n{lead}\n{text}"), question_coverage(question, text),
        float(missing), float(bool(question.names)), float(question.requirement is not None), float(met),
        float(question.kind is not None and holds_asked_kind(question, normal)), best_similarity, best_characters,
        float(question.cjk), min(len(question.terms), 12) / 12,
        float(question.kind is not None and not holds_asked_kind(question, normal))), dtype=np.float64)


def names_gate(rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Two rules, not fitted weights, set a passage's probability to 0: its headline, article and text lack
    a name the question asks about (a town, a person jieba does not know) — the same story in another
    town must never answer — or it lacks what the question specifically requires (多少平方米 needs a
    number with 平方米, 哪份文件 a title in 《》, money an amount in 元: see answer_type.answer_requirement)."""
    rows = np.atleast_2d(rows)
    missing = rows[:, PASSAGE_FEATURES.index("names_missing")] > 0
    unmet = (rows[:, PASSAGE_FEATURES.index("requirement_set")] > 0) & (rows[:, PASSAGE_FEATURES.index("requirement_met")] == 0)
    return np.where(missing | unmet, 0.0, probabilities)


# ------------------------------------------------------------------ short answers

class Candidate(NamedTuple):
    """A span of the sentence that could be the short answer, and what kind of thing it is."""
    start: int
    end: int
    kind: str  # number, time, title, quoted, person, place, org, name, between, after, before; "+" joins several


SPAN_FEATURES = (
    "kind_matches", "is_number", "is_time", "is_title", "is_quoted", "is_entity", "is_name", "is_clause",
    "is_sentence", "is_between",
    "is_after", "is_before", "also_typed", "open_clause", "open_sentence", "in_question",
    "question_characters", "near_question", "left_context", "right_context", "length", "same_kind_share",
    "asked_open")

_NUMERAL = r"(?:[0-9０-９]+(?:[.,．][0-9０-９]+)*|[一二三四五六七八九十百千万亿两零〇几]+)"
_UNITS = ("平方公里|平方米|公里|公斤|千克|小时|分钟|万元|亿元|美元|港元|个月|多万|余万|"
          "[个家名位次项种条所座人岁件台辆只份期届批轮本起分点元米倍天年月层间场户篇首部处吨周秒度克株棵]")
_NUMBER_SPAN = re.compile(rf"(?:约|近|超过|逾)?{_NUMERAL}\s*(?:%|％)?(?:多|余)?\s*(?:万|亿|千|百)?\s*(?:{_UNITS})")
_TIME_SPAN = re.compile(r"(?:公元前?)?[0-9０-９一二三四五六七八九十〇零]{2,4}\s*年(?:[0-9０-９一二三四五六七八九十]{1,2}\s*月"
                        r"(?:[0-9０-９一二三四五六七八九十]{1,3}\s*[日号])?)?|[0-9０-９一二三四五六七八九十]{1,2}\s*月"
                        r"(?:[0-9０-９一二三四五六七八九十]{1,3}\s*[日号])?|[0-9０-９]{1,2}世纪(?:[0-9０-９]{2}年代)?")
_TITLE_SPAN = re.compile(r"《([^《》]{1,40})》")
_QUOTED_SPAN = re.compile(r"[“「\"]([^“”「」\"]{1,30})[”」\"]")
_ENTITY_FLAGS = {"nr": "person", "nrt": "person", "nrfg": "person", "ns": "place", "nt": "org", "nz": "name"}
_CHUNK_FLAGS = frozenset({"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "eng", "vn", "an", "j", "l"})
MAX_CANDIDATES = 60
_KIND_OF_ASKED = {NUMBER: {"number"}, TIME: {"time"}, PERSON: {"person", "name"}, PLACE: {"place", "name"},
                  ORG: {"org", "name"}}


_WH = re.compile(r"什么时候|什么地方|什么样|什么|哪一年|哪年|哪一天|哪天|哪[一些个家位国种里儿座所部本条项类]?|谁|多少|几[个家名位次项种条所座人岁件台辆只份期届批轮年月日号天]?|何时|何地|何处|怎样|如何|为何|为什么")
_CLAUSE = re.compile(r"[^，,。；;：:！？!?]+")
_CLAUSE_END = re.compile(r"[，,。；;：:！？!?、）)」”\n]")
_CLAUSE_START = re.compile(r"[，,。；;：:！？!?、（(「“\n]")
_TRAILING = "吗呢呀啊的了？?！!。 "


def aligned(question: str, sentence: str) -> list[tuple[int, int, str]]:
    """Where the question's wh-word falls in the sentence: the question is the sentence with the answer
    replaced by 什么/谁/多少…, so the answer lies between the end of the words before the wh-word and the
    start of the words after it (「则多少分钟内不得配对」 in 「则4分钟内不得配对」 → 4分钟). Spans of the
    normalised ``sentence``; a number asked with 多少/几 keeps the unit that follows it."""
    wh = _WH.search(question)
    if wh is None:
        return []
    left, right = question[:wh.start()].rstrip(_TRAILING), question[wh.end():].rstrip(_TRAILING)
    left_end = _longest_end(left, sentence)
    right_start = _longest_start(right, sentence, left_end if left_end is not None else 0)
    out = []
    if left_end is not None and right_start is not None and 0 < right_start - left_end <= 40:
        start, end = left_end, right_start
        if wh.group(0).startswith(("多少", "几")):
            unit = re.match(r"[个家名位次项种条所座人岁件台辆只份期届批轮本元米倍天年月层间场户篇首部处吨周秒度克分钟小时公里]+",
                            sentence[end:])
            if unit:
                end += min(len(unit.group(0)), 2)
        out.append((start, end, "between"))
    if left_end is not None:
        stop = _CLAUSE_END.search(sentence, left_end)
        end = stop.start() if stop else len(sentence)
        if 0 < end - left_end <= 40:
            out.append((left_end, end, "after"))
    if right_start is not None and right_start > 0:
        starts = [m.end() for m in _CLAUSE_START.finditer(sentence, 0, right_start)]
        start = starts[-1] if starts else 0
        if left_end is not None and left_end <= right_start:
            start = max(start, left_end)
        if 0 < right_start - start <= 40:
            out.append((start, right_start, "before"))
    return out


def _longest_end(left: str, sentence: str) -> int | None:
    """The end, in ``sentence``, of the longest tail of ``left`` (two characters or more) found in it."""
    for size in range(min(len(left), 12), 1, -1):
        at = sentence.find(left[-size:])
        if at >= 0:
            return at + size
    return None


def _longest_start(right: str, sentence: str, after: int) -> int | None:
    """The start, in ``sentence`` at or after ``after``, of the longest head of ``right`` found there."""
    for size in range(min(len(right), 12), 1, -1):
        at = sentence.find(right[:size], after)
        if at >= 0:
            return at
    return None


def candidates(sentence: str, question: Question | None = None) -> list[Candidate]:
    """Spans of ``sentence`` that could be a short answer, each once: what stands where the question's
    wh-word does (see :func:`aligned`), numbers with units, dates, titles (with and without 《》), quoted
    phrases, and jieba's names and noun chunks."""
    import jieba.posseg
    found: dict[tuple[int, int], list[str]] = {}

    def add(start: int, end: int, kind: str) -> None:
        while start < end and sentence[start] in " \u3000":
            start += 1
        if end > start and kind not in found.setdefault((start, end), []):
            found[(start, end)].append(kind)

    if question is not None:
        form = normalise(sentence)
        if len(form) == len(sentence):  # offsets agree (NFKC and the script conversion kept every character)
            for start, end, kind in aligned(question.search_form, form):
                add(start, end, kind)
    clauses = [m.span() for m in _CLAUSE.finditer(sentence) if m.group(0).strip()]
    for start, end in clauses:  # a clause (and the sentence from it to the end) answers why/how questions
        add(start, end, "clause")
    if clauses:
        add(clauses[0][0], clauses[-1][1], "sentence")
    for pattern, kind in ((_TIME_SPAN, "time"), (_NUMBER_SPAN, "number")):
        for match in pattern.finditer(sentence):
            add(*match.span(), kind)
    for pattern, kind in ((_TITLE_SPAN, "title"), (_QUOTED_SPAN, "quoted")):
        for match in pattern.finditer(sentence):
            add(*match.span(), kind)
            add(*match.span(1), kind)
    simplified = to_simplified(sentence)  # jieba's dictionary is simplified: traditional text would all be unknown
    position, chunk_start, chunk_end = 0, None, None
    for word, flag in jieba.posseg.cut(simplified if len(simplified) == len(sentence) else sentence):
        start, end = position, position + len(word)
        position = end
        if flag in _ENTITY_FLAGS and len(word) >= 2:
            add(start, end, _ENTITY_FLAGS[flag])
        if flag in _CHUNK_FLAGS:
            chunk_start = start if chunk_start is None else chunk_start
            chunk_end = end
            continue
        if chunk_start is not None and chunk_end - chunk_start >= 2:
            add(chunk_start, chunk_end, "name")
        chunk_start = None
    if chunk_start is not None and chunk_end - chunk_start >= 2:
        add(chunk_start, chunk_end, "name")
    return [Candidate(s, e, "+".join(k)) for (s, e), k in list(found.items())[:MAX_CANDIDATES]]


def span_features(question: Question, sentence: str, spans: Sequence[Candidate]) -> np.ndarray:
    """One row of SPAN_FEATURES per candidate of ``sentence``."""
    asked = question.search_form
    text = normalise(sentence)
    wanted = _KIND_OF_ASKED.get(question.kind, set())
    marks = [m.start() for term in question.terms if len(term) >= 2 for m in re.finditer(re.escape(term), text)]
    bigrams = set(question.bigrams)
    kinds: dict[str, int] = {}
    for span in spans:
        for kind in span.kind.split("+"):
            kinds[kind] = kinds.get(kind, 0) + 1
    rows = []
    for span in spans:
        own = set(span.kind.split("+"))
        piece = normalise(sentence[span.start:span.end])
        near = min((abs(m - span.start) for m in marks), default=60)  # positions in the normalised text: close enough
        left = normalise(sentence[max(0, span.start - 8):span.start])
        right = normalise(sentence[span.end:span.end + 8])
        rows.append((
            float(bool(own & wanted)), float("number" in own), float("time" in own), float("title" in own),
            float("quoted" in own), float(bool(own & {"person", "place", "org"})), float("name" in own),
            float("clause" in own), float("sentence" in own), float("between" in own), float("after" in own), float("before" in own),
            float(bool(own & {"between", "after", "before"}) and bool(own - {"between", "after", "before"})),
            float("clause" in own and question.kind is None), float("sentence" in own and question.kind is None),
            float(piece in asked), share([c for c in piece], asked, weight=lambda _: 1), min(near, 60) / 60,
            _bigram_share(left, bigrams), _bigram_share(right, bigrams), math.log1p(len(piece)) / 3,
            1 / min(kinds[k] for k in own), float(question.kind is None)))
    return np.asarray(rows, dtype=np.float64).reshape(len(spans), len(SPAN_FEATURES))


def _bigram_share(text: str, bigrams: set[str]) -> float:
    pairs = [a + b for a, b in zip(text, text[1:])]
    return sum(p in bigrams for p in pairs) / len(pairs) if pairs else 0.0


# ------------------------------------------------------------------ CMRC 2018's measures

_PUNCTUATION = re.compile(r"[\s\u3000-\u303f\uff00-\uffef!-/:-@\[-`{-~·—…‘’“”《》「」『』【】]")


def answer_form(text: str) -> str:
    """CMRC 2018's comparison form: lower case, punctuation and spaces removed (and one script)."""
    return _PUNCTUATION.sub("", normalise(text))


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(answer_form(prediction) == answer_form(a) for a in answers))


def character_f1(prediction: str, answers: Sequence[str]) -> float:
    """CMRC 2018's F1: over characters, the best of the answers (longest common substring based)."""
    guess = answer_form(prediction)
    best = 0.0
    for answer in answers:
        gold = answer_form(answer)
        common = _longest_common_substring(guess, gold)
        if common:
            precision, recall = common / len(guess), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _longest_common_substring(a: str, b: str) -> int:
    best, row = 0, [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b, 1):
            current = row[j]
            row[j] = previous + 1 if x == y else 0
            best = max(best, row[j])
            previous = current
    return best


__all__ = ["ASPECT_WORDS", "Candidate", "PASSAGE_FEATURES", "SENTENCE_FEATURES", "SPAN_FEATURES", "SentenceClues",
           "answer_form", "candidates", "character_f1", "exact_match", "name_occurs", "passage_features",
           "question_coverage", "sentence_features", "share", "span_features"]

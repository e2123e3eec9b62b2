"""The question, analysed once: bounded (its text and the conversation's), normalised, tokenised and typed,
and completed from the conversation when it leans on it. Retrieval and answering both read this value."""
from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from .answer_type import answer_requirement, question_type
from .settings import Settings
from .text import (WORD_CHAR, has_cjk, normalise, search_tokens, to_simplified,
                   unfamiliar_names, word_tokens)

# a follow-up that holds one of these (or too few words of its own) leans on the previous question
_ANAPHORA = frozenset("他们 她们 它们 他 她 它 该 其 上述 对方 这些 那些 这家 那家 这位 那位 此人 这个 那个 they them it its he she his her those these".split())
_QUESTION_CHARS = frozenset("什么哪谁多少几怎样如何为何吗呢的是了在有")


class QuestionError(ValueError):
    """An empty, over-long or malformed question (or conversation, or date range)."""


_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


def _real_date(value: str) -> bool:
    """``2024``, ``2024-01`` or ``2024-01-12`` naming a real calendar year, month or day (not 2024-13-45)."""
    if not _DATE.fullmatch(value):
        return False
    parts = [int(p) for p in value.split("-")] + [1, 1]
    try:
        datetime.date(*parts[:3])
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class DateRange:
    """Articles dated from ``since`` to ``until`` (ISO dates, whole years or months allowed: ``2024``,
    ``2024-01``, ``2024-01-12``; either end open). Undated passages are outside every range."""
    since: str | None = None
    until: str | None = None

    def __post_init__(self):
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not _real_date(value):
                raise QuestionError(f"{name}: {value!r} is not a real date like 2024-01-12 (or 2024-01, 2024)")
        if self.since and self.until and self.since[:len(self.until)] > self.until:
            raise QuestionError(f"the date range is empty: since {self.since} is after until {self.until}")

    def contains(self, date: str) -> bool:
        if not date:
            return False
        return (self.since is None or date >= self.since) and (self.until is None or date[:len(self.until)] <= self.until)

    @staticmethod
    def of(since: str | None = None, until: str | None = None) -> "DateRange | None":
        """The range, or None when neither end is given."""
        since, until = (since or "").strip() or None, (until or "").strip() or None
        return None if since is None and until is None else DateRange(since, until)


@dataclass(frozen=True)
class Question:
    """What retrieval and the answer step know about a question."""
    text: str  # as asked, stripped
    query: str  # what is searched: the question, with the previous one when it leans on it
    normalised: str  # the query in the corpus's script (NFKC, simplified): what the encoder sees
    search_form: str  # normalised and lower-cased: what passages are matched against
    tokens: tuple[str, ...]  # BM25 search tokens of the query
    terms: tuple[str, ...]  # its distinct content words
    characters: tuple[str, ...]  # its content characters (question words left out)
    bigrams: tuple[str, ...]  # and their bigrams
    cjk: bool
    kind: str | None  # the answer type asked for (person, org, place, number, time), None for open questions
    requirement: re.Pattern | None  # what a passage must contain to answer at all
    history: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # names of its own that jieba does not know (see text.unfamiliar_names)
    own_terms: tuple[str, ...] = ()  # the content words of the question itself (a follow-up's, without the history)

    @property
    def searchable(self) -> bool:
        """Does the question hold anything to search: a letter, digit or Chinese character (not only
        punctuation, emoji or spaces)?"""
        return WORD_CHAR.search(self.text) is not None


def analyse(text: str, history: Sequence[str] | None = None, settings: Settings | None = None) -> Question:
    """Check ``text`` and ``history`` against the limits of ``settings`` before anything reads them, then
    analyse the question once (one jieba pass over each piece of text)."""
    settings = settings or Settings()
    text = check_text(text, settings.max_question_chars)
    earlier = check_history(history, settings)
    tokens = own = tuple(search_tokens(text))
    query = text
    if earlier and _leans_on_conversation(text, tokens):
        query = f"{earlier[-1]} {text}"
        tokens = tuple(search_tokens(earlier[-1])) + tokens  # jieba cuts at the space: the same as the whole
    normalised = normalise_query(query)
    search_form = normalise(normalised)
    usable = [c if (WORD_CHAR.match(c) and c not in _QUESTION_CHARS) else " " for c in search_form]
    return Question(
        text=text, query=query, normalised=normalised, search_form=search_form, tokens=tokens,
        terms=tuple(dict.fromkeys(tokens)), characters=tuple(dict.fromkeys(c for c in usable if c != " ")),
        bigrams=tuple(dict.fromkeys(a + b for a, b in zip(usable, usable[1:]) if a != " " and b != " ")),
        cjk=has_cjk(normalised), kind=question_type(normalised), requirement=answer_requirement(normalised),
        history=tuple(earlier), names=unfamiliar_names(text), own_terms=tuple(dict.fromkeys(own)))


def _leans_on_conversation(text: str, tokens: Sequence[str]) -> bool:
    """A follow-up that leans on the conversation: a pronoun, or too few words of its own."""
    return bool(set(word_tokens(text)) & _ANAPHORA) or len(set(tokens)) <= 1


def check_text(text: str, limit: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise QuestionError("the question is empty")
    if len(text) > limit * 4 or len(text.strip()) > limit:  # measured before anything else reads it
        raise QuestionError(f"the question is {len(text.strip())} characters long; at most {limit} are read")
    return text.strip()


def check_history(history: Sequence[str] | None, settings: Settings) -> list[str]:
    """Earlier questions are user text too: bounded in number and length before anything reads them."""
    items = list(history or ())
    if len(items) > settings.max_history_items:
        raise QuestionError(f"the conversation has {len(items)} earlier questions; "
                            f"at most {settings.max_history_items} are read")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise QuestionError(f"earlier question {number} is not text")
        if len(item) > settings.max_question_chars:
            raise QuestionError(f"earlier question {number} is {len(item)} characters long; "
                                f"at most {settings.max_question_chars} are read")
    return [item.strip() for item in items if item.strip()]


def normalise_query(question: str) -> str:
    """Questions are embedded in the corpus's script: traditional characters become simplified."""
    return to_simplified(unicodedata.normalize("NFKC", question)).strip()

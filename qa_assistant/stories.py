"""Answers over a news archive, where stories recur: keep to the period the question names (「去年春节前」),
say so when the archive holds nothing in it and show what it holds nearest in time, and when several
stories give different answers, quote each with its headline and date, newest first."""
from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from .answer import NOT_IN_PERIOD, Answer, Quote
from .passages import Passage
from .text import normalise
from .when import TimeAsked

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|[一二三四五六七八九十百千万两]+(?=[个家名位次项种条所座人岁件台辆只份期届批轮元万亿])")


def in_period(answer: Answer, period: TimeAsked, undated: Sequence[Passage] = ()) -> Answer:
    """The answer from the articles dated in ``period``, marked with it (and the undated passages that
    may answer too, shown apart rather than dropped silently)."""
    return dataclasses.replace(answer, period=period, undated=tuple(undated))


def speaks_of(quote: Quote, period: TimeAsked) -> bool:
    """Does the quote's passage itself speak of the period (the words, or 「2023年」, in its headline or
    text)? A report dated January 2024 may be the one that tells what happened in 2023; an undated one
    answers a dated question only so."""
    text = normalise(f"{quote.passage.heading}\n{quote.passage.text}")
    years = {period.since[:4], period.until[:4]}
    return normalise(period.words) in text or any(f"{year}年" in text for year in years)


def for_period(within: Answer, anywhere: Answer, period: TimeAsked) -> Answer:
    """The answer to a question that names a period: from the articles dated in it; else from an article
    that speaks of it (naming its year); else 「未找到」 with what is nearest in time."""
    if within.found:
        return in_period(within, period, undated_answering(anywhere.quotes))
    speaking = [q for q in anywhere.quotes if speaks_of(q, period)] if anywhere.found else []
    if speaking:
        quotes = tuple(dataclasses.replace(q, number=n) for n, q in enumerate(speaking, start=1))
        short = anywhere.short_answer if speaking[0] is anywhere.quotes[0] else None
        return dataclasses.replace(anywhere, quotes=quotes, period=period, short_answer=short)
    if anywhere.found:
        return nearest_in_time(anywhere, period)
    return in_period(within, period)


def nearest_in_time(found_anywhere: Answer, period: TimeAsked) -> Answer:
    """Nothing answers in ``period``: not found, with what the archive holds nearest in time to it."""
    def distance(quote: Quote) -> int:
        date = quote.passage.date[:10]
        if not date:
            return 10 ** 9
        return 0 if period.contains(date) else min(abs(_days(date) - _days(period.since)),
                                                   abs(_days(date) - _days(period.until)))
    quotes = sorted((q for q in found_anywhere.quotes if q.passage.date), key=distance)  # undated: no "nearest"
    quotes = tuple(dataclasses.replace(q, number=n) for n, q in enumerate(quotes, start=1))
    return dataclasses.replace(found_anywhere, found=False, quotes=quotes, reason=NOT_IN_PERIOD, period=period,
                               short_answer=None, several=False)


def mark_several(answer: Answer) -> Answer:
    """When the quotes come from different dated articles that give different answers (other numbers,
    names or dates in their answering sentences), say so: one quote per story, newest first."""
    if not answer.found or len(answer.quotes) < 2:
        return answer
    by_article: dict[str, Quote] = {}
    for quote in answer.quotes:
        by_article.setdefault(quote.passage.article_id, quote)
    stories = list(by_article.values())
    dated = {q.passage.date for q in stories if q.passage.date}
    if len(stories) < 2 or len(dated) < 2:
        return answer
    keys = {_answer_key(q) for q in stories}
    if len(keys) < 2:
        return answer
    stories.sort(key=lambda q: q.passage.date or "", reverse=True)
    quotes = tuple(dataclasses.replace(q, number=n) for n, q in enumerate(stories, start=1))
    return dataclasses.replace(answer, quotes=quotes, several=True, short_answer=None)


def _answer_key(quote: Quote) -> tuple[str, ...]:
    """What a story's answering sentence says that could differ between stories: its numbers."""
    sentence = normalise(quote.highlight_texts[0]) if quote.highlights else ""
    return tuple(_NUMBER.findall(sentence)) or (sentence,)


def _days(iso: str) -> int:
    import datetime as dt
    return dt.date.fromisoformat(iso[:10]).toordinal()


def undated_answering(quotes: Sequence[Quote]) -> tuple[Passage, ...]:
    """Undated passages among the quotes of an unrestricted search (a period cannot tell about them)."""
    return tuple(q.passage for q in quotes if not q.passage.date)

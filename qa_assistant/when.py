"""Time in the question: explicit dates (2023年, 2023年1月, 1月12日) and time words (今年, 去年, 前年,
本月, 上个月, 今天, 昨天, 本周, 上周, 近日, 最近) read against a reference date, and the lunar festivals
that name a period once a year is known (2023年春节前, 去年中秋节). Lunar dates come from lunar_python.
Each reading is the date range the words name, so retrieval can keep to the articles dated in it."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .question import DateRange


@dataclass(frozen=True)
class TimeAsked:
    """The period a question names: the words as written and the dates they cover (ISO, inclusive)."""
    words: str
    since: str
    until: str

    @property
    def range(self) -> DateRange:
        return DateRange(self.since, self.until)

    def contains(self, date: str) -> bool:
        return bool(date) and self.since <= date[:10] <= self.until


_CN_DIGITS = {"〇": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
              "八": "8", "九": "9"}
_CN_YEAR = re.compile(r"[〇零一二三四五六七八九]{4}(?=年)")
_FULL = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_YEAR_MONTH = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月(?:份)?")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*(?:年度?|年)")
_MONTH_DAY = re.compile(r"(?<![\d年])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_MONTH = re.compile(r"(?<![\d年个])(\d{1,2})\s*月(?:份)?(?![\d日号])")
_RELATIVE_YEAR = {"今年": 0, "本年": 0, "本年度": 0, "去年": -1, "上一年": -1, "前年": -2, "明年": 1}
_RELATIVE_MONTH = {"本月": 0, "这个月": 0, "当月": 0, "上个月": -1, "上月": -1}
_RELATIVE_DAY = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2}
_RELATIVE_WEEK = {"本周": 0, "这周": 0, "上周": -1, "上星期": -1}
_RECENT = re.compile(r"近日|最近|近期|日前|近来")
RECENT_DAYS = 30  # 近日/最近: the month before the reference date
# festivals by lunar month and day; 前 = the weeks before, 后 = the weeks after, 期间 = the holiday, alone = the season
_FESTIVALS = {"春节": (1, 1), "元宵": (1, 15), "端午": (5, 5), "七夕": (7, 7), "中秋": (8, 15), "重阳": (9, 9)}
_FESTIVAL = re.compile(r"(春节|元宵|端午|七夕|中秋|重阳)节?\s*(前夕|前|期间|后)?")
BEFORE_FESTIVAL_DAYS = 40  # 春节前: the visits and meetings of the weeks before the festival
HOLIDAY_DAYS = (7, 15)  # 春节期间: a week before to a fortnight after


def read_time(text: str, as_of: dt.date) -> TimeAsked | None:
    """The period the question names, or None. Years: explicit (2023年, 二〇二三年) or relative to
    ``as_of`` (今年, 去年, 前年); a festival (春节前) names a period only with a year; a month or day
    without a year is the latest one not after ``as_of``."""
    text = _CN_YEAR.sub(lambda m: "".join(_CN_DIGITS[c] for c in m.group(0)), text)
    year, year_words = _year(text, as_of)
    festival = _FESTIVAL.search(text)
    if festival and year is not None:
        return _festival(year, festival, year_words)
    for pattern, kind in ((_FULL, "day"), (_YEAR_MONTH, "month")):
        found = pattern.search(text)
        if found:
            numbers = [int(n) for n in found.groups()]
            return _period(found.group(0), *numbers) if kind == "day" else _month(found.group(0), *numbers)
    if year is not None:
        found = _MONTH_DAY.search(text) or _MONTH.search(text)
        if found and found.re is _MONTH_DAY:
            return _period(year_words + found.group(0), year, int(found.group(1)), int(found.group(2)))
        if found:
            return _month(year_words + found.group(0), year, int(found.group(1)))
        return _checked(year_words, dt.date(year, 1, 1), dt.date(year, 12, 31))
    found = _MONTH_DAY.search(text)
    if found:
        month, day = int(found.group(1)), int(found.group(2))
        latest = as_of.year if (month, day) <= (as_of.month, as_of.day) else as_of.year - 1
        return _period(found.group(0), latest, month, day)
    for words, shift in _RELATIVE_MONTH.items():
        if words in text:
            month = as_of.month - 1 + shift
            return _month(words, as_of.year + month // 12, month % 12 + 1)
    found = _MONTH.search(text)
    if found:
        month = int(found.group(1))
        return _month(found.group(0), as_of.year if month <= as_of.month else as_of.year - 1, month)
    for words, shift in _RELATIVE_DAY.items():
        if words in text:
            day = as_of + dt.timedelta(days=shift)
            return _checked(words, day, day)
    for words, shift in _RELATIVE_WEEK.items():
        if words in text:
            monday = as_of - dt.timedelta(days=as_of.weekday()) + dt.timedelta(weeks=shift)
            return _checked(words, monday, monday + dt.timedelta(days=6))
    found = _RECENT.search(text)
    if found:
        return _checked(found.group(0), as_of - dt.timedelta(days=RECENT_DAYS), as_of)
    return None


def _year(text: str, as_of: dt.date) -> tuple[int | None, str]:
    found = _YEAR.search(text)
    if found and not _FULL.search(text) and not _YEAR_MONTH.search(text):
        return int(found.group(1)), found.group(0)
    if found:
        return int(found.group(1)), ""
    for words, shift in sorted(_RELATIVE_YEAR.items(), key=lambda item: -len(item[0])):
        if words in text:
            return as_of.year + shift, words
    return None, ""


def _festival(year: int, found: re.Match, year_words: str) -> TimeAsked | None:
    from lunar_python import Lunar
    month, day = _FESTIVALS[found.group(1)]
    solar = Lunar.fromYmd(year, month, day).getSolar()
    date = dt.date(solar.getYear(), solar.getMonth(), solar.getDay())
    when = found.group(2) or ""
    if when in ("前", "前夕"):
        since, until = date - dt.timedelta(days=BEFORE_FESTIVAL_DAYS), date
    elif when == "后":
        since, until = date, date + dt.timedelta(days=BEFORE_FESTIVAL_DAYS)
    elif when == "期间":
        since, until = date - dt.timedelta(days=HOLIDAY_DAYS[0]), date + dt.timedelta(days=HOLIDAY_DAYS[1])
    else:  # the festival season: the weeks before it and the holiday
        since, until = date - dt.timedelta(days=BEFORE_FESTIVAL_DAYS), date + dt.timedelta(days=HOLIDAY_DAYS[1])
    return _checked(year_words + found.group(0), since, until)


def _period(words: str, year: int, month: int, day: int) -> TimeAsked | None:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return _checked(words, date, date)


def _month(words: str, year: int, month: int) -> TimeAsked | None:
    if not 1 <= month <= 12:
        return None
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return _checked(words, dt.date(year, month, 1), following - dt.timedelta(days=1))


def _checked(words: str, since: dt.date, until: dt.date) -> TimeAsked | None:
    if not (1900 <= since.year <= 2100 and 1900 <= until.year <= 2100):
        return None
    return TimeAsked(words, since.isoformat(), until.isoformat())


def parse_as_of(value: str | dt.date | None) -> dt.date:
    """The reference date: ``None`` is today; a ``YYYY-MM-DD`` string must be a real date."""
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    from .question import QuestionError
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise QuestionError(f"as_of: {value!r} is not a real date like 2024-01-12") from None

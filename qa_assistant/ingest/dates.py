"""Publication dates as ISO ``YYYY-MM-DD``: from a masthead or date line (「2024年1月12日 星期五」), from page
metadata (ISO strings), or from a file name (``2024-01-12``, ``20240112``); impossible dates are ignored."""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

_CN_DATE = re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_SEPARATED = re.compile(r"(?<!\d)(\d{4})[-_./](\d{1,2})[-_./](\d{1,2})(?!\d)")
_COMPACT = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")
_WEEKDAY = r"(?:星期|周|礼拜)[一二三四五六日天]"
_LUNAR = r"(?:农历|夏历)?\s*(?:[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年)?\s*(?:[正一二三四五六七八九十冬腊]{1,2}月)?\s*(?:初[一二三四五六七八九十]|十[一二三四五六七八九]|二十[一二三四五六七八九]?|廿[一二三四五六七八九]|三十)?"
DATE_LINE = re.compile(rf"^\s*(?:[\u4e00-\u9fff]{{2,10}}\s*)?\d{{4}}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日\s*(?:{_WEEKDAY})?\s*(?:{_LUNAR})?\s*$")


def iso_date(year: int | str, month: int | str, day: int | str) -> str:
    """``YYYY-MM-DD`` for a real calendar date between 1900 and 2100, else ``""``."""
    try:
        value = _dt.date(int(year), int(month), int(day))
    except (TypeError, ValueError):
        return ""
    return value.isoformat() if 1900 <= value.year <= 2100 else ""


def date_in_text(text: str) -> str:
    """The first date written in ``text``, Chinese style (2024年1月12日) or ISO-like (2024-01-12, 2024/1/12)."""
    for pattern in (_CN_DATE, _SEPARATED):
        for match in pattern.finditer(text or ""):
            found = iso_date(*match.groups())
            if found:
                return found
    return ""


def normalise_date(value: str | None) -> str:
    """A metadata date (``2024-01-12``, ``2024-01-12T08:30:00+08:00``, ``20240112``, 2024年1月12日) as ISO."""
    value = (value or "").strip()
    return date_in_text(value) or _compact(value)


def _compact(text: str) -> str:
    for match in _COMPACT.finditer(text):
        found = iso_date(*match.groups())
        if found:
            return found
    return ""


def date_from_name(path: str | Path) -> str:
    """A date in the file name (``2024-01-12``, ``2024_01_12``, ``20240112``), else in its folder's name."""
    path = Path(path)
    for name in (path.stem, path.parent.name):
        found = date_in_text(name) or _compact(name)
        if found:
            return found
    return ""


def is_date_line(line: str) -> bool:
    """A masthead date line: a date, optionally with the paper's name, the weekday and the lunar date."""
    return bool(DATE_LINE.match(line)) and bool(date_in_text(line))

"""Page furniture: the lines of a newspaper page that are not news — the date line, page labels
(第3版 要闻, A3版), editor credits (责任编辑：…), jump lines (下转第2版) — and the masthead of a text page."""
from __future__ import annotations

import re

from .dates import date_in_text, is_date_line

_NAME = r"[\u4e00-\u9fff·]{2,5}"
_ROLE = r"(?:本版|本期)?(?:责任编辑|责编|主编|编辑|美术编辑|美编|校对|版式设计|版式|设计|制图|排版|审核|审校|监制|终审|图片编辑)"
_CREDIT = rf"{_ROLE}(?:\s*[：:／/]\s*|\s+){_NAME}(?:\s*[、，,]\s*{_NAME})*"
CREDITS = re.compile(rf"^\s*{_CREDIT}(?:\s+{_CREDIT})*\s*$")
_CREDIT_START = re.compile(rf"^\s*{_ROLE}\s*[：:／/]")
PAGE_LABEL = re.compile(r"^\s*(?:第\s*[A-Za-z]?\d{1,3}\s*[版页](?:\s*[\u4e00-\u9fff]{1,8})?"
                        r"|[A-Za-z]\d{1,3}(?:\s*版(?:\s*[\u4e00-\u9fff]{1,8})?|\s+[\u4e00-\u9fff]{1,6})?"
                        r"|\d{1,3}|[A-Za-z]?\d{1,3}\s*/\s*\d{1,3})\s*$")
JUMP = re.compile(r"^\s*[（(]?\s*(?:下转|上接|转|接|续)\s*第?\s*[A-Za-z]?\d{1,3}\s*[版页]\s*[）)]?\s*$")
MAX_FURNITURE_CHARS = 60


def is_credit_line(line: str) -> bool:
    """Editor credits such as 「责任编辑：王文 美术编辑：李丽」 (only names after the roles)."""
    return len(line) <= MAX_FURNITURE_CHARS and bool(CREDITS.match(line) or (
        _CREDIT_START.match(line) and len(line) <= 20 and not re.search(r"[。！？；]", line)))


def is_furniture(line: str) -> bool:
    """A line that is page furniture wherever it stands: a date line, page label, credits or jump line."""
    line = line.strip()
    if not line or len(line) > MAX_FURNITURE_CHARS:
        return False
    return bool(is_date_line(line) or PAGE_LABEL.match(line) or JUMP.match(line) or is_credit_line(line)
                or _is_combined(line))


def _is_combined(line: str) -> bool:
    """A running head that packs several pieces on one line: 「劳动午报 2024年1月12日 第3版」."""
    pieces = [p for p in re.split(r"\s{1,}|[|｜·•]", line) if p]
    if len(pieces) < 2 or not date_in_text(line):
        return False
    rest = re.sub(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", " ", line)
    rest_pieces = [p for p in re.split(r"\s+|[|｜·•]", rest) if p]
    return all(len(p) <= 10 and not re.search(r"[，。！？；：]", p) for p in rest_pieces)


def split_masthead(lines: list[str], head: int = 6) -> tuple[str, set[int]]:
    """The page date and the furniture lines of a text page: date lines, page labels and running heads
    among its first ``head`` non-empty lines (the masthead), credits and jump lines anywhere."""
    date, furniture = "", set()
    seen = 0
    for index, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        seen += 1
        if seen <= head and is_furniture(text):
            furniture.add(index)
            date = date or date_in_text(text)
        elif is_credit_line(text) or JUMP.match(text):
            furniture.add(index)
    return date, furniture

"""Text pages (.txt) and Markdown (.md) with their date: masthead lines (date line, page label, running
head) and editor credits are taken out before the page is parsed; the date comes from the masthead or,
failing that, from the file name."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .dates import date_from_name
from .encoding import read_text
from .furniture import split_masthead
from .model import Article
from .page import parse_markdown, parse_page


def strip_masthead(text: str) -> tuple[str, str]:
    """(date, text without its masthead and credit lines); text without furniture is returned as is."""
    lines = text.split("\n")
    date, furniture = split_masthead([line.lstrip("#").strip() for line in lines])
    if not furniture:
        return date, text
    return date, "\n".join(line for index, line in enumerate(lines) if index not in furniture)


def _dated(articles, date: str) -> list[Article]:
    return [article if article.date or not date else replace(article, date=date) for article in articles]


def read_text_page(path: Path, source: str) -> list[Article]:
    """A newspaper page as text → articles, dated by its masthead or file name."""
    date, text = strip_masthead(read_text(path))
    return _dated(parse_page(text, source).articles, date or date_from_name(path))


def read_markdown_page(path: Path, source: str) -> list[Article]:
    """Markdown (``#`` headlines) → articles, dated by a masthead date line or the file name."""
    date, text = strip_masthead(read_text(path))
    return _dated(parse_markdown(text, source).articles, date or date_from_name(path))

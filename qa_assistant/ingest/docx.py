"""Word files (.docx) → articles: paragraphs in Heading/Title styles (or with an outline level) are
headlines, the rest is read like a page (bylines, captions, cut paragraphs); a file without heading
styles has its headlines guessed as on a text page. Dated by a masthead date line or the file name."""
from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from pathlib import Path

from ..text import join_fragments
from .dates import date_from_name
from .furniture import split_masthead
from .libraries import require
from .model import Article, IngestError
from .page import parse_blocks

_HEADING_STYLE = re.compile(r"^(?:heading|title|subtitle|标题|副标题|题目)\s*\d*$", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(path: Path, source: str) -> list[Article]:
    """A Word file of news (one article or a whole page) → its articles."""
    segments, headings = docx_segments(path)
    date, furniture = split_masthead(segments)
    keep = [i for i in range(len(segments)) if i not in furniture]
    kept_headings = {keep.index(i) for i in headings if i in keep}
    page = parse_blocks([segments[i] for i in keep], kept_headings or None, source)
    date = date or date_from_name(path)
    return [replace(article, date=article.date or date) for article in page.articles]


def docx_segments(path: Path) -> tuple[list[str], set[int]]:
    """The paragraphs of the document body (tables row by row), and which of them are headings."""
    docx = require("docx", "python-docx", path, "Word")
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise IngestError(path, f"not a readable Word .docx file ({type(error).__name__}: {error}); "
                                "a .doc file must be saved as .docx first") from None
    segments: list[str] = []
    headings: set[int] = set()
    for block in document.element.body.iterchildren():
        if block.tag == _W + "p":
            paragraph = Paragraph(block, document)
            text = _text(paragraph.text)
            if text:
                if _is_heading(paragraph):
                    headings.add(len(segments))
                segments.append(text)
        elif block.tag == _W + "tbl":
            table = Table(block, document)
            for row in table.rows:
                cells = list(dict.fromkeys(_text(cell.text) for cell in row.cells))
                line = " ".join(c for c in cells if c)
                if line:
                    segments.append(line)
    return segments, headings


def _text(raw: str) -> str:
    """A paragraph's text: soft line breaks inside it joined (no space inside a Chinese sentence)."""
    text = ""
    for piece in raw.replace("\r", "\n").replace("\v", "\n").split("\n"):
        piece = re.sub(r"[ \t\u00a0\u3000]+", " ", piece).strip()
        if piece:
            text = join_fragments(text, piece)
    return text


def _is_heading(paragraph) -> bool:
    style = paragraph.style
    while style is not None:
        if _HEADING_STYLE.match((style.name or "").strip()):
            return True
        style = style.base_style
    level = paragraph._p.find(f"{_W}pPr/{_W}outlineLvl")
    return level is not None and level.get(f"{_W}val", "9") not in ("9",)

"""What ingest produces: articles made of paragraphs, and the error that names a bad input."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class IngestError(ValueError):
    """Bad input, named by file, line and field so the user can fix it."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


class FileTooLargeError(IngestError):
    """An input file over the per-file size limit (refused before it is read)."""


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: str = "body"  # "lead" (carries the byline), "body" or "caption"
    ocr: float | None = None  # read from a page image by OCR: the recogniser's confidence (0–1); else None


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    paragraphs: tuple[Paragraph, ...]
    source: str
    subtitle: str = ""
    reporters: tuple[str, ...] = ()
    correspondents: tuple[str, ...] = ()
    photographers: tuple[str, ...] = ()
    date: str = ""
    url: str = ""

    @property
    def text(self) -> str:
        """The cleaned article text that passage offsets point into: paragraphs joined by newlines."""
        return "\n".join(p.text for p in self.paragraphs)

    @property
    def heading(self) -> str:
        return f"{self.title}：{self.subtitle}" if self.subtitle else self.title


@dataclass(frozen=True)
class Page:
    source: str
    articles: tuple[Article, ...]
    banner: tuple[str, ...] = field(default=())



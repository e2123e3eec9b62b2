"""Ingest: files → articles. Reads newspaper pages (.txt/.md) and JSONL articles, detects the
encoding, repairs paragraphs broken by extraction, and separates headlines, bylines, captions
and the page banner from the body text."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .text import is_complete_paragraph, is_sentence_final, join_fragments, unbalanced

SUFFIXES = (".txt", ".md", ".jsonl")
HEADING_MAX_CHARS = 40
CAPTION_MAX_CHARS = 200
BANNER_MAX_OVERLAP = 0.5

_LEAD_RE = re.compile(
    r"^\s*(?:本报讯|本报[^，。（(\s]{0,10}电|新华社[^，。（(]{0,16}电|[^，。（(\s]{1,12}(?:讯|电))\s*[（(]([^）)]{1,80})[）)]")
_REPORTER_LEAD_RE = re.compile(r"^\s*(?:本报|特约)?记者\s*((?:[\u4e00-\u9fff·]{2,5}[\s、]*){1,4})")
_ROLE_RE = re.compile(r"(特约记者|实习记者|见习记者|实习生|记者|通讯员|摄影)")
_CAPTION_START_RE = re.compile(r"^\s*(?:图为|图片为|图：|图:|上图|下图|左图|右图|中图|图\d|图片来源)")
_PHOTO_CREDIT_RE = re.compile(r"((?:[\u4e00-\u9fff·]{2,5}[\s、]*){1,3})\s*摄影?\s*[）)]?\s*$")


class IngestError(ValueError):
    """Bad input, named by file, line and field so the user can fix it."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


class FileTooLargeError(IngestError):
    """An input file over the per-file size limit (refused before it is read)."""


MAX_FILE_MB = 10  # default per-file limit; a 10 MB page file is some 20,000 passages to embed
MAX_FILE_ENV = "QA_ASSISTANT_MAX_FILE_MB"
_MB = 1 << 20


def max_file_bytes(limit_mb: float | None = None) -> int | None:
    """The per-file size limit in bytes: ``limit_mb`` if given, else ``$QA_ASSISTANT_MAX_FILE_MB``, else
    10 MB (1 MB = 2**20 bytes); 0 means no limit (None is returned)."""
    if limit_mb is None:
        raw = os.environ.get(MAX_FILE_ENV, "").strip()
        try:
            limit_mb = float(raw) if raw else MAX_FILE_MB
        except ValueError:
            raise ValueError(f"{MAX_FILE_ENV}={raw!r}: not a number of megabytes") from None
    if limit_mb < 0:
        raise ValueError(f"the file size limit must be 0 (no limit) or more megabytes, not {limit_mb:g}")
    return None if limit_mb == 0 else int(limit_mb * _MB)


def check_file_size(path: str | Path, limit: int | None) -> int:
    """Refuse a file over ``limit`` bytes by its name, size and the limit, without reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None
    if limit is not None and size > limit:
        raise FileTooLargeError(
            path, f"file is {_human(size)}, over the limit of {_human(limit)} per file; split it, or "
                  f"raise the limit with --max-file-mb {int(size // _MB) + 1} "
                  f"(or {MAX_FILE_ENV}; 0 = no limit)")
    return size


def _human(size: int) -> str:
    return f"{size / _MB:.4g} MB" if size >= _MB else f"{size / 1024:.4g} KB"


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: str = "body"  # "lead" (carries the byline), "body" or "caption"


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


# ---------------------------------------------------------------- reading files

def read_text(path: str | Path) -> str:
    """Decode a text file: UTF-8 (with or without BOM), else GB18030 (covers GBK/GB2312).
    Binary files are refused with an error naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None
    if b"\x00" in raw[:65536]:
        raise IngestError(path, "looks like a binary file (NUL bytes), not text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\r\n\t\f")
        if controls > max(8, len(text[:65536]) // 100):
            raise IngestError(path, "looks like a binary file (control characters), not text")
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise IngestError(path, "not valid UTF-8 or GB18030 text")


def iter_input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files to ingest, in a stable order: given files as they are, folders walked for .txt/.md/.jsonl."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                              and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            yield path
        else:
            raise IngestError(path, "no such file or folder")


_DEFAULT_LIMIT = -1


def load_articles(path: str | Path, max_bytes: int | None = _DEFAULT_LIMIT) -> list[Article]:
    """All articles of one file, by its suffix (.jsonl articles, anything else a page). A file over the
    size limit (``max_bytes``, default :func:`max_file_bytes`; None = no limit) is refused unread; an
    empty file has no articles."""
    path = Path(path)
    check_file_size(path, max_file_bytes() if max_bytes == _DEFAULT_LIMIT else max_bytes)
    source = str(path.resolve())
    if path.suffix.lower() == ".jsonl":
        return parse_jsonl(read_text(path), source)
    text = read_text(path)
    page = parse_markdown(text, source) if path.suffix.lower() == ".md" else parse_page(text, source)
    return list(page.articles)


# ---------------------------------------------------------------- JSONL articles

def parse_jsonl(text: str, source: str) -> list[Article]:
    """One article per line: ``id``, ``title``, ``text`` required; ``date``, ``source``, ``url`` optional.
    A malformed line stops the whole file with an error naming the line (nothing partial is indexed)."""
    articles: list[Article] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise IngestError(source, f"invalid JSON ({error.msg} at column {error.colno})", line=number) from None
        if not isinstance(record, dict):
            raise IngestError(source, "expected a JSON object", line=number)
        for name in ("id", "title", "text"):
            if name not in record:
                raise IngestError(source, "is missing", line=number, field=name)
        for name in ("title", "text", "date", "source", "url"):
            if name in record and record[name] is not None and not isinstance(record[name], str):
                raise IngestError(source, f"must be a string, got {type(record[name]).__name__}",
                                  line=number, field=name)
        if not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool) or str(record["id"]).strip() == "":
            raise IngestError(source, "must be a non-empty string or integer", line=number, field="id")
        article_id = str(record["id"]).strip()
        if article_id in seen:
            raise IngestError(source, f"duplicate id {article_id!r} (first on line {seen[article_id]})",
                              line=number, field="id")
        seen[article_id] = number
        blocks = _repair(_segments(record["text"]), forced_headings=set())  # the body has no headlines
        paragraphs = tuple(Paragraph(b.text, b.kind if b.kind != "heading" else "body") for b in blocks)
        if not paragraphs:
            raise IngestError(source, "is empty", line=number, field="text")
        articles.append(_make_article(article_id, record["title"].strip(), "", paragraphs, source,
                                      date=record.get("date") or "", url=record.get("url") or ""))
    return articles


# ---------------------------------------------------------------- pages

@dataclass
class _Block:
    text: str
    kind: str  # heading | lead | body | caption


def _segments(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _is_lead(text: str) -> bool:
    return bool(_LEAD_RE.match(text) or _REPORTER_LEAD_RE.match(text))


def _is_caption(text: str) -> bool:
    if len(text) > CAPTION_MAX_CHARS:
        return False
    return bool(_CAPTION_START_RE.match(text)) or (bool(_PHOTO_CREDIT_RE.search(text)) and "摄" in text[-8:])


def _short(text: str) -> bool:
    return len(text) <= HEADING_MAX_CHARS and "。" not in text and not unbalanced(text)


def _classify(segments: list[str], forced_headings: set[int] | None = None) -> list[str]:
    """Kind of each raw segment. A heading is a short line that precedes a byline lead (within a
    group of at most three short lines), or a short line without final punctuation standing
    between finished paragraphs."""
    kinds = []
    for i, text in enumerate(segments):
        if forced_headings is not None and i in forced_headings:
            kinds.append("heading")
        elif _is_lead(text):
            kinds.append("lead")
        elif _is_caption(text):
            kinds.append("caption")
        else:
            kinds.append("body")
    for i, text in enumerate(segments):
        if forced_headings is not None or kinds[i] != "body" or not _short(text):
            continue  # explicit headings (Markdown) need no guessing
        j = i + 1
        while j < len(segments) and j - i <= 3 and kinds[j] in ("body", "heading") and _short(segments[j]):
            j += 1
        precedes_lead = j < len(segments) and j - i <= 3 and kinds[j] == "lead"
        previous_done = i == 0 or kinds[i - 1] == "caption" or (
            kinds[i - 1] != "heading" and is_complete_paragraph(segments[i - 1]))
        stands_alone = (not is_sentence_final(text) and previous_done and i + 1 < len(segments)
                        and not segments[i + 1][:1] in "，、；：,;:")
        if precedes_lead or stands_alone:
            kinds[i] = "heading"
    return kinds


def _repair(segments: list[str], forced_headings: set[int] | None = None) -> list[_Block]:
    """Rejoin paragraphs that extraction cut mid-sentence: a lead or body paragraph that does not
    end like a finished paragraph absorbs the next segment unless that one starts something new."""
    kinds = _classify(segments, forced_headings)
    blocks: list[_Block] = []
    for text, kind in zip(segments, kinds):
        last = blocks[-1] if blocks else None
        if (last is not None and last.kind in ("lead", "body") and kind == "body"
                and not is_complete_paragraph(last.text)):
            last.text = join_fragments(last.text, text)
        else:
            blocks.append(_Block(text, kind))
    return blocks


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if "\u3400" <= c <= "\u9fff"]
    return {a + b for a, b in zip(chars, chars[1:])}


def _overlap(line: str, body: str) -> float:
    grams = _bigrams(line)
    return len(grams & _bigrams(body)) / len(grams) if grams else 0.0


def _byline(paragraphs: Iterable[Paragraph]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    reporters: list[str] = []
    correspondents: list[str] = []
    photographers: list[str] = []
    for paragraph in paragraphs:
        if paragraph.kind == "lead":
            match = _LEAD_RE.match(paragraph.text)
            inner = match.group(1) if match else "记者 " + _REPORTER_LEAD_RE.match(paragraph.text).group(1)
            role = "记者"
            for piece in _ROLE_RE.split(inner):
                piece = piece.strip()
                if _ROLE_RE.fullmatch(piece):
                    role = piece
                    continue
                names = [n for n in re.split(r"[\s、，,]+", piece) if n]
                (correspondents if role == "通讯员" else reporters).extend(names)
        elif paragraph.kind == "caption":
            credit = _PHOTO_CREDIT_RE.search(paragraph.text)
            if credit:
                words = re.split(r"[\s、]+", credit.group(1).strip())
                photographers.extend(w.removeprefix("本报记者").removeprefix("记者") for w in words if w)
    unique = lambda names: tuple(dict.fromkeys(n for n in names if n))  # noqa: E731
    return unique(reporters), unique(correspondents), unique(photographers)


def _make_article(article_id: str, title: str, subtitle: str, paragraphs: tuple[Paragraph, ...],
                  source: str, date: str = "", url: str = "") -> Article:
    reporters, correspondents, photographers = _byline(paragraphs)
    return Article(id=article_id, title=title, subtitle=subtitle, paragraphs=paragraphs, source=source,
                   reporters=reporters, correspondents=correspondents, photographers=photographers,
                   date=date, url=url)


def page_article_id(source: str, title: str, first_paragraph: str) -> str:
    """Content-derived article id: file stem plus a hash of headline and first paragraph."""
    digest = hashlib.sha1(f"{title}\n{first_paragraph}".encode("utf-8")).hexdigest()[:10]
    return f"{Path(source).stem}-{digest}"


def _assemble(blocks: list[_Block], source: str) -> Page:
    groups: list[tuple[list[str], list[Paragraph]]] = []
    for block in blocks:
        if block.kind == "heading":
            if groups and not groups[-1][1]:
                groups[-1][0].append(block.text)
            else:
                groups.append(([block.text], []))
        else:
            if not groups:
                groups.append(([], []))
            groups[-1][1].append(Paragraph(block.text, block.kind))
    banner: list[str] = []
    articles: list[Article] = []
    used: set[str] = set()
    for index, (headings, paragraphs) in enumerate(groups):
        if not paragraphs:  # trailing headings with no text: keep them as text, never drop words
            paragraphs = [Paragraph(h, "body") for h in headings]
            headings = []
        body = "".join(p.text for p in paragraphs)
        if index == 0:
            while len(headings) > 1 and _overlap(headings[0], body) < BANNER_MAX_OVERLAP:
                banner.append(headings.pop(0))
        title = headings[0] if headings else Path(source).stem
        subtitle = "，".join(headings[1:])
        article_id = page_article_id(source, title, paragraphs[0].text)
        base, repeat = article_id, 1
        while article_id in used:  # the same headline and first paragraph twice on a page: ids stay unique
            repeat += 1
            article_id = f"{base}-{repeat}"
        used.add(article_id)
        articles.append(_make_article(article_id, title, subtitle, tuple(paragraphs), source))
    return Page(source=source, articles=tuple(articles), banner=tuple(banner))


def parse_page(text: str, source: str = "page.txt") -> Page:
    """A newspaper page → its articles (headline, subtitle, byline, repaired paragraphs, captions)."""
    return _assemble(_repair(_segments(text)), source)


def parse_markdown(text: str, source: str = "page.md") -> Page:
    """Markdown: ``#`` lines are headlines; the rest is read like a page."""
    segments = _segments(text)
    forced = {i for i, s in enumerate(segments) if s.startswith("#")}
    segments = [s.lstrip("#").strip() if i in forced else s for i, s in enumerate(segments)]
    keep = [i for i, s in enumerate(segments) if s]
    forced = {keep.index(i) for i in forced if i in keep}
    return _assemble(_repair([segments[i] for i in keep], forced), source)

"""Newspaper pages (.txt/.md) → articles: repairs paragraphs broken by extraction and separates
headlines, bylines, captions and the page banner from the body text."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..text import is_complete_paragraph, is_sentence_final, join_fragments, to_simplified, unbalanced
from .model import Article, Page, Paragraph

HEADING_MAX_CHARS = 40
CAPTION_MAX_CHARS = 200
BANNER_MAX_OVERLAP = 0.5

_LEAD_RE = re.compile(
    r"^\s*(?:本报讯|本报[^，。（(\s]{0,10}电|新华社[^，。（(]{0,16}电|[^，。（(\s]{1,12}(?:讯|电))\s*[（(]([^）)]{1,80})[）)]")
_REPORTER_LEAD_RE = re.compile(r"^\s*(?:本报|特约)?记者\s*((?:[\u4e00-\u9fff·]{2,5}[\s、]*){1,4})")
_ROLE_RE = re.compile(r"(特约记者|实习记者|见习记者|实习生|记者|通讯员|摄影)")
_CAPTION_START_RE = re.compile(r"^\s*(?:图为|图片为|图：|图:|上图|下图|左图|右图|中图|图\d|图片来源)")
_PHOTO_CREDIT_RE = re.compile(r"((?:[\u4e00-\u9fff·]{2,5}[\s、]*){1,3})\s*摄影?\s*[）)]?\s*$")


@dataclass
class _Block:
    text: str
    kind: str  # heading | lead | body | caption


def split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _is_lead(text: str) -> bool:
    text = to_simplified(text[:120])  # bylines are matched in simplified script: 本報訊 is 本报讯
    return bool(_LEAD_RE.match(text) or _REPORTER_LEAD_RE.match(text))


def _is_caption(text: str) -> bool:
    if len(text) > CAPTION_MAX_CHARS:
        return False
    text = to_simplified(text)
    return bool(_CAPTION_START_RE.match(text)) or (bool(_PHOTO_CREDIT_RE.search(text)) and "摄" in text[-8:])


def _short(text: str) -> bool:
    return len(text) <= HEADING_MAX_CHARS and "。" not in text and not unbalanced(text)


def _classify(segments: list[str], forced_headings: set[int] | None = None,
              forced_captions: set[int] | None = None) -> list[str]:
    """Kind of each raw segment. A heading is a short line that precedes a byline lead (within a
    group of at most three short lines), or a short line without final punctuation standing
    between finished paragraphs."""
    kinds = []
    for i, text in enumerate(segments):
        if forced_headings is not None and i in forced_headings:
            kinds.append("heading")
        elif forced_captions and i in forced_captions:
            kinds.append("caption")
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


def repair(segments: list[str], forced_headings: set[int] | None = None,
           forced_captions: set[int] | None = None) -> list[_Block]:
    """Rejoin paragraphs that extraction cut mid-sentence: a lead or body paragraph that does not
    end like a finished paragraph absorbs the next segment unless that one starts something new."""
    kinds = _classify(segments, forced_headings, forced_captions)
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
        text = to_simplified(paragraph.text[:120] if paragraph.kind == "lead" else paragraph.text)
        if paragraph.kind == "lead":
            match = _LEAD_RE.match(text)
            inner = match.group(1) if match else "记者 " + _REPORTER_LEAD_RE.match(text).group(1)
            role = "记者"
            for piece in _ROLE_RE.split(inner):
                piece = piece.strip()
                if _ROLE_RE.fullmatch(piece):
                    role = piece
                    continue
                names = [n for n in re.split(r"[\s、，,]+", piece) if n]
                (correspondents if role == "通讯员" else reporters).extend(names)
        elif paragraph.kind == "caption":
            credit = _PHOTO_CREDIT_RE.search(text)
            if credit:
                words = re.split(r"[\s、]+", credit.group(1).strip())
                photographers.extend(w.removeprefix("本报记者").removeprefix("记者") for w in words if w)
    unique = lambda names: tuple(dict.fromkeys(n for n in names if n))  # noqa: E731
    return unique(reporters), unique(correspondents), unique(photographers)


def make_article(article_id: str, title: str, subtitle: str, paragraphs: tuple[Paragraph, ...],
                  source: str, date: str = "", url: str = "") -> Article:
    reporters, correspondents, photographers = _byline(paragraphs)
    return Article(id=article_id, title=title, subtitle=subtitle, paragraphs=paragraphs, source=source,
                   reporters=reporters, correspondents=correspondents, photographers=photographers,
                   date=date, url=url)


def page_article_id(source: str, title: str, first_paragraph: str) -> str:
    """Content-derived article id, scoped by its file: the file stem plus a hash of the file's path,
    headline and first paragraph (a copy of a page in another folder holds articles of its own)."""
    digest = hashlib.sha1(f"{source}\n{title}\n{first_paragraph}".encode("utf-8")).hexdigest()[:10]
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
        articles.append(make_article(article_id, title, subtitle, tuple(paragraphs), source))
    return Page(source=source, articles=tuple(articles), banner=tuple(banner))


def parse_page(text: str, source: str = "page.txt") -> Page:
    """A newspaper page → its articles (headline, subtitle, byline, repaired paragraphs, captions)."""
    return _assemble(repair(split_lines(text)), source)


def parse_markdown(text: str, source: str = "page.md") -> Page:
    """Markdown: ``#`` lines are headlines; the rest is read like a page."""
    segments = split_lines(text)
    forced = {i for i, s in enumerate(segments) if s.startswith("#")}
    segments = [s.lstrip("#").strip() if i in forced else s for i, s in enumerate(segments)]
    keep = [i for i, s in enumerate(segments) if s]
    forced = {keep.index(i) for i in forced if i in keep}
    return _assemble(repair([segments[i] for i in keep], forced), source)


def parse_blocks(segments: Sequence[str], headings: Iterable[int] | None, source: str,
                 captions: Iterable[int] = ()) -> Page:
    """Segments whose headlines (and captions) the format tells — font size in a PDF, styles in a DOCX,
    markup in HTML — → articles; bylines, cut paragraphs and the banner are found as on a page.
    ``headings=None`` guesses the headlines as :func:`parse_page` does."""
    segments = [s.strip() for s in segments]
    keep = [i for i, s in enumerate(segments) if s]
    position = {old: new for new, old in enumerate(keep)}
    forced = None if headings is None else {position[i] for i in headings if i in position}
    forced_captions = {position[i] for i in captions if i in position}
    return _assemble(repair([segments[i] for i in keep], forced, forced_captions), source)

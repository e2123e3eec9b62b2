"""E-paper PDF pages → articles. Lines come from PDFium (pypdfium2) with their font size and place, or,
for a page without text layer (a scan), from OCR of the rendered page (see ``ocr``); page furniture is
dropped, columns and spanning headlines are put in reading order (XY-cut), paragraphs are rejoined across
columns and pages, then the page parser finds articles and bylines."""
from __future__ import annotations

import logging
import math
import re
import statistics
import threading
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from ..text import is_complete_paragraph, join_fragments
from .dates import date_from_name, date_in_text
from .furniture import JUMP, is_credit_line, is_furniture
from .model import Article, IngestError
from .page import parse_blocks

log = logging.getLogger(__name__)

HEADING_RATIO = 1.1  # a line this much larger than the body text is a headline
SMALL_RATIO = 0.92  # a line this much smaller is a caption or small print
BAND = 0.12  # share of the page height, at top and bottom, where running heads and folios stand
WORD_SPACE = 0.15  # an inferred space counts where glyphs stand this many ems apart (not justification)
CHAR_MARGIN = 0.8  # glyphs further apart than this many glyph widths are two lines (two columns)
MIN_CHARS_PER_PAGE = 10  # fewer characters than this on a page: no text layer (a scan, read by OCR)


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    top: float  # distance from the top of the page
    bottom: float
    size: float
    page: int
    lo: float = 0.0  # horizontal extent for finding gutters: a spanning headline covers whole columns
    hi: float = 0.0
    score: float | None = None  # the recogniser's confidence for a line read by OCR; None for a text layer


@dataclass
class PdfPage:
    number: int
    width: float
    height: float
    lines: list[Line]


_PDFIUM = threading.Lock()  # PDFium must not be entered by two threads at once, even for two documents


def read_pdf(path: Path, source: str) -> list[Article]:
    """A PDF of newspaper pages → its articles, dated by the masthead or the file name; pages without
    a text layer (scans) are read by OCR, and their paragraphs say so."""
    from .ocr import mark_ocr
    pages = extract_lines(path)
    return mark_ocr(articles_from_lines(pages, source, path), pages)


def _open(path: Path):
    import pypdfium2
    try:
        return pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as error:
        if error.err_code == pypdfium2.raw.FPDF_ERR_PASSWORD:
            raise IngestError(path, "the PDF is encrypted (password protected); save an unprotected copy") from None
        raise IngestError(path, f"not a readable PDF ({error})") from None


def extract_lines(path: Path) -> list[PdfPage]:
    """Text lines of every page with font size and position. Pages without a text layer (a scan, a
    photo) are rendered and read by OCR into lines of the same kind; unreadable PDFs are refused."""
    import pypdfium2

    pages: list[PdfPage] = []
    unmapped: list[int] = []
    with _PDFIUM:
        document = _open(path)
    try:
        with _PDFIUM:  # PDFium is entered page by page, so that OCR below never holds the lock
            count = len(document)
        for number in range(1, count + 1):
            with _PDFIUM:
                page = document[number - 1]
                try:
                    glyphs, missing = _glyphs(page)
                    unmapped.append(missing)
                    pages.append(PdfPage(number, page.get_width(), page.get_height(),
                                         _lines(glyphs, page.get_height(), number)))
                finally:
                    page.close()
        if not pages:
            raise IngestError(path, "the PDF has no pages")
        chars = [sum(len(line.text.replace(" ", "")) for line in page.lines) for page in pages]
        if sum(unmapped) >= MIN_CHARS_PER_PAGE and sum(unmapped) * 4 > sum(chars):
            raise IngestError(path, "the PDF's fonts have no Unicode map, so its text cannot be read; "
                                    "export it again with the text embedded, or give the text itself")
        scans = [page.number for page, found, missing in zip(pages, chars, unmapped)
                 if found < MIN_CHARS_PER_PAGE and missing < MIN_CHARS_PER_PAGE]
        if scans:
            pages = _with_ocr(document, pages, scans, path)
    except pypdfium2.PdfiumError as error:
        raise IngestError(path, f"not a readable PDF ({error})") from None
    finally:
        with _PDFIUM:
            document.close()
    return pages


def _with_ocr(document, pages: list[PdfPage], scans: list[int], path: Path) -> list[PdfPage]:
    """The pages without a text layer read by OCR, each rendered when its turn comes; without
    the OCR extra, or when no scanned page has text, they are left out (a PDF of scans only is refused)."""
    from . import ocr
    whole = len(scans) == len(pages)
    if not ocr.available():
        if whole:
            raise IngestError(path, f"the PDF has no text layer ({len(pages)} page(s) of images: a scanned page?); "
                                    f"reading it needs OCR: {ocr.INSTALL} (the rapidocr-onnxruntime package)")
        log.warning("%s: page(s) %s have no text layer (images), skipped: to read them by OCR, %s", path,
                    ", ".join(map(str, scans)), ocr.INSTALL)
        return [page for page in pages if page.number not in scans]

    def render(number: int):
        with _PDFIUM:
            page = document[number - 1]
            try:  # at ocr.DPI, a page larger than a broadsheet at somewhat less
                scale = min(ocr.DPI / 72, ocr.MAX_SIDE / max(page.get_width(), page.get_height(), 1))
                image = page.render(scale=scale, grayscale=True).to_numpy()
            finally:
                page.close()
        return ocr.to_grey(image), 1 / scale

    try:
        read = {page.number: page for page in ocr.read_pages(scans, render, path)}
    except ocr.BlankPage as error:
        if whole:
            raise IngestError(path, f"the PDF has no text layer, and OCR found no text on its {len(pages)} "
                                    "page image(s) (blank or too low in contrast?)") from error
        log.warning("%s: the page(s) without text layer (%s) have no text to read, skipped", path,
                    ", ".join(map(str, scans)))
        read = {}
    return [read.get(page.number, page) for page in pages if page.number not in scans or page.number in read]


@dataclass(frozen=True)
class _Glyph:
    text: str
    x0: float
    x1: float
    y0: float  # PDF space: from the bottom of the page; the font's descent line
    size: float  # the font size on the page (the text matrix applied), the glyph box height pdfminer.six gives
    generated: bool = False  # a space PDFium inferred from a gap, not a glyph of the file


def _glyphs(page) -> tuple[list[_Glyph], int]:
    """The page's characters in content-stream order (PDFium's inferred line breaks left out, its
    inferred spaces marked), and how many had no Unicode mapping."""
    import pypdfium2.raw as pdfium_c

    text_page = page.get_textpage()
    try:
        raw = text_page.raw
        box, matrix = pdfium_c.FS_RECTF(), pdfium_c.FS_MATRIX()
        glyphs: list[_Glyph] = []
        unmapped = 0
        for index in range(pdfium_c.FPDFText_CountChars(raw)):
            generated = bool(pdfium_c.FPDFText_IsGenerated(raw, index))
            code = pdfium_c.FPDFText_GetUnicode(raw, index)
            if generated and code != 0x20:
                continue  # PDFium's line breaks: the lines are found from the glyphs' places
            if pdfium_c.FPDFText_HasUnicodeMapError(raw, index):
                unmapped += 1
                continue
            if not code or 0xD800 <= code < 0xE000:
                continue
            pdfium_c.FPDFText_GetLooseCharBox(raw, index, box)
            pdfium_c.FPDFText_GetMatrix(raw, index, matrix)
            size = pdfium_c.FPDFText_GetFontSize(raw, index) * math.hypot(matrix.c, matrix.d)
            glyphs.append(_Glyph(chr(code), box.left, box.right, box.bottom, size, generated))
        return glyphs, unmapped
    finally:
        text_page.close()


def _lines(glyphs: list[_Glyph], height: float, number: int) -> list[Line]:
    """Consecutive glyphs that share a baseline and stand close (under CHAR_MARGIN of a glyph's width
    apart) form a line, as pdfminer.six's layout analysis groups them."""
    lines: list[Line] = []
    current: list[_Glyph] = []
    last: _Glyph | None = None  # the line's last visible glyph
    for glyph in glyphs:
        if glyph.text.strip():
            if last is not None and not _same_line(last, glyph):
                lines.extend(_make_line(current, height, number))
                current = []
            last = glyph
        current.append(glyph)
    lines.extend(_make_line(current, height, number))
    return lines


def _same_line(left: _Glyph, right: _Glyph) -> bool:
    overlap = min(left.y0 + left.size, right.y0 + right.size) - max(left.y0, right.y0)
    gap = max(right.x0 - left.x1, left.x0 - right.x1, 0.0)
    width = max(left.x1 - left.x0, right.x1 - right.x0)
    return overlap > 0.5 * min(left.size, right.size) and gap < CHAR_MARGIN * width


def _make_line(glyphs: list[_Glyph], height: float, number: int) -> list[Line]:
    """A line's text from its glyphs: real spaces kept (collapsed), justification gaps dropped, a space
    added between two Latin words set apart without one."""
    text, last, space, inferred = "", None, False, False
    for glyph in glyphs:
        if not glyph.text.strip():
            if text:
                space = space or not glyph.generated
                inferred = inferred or glyph.generated
            continue
        if last is not None and not space and text[-1:].isascii() and text[-1:].isalnum() \
                and glyph.text[:1].isascii() and glyph.text[:1].isalnum() and glyph.x0 - last.x1 > 0.2 * glyph.size:
            space = True
        if inferred and last is not None and glyph.x0 - last.x1 > WORD_SPACE * glyph.size:
            space = True
        text += (" " if space else "") + glyph.text
        last, space, inferred = glyph, False, False
    visible = [g for g in glyphs if g.text.strip()]
    if not text or not visible:
        return []
    size = Counter(round(g.size * 2) / 2 for g in visible).most_common(1)[0][0]
    x0, x1 = min(g.x0 for g in visible), max(g.x1 for g in visible)
    y0, y1 = min(g.y0 for g in visible), max(g.y0 + g.size for g in visible)
    return [Line(text, x0, x1, height - y1, height - y0, size, number, x0, x1)]


def _body_size(lines: list[Line]) -> float:
    weights: Counter[float] = Counter()
    for line in lines:
        weights[line.size] += len(line.text)
    return weights.most_common(1)[0][0]


def _kind(line: Line, body: float) -> str:
    if line.size >= body * HEADING_RATIO:
        return "heading"
    return "small" if line.size <= body * SMALL_RATIO else "body"


def _drop_furniture(pages: list[PdfPage], body: float) -> tuple[list[Line], list[Line]]:
    """Split every page's lines into content and furniture: running heads and folios repeated on several
    pages, date lines, page labels, credits and jump lines, and small print above or below the text."""
    def zone(page: PdfPage, line: Line) -> str:
        if line.bottom <= page.height * BAND:
            return "top"
        return "bottom" if line.top >= page.height * (1 - BAND) else ""

    repeated: Counter[tuple[str, str]] = Counter()
    for page in pages:
        keys = {(zone(page, line), re.sub(r"\d+", "#", line.text)) for line in page.lines if zone(page, line)}
        repeated.update(keys)
    content: list[Line] = []
    furniture: list[Line] = []
    for page in pages:
        flow = [line for line in page.lines if _kind(line, body) == "body"]
        first = min((line.top for line in flow), default=page.height)
        last = max((line.bottom for line in flow), default=0.0)
        for line in page.lines:
            where, kind = zone(page, line), _kind(line, body)
            drop = (
                (where and len(pages) > 1 and repeated[(where, re.sub(r"\d+", "#", line.text))] > 1)
                or (is_furniture(line.text) and (where or kind != "body" or not _in_flow(line, flow)))
                or is_credit_line(line.text) or bool(JUMP.match(line.text))
                or (kind == "small" and line.bottom <= first and line.bottom <= page.height * 2 * BAND)
                or (kind == "small" and line.top >= last and line.top >= page.height * (1 - BAND)))
            (furniture if drop else content).append(line)
    return content, furniture


def _in_flow(line: Line, flow: list[Line]) -> bool:
    """Does a body-size line stand inside running text (a neighbour line just above or below it)?"""
    pitch = 2.2 * line.size
    return any(other is not line and other.x0 < line.x1 and line.x0 < other.x1
               and abs(other.top - line.top) < pitch for other in flow)


def _spread_over_columns(lines: list[Line], body: float) -> None:
    """Columns are where this region's body lines stand; a line reaching over a gutter is widened to the
    columns on both sides, so that a short centred headline still blocks the gutters under it."""
    for line in lines:
        line.lo, line.hi = line.x0, line.x1
    left = int(min((line.x0 for line in lines), default=0))
    cover = [0] * (int(max((line.x1 for line in lines), default=0)) - left + 2)
    for line in lines:
        if _kind(line, body) == "body":
            for x in range(int(line.x0) - left, int(line.x1) - left + 1):
                cover[x] += 1
    floor = 0.08 * max(cover, default=0)
    columns, start = [], None
    for x, count in enumerate(cover + [0]):
        if count > floor and start is None:
            start = x
        elif count <= floor and start is not None:
            columns.append((start + left, x - 1 + left))
            start = None
    if len(columns) < 2:
        return
    gutters = [(a[1], b[0]) for a, b in zip(columns, columns[1:])]
    for line in lines:
        touched = {i for i, (a, b) in enumerate(columns) if line.x0 < b - 1 and line.x1 > a + 1}
        for i, (a, b) in enumerate(gutters):
            if min(line.x1, b) - max(line.x0, a) > 0.5 * (b - a):
                touched |= {i, i + 1}
        if len(touched) > 1:
            line.lo = min(line.x0, columns[min(touched)][0])
            line.hi = max(line.x1, columns[max(touched)][1])


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[tuple[float, float, float]]:
    """Empty stretches of at least ``min_gap`` between the spans, as (start, end, middle)."""
    gaps, reach = [], None
    for low, high in sorted(spans):
        if reach is not None and low - reach >= min_gap:
            gaps.append((reach, low, (reach + low) / 2))
        reach = high if reach is None else max(reach, high)
    return gaps


def _split(lines: list[Line], cuts: list[float], key) -> list[list[Line]]:
    parts: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
    for line in lines:
        parts[sum(1 for cut in cuts if key(line) > cut)].append(line)
    return [part for part in parts if part]


def reading_order(lines: list[Line], body: float, leading: float) -> list[list[Line]]:
    """Recursive XY-cut: bands split at horizontal gaps that border a headline, caption or spanning
    line, else columns split at gutters; each leaf is read top to bottom."""
    if len(lines) <= 1:
        return [lines]
    _spread_over_columns(lines, body)
    cuts = [middle for start, end, middle in _gaps([(l.top, l.bottom) for l in lines], leading + 0.25 * body)
            if _band_edge(lines, start, end, body, leading)]
    if cuts:
        bands = _split(lines, cuts, lambda line: (line.top + line.bottom) / 2)
        return [leaf for band in bands for leaf in reading_order(band, body, leading)]
    for extent in (lambda line: (line.lo, line.hi), lambda line: (line.x0, line.x1)):
        gutters = [middle for _, _, middle in _gaps([extent(line) for line in lines], 0.6 * body)]
        if gutters:
            columns = _split(lines, gutters, lambda line: sum(extent(line)) / 2)
            return [leaf for column in columns for leaf in reading_order(column, body, leading)]
    return [sorted(lines, key=lambda line: (line.top, line.x0))]


def _band_edge(lines: list[Line], above: float, below: float, body: float, leading: float) -> bool:
    """A horizontal gap separates bands above a headline, or next to a line spanning columns, or around
    small print with a clear blank. Not below a one-column headline (its story goes on in its column),
    nor between lines of running text, whose line gaps line up across columns."""
    upper = [line for line in lines if abs(line.bottom - above) < 1]
    lower = [line for line in lines if abs(line.top - below) < 1]
    wide = lambda line: line.hi - line.lo > line.x1 - line.x0 + 1  # noqa: E731
    if any(_kind(line, body) == "heading" or wide(line) for line in lower) or any(wide(line) for line in upper):
        return True
    if any(_kind(line, body) == "small" for line in upper + lower):
        return below - above >= leading + 0.6 * body
    return below - above > 6 * body


class _Columns:
    """Left and right edges of the text columns of each page, to tell first-line indents and short last
    lines of paragraphs."""

    def __init__(self, lines: list[Line], body: float):
        self.starts: dict[int, list[float]] = {}
        self.rights: dict[tuple[int, float], float] = {}
        for page in {line.page for line in lines}:
            body_lines = [l for l in lines if l.page == page and _kind(l, body) == "body"]
            counts = Counter(round(l.x0) for l in body_lines)
            peak = max(counts.values(), default=0)
            starts = sorted(x for x, n in counts.items() if n >= max(2, 0.1 * peak))
            self.starts[page] = starts
            for line in body_lines:
                key = (page, self.start(line))
                self.rights[key] = max(self.rights.get(key, 0.0), line.x1)

    def start(self, line: Line) -> float:
        near = [s for s in self.starts.get(line.page, []) if s - 1 <= line.x0 < s + 4 * line.size]
        return near[0] if near else line.x0

    def indented(self, line: Line) -> bool:
        return 0.8 * line.size <= line.x0 - self.start(line) < 4 * line.size

    def short(self, line: Line) -> bool:
        right = self.rights.get((line.page, self.start(line)), line.x1)
        return line.x1 < right - 0.8 * line.size


def segments_in_order(leaves: list[list[Line]], body: float, columns: _Columns,
                      min_gap: float) -> tuple[list[str], set[int], set[int]]:
    """Leaves → segments (headline, paragraph or caption), with the indices of headlines and captions.
    A body line continues the open paragraph unless it is indented (or, in pages without indents, the
    previous line ended short); a caption inside an open paragraph waits until the paragraph ends."""
    indents = sum(1 for leaf in leaves for l in leaf if _kind(l, body) == "body" and columns.indented(l))
    indent_style = indents >= 2
    segments: list[str] = []
    kinds: list[str] = []
    waiting: list[str] = []
    open_paragraph = False
    previous: Line | None = None  # the line read just before, of any kind
    last_body: Line | None = None

    def close() -> None:
        nonlocal open_paragraph
        open_paragraph = False
        segments.extend(waiting)
        kinds.extend("caption" for _ in waiting)
        waiting.clear()

    for leaf in leaves:
        for index, line in enumerate(leaf):
            kind = _kind(line, body)
            follows = index > 0 and leaf[index - 1] is previous  # same column, next line down
            near = previous is not None and previous.page == line.page and previous.x0 < line.x1 \
                and line.x0 < previous.x1 and -1 < line.top - previous.bottom < max(min_gap, 0.8 * line.size)
            if kind == "heading":
                close()
                if kinds and kinds[-1] == "heading" and near and abs(previous.size - line.size) < 0.5:
                    segments[-1] = join_fragments(segments[-1], line.text)
                else:
                    segments.append(line.text)
                    kinds.append("heading")
            elif kind == "small":
                joins = near and _kind(previous, body) == "small"
                if open_paragraph:
                    if waiting and joins:
                        waiting[-1] = join_fragments(waiting[-1], line.text)
                    else:
                        waiting.append(line.text)
                elif kinds and kinds[-1] == "caption" and joins:
                    segments[-1] = join_fragments(segments[-1], line.text)
                else:
                    segments.append(line.text)
                    kinds.append("caption")
            else:
                ended = last_body is not None and columns.short(last_body) and (
                    not indent_style or is_complete_paragraph(segments[-1]))
                spaced = follows and previous is last_body and line.top - last_body.bottom >= min_gap
                starts = columns.indented(line) if indent_style else spaced
                if open_paragraph and not starts and not ended:
                    segments[-1] = join_fragments(segments[-1], line.text)
                else:
                    close()
                    segments.append(line.text)
                    kinds.append("body")
                    open_paragraph = True
                last_body = line
            previous = line
    close()
    headings = {i for i, k in enumerate(kinds) if k == "heading"}
    captions = {i for i, k in enumerate(kinds) if k == "caption"}
    return segments, headings, captions


def _leading_gap(lines: list[Line], body: float) -> float:
    """The usual blank between two lines of running text."""
    flow = sorted((l for l in lines if _kind(l, body) == "body"), key=lambda l: (l.page, round(l.x0), l.top))
    gaps = [b.top - a.bottom for a, b in zip(flow, flow[1:])
            if a.page == b.page and abs(a.x0 - b.x0) < 4 * body and 0 <= b.top - a.bottom < 2 * body]
    return statistics.median(gaps) if gaps else 0.5 * body


def articles_from_lines(pages: list[PdfPage], source: str, path: Path | None = None) -> list[Article]:
    """Lines of all pages → articles in reading order, dated by the masthead (or the file name)."""
    everything = [line for page in pages for line in page.lines]
    if not everything:
        return []
    body = _body_size(everything)
    content, furniture = _drop_furniture(pages, body)
    leading = _leading_gap(content, body)
    min_gap = leading + 0.6 * body  # a blank this tall between two lines of a column parts paragraphs
    leaves: list[list[Line]] = []
    for page in pages:
        lines = [line for line in content if line.page == page.number]
        leaves.extend(reading_order(lines, body, leading))
    segments, headings, captions = segments_in_order(leaves, body, _Columns(content, body), min_gap)
    date = next((d for d in (date_in_text(line.text) for line in furniture) if d), "") \
        or date_from_name(path or source)
    page = parse_blocks(segments, headings, source, captions)
    if page.banner:
        log.info("%s: masthead and banner kept out of the articles: %s", source, " | ".join(page.banner))
    return [replace(article, date=date) for article in page.articles]

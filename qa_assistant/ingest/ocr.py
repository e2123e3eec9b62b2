"""Scanned pages → the lines the e-paper reader lays out. A page image (a PDF page without text layer
rendered by PDFium, or a .jpg/.png/.tif file) is read by RapidOCR — PaddleOCR's PP-OCRv4 Chinese models on
onnxruntime, shipped inside the wheel, so it runs offline — into the same ``PdfPage``/``Line`` objects a
text layer gives: a line's box from the recogniser's quad (the page's skew taken out), its size from the
height of its ink, in points. Columns, headlines, furniture and dates are then found as for a text layer."""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..text import unbalanced
from .model import Article, IngestError
from .pdf import HEADING_RATIO, Line, PdfPage

log = logging.getLogger(__name__)

DPI = 200  # pages are read at this resolution: PP-OCRv4 reads 9–10 pt print right, an A3 page in ~15 s
MAX_SIDE = 4200  # a larger image (a photo, a 300–600 dpi scan) is scaled down to this: a broadsheet at 200 dpi
DETECT_SIDE = 2000  # lines are found on a copy this long (the detector's time grows with pixels), read in full
WIDEN = 0.3  # a headline left with an open quote is read again this many heights longer at both ends: the
# detector's box often stops short of a thin closing mark (”), which the recogniser then misses
MIN_SCORE = 0.6  # lines read with less confidence are dropped (specks, photos, rules) and counted
MIN_CONTRAST = 60  # grey levels between paper and ink (90th and 0.5th percentiles); less is a blank page
CJK_INK = 0.83  # the ink of a line of Chinese stands this many ems tall (see _ink_height) …
LATIN_INK = 0.68  # … of a line of digits and Latin letters this many (about the cap height)
SIZE_STEP = 1.07  # measured sizes within this ratio of a more used size are that size (±4 % is noise) …
SHORT_STEP = 1.12  # … within this ratio for a line of SHORT characters or fewer, whose ink tells its size less well
SHORT = 3
INSTALL = "pip install -e '.[ocr]'"

_OPENERS, _CLOSERS = "“‘（(《〈「『【", "”’）)》〉」』】"

_ENGINE = None
_ENGINE_LOCK = threading.Lock()  # one page at a time: onnxruntime already spreads one page over every core

Render = Callable[[int], "tuple[np.ndarray, float]"]  # page number → grey image, points per pixel


class OcrMissing(IngestError):
    """The OCR extra (rapidocr-onnxruntime) is not installed."""

    def __init__(self, path: str | Path):
        super().__init__(path, f"a scanned page needs OCR, which is not installed: {INSTALL} "
                               "(the rapidocr-onnxruntime package)")


class BlankPage(IngestError):
    """A page image with nothing to read: empty, too low in contrast, or no text found."""


def available() -> bool:
    """Is the OCR extra installed?"""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _engine(path: str | Path):
    """The recogniser, loaded once per process on first use (its three small models load in a second)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                raise OcrMissing(path) from None
            _ENGINE = RapidOCR(text_score=0.0)  # every line comes back: the floor is applied (and counted) here
        return _ENGINE


def to_grey(image) -> np.ndarray:
    """A PIL image or an array → an 8-bit grey array."""
    array = np.asarray(image.convert("L") if hasattr(image, "convert") else image)
    if array.ndim == 3:
        array = array[..., :3].mean(axis=2)
    return np.ascontiguousarray(array, dtype=np.uint8)


def contrast(grey: np.ndarray) -> float:
    """Grey levels between the paper (90th percentile) and the darkest ink (0.5th percentile)."""
    light, dark = np.percentile(grey[::3, ::3], (90, 0.5))
    return float(light - dark)


def _recognise(grey: np.ndarray, path: str | Path) -> list[tuple[np.ndarray, str, float, np.ndarray]]:
    """(quad in pixels, text, confidence, line image) of every text line found. Lines are found on a copy
    at most DETECT_SIDE long, then cut from the full image and read (RapidOCR's own steps, 1.4.4)."""
    import cv2
    engine = _engine(path)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    ratio = min(1.0, DETECT_SIDE / max(grey.shape))
    small = cv2.resize(rgb, None, fx=ratio, fy=ratio, interpolation=cv2.INTER_AREA) if ratio < 1 else rgb
    with _ENGINE_LOCK:
        boxes, _ = engine.text_det(small)
        if boxes is None or len(boxes) == 0:
            return []
        quads = [np.asarray(box, np.float32) / ratio for box in engine.sorted_boxes(boxes)]
        crops = engine.get_crop_img_list(rgb, [quad.copy() for quad in quads])
        crops, _, _ = engine.text_cls(crops)
        read, _ = engine.text_rec(crops)
    return [(quad, str(text), float(score), crop) for quad, crop, (text, score, *_) in zip(quads, crops, read)]


def _read_wider(grey: np.ndarray, quads: Sequence[np.ndarray], path: str | Path) -> list[tuple[str, float]]:
    """The lines read again, each cut out WIDEN of its height longer at both ends."""
    engine = _engine(path)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    with _ENGINE_LOCK:
        crops = engine.get_crop_img_list(rgb, [_widened(quad) for quad in quads])
        crops, _, _ = engine.text_cls(crops)
        read, _ = engine.text_rec(crops)
    return [(clean(str(text)), float(score)) for text, score, *_ in read]


def _completes(text: str, wider: str) -> bool:
    """Is ``wider`` the line with only opening marks before it and closing marks after it?"""
    at = wider.find(text)
    return at >= 0 and all(c in _OPENERS for c in wider[:at]) and all(c in _CLOSERS for c in wider[at + len(text):])


def _widened(quad: np.ndarray) -> np.ndarray:
    """The quad lengthened at both ends by WIDEN of its height."""
    along = (quad[1] - quad[0]) + (quad[2] - quad[3])
    along /= max(1e-6, float(np.linalg.norm(along)))
    pad = WIDEN * float(np.linalg.norm((quad[3] - quad[0]) + (quad[2] - quad[1]))) / 2
    return np.stack([quad[0] - pad * along, quad[1] + pad * along, quad[2] + pad * along,
                     quad[3] - pad * along]).astype(np.float32)


def _skew(quads: Sequence[np.ndarray]) -> float:
    """The page's skew in radians: the median slope of the long lines' top and bottom edges."""
    angles = []
    for quad in quads:
        for a, b in ((quad[0], quad[1]), (quad[3], quad[2])):
            dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
            if dx > 4 * max(1.0, float(np.linalg.norm(quad[3] - quad[0]))):
                angles.append(math.atan2(dy, dx))
    return float(np.median(angles)) if angles else 0.0


def _ink_height(crop: np.ndarray) -> float:
    """Height in pixels of the ink of a line image, from the tops and bottoms of its inked pixel columns
    (10th and 90th percentiles: one tall glyph or a speck does not count); 0 when there is none to tell."""
    grey = crop[..., 0] if crop.ndim == 3 else crop
    light, dark = np.percentile(grey, (90, 1))
    if light - dark < 40:
        return 0.0
    ink = grey < (light + dark) / 2
    columns = np.flatnonzero(ink.any(axis=0))
    if len(columns) < 2:
        return 0.0
    tops = np.argmax(ink[:, columns], axis=0)
    bottoms = ink.shape[0] - 1 - np.argmax(ink[::-1, columns], axis=0)
    return float(np.percentile(bottoms, 90) - np.percentile(tops, 10) + 1)


def clean(text: str) -> str:
    """A recognised line as text: spaces kept only between two Latin words or numbers (the recogniser
    hears a space in every wide gap of justified Chinese), a quote mark read as its double or single twin
    put right by the mark that closes it (“途’ → ‘途’), an ellipsis read as …· made whole."""
    text = " ".join(text.split())
    text = "".join(char for i, char in enumerate(text) if char != " " or (
        text[i - 1].isascii() and text[i - 1].isalnum() and text[i + 1].isascii() and text[i + 1].isalnum()))
    chars = list(text.replace("…·", "……").replace("·…", "……"))
    quotes = [i for i, char in enumerate(chars) if char in "“”‘’"]
    for a, b in zip(quotes, quotes[1:]):
        if chars[a] == "“" and chars[b] == "’":
            chars[a] = "‘"
        elif chars[a] == "‘" and chars[b] == "”":
            chars[b] = "’"
    return "".join(chars)


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" for char in text)


def _snap(sizes: list[float], weights: list[int]) -> list[float]:
    """Measured sizes → type sizes: the most used size (by characters) takes every line within SIZE_STEP
    of it, at their weighted median (to 0.5 pt); then the next most used of the rest, and so on, as a
    paper sets each kind of line (text, headlines, captions) in one size."""
    def near(i: int, centre: float) -> bool:
        step = SHORT_STEP if weights[i] <= SHORT else SIZE_STEP
        return centre / step <= sizes[i] <= centre * step

    snapped = list(sizes)
    left = set(range(len(sizes)))
    while left:
        bins: dict[float, int] = {}
        for i in left:
            key = round(sizes[i] * 2) / 2
            bins[key] = bins.get(key, 0) + weights[i]
        centre = max(bins, key=lambda key: (bins[key], -key))
        group = sorted((i for i in left if near(i, centre)), key=lambda i: sizes[i]) \
            or [min(left, key=lambda i: abs(sizes[i] - centre))]
        total, seen, value = sum(weights[i] for i in group), 0, sizes[group[0]]
        for i in group:
            seen += weights[i]
            if seen * 2 >= total:
                value = sizes[i]
                break
        for i in group:
            snapped[i] = round(value * 2) / 2
        left -= set(group)
    return snapped


def read_page(grey: np.ndarray, number: int, points: float, path: str | Path) -> tuple[PdfPage, int]:
    """One page image → its lines in points (``points`` per pixel), and how many lines were dropped
    under the confidence floor. A blank or low-contrast image, or one with no text, is refused."""
    level = contrast(grey)
    if level < MIN_CONTRAST:
        raise BlankPage(path, f"page {number} is blank or too low in contrast to read "
                              f"({level:.0f} grey levels between paper and ink, under {MIN_CONTRAST})")
    found = _recognise(grey, path)
    found = [(quad, clean(text), score, crop) for quad, text, score, crop in found]
    kept = [item for item in found if item[2] >= MIN_SCORE and item[1]]
    if not kept:
        raise BlankPage(path, f"page {number}: no text found by OCR ({len(found)} line(s) under the "
                              f"confidence floor {MIN_SCORE})")
    angle = _skew([quad for quad, *_ in kept])
    cos, sin = math.cos(angle), math.sin(angle)
    cy, cx = grey.shape[0] / 2, grey.shape[1] / 2
    boxes, sizes, weights = [], [], []
    for quad, text, score, crop in kept:
        dx, dy = quad[:, 0] - cx, quad[:, 1] - cy
        xs, ys = cx + dx * cos + dy * sin, cy - dx * sin + dy * cos  # turned back by the skew
        ink = _ink_height(crop)
        if ink:
            size = ink * points / (CJK_INK if _is_cjk(text) else LATIN_INK)
        else:  # no clear ink (a smudge): the box, which the detector draws about 1.3 ems tall
            size = float(ys.max() - ys.min()) * points / 1.3
        boxes.append((text, float(xs.min()) * points, float(xs.max()) * points,
                      float(ys.min()) * points, float(ys.max()) * points, score))
        sizes.append(size)
        weights.append(len(text))
    sizes = _snap(sizes, weights)
    body = max(set(sizes), key=lambda size: sum(w for s, w in zip(sizes, weights) if s == size))
    again = [i for i, (box, size) in enumerate(zip(boxes, sizes))
             if size >= HEADING_RATIO * body and unbalanced(box[0])]  # a headline missing its closing mark?
    if again:
        for i, (text, score) in zip(again, _read_wider(grey, [kept[i][0] for i in again], path)):
            if text != boxes[i][0] and _completes(boxes[i][0], text):
                boxes[i] = (text, *boxes[i][1:5], min(score, boxes[i][5]))
    lines = [Line(text, x0, x1, top, bottom, size, number, x0, x1, score=score)
             for (text, x0, x1, top, bottom, score), size in zip(boxes, sizes)]
    lines.sort(key=lambda line: (line.top, line.x0))
    return PdfPage(number, grey.shape[1] * points, grey.shape[0] * points, lines), len(found) - len(kept)


def read_pages(numbers: Sequence[int], render: Render, path: str | Path) -> list[PdfPage]:
    """OCR the pages named, each rendered (grey image, points per pixel) only when its turn comes: a
    progress bar over several pages, the rate and the dropped lines in the log. A blank page is left out
    with a warning; when every page is blank the file is refused by name."""
    from tqdm.auto import tqdm
    _engine(path)
    pages: list[PdfPage] = []
    dropped = 0
    start = time.perf_counter()
    with tqdm(total=len(numbers), desc=f"OCR {Path(path).name}", unit="page", leave=False,
              disable=len(numbers) < 2) as bar:
        for number in numbers:
            grey, points = render(number)
            try:
                page, low = read_page(grey, number, points, path)
                pages.append(page)
                dropped += low
            except BlankPage as error:
                if len(numbers) == 1:
                    raise
                log.warning("%s, skipped", error)
            bar.update()
    seconds = time.perf_counter() - start
    log.info("%s: %d page(s) read by OCR in %.1f s (%.1f pages/minute); %d line(s) under the confidence "
             "floor %.2f dropped", path, len(numbers), seconds, 60 * len(numbers) / max(seconds, 1e-9),
             dropped, MIN_SCORE)
    if not pages:
        raise BlankPage(path, f"none of its {len(numbers)} page images has text to read (blank or too low "
                              "in contrast)")
    return pages


def mark_ocr(articles: Iterable[Article], pages: Sequence[PdfPage]) -> list[Article]:
    """Each paragraph read (wholly or partly) by OCR keeps the recogniser's confidence: the mean over the
    OCR lines found in it, weighted by their length; the text-layer paragraphs stay unmarked."""
    read = [line for page in pages for line in page.lines if line.score is not None]
    articles = list(articles)
    if not read:
        return articles
    key = 6  # lines are found in paragraphs by their first characters, then checked whole
    found: dict[str, list[tuple[int, int]]] = {}
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article.paragraphs):
            text = paragraph.text
            for i in range(max(0, len(text) - key + 1)):
                found.setdefault(text[i:i + key], []).append((a, p))
    scores: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for line in read:
        if len(line.text) < key:
            continue
        for a, p in dict.fromkeys(found.get(line.text[:key], [])):
            if line.text in articles[a].paragraphs[p].text:
                scores.setdefault((a, p), []).append((line.score, len(line.text)))
    everywhere = len(read) == sum(len(page.lines) for page in pages)
    mean = sum(line.score * len(line.text) for line in read) / max(1, sum(len(line.text) for line in read))
    marked = []
    for a, article in enumerate(articles):
        paragraphs = []
        for p, paragraph in enumerate(article.paragraphs):
            pairs = scores.get((a, p))
            score = sum(s * n for s, n in pairs) / sum(n for _, n in pairs) if pairs else mean if everywhere else None
            paragraphs.append(replace(paragraph, ocr=None if score is None else round(score, 3)))
        marked.append(replace(article, paragraphs=tuple(paragraphs)))
    return marked

"""Saved web pages (.html/.htm) → the article they hold: trafilatura finds the main content (title, body,
date, author, canonical URL) and leaves navigation, related links, footers, scripts and styles out; a
second filter drops the share/credit/copyright lines sites leave inside the article body."""
from __future__ import annotations

import codecs
import logging
import re
from dataclasses import replace
from pathlib import Path

from ..text import join_fragments
from .dates import date_from_name, date_in_text, normalise_date
from .libraries import require
from .encoding import decode_bytes
from .furniture import is_credit_line
from .model import Article, IngestError
from .page import parse_blocks

log = logging.getLogger(__name__)

_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""",
                         re.IGNORECASE)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "gb_2312-80": "gb18030",
              "big5": "big5hkscs", "x-big5": "big5hkscs", "cp950": "big5hkscs"}
_BOILERPLATE = re.compile(
    r"版权所有|版权归|Copyright|©|ICP备|ICP证|公网安备|未经.{0,6}(?:授权|许可)|禁止转载|不得转载|"
    r"^(?:分享到|分享至|扫一扫|扫描二维码|打印本页|关闭窗口|返回顶部|上一篇|下一篇|【?打印】?|【?关闭】?|"
    r"相关新闻|相关阅读|相关链接|推荐阅读|延伸阅读|热点推荐|猜你喜欢|点击排行|责任编辑|来源[：:]|编辑[：:])",
    re.IGNORECASE)
_TRAILING_CREDIT = re.compile(r"\s*[（(【\[]\s*(?:责任编辑|责编|编辑|校对|来源)[：:][^）)】\]]{1,30}[）)】\]]\s*$")
_AUTHOR_PREFIX = re.compile(r"^(?:作者|记者|文|撰稿|来源)\s*[：:/／]\s*")
MAX_BOILERPLATE_CHARS = 80
MAX_DATELINE_CHARS = 60
_SENTENCE_END = re.compile(r"[。！？!?；;]")
MIN_ARTICLE_CHARS = 30


def read_html(path: Path, source: str) -> list[Article]:
    """A saved article page → one article (none when the page holds no article text, e.g. an index)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None
    return parse_html(decode_html(raw, path), source, path)


def decode_html(raw: bytes, path: str | Path = "<html>") -> str:
    """Decode by the charset the page declares (GB2312/GBK read as GB18030, their superset); a missing,
    unknown or wrong declaration falls back to detection."""
    match = _CHARSET_RE.search(raw[:4096])
    declared = (match.group(1) or match.group(2)).decode("ascii").lower() if match else ""
    if declared and b"\x00" not in raw[:4096] and not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
                                                                       codecs.BOM_UTF16_BE)):
        encoding = _SUPERSETS.get(declared, declared)
        try:
            return raw.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except (LookupError, UnicodeDecodeError):
            log.info("%s: declared charset %s does not fit, detecting", path, declared)
    return decode_bytes(raw, path)


def _clean(text: str) -> str:
    """Whitespace of the markup out: indents (full-width spaces) dropped, lines of one paragraph joined."""
    pieces = [re.sub(r"[ \t\u00a0\u3000]+", " ", piece).strip() for piece in text.split("\n")]
    joined = ""
    for piece in pieces:
        if piece:
            joined = join_fragments(joined, piece)
    return joined


def _is_boilerplate(text: str) -> bool:
    return len(text) <= MAX_BOILERPLATE_CHARS and bool(_BOILERPLATE.search(text) or is_credit_line(text))


def _is_dateline(text: str) -> bool:
    """A short line that gives the article's date (「2024年1月15日 来源：劳动午报」), not a sentence of the story."""
    return len(text) <= MAX_DATELINE_CHARS and bool(date_in_text(text)) and not _SENTENCE_END.search(text)


def _visible_date(tree, title: str) -> str:
    """The date of the dateline the reader sees: the first short element with a full date after the
    headline (before it when no headline matches). Preferred to metadata, which is often a template's
    or a generic date (2024-01-01)."""
    if tree is None:
        return ""
    elements = tree.xpath("//body//*[not(self::script or self::style)]")
    start = next((i for i, e in enumerate(elements) if e.tag in ("h1", "h2") and _clean(e.text_content()) == title), 0)
    for element in elements[start:]:
        text = _clean(element.text_content())
        if text and _is_dateline(text):
            return date_in_text(text)
    return ""


def _pieces(element) -> list[str]:
    """An element's text split at its line breaks (<br> → <lb/>): old pages separate paragraphs so."""
    pieces = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            pieces.append("")
        else:
            inner = _pieces(child)
            pieces[-1] += inner[0]
            pieces.extend(inner[1:])
        pieces[-1] += child.tail or ""
    return pieces


def _segments(body, tree) -> tuple[list[str], set[int]]:
    """Paragraphs of trafilatura's main content, in order, with the captions found for its images."""
    segments: list[str] = []
    captions: set[int] = set()
    for element in body:
        if element.tag == "graphic":
            caption = _caption(tree, element.get("src", ""))
            if caption:
                captions.add(len(segments))
                segments.append(caption)
            continue
        if element.tag == "list":
            texts = [piece for item in element.iter("item") for piece in _pieces(item)]
        elif element.tag == "table":
            texts = [" ".join("".join(cell.itertext()).strip() for cell in row) for row in element.iter("row")]
        else:
            texts = _pieces(element)
        segments.extend(t for t in (_clean(text) for text in texts) if t)
    return segments, captions


def _caption(tree, src: str) -> str:
    """An image's caption in the original page: its <figcaption>, or a caption-like title/alt."""
    if tree is None or not src:
        return ""
    for image in tree.xpath("//img[@src=$src]", src=src):
        figure = next((a for a in image.iterancestors() if a.tag == "figure"), None)
        if figure is not None:
            found = figure.xpath(".//figcaption")
            if found:
                return _clean(found[0].text_content())
        for attribute in ("title", "alt"):
            text = _clean(image.get(attribute, ""))
            if text.startswith(("图为", "图：", "图:")) or text.endswith("摄"):
                return text
    return ""


def _subtitle(tree, title: str) -> str:
    """A subtitle standing right after the page's headline (an h2–h4, or an element classed as one)."""
    if tree is None:
        return ""
    for heading in tree.xpath("//h1"):
        if _clean(heading.text_content()) != title:
            continue
        following = heading.getnext()
        while following is not None and not _clean(following.text_content() or ""):
            following = following.getnext()
        if following is not None and (following.tag in ("h2", "h3", "h4")
                                      or "sub" in (following.get("class") or "").lower()):
            text = _clean(following.text_content())
            if 0 < len(text) <= 60 and not _is_boilerplate(text) and not normalise_date(text):
                return text
    return ""


def _unlayout(tree) -> None:
    """Tables used for page layout (nesting tables, or cells holding running text) become plain blocks,
    so the content extractor weighs their cells like any other block."""
    layout = []
    for table in tree.xpath("//table"):
        cells = table.xpath("./tr/td | ./tbody/tr/td | ./tr/th | ./tbody/tr/th")
        if table.xpath(".//table") or any(len(cell.text_content()) > 200 or cell.xpath("./p | ./div | .//br")
                                          for cell in cells):
            layout.append((table, [e for e in table.xpath(".//tr | .//td | .//th | .//tbody | .//thead | .//tfoot")
                                   if e.xpath("ancestor::table[1]")[0] is table]))
    for table, parts in layout:
        for element in [table, *parts]:
            element.tag = "div"


_TITLE_SEPARATORS = re.compile(r"\s*(?:--+|__*|\s[-–—|｜·]\s|[|｜]|－)\s*")


def _title(title: str, tree) -> str:
    """The headline without the site name the <title> carries (「标题_劳动午报」): the part that stands as
    an element of its own in the page, else the longest part."""
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p]
    if len(parts) < 2:
        return title
    texts = set()
    if tree is not None:
        texts = {_clean(e.text_content()) for e in tree.xpath("//body//*[not(self::script or self::style)]")
                 if len(e.text_content()) <= 2 * len(title)}
    if title in texts:
        return title
    return next((p for p in sorted(parts, key=len, reverse=True) if p in texts), max(parts, key=len))


def _authors(author: str | None) -> tuple[str, ...]:
    names = re.split(r"[、,，;；|/\s]+", _AUTHOR_PREFIX.sub("", (author or "").strip()))
    return tuple(dict.fromkeys(n for n in names if 2 <= len(n) <= 20))


def parse_html(text: str, source: str, path: str | Path | None = None) -> list[Article]:
    """An article page's markup → the article: title (and subtitle), paragraphs with bylines and
    captions, date, author and canonical URL."""
    lxml_html = require("lxml.html", "lxml", path or source, "HTML")
    require("lxml.html.clean", "lxml_html_clean", path or source, "HTML")  # trafilatura's justext needs it
    trafilatura = require("trafilatura", "trafilatura", path or source, "HTML")
    import lxml.etree

    try:
        tree = lxml_html.document_fromstring(text)
        work = lxml_html.document_fromstring(text)
    except (ValueError, lxml.etree.ParserError):
        log.info("%s: no markup to read, skipped", source)
        return []
    _unlayout(work)
    document = trafilatura.bare_extraction(
        work, with_metadata=True, favor_precision=True, include_comments=False, include_tables=True,
        include_images=True, include_links=False, deduplicate=False)
    if document is None or document.body is None:
        log.info("%s: no article text found (an index or navigation page?), skipped", source)
        return []
    segments, captions = _segments(document.body, tree)
    title = _title(_clean(document.title or ""), tree)
    subtitle = _subtitle(tree, title)
    kept = [i for i, s in enumerate(segments)
            if not _is_boilerplate(s) and not _is_dateline(s) and s not in (title, subtitle)]
    if kept and segments[kept[-1]] and kept[-1] not in captions:
        segments[kept[-1]] = _TRAILING_CREDIT.sub("", segments[kept[-1]])
    body = [segments[i] for i in kept]
    if sum(len(s) for s in body) < MIN_ARTICLE_CHARS:
        log.info("%s: no article text found (an index or navigation page?), skipped", source)
        return []
    page = parse_blocks([title or Path(source).stem] + body, {0}, source,
                        {1 + kept.index(i) for i in captions if i in kept})
    date = _visible_date(tree, title) or normalise_date(document.date) or date_from_name(path or source)
    authors = _authors(document.author)
    articles = []
    for article in page.articles:
        article = replace(article, subtitle=subtitle or article.subtitle, date=date, url=document.url or "")
        if not article.reporters and authors:
            article = replace(article, reporters=authors)
        articles.append(article)
    return articles

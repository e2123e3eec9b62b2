"""Passages: articles → paragraph passages that each fit the embedding model's token window.
A passage is a quote: its text is exactly a span of the cleaned article text."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

from .ingest import Article
from .settings import IndexSettings
from .text import Span, sentence_spans

Fits = Callable[[str, str], bool]  # (heading, text) -> does it fit the encoder window?
_CLAUSE_BREAKS = "，,、：:；;"


@dataclass(frozen=True)
class Passage:
    id: str
    article_id: str
    title: str
    paragraph: int  # 1-based paragraph number in the article
    part: int  # 0 when the paragraph is whole, else 1, 2, … for the pieces of a long one
    text: str
    source: str
    start: int  # character offsets into Article.text
    end: int
    kind: str = "body"
    subtitle: str = ""
    date: str = ""
    url: str = ""
    ocr: float | None = None  # read by OCR from a page image: the recogniser's confidence (0–1); else None

    @property
    def heading(self) -> str:
        return f"{self.title}：{self.subtitle}" if self.subtitle else self.title

    @property
    def citation(self) -> str:
        """「《标题》2024-01-12 第N段」, or 「《标题》第N段」 for an undated article."""
        piece = f"（{self.part}）" if self.part else ""
        date = f"{self.date} " if self.date else ""
        return f"《{self.title}》{date}第{self.paragraph}段{piece}"

    def to_dict(self) -> dict:
        """The passage as a record; ``ocr`` only when set, so a passage not read by OCR is saved as before."""
        record = asdict(self)
        if self.ocr is None:
            del record["ocr"]
        return record

    @classmethod
    def from_dict(cls, record: dict) -> "Passage":
        return cls(**record)


HEADING_CHARS = IndexSettings.heading_chars  # the default budget (an index records its own in its settings)


def context_heading(heading: str, budget: int = HEADING_CHARS) -> str:
    """The headline as context for a paragraph, cut at ``budget`` characters, so a passage is never cut
    smaller than its sentences to make room for its heading (a scraped title can hold the whole text)."""
    return heading if len(heading) <= budget else heading[:budget] + "…"


def embedding_text(heading: str, text: str, budget: int = HEADING_CHARS) -> str:
    """What the encoder sees for a passage: the headline (within its budget) as context, then the paragraph."""
    heading = context_heading(heading, budget)
    return f"{heading}\n{text}" if heading else text


def passage_id(article_id: str, paragraph: int, part: int, text: str) -> str:
    key = f"{article_id}\x1f{paragraph}\x1f{part}\x1f{text}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def char_window(max_chars: int) -> Fits:
    """A stand-in window by characters (for tests and tools that have no tokenizer)."""
    return lambda heading, text: len(embedding_text(heading, text)) <= max_chars


def _hard_cut(text: str, start: int, end: int, heading: str, fits: Fits) -> list[Span]:
    """Cut one over-long sentence at clause marks, or at characters as a last resort."""
    pieces: list[Span] = []
    while start < end:
        if fits(heading, text[start:end]):
            pieces.append(Span(start, end))
            break
        low, high = start + 1, end
        while low < high:  # longest prefix that fits
            mid = (low + high + 1) // 2
            if fits(heading, text[start:mid]):
                low = mid
            else:
                high = mid - 1
        cut = low
        for position in range(low, start, -1):
            if text[position - 1] in _CLAUSE_BREAKS and position - start > (low - start) // 2:
                cut = position
                break
        pieces.append(Span(start, cut))
        start = cut
    return pieces


def split_paragraph(text: str, heading: str, fits: Fits) -> list[Span]:
    """Spans of ``text`` that each fit the window, cut at sentence ends and balanced in size."""
    if fits(heading, text):
        return [Span(0, len(text))]
    units: list[Span] = []
    for sentence in sentence_spans(text, at_semicolons=True):
        if fits(heading, text[sentence.start:sentence.end]):
            units.append(sentence)
        else:
            units.extend(_hard_cut(text, sentence.start, sentence.end, heading, fits))
    chunks: list[Span] = []
    for unit in units:
        if chunks and fits(heading, text[chunks[-1].start:unit.end]):
            chunks[-1] = Span(chunks[-1].start, unit.end)
        else:
            chunks.append(unit)
    # balance: move trailing sentences of a chunk into the next one while that keeps sizes closer
    for i in range(len(chunks) - 1, 0, -1):
        left, right = chunks[i - 1], chunks[i]
        inner = [u for u in units if left.start <= u.start and u.end <= left.end]
        while len(inner) > 1:
            moved = inner[-1]
            new_right = Span(moved.start, right.end)
            if (right.end - moved.start) >= (moved.start - left.start) or not fits(heading, text[new_right.start:new_right.end]):
                break
            left, right = Span(left.start, inner[-2].end), new_right
            inner.pop()
        chunks[i - 1], chunks[i] = left, right
    return chunks


def article_passages(article: Article, fits: Fits) -> list[Passage]:
    """One passage per paragraph; a paragraph too long for the window becomes several."""
    passages: list[Passage] = []
    offset = 0
    heading = article.heading
    for number, paragraph in enumerate(article.paragraphs, start=1):
        spans = split_paragraph(paragraph.text, heading, fits)
        for part, span in enumerate(spans, start=1 if len(spans) > 1 else 0):
            piece = paragraph.text[span.start:span.end]
            passages.append(Passage(
                id=passage_id(article.id, number, part, piece), article_id=article.id, title=article.title,
                subtitle=article.subtitle, paragraph=number, part=part, text=piece, source=article.source,
                start=offset + span.start, end=offset + span.end, kind=paragraph.kind,
                date=article.date, url=article.url, ocr=paragraph.ocr))
        offset += len(paragraph.text) + 1
    return passages


def mean_ocr(confidences: Sequence[float | None]) -> float | None:
    """The mean OCR confidence of passages read by OCR (those with None left out), or None if none was."""
    read = [c for c in confidences if c is not None]
    return round(sum(read) / len(read), 3) if read else None


def make_passages(articles: Iterable[Article], fits: Fits) -> list[Passage]:
    return [p for article in articles for p in article_passages(article, fits)]


def token_window(tokenizer, max_tokens: int, prompt: str = "passage: ", budget: int = HEADING_CHARS) -> Fits:
    """The real window: the encoder input (prompt + heading within ``budget`` + paragraph + special tokens)
    must not exceed ``max_tokens``, so the encoder sees every character of the passage."""
    backend = getattr(tokenizer, "backend_tokenizer", None)

    def count(text: str) -> int:
        if backend is not None:  # fast path, special tokens included by the post-processor
            return len(backend.encode(text).ids)
        return len(tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])

    def fits(heading: str, text: str) -> bool:
        return count(prompt + embedding_text(heading, text, budget)) <= max_tokens
    return fits


def covers(article: Article, passages: Sequence[Passage]) -> bool:
    """Every paragraph's text appears in exactly one run of passages, in order (nothing lost or doubled)."""
    own = [p for p in passages if p.article_id == article.id]
    return "".join(p.text for p in own) == "".join(par.text for par in article.paragraphs) and all(
        article.text[p.start:p.end] == p.text for p in own)

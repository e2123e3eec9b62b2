"""Rendering, in one place: an :class:`~qa_assistant.answer.Answer` as Markdown (terminal and chat),
as the chat page's HTML (quotes plus every retrieved passage with its scores), and as the JSON of
``qa-assistant ask --json`` and the page's API. Corpus and user text are escaped here and only here."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Sequence

from .answer import Answer, Quote
from .retrieve import Hit

NOT_FOUND = "未找到"
MODE_LABELS = {"hybrid": "混合（语义 + 关键词）", "dense": "语义向量", "bm25": "关键词 BM25"}


def markdown(answer: Answer) -> str:
    """The reply: a one-line answer, then each quote with its citation; 「未找到」 when nothing answers."""
    return quotes_markdown(answer.quotes) if answer.found else not_found_reply(answer.question)


def answer_json(answer: Answer) -> dict:
    """The JSON shape shared by ``qa-assistant ask --json`` and the chat page's API."""
    quoted = {q.passage.id: q for q in answer.quotes}
    passages = []
    for rank, hit in enumerate(answer.hits, start=1):
        quote = quoted.get(hit.passage.id)
        spans = quote.highlights if quote else ()
        passages.append({
            "rank": rank, "id": hit.passage.id, "article_id": hit.passage.article_id,
            "title": hit.passage.title, "date": hit.passage.date, "paragraph": hit.passage.paragraph,
            "part": hit.passage.part, "text": hit.passage.text, "source": hit.passage.source,
            "citation": hit.passage.citation,
            "sources": [{"id": p.id, "article_id": p.article_id, "source": p.source, "citation": p.citation}
                        for p in hit.passages],
            "score": round(hit.score, 6), "dense": round(hit.dense, 6), "bm25": round(hit.bm25, 6),
            "quoted": quote is not None,
            "highlights": [hit.passage.text[s.start:s.end] for s in spans],
            "highlight_spans": [[s.start, s.end] for s in spans],
        })
    return {"question": answer.question, "found": answer.found, "answer": markdown(answer),
            "sentence": answer.sentence, "query": answer.query, "mode": answer.mode, "passages": passages}


def _citation(hit: Hit) -> str:
    if not hit.also:
        return hit.passage.citation
    return hit.passage.citation + "（另见：" + "、".join(f"{Path(p.source).name} {p.citation}" for p in hit.also) + "）"


def not_found_reply(question: str) -> str:
    return (f"**{NOT_FOUND}**：资料中没有能回答「{escape_markdown(question)}」的段落。"
            "可以换个问法，或问问资料里报道过的人和事。\n")


def escape_markdown(text: str) -> str:
    """Show corpus or user text literally inside Markdown: no HTML, no formatting."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", text)


def quotes_markdown(quotes: Sequence[Quote]) -> str:
    """One-line answer (the answering sentence, cited), then each quote with its sentence in bold
    (an HTML <strong>: Markdown's ** cannot close between CJK punctuation and a letter)."""
    first = quotes[0]
    lines = [f"**答：** {escape_markdown(first.highlight_texts[0]) if first.highlights else ''} [{first.number}]", ""]
    for quote in quotes:
        text, pieces, cursor = quote.passage.text, [], 0
        for span in quote.highlights:
            pieces.append(escape_markdown(text[cursor:span.start]))
            pieces.append(f"<strong>{escape_markdown(text[span.start:span.end])}</strong>")  # ** does not close before CJK
            cursor = span.end
        pieces.append(escape_markdown(text[cursor:]))
        lines.append("> " + "".join(pieces))
        lines.append(f"> — [{quote.number}] {escape_markdown(quote.citation)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------ the chat page's HTML

def _h(text: Any) -> str:
    """HTML-escape one value; newlines become spaces so an HTML block never ends early."""
    return html.escape(str(text), quote=True).replace("\r", " ").replace("\n", " ")


def _marked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Escaped ``text`` with the answering sentences wrapped in <mark>."""
    pieces, cursor = [], 0
    for start, end in sorted(spans):
        if start < cursor:
            continue
        pieces.append(_h(text[cursor:start]))
        pieces.append(f"<mark>{_h(text[start:end])}</mark>")
        cursor = end
    pieces.append(_h(text[cursor:]))
    return "".join(pieces)


def hits_html(answer: Answer, k: int, seconds: float | None = None) -> str:
    """A collapsed <details> list of every retrieved passage with its scores (one HTML block)."""
    if not answer.hits:
        return ""
    numbers = {q.passage.id: q.number for q in answer.quotes}
    spans = {q.passage.id: [(s.start, s.end) for s in q.highlights] for q in answer.quotes}
    label = "检索到的全部段落" if answer.found else "最接近的段落（不足以回答这个问题）"
    took = f" · 用时 {seconds:.1f} 秒" if seconds is not None else ""
    items = []
    for rank, hit in enumerate(answer.hits, start=1):
        passage = hit.passage
        quoted = (f' <span class="qa-quoted">· 已引用 [{numbers[passage.id]}]</span>'
                  if passage.id in numbers else "")
        items.append(
            f'<li><span class="qa-cite">{_h(_citation(hit))}</span>{quoted}<br>'
            f'<span class="qa-score">得分 {hit.score:.4f} · 语义相似度 {hit.dense:.3f} · BM25 {hit.bm25:.2f}</span><br>'
            f'<span class="qa-text">{_marked(passage.text, spans.get(passage.id, []))}</span></li>')
    return (f'<details class="qa-hits"><summary>{label}（{len(answer.hits)} 段 · '
            f'{_h(MODE_LABELS.get(answer.mode, answer.mode))} · top-{int(k)}{took}）</summary>'
            f'<ol>{"".join(items)}</ol></details>')


def reply_html(answer: Answer, k: int, seconds: float | None = None) -> str:
    """The chat reply: the one-line answer, each quote with its citation, then every retrieved passage.
    Corpus and user text are escaped throughout."""
    parts = [markdown(answer).rstrip()]
    if answer.query and answer.query != answer.question:
        parts.append(f'<p class="qa-note">已结合上文检索：「{_h(answer.query)}」</p>')
    hits = hits_html(answer, k, seconds)
    if hits:
        parts.append(hits)
    return "\n\n".join(parts) + "\n"

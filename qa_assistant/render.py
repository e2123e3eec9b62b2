"""Rendering, in one place: an :class:`~qa_assistant.answer.Answer` as Markdown (terminal and chat),
as the chat page's HTML (quotes plus every retrieved passage with its scores), as the JSON of
``qa-assistant ask --json`` and the page's API, and the archive tab's reports, table and source view.
Corpus and user text are escaped here and only here."""
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


# ------------------------------------------------------------------ the archive tab (资料库)

SOURCE_COLUMNS = ["文件", "文章", "段落", "日期范围", "收录时间"]
MAX_VIEW_ARTICLES = 100  # articles of one source shown at once
MAX_VIEW_CHARS = 200_000  # text of one source shown at once


def upload_report(results: Sequence[dict]) -> str:
    """An upload's result per file as Markdown, in plain words (added, replaced, unchanged, or the error)."""
    words = {"added": "加入", "replaced": "替换", "unchanged": "未改变", "error": "出错"}
    counts = {status: sum(r.get("status") == status for r in results) for status in words}
    summary = "，".join(f"{words[s]} {n} 个" for s, n in counts.items() if n)
    lines = [f"**处理了 {len(results)} 个文件**：{summary}。", ""]
    lines += [f"- **{escape_markdown(r['file'])}**：{escape_markdown(r['message'])}" for r in results]
    return "\n".join(lines) + "\n"


def removal_report(removal: dict) -> str:
    """What a removal took out, in plain words."""
    parts = []
    if removal.get("sources"):
        parts.append("来源 " + "、".join(escape_markdown(Path(s).name) for s in removal["sources"]))
    if removal.get("articles"):
        parts.append(f"{len(removal['articles'])} 篇文章")
    text = f"**已删除**：{'，'.join(parts) or '没有内容'}（{removal.get('passages', 0)} 个段落），资料库还有 " \
           f"{removal.get('passages_left', 0)} 个段落。"
    if removal.get("originals_deleted"):
        text += " 已一并删除上传的原件 " + "、".join(escape_markdown(n) for n in removal["originals_deleted"]) + "。"
    if removal.get("not_found"):
        text += " 没有找到：" + "、".join(escape_markdown(k) for k in removal["not_found"]) + "。"
    return text + "\n"


def source_labels(rows: Sequence[dict]) -> list[str]:
    """A short unique label per source: its file name, with its folder when two sources share a name."""
    names = [row["file"] for row in rows]
    return [name if names.count(name) == 1 else f"{name}（{Path(row['source']).parent.name or '/'}）"
            for name, row in zip(names, rows)]


def sources_table(rows: Sequence[dict]) -> list[list[Any]]:
    """The sources table's rows: label, articles, passages, date range, when indexed."""
    def span(row):
        first, last = row.get("first_date") or "", row.get("last_date") or ""
        return "—" if not first else first if first == last else f"{first} 至 {last}"
    return [[label, row["articles"], row["passages"], span(row), (row.get("indexed") or "—").replace("T", " ")[:16]]
            for label, row in zip(source_labels(rows), rows)]


def article_choices(articles: Sequence[dict]) -> list[tuple[str, str]]:
    """(label, article id) for choosing one article of a source."""
    return [(f"《{a['title'] or '（无标题）'}》{(' ' + a['date']) if a.get('date') else ''}", a["article_id"])
            for a in articles]


def source_html(label: str, articles: Sequence[dict]) -> str:
    """One source as the index holds it: each article (headline, date, id) with its paragraphs, escaped;
    long sources are cut at MAX_VIEW_ARTICLES articles or MAX_VIEW_CHARS characters, saying so."""
    paragraphs = sum(len(a["paragraphs"]) for a in articles)
    parts = [f'<p class="qa-note">{_h(label)} · {len(articles)} 篇文章 · {paragraphs} 段</p>']
    size = 0
    for shown, article in enumerate(articles):
        if shown >= MAX_VIEW_ARTICLES or size > MAX_VIEW_CHARS:
            parts.append(f'<p class="qa-note">还有 {len(articles) - shown} 篇文章未显示。</p>')
            break
        body = "".join(f'<p><span class="qa-para">第{int(p["paragraph"])}段</span> {_h(p["text"])}</p>'
                       for p in article["paragraphs"])
        size += len(body)
        date = f" {_h(article['date'])}" if article.get("date") else ""
        parts.append(f'<details class="qa-article"{" open" if shown == 0 else ""}><summary>《{_h(article["title"])}》'
                     f'{date} · {len(article["paragraphs"])} 段 · <code>{_h(article["article_id"])}</code></summary>'
                     f'{body}</details>')
    return '<div class="qa-source">' + "".join(parts) + "</div>"


def page_title(info: dict) -> str:
    """The page's heading: what the assistant does and the size of the archive it answers from."""
    model = info.get("model") or {}
    return (f"# 问答助手\n\n按原文引用作答的离线新闻问答 · 资料库：{int(info.get('articles') or 0)} 篇文章、"
            f"{int(info.get('passages') or 0)} 个段落 · 模型 {escape_markdown(str(model.get('name', '?')))}")


def removal_question(source: str | None = None, title: str | None = None) -> str:
    """The confirmation asked before removing a whole source (by path) or one article (by headline)."""
    if source is not None:
        return (f"确认从资料库删除来源 **{escape_markdown(Path(source).name)}** 的全部文章？"
                f"如果它是上传的文件，保存的原件也会删除。")
    return f"确认从资料库删除文章《{escape_markdown(title or '')}》？"

"""Rendering, in one place: an :class:`~qa_assistant.answer.Answer` as Markdown (terminal and chat),
as the chat page's HTML (quotes plus every retrieved passage with its scores), as the JSON of
``qa-assistant ask --json`` and the page's API, and the archive tab's results, refusals, reports, table and
source view. Corpus and user text are escaped here and only here."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Sequence

from .answer import NOT_IN_PERIOD, NOTHING_TO_SEARCH, Answer, Quote, ShortAnswer
from .ingest import supported_suffixes
from .retrieve import Hit
from .store.errors import IndexLockedError
from .uploads import RequestError

NOT_FOUND = "未找到"
MODE_LABELS = {"hybrid": "混合（语义 + 关键词）", "dense": "语义向量", "bm25": "关键词 BM25"}


def markdown(answer: Answer) -> str:
    """The reply: a one-line answer (the short answer when there is one), then each quote with its
    citation; 「未找到」 when nothing answers, a plain word when there was nothing to search."""
    if answer.found and answer.several:
        return several_markdown(answer)
    if answer.found:
        return period_note(answer) + quotes_markdown(answer.quotes, answer.short_answer) + undated_note(answer)
    if answer.reason == NOTHING_TO_SEARCH:
        return nothing_to_search_reply()
    if answer.reason == NOT_IN_PERIOD:
        return not_in_period_markdown(answer)
    return not_found_reply(answer.question)


def _period_text(period) -> str:
    return f"「{escape_markdown(period.words)}」（{period.since} 至 {period.until}）"


def period_note(answer: Answer) -> str:
    """A line that says which period the answer keeps to, when the question named one."""
    return f"*按{_period_text(answer.period)}的报道回答*\n\n" if answer.period is not None else ""


def undated_note(answer: Answer) -> str:
    if not answer.undated:
        return ""
    titles = "、".join(dict.fromkeys(f"《{escape_markdown(p.title)}》" for p in answer.undated))
    return f"\n另有未注明日期的报道也可能相关：{titles}\n"


def several_markdown(answer: Answer) -> str:
    """Several stories answer differently: one line per story with its date, newest first, then the quotes."""
    lines = [f"资料中有 {len(answer.quotes)} 篇报道分别给出了不同的答案（按时间从新到旧）：", ""]
    for quote in answer.quotes:
        sentence = quote.highlight_texts[0] if quote.highlights else quote.passage.text
        lines.append(f"- **{quote.passage.date or '未注明日期'}**《{escape_markdown(quote.passage.title)}》："
                     f"{escape_markdown(sentence)} [{quote.number}]")
    return "\n".join(lines) + "\n\n" + quotes_markdown(answer.quotes, head=False)


def not_in_period_markdown(answer: Answer) -> str:
    """Nothing in the period asked: say so, then what the archive holds nearest in time."""
    head = f"**{NOT_FOUND}**：资料库里没有{_period_text(answer.period)}的相关报道。"
    if not answer.quotes:
        return head + "\n"
    first = answer.quotes[0]
    return (head + f"时间最接近的是 {first.passage.date or '未注明日期'} 的报道：\n\n"
            + quotes_markdown(answer.quotes, head=False))


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
            "citation": hit.passage.citation, "ocr": hit.passage.ocr,
            "sources": [{"id": p.id, "article_id": p.article_id, "source": p.source, "citation": p.citation}
                        for p in hit.passages],
            "score": round(hit.score, 6), "dense": round(hit.dense, 6), "bm25": round(hit.bm25, 6),
            "quoted": quote is not None,
            "highlights": [hit.passage.text[s.start:s.end] for s in spans],
            "highlight_spans": [[s.start, s.end] for s in spans],
        })
    short = answer.short_answer
    return {"question": answer.question, "found": answer.found, "answer": markdown(answer),
            "short_answer": short.text if short else "",
            "short_answer_span": [short.span.start, short.span.end] if short else None,
            "sentence": answer.sentence, "query": answer.query, "mode": answer.mode,
            "refused": answer.reason, "probability": round(answer.quotes[0].probability, 4) if answer.quotes else None,
            "several": answer.several,
            "period": ({"words": answer.period.words, "since": answer.period.since, "until": answer.period.until}
                       if answer.period is not None else None),
            "undated": [{"id": p.id, "title": p.title, "source": p.source} for p in answer.undated],
            "passages": passages}


def _citation(hit: Hit) -> str:
    if not hit.also:
        return hit.passage.citation
    return hit.passage.citation + "（另见：" + "、".join(f"{Path(p.source).name} {p.citation}" for p in hit.also) + "）"


def nothing_to_search_reply() -> str:
    return f"**{NOT_FOUND}**：问题里没有可以查找的文字（只有标点、表情或空格），请用文字提问。\n"


def not_found_reply(question: str) -> str:
    return (f"**{NOT_FOUND}**：资料中没有能回答「{escape_markdown(question)}」的段落。"
            "可以换个问法，或问问资料里报道过的人和事。\n")


def escape_markdown(text: str) -> str:
    """Show corpus or user text literally inside Markdown: no HTML, no formatting."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", text)


def quotes_markdown(quotes: Sequence[Quote], short: ShortAnswer | None = None, head: bool = True) -> str:
    """One-line answer (the short answer when there is one, else the answering sentence; cited), then each
    quote with its sentence in bold and the short answer marked inside it (HTML <strong>/<mark>:
    Markdown's ** cannot close between CJK punctuation and a letter)."""
    first = quotes[0]
    if short is not None:
        line = f"**答：{escape_markdown(short.text)}** [{first.number}]"
    else:
        line = f"**答：** {escape_markdown(first.highlight_texts[0]) if first.highlights else ''} [{first.number}]"
    lines = [line, ""] if head else []
    for quote in quotes:
        text, pieces, cursor = quote.passage.text, [], 0
        for span in quote.highlights:
            pieces.append(escape_markdown(text[cursor:span.start]))
            inner = escape_markdown(text[span.start:span.end])
            if short is not None and quote is first and span.start <= short.span.start < short.span.end <= span.end:
                inner = (escape_markdown(text[span.start:short.span.start]) + "<mark>"
                         + escape_markdown(short.text) + "</mark>" + escape_markdown(text[short.span.end:span.end]))
            pieces.append(f"<strong>{inner}</strong>")  # ** does not close before CJK
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


UPLOADED = {  # an upload's result per file, by status (error: by reason), in the page's words
    "added": "已加入：{articles} 篇文章、{passages} 个段落",
    "replaced": "已替换旧版本：现有 {articles} 篇文章、{passages} 个段落（新增 {passages_added} 个段落，去掉 {passages_removed} 个）",
    "unchanged": "未改变：资料库已收录内容相同的文件 {same}",
    "too_large": "未加入：文件超过每个文件 {detail} 的上限，请拆分后再上传",
    "unsupported": "未加入：不支持的文件类型（{detail}）；支持：{supported}",
    "empty": "未加入：空文件：没有文字",
    "failed": "未加入：{detail}",
}
REFUSED = {  # a request of the archive tab that cannot be done (uploads.RequestError), by reason
    "upload_needs_folder": "上传需要索引文件夹（原件保存在其中）；内存中的或 Milvus 资料库不能上传文件",
    "remove_needs_folder": "在页面上删除需要索引文件夹；Milvus 资料库请用命令行 qa-assistant remove 删除",
    "no_files": "没有收到文件：请选择要加入资料库的文件。",
    "too_many_files": "一次最多上传 {most} 个文件（收到 {given} 个），请分批上传。",
    "upload_too_large": "一次上传的文件合计最多 {most:g} MB（收到 {given:.1f} MB），请分批上传。",
    "ambiguous_source": "有 {count} 个来源都叫 {key}，请给出完整路径：{named}",
    "no_source": "资料库里没有来源 {key}",
    "nothing_matches": "资料库里没有 {named}",
    "key_count": "请给出 1 到 {most} 个要删除的来源或文章编号（收到 {given} 个）",
    "bad_key": "来源或文章编号必须是 1 到 {most} 个字符的文字（收到 {given!r}）",
    "bad_filter": "筛选文字最多 {most} 个字符",
}


def upload_message(result: dict) -> str:
    """What an upload did with one file (an ``uploads.FileResult`` as a dict), in plain words."""
    values = {**result, "same": Path(result.get("source") or "").name, "supported": "、".join(supported_suffixes())}
    if result.get("reason") == "unsupported":
        values["detail"] = result.get("detail") or "没有扩展名"
    return UPLOADED[result["reason"] if result["status"] == "error" else result["status"]].format(**values)


def upload_result(result: dict) -> dict:
    """An upload's result for one file as the ``/upload`` endpoint returns it: the figures and the message."""
    keep = ("file", "status", "stored_as", "source", "articles", "passages", "passages_added", "passages_removed")
    return {"file": result["file"], "status": result["status"], "message": upload_message(result),
            **{k: result[k] for k in keep[2:]}}


def refusal_text(error: Exception) -> str:
    """Why the archive tab cannot do what was asked, in the page's words: a request error by its reason, a
    busy index, else the error's own line."""
    if isinstance(error, RequestError):
        values = dict(error.values)
        values.setdefault("named", "、".join(values.get("sources") or values.get("keys") or ()))
        return REFUSED[error.reason].format(**values)
    if isinstance(error, IndexLockedError):
        return f"资料库正在被写入，请等写入完成后再试（{error}）"
    return str(error)


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


def _ocr_mark(confidence: float | None) -> str:
    """「OCR」 before a paragraph read by OCR, its confidence on hover; nothing for one that was not."""
    if confidence is None:
        return ""
    return f' <span class="qa-ocr" title="由 OCR 从图像识别，置信度 {float(confidence):.2f}">「OCR」</span>'


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
        body = "".join(f'<p><span class="qa-para">第{int(p["paragraph"])}段</span>{_ocr_mark(p.get("ocr"))} '
                       f'{_h(p["text"])}</p>' for p in article["paragraphs"])
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

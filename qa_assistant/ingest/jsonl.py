"""JSON Lines articles: one article per line, validated field by field."""
from __future__ import annotations

import json
from pathlib import Path

from .model import Article, IngestError, Paragraph
from .page import make_article, repair, split_lines


def scoped_id(source: str, raw_id: str) -> str:
    """An article's id within the archive: the file's name, then the id the file gives it (``news:1``),
    so two exports that both number their articles from 1 never take each other's place."""
    return f"{Path(source).stem}:{raw_id}"


def parse_jsonl(text: str, source: str) -> list[Article]:
    """One article per line: ``id``, ``title``, ``text`` required; ``date``, ``source``, ``url`` optional.
    A malformed line stops the whole file with an error naming the line (nothing partial is indexed).
    Article ids are scoped by the file (:func:`scoped_id`)."""
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
        blocks = repair(split_lines(record["text"]), forced_headings=set())  # the body has no headlines
        paragraphs = tuple(Paragraph(b.text, b.kind if b.kind != "heading" else "body") for b in blocks)
        if not paragraphs:
            raise IngestError(source, "is empty", line=number, field="text")
        articles.append(make_article(scoped_id(source, article_id), record["title"].strip(), "", paragraphs, source,
                                      date=record.get("date") or "", url=record.get("url") or ""))
    return articles



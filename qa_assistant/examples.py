"""Example questions about an archive's own articles, for the chat page: built from headlines (and from
the byline of the lead paragraph), kept only when retrieval brings back the article they were made from."""
from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)


def example_questions(assistant, limit: int = 3) -> list[str]:
    """Questions about the loaded index's own articles: built from headlines (and from the byline of
    the lead paragraph), kept only when retrieval brings back the article they were made from."""
    articles: dict[str, list] = {}
    for passage in assistant.passages:
        articles.setdefault(passage.article_id, []).append(passage)
    by_source: dict[str, list[list]] = {}
    for passages in articles.values():
        title = passages[0].title.strip()
        if 4 <= len(title) <= 32 and any(p.kind != "caption" for p in passages):
            by_source.setdefault(passages[0].source, []).append(passages)
    # take articles round-robin over the source files, so the examples cover the collection
    ordered, queues = [], [list(v) for v in by_source.values()]
    while queues and len(ordered) < limit * 3:
        for queue in list(queues):
            if queue:
                ordered.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
    candidates = []
    for number, passages in enumerate(ordered):
        title = passages[0].title.strip()
        has_reporter = any(p.kind == "lead" and re.search(r"记者\s*[\u4e00-\u9fff·]{2,5}", p.text) for p in passages)
        if number % 3 == 1 and has_reporter:
            candidates.append((f"报道“{title}”的记者是谁？", passages[0].article_id))
        elif number % 3 == 2:
            candidates.append((f"{title}的具体情况是什么？", passages[0].article_id))
        else:
            candidates.append((f"{title}是怎么回事？", passages[0].article_id))
    examples = []
    for start in range(0, len(candidates), limit):
        batch = candidates[start:start + limit]
        try:
            results = assistant.batch_retrieve([q for q, _ in batch], k=1)
        except Exception:  # examples are a convenience; never stop the page for them
            log.exception("could not check example questions")
            return [q for q, _ in candidates[:limit]]
        examples += [q for (q, article), hits in zip(batch, results) if hits and hits[0].passage.article_id == article]
        if len(examples) >= limit:
            break
    return examples[:limit]

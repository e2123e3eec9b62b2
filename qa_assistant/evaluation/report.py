"""Reports: metric tables (terminal and Markdown), misses, and per-question records saved as JSON Lines."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .evaluator import DEFAULT_KS, ModeReport, QuestionResult, summarise
from .metrics import RANK_DEPTH


HEADLINE = (("hit@1", "hit@1"), ("hit@3", "hit@3"), ("hit@5", "hit@5"), ("hit@10", "hit@10"),
            ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"), ("article_hit@1", "article hit@1"),
            ("article_hit@5", "article hit@5"), ("sentence_hit@1", "answer sentence hit@1"),
            ("time_words_sentence_hit@1", "time-word questions: sentence hit@1"),
            ("unanswerable_refused", "unanswerable refused ↑"), ("answerable_refused", "answerable refused ↓"))


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def metric_rows(metrics: Mapping[str, Mapping[str, Any]],
                ks: Sequence[int] = DEFAULT_KS) -> list[tuple[str, list[str]]]:
    """(label, one value per mode) for the figures worth showing, in a stable order."""
    modes = list(metrics)
    keys = [(f"hit@{k}", f"hit@{k}") for k in ks] + [("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10")]
    keys += [(f"article_hit@{k}", f"article hit@{k}") for k in ks]
    keys += [("sentence_hit@1", "answer sentence hit@1"),
             ("time_words_sentence_hit@1", "time-word questions: sentence hit@1"),
             ("unanswerable_refused", "unanswerable refused ↑"), ("answerable_refused", "answerable refused ↓")]
    rows = []
    for key, label in keys:
        values = [metrics[m].get(key) for m in modes]
        if all(v is None for v in values):
            continue
        rows.append((label, [_fmt(v) for v in values]))
    return rows


def _width(text: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def format_table(metrics: Mapping[str, Mapping[str, Any]], ks: Sequence[int] = DEFAULT_KS) -> str:
    """A plain-text table: one row per figure, one column per mode."""
    modes = list(metrics)
    rows = metric_rows(metrics, ks)
    label_width = max([_width("metric")] + [_width(label) for label, _ in rows])
    widths = [max(_width(m), 6) for m in modes]
    lines = [_pad("metric", label_width) + "  " + "  ".join(_pad(m, w, True) for m, w in zip(modes, widths))]
    lines.append("-" * _width(lines[0]))
    for label, values in rows:
        lines.append(_pad(label, label_width) + "  " + "  ".join(_pad(v, w, True) for v, w in zip(values, widths)))
    return "\n".join(lines)


def markdown_table(metrics: Mapping[str, Mapping[str, Any]], keys: Sequence[tuple[str, str]] = HEADLINE) -> str:
    """A Markdown table: one row per mode, one column per figure."""
    keys = [(k, label) for k, label in keys if any(metrics[m].get(k) is not None for m in metrics)]
    lines = ["| mode | " + " | ".join(label for _, label in keys) + " |",
             "| --- | " + " | ".join("---:" for _ in keys) + " |"]
    for mode, values in metrics.items():
        lines.append(f"| {mode} | " + " | ".join(_fmt(values.get(k)) for k, _ in keys) + " |")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def misses_markdown(report: ModeReport, n: int = 10, clip: int = 70) -> str:
    """The worst misses as a Markdown table: question, expected answer, rank, the passage retrieved instead."""
    misses = report.misses(n)
    if not misses:
        return f"*{report.mode}: no misses.*"
    cell = lambda text: _clip(text, clip).replace("|", "\\|")  # noqa: E731
    lines = ["| rank | question | expected | retrieved instead |", "| ---: | --- | --- | --- |"]
    for r in misses:
        top = f"{r.top.citation} {r.top.text}" if r.top else ""
        lines.append(f"| {r.rank or f'>{RANK_DEPTH}'} | {cell(r.question)} | {cell(' / '.join(r.answers))} | "
                     f"{cell(top)} |")
    return "\n".join(lines)


def format_misses(report: ModeReport, n: int = 10) -> str:
    misses = report.misses(n)
    total = len(report.misses(None))
    answerable = sum(1 for r in report.results if not r.unanswerable)
    if not total:
        return f"misses ({report.mode}): none, every answerable question's first passage holds an answer"
    lines = [f"misses ({report.mode}): {total} of {answerable} answerable questions lack an answer in the first "
             f"passage; the {len(misses)} worst:"]
    for r in misses:
        rank = f"rank {r.rank}" if r.rank else f"not in top {RANK_DEPTH}"
        lines.append(f"  [{rank}] {r.question}")
        lines.append(f"      expected: {' | '.join(r.answers)}")
        if r.top is not None:
            lines.append(f"      got {r.top.citation}: {_clip(r.top.text, 80)}")
    return "\n".join(lines)


def records(reports: Mapping[str, ModeReport]) -> list[dict]:
    """Per-question results of all modes, one dict per question: id, question, flags and per mode the
    compact figures ``[rank, article_rank, ndcg@10, found, sentence_hit]``."""
    modes = list(reports)
    out = []
    for i, result in enumerate(reports[modes[0]].results):
        line = {"id": result.id, "question": result.question, "unanswerable": result.unanswerable,
                "names_article": result.names_article}
        line.update({m: reports[m].results[i].compact() for m in modes})
        out.append(line)
    return out


def save_records(path: str | Path, reports: Mapping[str, ModeReport]) -> Path:
    """Write :func:`records` as JSON Lines (one short line per question, so a refresh diffs well)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for line in records(reports):
            handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return path


def load_records(path: str | Path) -> dict[str, dict]:
    """Saved per-question results by question id."""
    with Path(path).open(encoding="utf-8") as handle:
        return {record["id"]: record for record in map(json.loads, filter(str.strip, handle))}


def result_from_record(record: Mapping[str, Any], mode: str) -> QuestionResult:
    """A (partial) :class:`QuestionResult` back from a saved record, enough for :func:`summarise`."""
    rank, article_rank, ndcg, found, sentence_hit = record[mode]
    return QuestionResult(
        id=record["id"], question=record["question"], answers=(), unanswerable=record["unanswerable"],
        names_article=record["names_article"], rank=rank, article_rank=article_rank,
        reciprocal_rank=1.0 / rank if rank and rank <= RANK_DEPTH else 0.0, ndcg=ndcg, relevant=None, top=None,
        found=None if found is None else bool(found), sentence_hit=None if sentence_hit is None else bool(sentence_hit))


def summarise_records(saved: Iterable[Mapping[str, Any]], mode: str, ks: Sequence[int] = DEFAULT_KS) -> dict:
    """:func:`summarise` over saved records (``unreachable`` is not saved, so it is left out)."""
    metrics = summarise([result_from_record(r, mode) for r in saved], ks)
    metrics.pop("unreachable", None)
    return metrics



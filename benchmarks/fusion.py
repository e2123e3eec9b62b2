"""Fusion benchmark (issue 15): does hybrid retrieval stay at or above its better half? Measures hybrid with
the adaptive fusion (the default), hybrid with the old fixed z-score fusion, dense and BM25 on the sample
page, CMRC 2018 trial and the synthetic news-like stress set (``qa_assistant/data/news_stress``).

    python -m benchmarks.fusion                      # all three sets, full figures (answers included)
    python -m benchmarks.fusion --sets news_stress   # one set
    python -m benchmarks.fusion --sets news_stress_large   # the stress set's generator at 4× the archive
    python -m benchmarks.fusion --fast               # retrieval figures only, by re-fusing cached lists

Indexes are built once in ``embeddings/fusion-<set>/`` (reused afterwards; ``--index-root`` moves them).
The full figures go through the public API (``Assistant`` + ``qa_assistant.evaluation.Evaluator``), as
``qa-assistant eval`` does. ``--fast`` retrieves each question's dense and BM25 top lists once and re-fuses
them in numpy for every strategy: the quick way to try fusion parameters (hit@1, hit@5, MRR@10 only)."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "qa_assistant" / "data"
SETS = {  # name: (files to index, test set, label)
    "sample": ([DATA / "page_000.txt"], DATA / "sample_questions.jsonl", "sample page"),
    "cmrc": ([DATA / "cmrc2018_trial" / "corpus.jsonl"], DATA / "cmrc2018_trial" / "questions.jsonl",
             "CMRC 2018 trial"),
    "news_stress": ([DATA / "news_stress" / "corpus.jsonl"], DATA / "news_stress" / "questions.jsonl",
                    "news stress set (synthetic)"),
}
GENERATED = {"news_stress_large": (200, "news stress set, large (synthetic, generated, not committed)")}
DEFAULT_SETS = list(SETS)  # the committed sets; a generated one is measured when asked for


def set_files(name: str, index_root: Path) -> tuple[list[Path], Path, str]:
    """The set's files to index, its test set and its label; a generated set is written on first use
    (deterministic: the stress set's generator with more international incidents)."""
    if name in SETS:
        return SETS[name]
    from benchmarks.make_news_stress import write

    international, label = GENERATED[name]
    folder = index_root / f"{name}-data"
    if not (folder / "questions.jsonl").exists():
        write(folder, international=international)
    return [folder / "corpus.jsonl"], folder / "questions.jsonl", label
COLUMNS = (("hit@1", "hit@1"), ("hit@5", "hit@5"), ("mrr@10", "MRR@10"), ("article_hit@1", "article hit@1"),
           ("sentence_hit@1", "answer sentence hit@1"), ("unanswerable_refused", "unanswerable refused ↑"),
           ("answerable_refused", "answerable refused ↓"))
MAX_WRONGLY_REFUSED = 0.02
TOLERANCE = 0.005  # how far hybrid may fall below the old fusion where that one already leads


def strategies() -> dict:
    from qa_assistant.fusion import AdaptiveFusion, ZScoreFusion
    return {"hybrid": AdaptiveFusion(), "hybrid (old z-score)": ZScoreFusion()}


def prepare(name: str, index_root: Path):
    """The set's index in ``index_root/fusion-<name>``: opened and brought up to date (unchanged files are
    skipped), or built afresh when missing or unreadable."""
    from qa_assistant import USER_ERRORS, Assistant

    folder = index_root / f"fusion-{name}"
    assistant = None
    if Assistant.exists(folder):
        try:
            assistant = Assistant.open(folder)
        except USER_ERRORS:
            assistant = None
    if assistant is None:
        shutil.rmtree(folder, ignore_errors=True)
        assistant = Assistant.open(folder, create=True)
    assistant.index([str(p) for p in set_files(name, index_root)[0]])
    return assistant


# ---------------------------------------------------------------- full figures (public API)

def full_figures(assistant, testset, fusions: Mapping) -> dict[str, dict]:
    """Evaluator figures for every fusion strategy (hybrid) and for dense and BM25."""
    from qa_assistant.evaluation import Evaluator

    evaluator = Evaluator(testset, ks=(1, 3, 5, 10))
    before = assistant.searcher.fusion
    figures = {}
    try:
        for label, fusion in fusions.items():
            assistant.searcher.fusion = fusion
            figures[label] = dict(evaluator(assistant, "hybrid").metrics)
    finally:
        assistant.searcher.fusion = before
    for mode in ("dense", "bm25"):
        figures[mode] = dict(evaluator(assistant, mode).metrics)
    return figures


# ---------------------------------------------------------------- fast figures (re-fused candidate lists)

def candidate_lists(assistant, testset, depth: int = 50) -> list[dict]:
    """Per answerable question: the union of its dense and BM25 top-``depth`` passages with both scores,
    the answer-type prior and which passages hold an answer."""
    from qa_assistant.answer_type import type_matches
    from qa_assistant.evaluation import contains_answer

    items = [q for q in testset if not q.unanswerable]
    questions = [q.question for q in items]
    dense = assistant.batch_retrieve(questions, k=depth, mode="dense")
    sparse = assistant.batch_retrieve(questions, k=depth, mode="bm25")
    lists = []
    for item, dense_hits, sparse_hits in zip(items, dense, sparse):
        hits = {h.row: h for h in sparse_hits}
        hits.update({h.row: h for h in dense_hits})
        rows = np.array(sorted(hits), dtype=np.int64)
        kind = assistant.question(item.question).kind
        lists.append({
            "rows": rows,
            "dense": np.array([hits[r].dense for r in rows]),
            "sparse": np.array([hits[r].bm25 for r in rows]),
            "prior": (np.array([min(type_matches(kind, hits[r].passage.text), 3) / 3 for r in rows])
                      if kind else None),
            "relevant": {int(r) for r in rows if contains_answer(hits[r].passage.text, item.answers)},
            "dense_order": [h.row for h in dense_hits], "sparse_order": [h.row for h in sparse_hits]})
    return lists


def ranking_figures(rankings: Sequence[Sequence[int]], lists: Sequence[dict]) -> dict:
    from qa_assistant.evaluation import hit_at_k, mean, reciprocal_rank
    flags = [[int(r) in item["relevant"] for r in ranking[:10]] for ranking, item in zip(rankings, lists)]
    return {"hit@1": mean(hit_at_k(f, 1) for f in flags), "hit@5": mean(hit_at_k(f, 5) for f in flags),
            "mrr@10": mean(reciprocal_rank(f) for f in flags)}


def fast_figures(lists: Sequence[dict], fusions: Mapping) -> dict[str, dict]:
    figures = {}
    for label, fusion in fusions.items():
        rankings = [fusion.fuse(i["rows"], i["dense"], i["sparse"], i["prior"])[0].tolist() for i in lists]
        figures[label] = ranking_figures(rankings, lists)
    figures["dense"] = ranking_figures([i["dense_order"] for i in lists], lists)
    figures["bm25"] = ranking_figures([i["sparse_order"] for i in lists], lists)
    return figures


# ---------------------------------------------------------------- report

def table(label: str, figures: Mapping[str, Mapping], questions: int, answerable: int) -> str:
    columns = [(k, label) for k, label in COLUMNS if any(f.get(k) is not None for f in figures.values())]
    lines = [f"### {label} ({answerable} answerable + {questions - answerable} unanswerable questions)", "",
             "| mode | " + " | ".join(label for _, label in columns) + " |",
             "| --- | " + " | ".join("---:" for _ in columns) + " |"]
    for mode, values in figures.items():
        cells = ["–" if values.get(k) is None else f"{values[k]:.3f}" for k, _ in columns]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bar_checks(figures: Mapping[str, Mapping]) -> list[tuple[bool, str]]:
    """The issue's bars: hybrid hit@1 ≥ the better half, not below the old fusion by more than TOLERANCE
    where the old fusion leads, and answerable questions wrongly refused ≤ 2 %."""
    hybrid, old = figures["hybrid"], figures.get("hybrid (old z-score)")
    halves = max(figures["dense"]["hit@1"], figures["bm25"]["hit@1"])
    checks = [(hybrid["hit@1"] >= halves - 1e-9, f"hybrid hit@1 {hybrid['hit@1']:.3f} ≥ better half {halves:.3f}")]
    if old is not None and old["hit@1"] >= halves:
        checks.append((hybrid["hit@1"] >= old["hit@1"] - TOLERANCE - 1e-9,
                       f"hybrid hit@1 {hybrid['hit@1']:.3f} ≥ old z-score fusion {old['hit@1']:.3f} − {TOLERANCE}"))
    refused = hybrid.get("answerable_refused")
    if refused is not None:
        checks.append((refused <= MAX_WRONGLY_REFUSED + 1e-9,
                       f"answerable wrongly refused {refused:.3f} ≤ {MAX_WRONGLY_REFUSED}"))
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fusion", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS) + list(GENERATED), default=DEFAULT_SETS)
    parser.add_argument("--fast", action="store_true", help="retrieval figures only, re-fusing cached lists")
    parser.add_argument("--index-root", type=Path, default=ROOT / "embeddings")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from qa_assistant.evaluation import load_testset

    fusions = strategies()
    print("fusion strategies: " + "; ".join(f"{label} = {f.to_dict()}" for label, f in fusions.items()) + "\n")
    results, failed = {}, 0
    for name in args.sets:
        started = time.perf_counter()
        _, questions_file, label = set_files(name, args.index_root)
        testset = load_testset(questions_file)
        assistant = prepare(name, args.index_root)
        answerable = sum(1 for q in testset if not q.unanswerable)
        if args.fast:
            figures = fast_figures(candidate_lists(assistant, testset), fusions)
        else:
            figures = full_figures(assistant, testset, fusions)
        results[name] = {"questions": len(testset), "answerable": answerable,
                         "passages": len(assistant.passages), "figures": figures}
        print(table(label, figures, len(testset), answerable))
        print(f"\n({len(assistant.passages)} passages; {time.perf_counter() - started:.0f} s)")
        for ok, text in bar_checks(figures):
            failed += not ok
            print(f"  {'ok  ' if ok else 'FAIL'} {text}")
        print()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"fusions": {k: f.to_dict() for k, f in fusions.items()}, "sets": results},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

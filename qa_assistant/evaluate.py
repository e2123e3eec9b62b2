"""Evaluation: a JSONL test set, retrieval and answer metrics, ``qa-assistant eval`` and the notebooks.

In the style of sentence-transformers' ``InformationRetrievalEvaluator``: the metrics are small functions
over plain data (a ranking is a list of booleans: does the passage at this rank hold an answer?), the
evaluation takes callables (``retrieve(questions, k)`` → passages per question, ``ask(question)`` → an
answer with ``found`` and ``sentence``), and :class:`Evaluator` binds them to an :class:`Assistant`.

Test-set format (UTF-8 JSON Lines, one question per line)::

    {"id": "q1", "question": "…", "answers": ["…"], "doc_id": "TRIAL_800", "article": "headline"}
    {"question": "…", "answers": [], "unanswerable": true}

``answers`` are strings; a passage is a hit when it contains one (whitespace ignored). ``doc_id`` (the
article id) or ``article`` (the headline) name the article that holds the answer, for article-level hits.
``id`` is optional (the line number stands in). Unanswerable questions count only for refusals.

Metrics, per retrieval mode (answerable questions unless said otherwise):

- ``hit@k``: a top-k passage contains an answer; ``mrr@10``; ``ndcg@10`` with binary relevance (every
  passage of the index that contains an answer is relevant);
- ``article_hit@k``: a top-k passage comes from the named article (questions that name one);
- ``sentence_hit@1``: the sentence the assistant picks out in its first quote (``Answer.sentence``)
  contains an answer; a "not found" answer is a miss;
- ``unanswerable_refused``: share of unanswerable questions answered "not found" (higher is better);
- ``answerable_refused``: share of answerable questions wrongly answered "not found" (lower is better).

``python -m qa_assistant.evaluate --notebooks`` re-executes the notebooks in ``notebooks/`` (saving
their outputs and per-question results) and rewrites ``notebooks/RESULTS.md``.
"""
from __future__ import annotations

import functools
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

MODES = ("hybrid", "dense", "bm25")
DEFAULT_KS = (1, 3, 5, 10)
RANK_DEPTH = 10  # MRR@10 and nDCG@10
ASK_K = 5  # passages the assistant retrieves for an answer (the `ask` default)

# ---------------------------------------------------------------- test sets


class TestSetError(ValueError):
    """A malformed test-set line, named by file and line ("path:line: message")."""
    __test__ = False  # not a pytest test class

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path, self.line = str(path), line
        super().__init__(f"{self.path}{f':{line}' if line is not None else ''}: {message}")


@dataclass(frozen=True)
class EvalQuestion:
    """One test-set question."""
    question: str
    answers: tuple[str, ...] = ()
    doc_id: str | None = None  # id of the article that holds the answer
    article: str | None = None  # headline of that article
    unanswerable: bool = False
    id: str = ""  # the line's id, or its line number
    line: int = 0

    @property
    def names_article(self) -> bool:
        return self.doc_id is not None or self.article is not None


def _optional_text(record: dict, name: str, path: Path, number: int) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise TestSetError(path, f"'{name}' must be a non-empty string", number)
    return str(value).strip()


def parse_testset_line(line: str, path: str | Path = "<testset>", number: int = 1) -> EvalQuestion:
    """One JSONL line → :class:`EvalQuestion`; :class:`TestSetError` names ``path`` and ``number``."""
    path = Path(path)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise TestSetError(path, f"invalid JSON ({error.msg} at column {error.colno})", number) from None
    if not isinstance(record, dict):
        raise TestSetError(path, "expected a JSON object", number)
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise TestSetError(path, "'question' is missing or empty", number)
    answers = record.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise TestSetError(path, "'answers' must be a list of strings", number)
    answers = tuple(dict.fromkeys(a.strip() for a in answers if squash(a)))
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise TestSetError(path, "'unanswerable' must be true or false", number)
    if unanswerable and answers:
        raise TestSetError(path, "an unanswerable question cannot have answers", number)
    if not unanswerable and not answers:
        raise TestSetError(path, "'answers' is empty (mark a question without answers \"unanswerable\": true)",
                           number)
    return EvalQuestion(question=question.strip(), answers=answers,
                        doc_id=_optional_text(record, "doc_id", path, number),
                        article=_optional_text(record, "article", path, number),
                        unanswerable=unanswerable, id=_optional_text(record, "id", path, number) or str(number),
                        line=number)


def load_testset(path: str | Path) -> list[EvalQuestion]:
    """Read a JSONL test set; a malformed line raises :class:`TestSetError` naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TestSetError(path, "no such test set") from None
    except UnicodeDecodeError:
        raise TestSetError(path, "not UTF-8 text") from None
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = parse_testset_line(line, path, number)
        if item.id in seen:
            raise TestSetError(path, f"duplicate id {item.id!r} (first on line {seen[item.id]})", number)
        seen[item.id] = number
        questions.append(item)
    if not questions:
        raise TestSetError(path, "no questions")
    return questions


def subset(testset: Sequence[EvalQuestion], limit: int | None) -> list[EvalQuestion]:
    """``limit`` questions spread evenly over the test set (all of them when ``limit`` is None)."""
    if limit is None or limit >= len(testset):
        return list(testset)
    if limit <= 0:
        return []
    return [testset[(i * len(testset)) // limit] for i in range(limit)]


# ---------------------------------------------------------------- metric functions (plain data)

def squash(text: str) -> str:
    """``text`` without whitespace: the form answers are matched in."""
    return "".join(text.split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    haystack = squash(text)
    return any(squash(a) and squash(a) in haystack for a in answers)


def relevance(texts: Iterable[str], answers: Sequence[str]) -> list[bool]:
    """Binary relevance of a ranking: does each text contain an answer?"""
    return [contains_answer(text, answers) for text in texts]


def first_rank(flags: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((rank for rank, flag in enumerate(flags, start=1) if flag), None)


def hit_at_k(flags: Sequence[bool], k: int) -> float:
    return 1.0 if any(flags[:k]) else 0.0


def reciprocal_rank(flags: Sequence[bool], k: int = RANK_DEPTH) -> float:
    rank = first_rank(flags[:k])
    return 1.0 / rank if rank else 0.0


def dcg_at_k(flags: Sequence[bool], k: int = RANK_DEPTH) -> float:
    return sum(1.0 / math.log2(rank + 1) for rank, flag in enumerate(flags[:k], start=1) if flag)


def ndcg_at_k(flags: Sequence[bool], k: int = RANK_DEPTH, n_relevant: int | None = None) -> float:
    """nDCG@k with binary relevance; ``n_relevant`` is how many relevant items exist in the whole
    collection (default: those in ``flags``), so the ideal ranking puts that many first."""
    n = sum(map(bool, flags)) if n_relevant is None else n_relevant
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n, k) + 1))
    return dcg_at_k(flags, k) / ideal if ideal else 0.0


def mean(values: Iterable[float | bool]) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None


def from_article(passage: Any, item: EvalQuestion) -> bool:
    """Is ``passage`` (anything with ``article_id`` and ``title``) from the article ``item`` names?"""
    if item.doc_id is not None:
        article_id = str(getattr(passage, "article_id", ""))  # JSONL ids are scoped by their file: "corpus:ID"
        return article_id == item.doc_id or article_id.partition(":")[2] == item.doc_id
    if item.article is not None:
        return squash(getattr(passage, "title", "")) == squash(item.article)
    return False


# ---------------------------------------------------------------- per-question results

@dataclass(frozen=True)
class Retrieved:
    """The passage a question got (for the misses table)."""
    id: str
    article_id: str
    title: str
    citation: str
    text: str

    @classmethod
    def of(cls, passage: Any) -> "Retrieved":
        title = getattr(passage, "title", "")
        citation = getattr(passage, "citation", None) or f"《{title}》"
        return cls(str(getattr(passage, "id", "")), str(getattr(passage, "article_id", "")), title, citation,
                   getattr(passage, "text", str(passage)))


@dataclass(frozen=True)
class QuestionResult:
    """How one question fared in one mode."""
    id: str
    question: str
    answers: tuple[str, ...]
    unanswerable: bool
    names_article: bool  # the question names its article (doc_id or article)
    rank: int | None  # first passage holding an answer (1-based, within the retrieval depth)
    article_rank: int | None  # first passage of the named article
    reciprocal_rank: float  # @10
    ndcg: float  # @10
    relevant: int | None  # passages in the index holding an answer (None: unknown)
    top: Retrieved | None  # the passage ranked first
    found: bool | None = None  # the assistant's answer (None: answers not measured)
    sentence: str = ""
    sentence_hit: bool | None = None

    def hit(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k

    def compact(self) -> list:
        """The figures the notebooks save per question: rank, article rank, nDCG, found, sentence hit."""
        return [self.rank, self.article_rank, round(self.ndcg, 4),
                None if self.found is None else int(self.found),
                None if self.sentence_hit is None else int(self.sentence_hit)]


def question_result(item: EvalQuestion, passages: Sequence[Any], n_relevant: int | None = None,
                    answer: Any | None = None) -> QuestionResult:
    """Score one question's ranking (``passages``, best first) and, when given, the assistant's answer."""
    flags = relevance((p.text for p in passages), item.answers) if not item.unanswerable else [False] * len(passages)
    article_flags = [from_article(p, item) for p in passages] if item.names_article else []
    found = sentence = sentence_hit = None
    if answer is not None:
        found = bool(answer.found)
        sentence = (answer.sentence or "") if found else ""
        sentence_hit = None if item.unanswerable else (found and contains_answer(sentence, item.answers))
    return QuestionResult(
        id=item.id, question=item.question, answers=item.answers, unanswerable=item.unanswerable,
        names_article=item.names_article, rank=first_rank(flags),
        article_rank=first_rank(article_flags) if item.names_article else None,
        reciprocal_rank=reciprocal_rank(flags), ndcg=ndcg_at_k(flags, RANK_DEPTH, n_relevant),
        relevant=n_relevant, top=Retrieved.of(passages[0]) if passages else None,
        found=found, sentence=sentence or "", sentence_hit=sentence_hit)


def summarise(results: Sequence[QuestionResult], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float | int | None]:
    """Aggregate figures of per-question results (None where a figure does not apply)."""
    answerable = [r for r in results if not r.unanswerable]
    unanswerable = [r for r in results if r.unanswerable]
    with_article = [r for r in answerable if r.names_article]
    asked = [r for r in results if r.found is not None]
    metrics: dict[str, float | int | None] = {
        "questions": len(results), "answerable": len(answerable), "unanswerable": len(unanswerable)}
    for k in ks:
        metrics[f"hit@{k}"] = mean(r.hit(k) for r in answerable)
    metrics[f"mrr@{RANK_DEPTH}"] = mean(r.reciprocal_rank for r in answerable)
    metrics[f"ndcg@{RANK_DEPTH}"] = mean(r.ndcg for r in answerable)
    for k in ks:
        metrics[f"article_hit@{k}"] = mean(r.article_rank is not None and r.article_rank <= k for r in with_article)
    metrics["sentence_hit@1"] = mean(bool(r.sentence_hit) for r in answerable if r.found is not None) if asked else None
    metrics["unanswerable_refused"] = mean(not r.found for r in unanswerable if r.found is not None) if asked else None
    metrics["answerable_refused"] = mean(not r.found for r in answerable if r.found is not None) if asked else None
    metrics["unreachable"] = sum(1 for r in answerable if r.relevant == 0) if any(
        r.relevant is not None for r in answerable) else None
    return metrics


@dataclass(frozen=True)
class ModeReport:
    """One mode's evaluation: the per-question results and their summary."""
    mode: str
    ks: tuple[int, ...]
    results: tuple[QuestionResult, ...]
    seconds: float = 0.0

    @functools.cached_property
    def metrics(self) -> dict[str, float | int | None]:
        """:func:`summarise` of the results at this report's cut-offs."""
        return summarise(self.results, self.ks)

    def misses(self, n: int | None = 10) -> list[QuestionResult]:
        """Answerable questions whose first passage holds no answer, worst first (not retrieved at all,
        then by rank)."""
        missed = [r for r in self.results if not r.unanswerable and r.rank != 1]
        missed.sort(key=lambda r: -(r.rank or 10 ** 6))
        return missed if n is None else missed[:n]

    def wrong_refusals(self) -> tuple[list[QuestionResult], list[QuestionResult]]:
        """(unanswerable questions answered anyway, answerable questions refused)."""
        return ([r for r in self.results if r.unanswerable and r.found],
                [r for r in self.results if not r.unanswerable and r.found is False])

    def to_dict(self, misses: int | None = 10, records: bool = False) -> dict:
        out = {"mode": self.mode, "seconds": round(self.seconds, 2), "metrics": dict(self.metrics),
               "misses": [miss_dict(r) for r in self.misses(misses)]}
        if records:
            out["records"] = [asdict(r) for r in self.results]
        return out


def miss_dict(result: QuestionResult) -> dict:
    return {"id": result.id, "question": result.question, "expected": list(result.answers), "rank": result.rank,
            "article_rank": result.article_rank,
            "retrieved": None if result.top is None else {"citation": result.top.citation, "text": result.top.text}}


# ---------------------------------------------------------------- evaluation

RetrieveFn = Callable[[Sequence[str], int], Sequence[Sequence[Any]]]  # questions, k → passages per question
AskFn = Callable[[str], Any]  # question → answer with .found and .sentence


def count_relevant(testset: Sequence[EvalQuestion], corpus: Sequence[Any]) -> list[int]:
    """For each question, how many passages of ``corpus`` contain one of its answers."""
    texts = [squash(p.text) for p in corpus]
    counts = []
    for item in testset:
        needles = [squash(a) for a in item.answers if squash(a)]
        counts.append(sum(1 for t in texts if any(n in t for n in needles)) if needles else 0)
    return counts


def evaluate(testset: Sequence[EvalQuestion], retrieve: RetrieveFn, ask: AskFn | None = None,
             ks: Sequence[int] = DEFAULT_KS, mode: str = "hybrid", corpus: Sequence[Any] | None = None,
             progress: bool = False) -> ModeReport:
    """Evaluate one retrieval mode: ``retrieve`` ranks passages for all questions at once, ``ask`` (optional)
    answers each question; ``corpus`` (all passages) lets nDCG know every relevant passage."""
    ks = tuple(sorted({int(k) for k in ks}))
    if not ks or ks[0] < 1:
        raise ValueError("cut-offs (-k) must be positive integers")
    started = time.perf_counter()
    depth = max(max(ks), RANK_DEPTH)
    rankings = retrieve([item.question for item in testset], depth) if testset else []
    relevant = count_relevant(testset, corpus) if corpus is not None else [None] * len(testset)
    results = []
    items: Iterable[EvalQuestion] = testset
    if ask is not None and progress:
        from tqdm.auto import tqdm
        items = tqdm(testset, desc=f"answering ({mode})", unit="question", file=sys.stderr)
    for item, passages, n_relevant in zip(items, rankings, relevant):
        answer = ask(item.question) if ask is not None else None
        results.append(question_result(item, list(passages), n_relevant, answer))
    results = tuple(results)
    return ModeReport(mode, ks, results, time.perf_counter() - started)


class Evaluator:
    """Evaluates an :class:`~qa_assistant.Assistant` on a test set (a callable, like sentence-transformers'
    evaluators): ``Evaluator(testset)(assistant, "hybrid")`` → :class:`ModeReport`."""

    def __init__(self, testset: Sequence[EvalQuestion], ks: Sequence[int] = DEFAULT_KS, answers: bool = True,
                 ask_k: int = ASK_K, progress: bool = False):
        self.testset, self.ks, self.answers = list(testset), tuple(ks), answers
        self.ask_k, self.progress = ask_k, progress

    def __call__(self, assistant, mode: str = "hybrid") -> ModeReport:
        def retrieve(questions: Sequence[str], k: int) -> list[list[Any]]:
            return [[hit.passage for hit in hits] for hits in assistant.batch_retrieve(questions, k=k, mode=mode)]

        def ask(question: str):
            return assistant.ask(question, k=self.ask_k, mode=mode)

        return evaluate(self.testset, retrieve, ask if self.answers else None, self.ks, mode,
                        corpus=assistant.passages, progress=self.progress)

    def all_modes(self, assistant, modes: Sequence[str] = MODES) -> dict[str, ModeReport]:
        return {mode: self(assistant, mode) for mode in modes}


# ---------------------------------------------------------------- reports

HEADLINE = (("hit@1", "hit@1"), ("hit@3", "hit@3"), ("hit@5", "hit@5"), ("hit@10", "hit@10"),
            ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"), ("article_hit@1", "article hit@1"),
            ("article_hit@5", "article hit@5"), ("sentence_hit@1", "answer sentence hit@1"),
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
    keys += [("sentence_hit@1", "answer sentence hit@1"), ("unanswerable_refused", "unanswerable refused ↑"),
             ("answerable_refused", "answerable refused ↓")]
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


def run_cli(args) -> int:
    """``qa-assistant eval TESTSET --index DIR --mode hybrid|dense|bm25|all -k 1 3 5 10 [--json] [--misses N]``."""
    from .assistant import Assistant

    testset = load_testset(args.testset)  # before the model loads: a bad line fails fast
    ks = tuple(sorted(set(args.k)))
    if not ks or ks[0] < 1:
        raise ValueError("cut-offs (-k) must be positive integers")
    assistant = Assistant.load(args.index)
    modes = MODES if args.mode == "all" else (args.mode,)
    evaluator = Evaluator(testset, ks=ks, progress=not args.json and sys.stderr.isatty())
    reports = {mode: evaluator(assistant, mode) for mode in modes}
    answerable = sum(1 for q in testset if not q.unanswerable)
    if args.json:
        out = {"testset": str(args.testset), "index": str(args.index), "passages": len(assistant.passages),
               "questions": len(testset), "answerable": answerable, "unanswerable": len(testset) - answerable,
               "ks": list(ks), "modes": {m: r.to_dict(misses=args.misses) for m, r in reports.items()}}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print(f"{args.testset}: {len(testset)} questions ({answerable} answerable, {len(testset) - answerable} "
          f"unanswerable) on {args.index} ({len(assistant.passages)} passages)\n")
    print(format_table({m: r.metrics for m, r in reports.items()}, ks))
    unreachable = next(iter(reports.values())).metrics.get("unreachable")
    if unreachable:
        print(f"\n{unreachable} answerable questions have no passage in the index that contains their answer.")
    if args.misses > 0:
        for report in reports.values():
            print()
            print(format_misses(report, args.misses))
    return 0


# ---------------------------------------------------------------- notebooks

NOTEBOOKS = ("sample_page.ipynb", "cmrc2018.ipynb")
RESULT_MARK = "qa_assistant_eval"  # key of the JSON output that carries a notebook's figures


def find_root(start: str | Path | None = None) -> Path:
    """The project folder (the one with pyproject.toml) above ``start`` (default: the working folder)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path(__file__).resolve().parent.parent


def prepare_index(paths: Sequence[str | Path], index_dir: str | Path, rebuild: bool = False):
    """An index of exactly ``paths`` in ``index_dir``: reused when present and made at the default
    precision (files re-read and re-split with the current code; vectors of unchanged passages kept),
    other sources removed; built otherwise."""
    from .assistant import Assistant
    from .embedder import ModelMismatchError, default_precision, recorded_precision

    index_dir = Path(index_dir)
    assistant = None
    if not rebuild and (index_dir / "manifest.json").is_file():
        try:
            assistant = Assistant.load(index_dir)
        except (ModelMismatchError, OSError, ValueError, RuntimeError):
            assistant = None
        if assistant is not None and recorded_precision(assistant.data.manifest["model"]) != default_precision():
            assistant = None
    if assistant is None:
        import shutil
        if index_dir.exists():
            shutil.rmtree(index_dir)
        assistant = Assistant.empty(None, index_dir)
    assistant.index(paths, force=True)
    wanted = {str(Path(p).resolve()) for p in paths}
    others = sorted({p.source for p in assistant.passages} - wanted)
    if others:
        assistant.remove(others)
    return assistant


def results_payload(name: str, testset_path: str, reports: Mapping[str, ModeReport], assistant, limit=None) -> dict:
    """What a notebook records as its figures (the JSON output the notebook test and RESULTS.md read)."""
    return {RESULT_MARK: {
        "dataset": name, "testset": testset_path, "limit": limit,
        "questions": len(next(iter(reports.values())).results),
        "passages": len(assistant.passages), "articles": len({p.article_id for p in assistant.passages}),
        "model": assistant.data.manifest["model"]["name"],
        "fingerprint": assistant.data.manifest["model"]["fingerprint"][:12],
        "metrics": {m: dict(r.metrics) for m, r in reports.items()},
        "seconds": {m: round(r.seconds, 1) for m, r in reports.items()}}}


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


def notebook_payload(notebook: Any) -> dict | None:
    """The figures a notebook saved (its ``qa_assistant_eval`` JSON output), or None."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("application/json")
            if isinstance(data, dict) and RESULT_MARK in data:
                return data[RESULT_MARK]
    return None


def execute_notebook(path: str | Path, parameters: Mapping[str, Any] | None = None, save_to: str | Path | None = None,
                     timeout: int | None = None):
    """Run a notebook with nbclient in its own folder; ``parameters`` replace the assignments of its first
    (``parameters``) cell. Returns the executed notebook, written to ``save_to`` when given; ``timeout``
    limits each cell (seconds, None: no limit)."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        cell = notebook.cells[next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")]
        cell.source = set_parameters(cell.source, parameters)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    if save_to is not None:
        nbformat.write(notebook, save_to)
    return notebook


def set_parameters(source: str, parameters: Mapping[str, Any]) -> str:
    """Replace ``NAME = …`` lines of a parameters cell (and append names it lacks)."""
    lines, done = source.splitlines(), set()
    for i, line in enumerate(lines):
        name = line.split("=", 1)[0].strip()
        if "=" in line and name in parameters and not line.startswith((" ", "#")):
            comment = line.split("#", 1)[1] if "#" in line else ""
            lines[i] = f"{name} = {parameters[name]!r}" + (f"  # {comment.strip()}" if comment else "")
            done.add(name)
    lines += [f"{name} = {value!r}" for name, value in parameters.items() if name not in done]
    return "\n".join(lines)


def results_markdown(payloads: Sequence[Mapping[str, Any]]) -> str:
    """notebooks/RESULTS.md from the notebooks' saved figures."""
    commands = {
        "sample_page": ("qa-assistant index qa_assistant/data/page_000.txt --index embeddings/sample",
                        "qa-assistant eval qa_assistant/data/sample_questions.jsonl --index embeddings/sample "
                        "--mode all"),
        "cmrc2018_trial": ("qa-assistant index qa_assistant/data/cmrc2018_trial/corpus.jsonl "
                           "--index embeddings/cmrc2018_trial",
                           "qa-assistant eval qa_assistant/data/cmrc2018_trial/questions.jsonl "
                           "--index embeddings/cmrc2018_trial --mode all"),
    }
    titles = {"sample_page": "Sample page (`qa_assistant/data/page_000.txt`, `sample_questions.jsonl`)",
              "cmrc2018_trial": "CMRC 2018 trial set (`qa_assistant/data/cmrc2018_trial/`, CC-BY-SA-4.0)"}
    parts = ["# Evaluation results", "",
             "Written by `make notebooks` (= `.venv/bin/python -m qa_assistant.evaluate --notebooks`), which re-runs "
             "`notebooks/sample_page.ipynb` and `notebooks/cmrc2018.ipynb` with nbclient, saves their outputs and "
             "per-question results (`notebooks/results/*.jsonl`), and rewrites this file. "
             "`tests/test_evaluate.py` re-executes both notebooks (CMRC on a subset) and fails when these saved "
             "figures no longer match the code: refresh them with that command. It takes a few minutes for the "
             "sample page and about ten minutes for CMRC (3 × 1000 answers) on a 2-core machine; on a busy machine "
             "`QA_ASSISTANT_THREADS=1 make notebooks` is faster.", "",
             "Figures: `hit@k` — a top-k passage contains an answer (whitespace ignored); `MRR@10`, `nDCG@10` — "
             "binary relevance (every passage holding an answer is relevant); `article hit@k` — a top-k passage "
             "is from the question's article; `answer sentence hit@1` — the sentence the answer picks out "
             "(first quote) contains an answer, a “未找到” reply counting as a miss; "
             "`unanswerable refused ↑` — share of unanswerable questions answered 未找到; "
             "`answerable refused ↓` — share of answerable ones "
             "wrongly answered 未找到. Retrieval figures are over answerable questions.", ""]
    for payload in payloads:
        name = payload["dataset"]
        metrics = payload["metrics"]  # saved notebooks sort JSON keys: back to the usual mode order
        metrics = {m: metrics[m] for m in sorted(metrics, key=lambda m: (MODES + (m,)).index(m))}
        seconds = sum((payload.get("seconds") or {}).values())
        index_cmd, eval_cmd = commands.get(name, ("", ""))
        parts += [f"## {titles.get(name, name)}", "",
                  f"{payload['questions']} questions, {payload['passages']} passages from {payload['articles']} "
                  f"articles, model {payload['model']} (weights {payload['fingerprint']}…)"
                  + (f", first {payload['limit']} questions only" if payload.get("limit") else "")
                  + (f"; evaluating the three modes took {seconds / 60:.0f} min" if seconds else "") + ".", "",
                  markdown_table(metrics), ""]
        if eval_cmd:
            parts += ["Reproduce:", "", "```sh", index_cmd, eval_cmd, "```", ""]
    return "\n".join(parts)


def notebooks_folder(root: str | Path | None = None) -> Path:
    return find_root(root or Path(__file__).resolve().parent) / "notebooks"


def write_results(root: str | Path | None = None) -> Path:
    """Rewrite notebooks/RESULTS.md from the figures saved in the notebooks."""
    import nbformat
    folder = notebooks_folder(root)
    payloads = [notebook_payload(nbformat.read(folder / name, as_version=4)) for name in NOTEBOOKS]
    target = folder / "RESULTS.md"
    target.write_text(results_markdown([p for p in payloads if p]), encoding="utf-8")
    return target


def run_notebooks(root: str | Path | None = None, names: Sequence[str] = NOTEBOOKS) -> Path:
    """Re-execute the notebooks in place (outputs and per-question results saved), then rewrite
    RESULTS.md: what ``make notebooks`` runs."""
    folder = notebooks_folder(root)
    for name in names:
        started = time.perf_counter()
        print(f"executing {folder / name} …", file=sys.stderr, flush=True)
        notebook = execute_notebook(folder / name, save_to=folder / name)
        if notebook_payload(notebook) is None:
            raise RuntimeError(f"{folder / name}: no {RESULT_MARK} output")
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return write_results(root)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m qa_assistant.evaluate",
                                     description="re-run the evaluation notebooks and rewrite notebooks/RESULTS.md")
    parser.add_argument("--notebooks", nargs="*", metavar="NAME", default=None,
                        help=f"execute these notebooks in place (default, no NAME: {' '.join(NOTEBOOKS)}), "
                             "then rewrite RESULTS.md")
    parser.add_argument("--results", action="store_true", help="only rewrite RESULTS.md from the saved notebooks")
    args = parser.parse_args(argv)
    if args.results:
        print(write_results())
    elif args.notebooks is not None:
        print(run_notebooks(names=tuple(args.notebooks) or NOTEBOOKS))
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

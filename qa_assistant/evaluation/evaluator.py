"""The evaluator: per-question results and their summary for one retrieval mode, from callables
(``retrieve(questions, k)`` → passages per question, ``ask(question)`` → an answer with ``found`` and
``sentence``); :class:`Evaluator` binds them to an assistant."""
from __future__ import annotations

import functools
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Sequence

from ..settings import MODES, Settings
from ..when import parse_as_of, read_time
from .metrics import (RANK_DEPTH, contains_answer, first_rank, from_article, mean, ndcg_at_k, reciprocal_rank,
                      relevance)
from .testset import EvalQuestion, squash

DEFAULT_KS = (1, 3, 5, 10)
ASK_K = Settings.k  # passages the assistant retrieves for an answer (the `ask` default)


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
    time_words: bool = False  # the question names a period (去年, 2023年春节前 …): reported apart

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
        found=found, sentence=sentence or "", sentence_hit=sentence_hit,
        time_words=read_time(item.question, parse_as_of(item.as_of)) is not None)


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
    timed = [r for r in answerable if r.found is not None and r.time_words]
    metrics["time_words_sentence_hit@1"] = mean(bool(r.sentence_hit) for r in timed) if timed else None
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
        answer = None
        if ask is not None:
            answer = ask(item.question, as_of=item.as_of) if item.as_of else ask(item.question)
        results.append(question_result(item, list(passages), n_relevant, answer))
    results = tuple(results)
    return ModeReport(mode, ks, results, time.perf_counter() - started)


class Evaluator:
    """Evaluates an :class:`~qa_assistant.Assistant` on a test set (a callable, like sentence-transformers'
    evaluators): ``Evaluator(testset)(assistant, "hybrid")`` → :class:`ModeReport`."""

    def __init__(self, testset: Sequence[EvalQuestion], ks: Sequence[int] = DEFAULT_KS, answers: bool = True,
                 ask_k: int = ASK_K, progress: bool = False, since: str | None = None, until: str | None = None,
                 as_of: str | None = None):
        self.testset, self.ks, self.answers = list(testset), tuple(ks), answers
        self.ask_k, self.progress = ask_k, progress
        self.dates = {"since": since, "until": until}  # only articles dated in this range are searched
        self.as_of = as_of  # time words are read against this date where a question carries none

    def __call__(self, assistant, mode: str = "hybrid") -> ModeReport:
        def retrieve(questions: Sequence[str], k: int) -> list[list[Any]]:
            return [[hit.passage for hit in hits]
                    for hits in assistant.batch_retrieve(questions, k=k, mode=mode, **self.dates)]

        def ask(question: str, as_of: str | None = None):
            return assistant.ask(question, k=self.ask_k, mode=mode, as_of=as_of or self.as_of, **self.dates)

        return evaluate(self.testset, retrieve, ask if self.answers else None, self.ks, mode,
                        corpus=assistant.passages, progress=self.progress)

    def all_modes(self, assistant, modes: Sequence[str] = MODES) -> dict[str, ModeReport]:
        return {mode: self(assistant, mode) for mode in modes}



"""Evaluation: a JSONL test set, retrieval and answer metrics, an evaluator and reports.

In the style of sentence-transformers' ``InformationRetrievalEvaluator``: the metrics are small functions
over plain data, the evaluation takes callables, and :class:`Evaluator` binds them to an assistant.

Metrics, per retrieval mode (answerable questions unless said otherwise): ``hit@k`` (a top-k passage
contains an answer, whitespace ignored), ``mrr@10``, ``ndcg@10`` (binary relevance), ``article_hit@k``,
``sentence_hit@1`` (the sentence the first quote picks out contains an answer; "not found" is a miss),
``unanswerable_refused`` (higher is better) and ``answerable_refused`` (lower is better).
"""
from .evaluator import (ASK_K, DEFAULT_KS, MODES, Evaluator, ModeReport, QuestionResult, Retrieved, count_relevant,
                        evaluate, miss_dict, question_result, summarise)
from .metrics import (RANK_DEPTH, contains_answer, dcg_at_k, first_rank, from_article, hit_at_k, mean, ndcg_at_k,
                      reciprocal_rank, relevance)
from .report import (HEADLINE, format_misses, format_table, load_records, markdown_table, metric_rows,
                     misses_markdown, records, result_from_record, save_records, summarise_records)
from .testset import EvalQuestion, TestSetError, load_testset, parse_testset_line, squash, subset

__all__ = ["ASK_K", "DEFAULT_KS", "EvalQuestion", "Evaluator", "HEADLINE", "MODES", "ModeReport", "QuestionResult",
           "RANK_DEPTH", "Retrieved", "TestSetError", "contains_answer", "count_relevant", "dcg_at_k", "evaluate",
           "first_rank", "format_misses", "format_table", "from_article", "hit_at_k", "load_records", "load_testset",
           "markdown_table", "mean", "metric_rows", "miss_dict", "misses_markdown", "ndcg_at_k", "parse_testset_line",
           "question_result", "reciprocal_rank", "records", "relevance", "result_from_record", "save_records",
           "squash", "subset", "summarise", "summarise_records"]

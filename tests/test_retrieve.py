"""Retrieval without the model: top_rows equals a stable argsort, copies of one text collapse into one
hit, and the three modes over a small index made with the stand-in encoder (dense order, BM25 rows
with a matching word only, hybrid falling back to dense order when no question word matches)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qa_assistant.passages import Passage
from qa_assistant.question import DateRange, analyse
from qa_assistant.retrieve import HybridSearcher, collapse_copies, top_rows
from qa_assistant.store import build_index_data

from .conftest import FakeEmbedder


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-3, 3).map(float), min_size=0, max_size=400), st.integers(0, 450))
def test_top_rows_is_a_stable_argsort_cut_at_k(values, k):
    scores = np.array(values, dtype=np.float32)
    expected = np.argsort(-scores, kind="stable")[:k]
    assert top_rows(scores, k).tolist() == expected.tolist()


def _passage(number: int, text: str, source: str = "a.txt", date: str = "") -> Passage:
    return Passage(id=f"p{number}", article_id=f"a{number}", title=f"标题{number}", paragraph=1, part=0, text=text,
                   source=source, start=0, end=len(text), date=date)


def test_copies_of_one_text_collapse_into_the_first_and_k_distinct_texts_are_kept():
    passages = [_passage(0, "甲 乙。"), _passage(1, "丙"), _passage(2, "甲乙.", "b.txt"), _passage(3, "丁"), _passage(4, "戊")]
    chosen = collapse_copies([(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6), (4, 0.5)], passages, k=3)
    assert [(row, copies) for row, _, copies in chosen] == [(0, [2]), (1, []), (3, [])]


TEXTS = ["区总工会走访慰问困难职工，送上米面油。", "全市职工技能大赛在朝阳区举行。", "社区工会组织职工学做团扇。",
         "评估组实地查看了服务站。", "区总工会走访慰问困难职工，送上米面油。"]


DATES = ["2024-01-12", "2024-02-03", "", "2023-12-30", "2024-01-15"]


def _searcher() -> HybridSearcher:
    embedder = FakeEmbedder()
    passages = [_passage(i, text, "b.txt" if i == 4 else "a.txt", DATES[i]) for i, text in enumerate(TEXTS)]
    vectors = embedder.encode_passages([p.heading for p in passages], [p.text for p in passages])
    return HybridSearcher(build_index_data(passages, vectors, embedder.info.to_dict()), embedder)


def test_bm25_mode_returns_only_passages_that_share_a_word_and_dense_mode_every_passage():
    searcher = _searcher()
    bm25 = searcher.search(analyse("技能大赛在哪里举行？"), k=5, mode="bm25")
    assert [hit.row for hit in bm25] == [1] and bm25[0].bm25 > 0
    dense = searcher.search(analyse("技能大赛在哪里举行？"), k=5, mode="dense")
    assert len(dense) == 4  # five passages, two of them the same text
    assert [h.score for h in dense] == sorted((h.score for h in dense), reverse=True)
    assert all(h.score == h.dense for h in dense)


def test_hybrid_without_a_matching_word_keeps_the_dense_order():
    searcher = _searcher()
    question = analyse("What happened at the skills contest?")
    hybrid = searcher.search(question, k=4, mode="hybrid")
    dense = searcher.search(question, k=4, mode="dense")
    assert all(hit.bm25 == 0 for hit in hybrid)
    assert [hit.row for hit in hybrid] == [hit.row for hit in dense]


def test_the_same_paragraph_in_two_files_is_one_hit_listing_both():
    hits = _searcher().search(analyse("区总工会给困难职工送了什么？"), k=5, mode="bm25")
    first = hits[0]
    assert first.passage.text == TEXTS[0] and [p.source for p in first.passages] == ["a.txt", "b.txt"]
    assert len({hit.passage.text for hit in hits}) == len(hits)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_a_date_range_filters_before_ranking(mode):
    searcher = _searcher()
    question = analyse("区总工会给困难职工送了什么？")
    january = searcher.search(question, k=5, mode=mode, dates=DateRange("2024-01", "2024-01"))
    assert {hit.passage.date for hit in january} <= {"2024-01-12", "2024-01-15"} and january
    assert all(hit.passage.date >= "2024-02" for hit in searcher.search(question, k=5, mode="dense",
                                                                          dates=DateRange(since="2024-02")))
    assert searcher.search(question, k=5, mode=mode, dates=DateRange("2030")) == []


def test_the_article_of_a_hit_is_its_own_passages_in_order_never_another_article_s():
    embedder = FakeEmbedder()
    texts = [("a0", 1, "前一篇文章。"), ("a1", 1, "甲地发生袭击事件。"), ("a1", 2, "嫌疑人被捕。"),
             ("a1", 3, "警方逮捕了一名男子。"), ("a2", 2, "另一篇文章的第二段。")]
    passages = [Passage(id=f"p{i}", article_id=article, title="标题", paragraph=number, part=0, text=text,
                        source="a.txt", start=0, end=len(text)) for i, (article, number, text) in enumerate(texts)]
    vectors = embedder.encode_passages([p.heading for p in passages], [p.text for p in passages])
    searcher = HybridSearcher(build_index_data(passages, vectors, embedder.info.to_dict()), embedder)
    hits = {hit.row: hit for hit in searcher.search(analyse("警方逮捕了谁？"), k=5, mode="dense")}
    whole = ["甲地发生袭击事件。", "嫌疑人被捕。", "警方逮捕了一名男子。"]
    for row in (1, 2, 3):  # from its first, a middle and its last passage
        assert [p.text for p in searcher.article(hits[row])] == whole
    assert [p.text for p in searcher.article(hits[0])] == ["前一篇文章。"]  # the first row of the archive
    assert [p.text for p in searcher.article(hits[4])] == ["另一篇文章的第二段。"]  # the last row

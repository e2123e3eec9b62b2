"""Evaluation: metric functions on hand-made rankings, the test-set format and its errors, the shipped
test sets, and ``qa-assistant eval`` end to end."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from .conftest import SHARED

from qa_assistant import evaluation as ev

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "qa_assistant" / "data"
SAMPLE_PAGE = DATA / "page_000.txt"
SAMPLE_QUESTIONS = DATA / "sample_questions.jsonl"
CMRC = DATA / "cmrc2018_trial"
NOTEBOOKS = ROOT / "notebooks"
CMRC_SUBSET = 60  # questions the notebook test evaluates on CMRC (the whole corpus is indexed)


def cli(*args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "qa_assistant.cli", "-q", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- metric functions

def test_answers_match_with_whitespace_ignored():
    assert ev.contains_answer("评估组由江苏省总工会 二级巡视员董明伟带队", ["董 明伟"])
    assert ev.contains_answer("a\nb c", ["abc"])
    assert not ev.contains_answer("董明伟", ["蒋文云"])
    assert not ev.contains_answer("anything", [])
    assert ev.relevance(["甲乙", "丙", "乙丙"], ["乙"]) == [True, False, True]


def test_hit_rank_and_reciprocal_rank():
    ranking = [False, True, False, True]
    assert ev.first_rank(ranking) == 2 and ev.first_rank([False, False]) is None
    assert [ev.hit_at_k(ranking, k) for k in (1, 2, 3, 10)] == [0.0, 1.0, 1.0, 1.0]
    assert ev.reciprocal_rank(ranking) == 0.5
    assert ev.reciprocal_rank([False] * 10 + [True]) == 0.0  # beyond @10
    assert ev.reciprocal_rank([True], k=10) == 1.0


def test_ndcg_with_binary_relevance():
    ranking = [False, True, False, True]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert ev.dcg_at_k(ranking) == pytest.approx(dcg)
    # ideal: as many relevant passages first as exist (default: those in the ranking)
    assert ev.ndcg_at_k(ranking) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert ev.ndcg_at_k(ranking, n_relevant=3) == pytest.approx(dcg / (1 + 1 / math.log2(3) + 0.5))
    assert ev.ndcg_at_k([True, True]) == pytest.approx(1.0)
    assert ev.ndcg_at_k([False, False]) == 0.0 and ev.ndcg_at_k([], n_relevant=0) == 0.0
    assert ev.ndcg_at_k([False, True], k=1) == 0.0
    assert ev.ndcg_at_k([True] * 12, k=10, n_relevant=20) == pytest.approx(1.0)


def test_mean_and_subset():
    assert ev.mean([]) is None and ev.mean([True, False, 1, 0]) == 0.5
    items = list(range(10))
    assert ev.subset(items, None) == items and ev.subset(items, 20) == items
    assert ev.subset(items, 3) == [0, 3, 6] and ev.subset(items, 0) == []


@dataclass(frozen=True)
class P:  # a stand-in passage: the fields the evaluation reads
    id: str
    article_id: str
    title: str
    text: str

    @property
    def citation(self) -> str:
        return f"《{self.title}》{self.id}"


CORPUS = [P("a1", "A", "甲报道", "董明伟带队评估。"), P("a2", "A", "甲报道", "评估组来自江苏省。"),
          P("b1", "B", "乙报道", "顺义区召开联席会议。"), P("b2", "B", "乙报道", "会议由张艳林主持，董明伟出席。")]
TESTSET = [
    ev.EvalQuestion("谁带队？", ("董明伟",), doc_id="A", id="q1"),
    ev.EvalQuestion("谁主持？", ("张艳林",), article="乙报道", id="q2"),
    ev.EvalQuestion("来自哪里？", ("江苏省",), id="q3"),
    ev.EvalQuestion("花了多少钱？", (), unanswerable=True, id="q4"),
]
RANKINGS = {"谁带队？": ["b2", "a1", "b1"], "谁主持？": ["b1", "a1", "a2"], "来自哪里？": ["a2", "a1"],
            "花了多少钱？": ["b1", "a1"]}
ANSWERS = {"谁带队？": (True, "董明伟带队评估。"), "谁主持？": (False, ""), "来自哪里？": (True, "董明伟带队评估。"),
           "花了多少钱？": (True, "顺义区召开联席会议。")}


def fake_retrieve(questions, k):
    by_id = {p.id: p for p in CORPUS}
    return [[by_id[i] for i in RANKINGS[q][:k]] for q in questions]


def fake_ask(question):
    found, sentence = ANSWERS[question]
    return SimpleNamespace(found=found, sentence=sentence)


def test_evaluate_on_a_hand_made_ranking():
    report = ev.evaluate(TESTSET, fake_retrieve, fake_ask, ks=(1, 2, 3), mode="bm25", corpus=CORPUS)
    q1, q2, q3, q4 = report.results
    # q1: b2 also holds 董明伟, so the passage hit is at rank 1 while the article (A) is first at rank 2
    assert (q1.rank, q1.article_rank, q1.relevant) == (1, 2, 2)
    assert q1.ndcg == pytest.approx(1.0)  # both relevant passages (b2, a1) ranked first
    assert (q2.rank, q2.article_rank, q2.reciprocal_rank) == (None, 1, 0.0)
    assert (q3.rank, q3.article_rank, q3.names_article) == (1, None, False)
    assert q4.unanswerable and q4.rank is None and q4.found is True and q4.sentence_hit is None
    assert q1.sentence_hit is True and q2.sentence_hit is False and q3.sentence_hit is False
    m = report.metrics
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (4, 3, 1)
    assert m["hit@1"] == pytest.approx(2 / 3) and m["hit@3"] == pytest.approx(2 / 3)
    assert m["mrr@10"] == pytest.approx(2 / 3)
    assert m["article_hit@1"] == pytest.approx(1 / 2) and m["article_hit@2"] == 1.0  # q1, q2 name an article
    assert m["sentence_hit@1"] == pytest.approx(1 / 3)
    assert m["unanswerable_refused"] == 0.0 and m["answerable_refused"] == pytest.approx(1 / 3)
    assert m["unreachable"] == 0
    assert [r.id for r in report.misses()] == ["q2"]  # q2 not retrieved at all
    assert report.misses()[0].top.id == "b1"
    answered, refused = report.wrong_refusals()
    assert [r.id for r in answered] == ["q4"] and [r.id for r in refused] == ["q2"]
    missed = report.to_dict(misses=5)["misses"][0]
    assert missed["expected"] == ["张艳林"] and missed["retrieved"]["text"] == "顺义区召开联席会议。"


def test_retrieval_only_leaves_answer_figures_out():
    report = ev.evaluate(TESTSET[:3], fake_retrieve, None, ks=(1,))
    m = report.metrics
    assert m["sentence_hit@1"] is None and m["unanswerable_refused"] is None and m["unreachable"] is None
    assert m["ndcg@10"] == pytest.approx(ev.mean(r.ndcg for r in report.results))


def test_misses_are_worst_first():
    results = [ev.question_result(ev.EvalQuestion(f"q{i}", ("x",), id=str(i)), [P("p", "A", "t", t) for t in texts])
               for i, texts in enumerate([["x"], ["y", "x"], ["y"], ["y", "y", "x"]])]
    report = ev.ModeReport("hybrid", (1,), tuple(results))
    assert [r.id for r in report.misses()] == ["2", "3", "1"]
    assert [r.id for r in report.misses(1)] == ["2"]
    assert "rank" in ev.misses_markdown(report) and "not in top 10" in ev.format_misses(report)


def test_saved_records_summarise_to_the_same_figures(tmp_path):
    reports = {mode: ev.evaluate(TESTSET, fake_retrieve, fake_ask, ks=(1, 2, 3), mode=mode, corpus=CORPUS)
               for mode in ("hybrid", "bm25")}
    saved = ev.load_records(ev.save_records(tmp_path / "r.jsonl", reports))
    assert list(saved) == ["q1", "q2", "q3", "q4"] and saved["q1"]["hybrid"] == [1, 2, 1.0, 1, 1]
    for mode, report in reports.items():
        again = ev.summarise_records(saved.values(), mode, (1, 2, 3))
        expected = {k: v for k, v in report.metrics.items() if k != "unreachable"}
        assert again.keys() == expected.keys()
        for key, value in expected.items():
            assert again[key] == pytest.approx(value, abs=1e-3), key


def test_tables():
    metrics = {"hybrid": {"hit@1": 0.5, "mrr@10": 0.75, "article_hit@1": None, "sentence_hit@1": 1.0},
               "dense": {"hit@1": 0.25, "mrr@10": 0.5, "article_hit@1": None, "sentence_hit@1": None}}
    text = ev.format_table(metrics, ks=(1,))
    assert text.splitlines()[0].split() == ["metric", "hybrid", "dense"]
    assert "0.500" in text and "article hit@1" not in text and "–" in text
    md = ev.markdown_table(metrics)
    assert md.startswith("| mode | hit@1 |") and "| dense | 0.250 |" in md


# ---------------------------------------------------------------- the test-set format

def test_load_testset_reads_every_field(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "x1", "question": " 谁？ ", "answers": ["甲", " 甲 ", "乙"], "doc_id": 7}\n\n'
                    '{"question": "哪篇？", "answers": ["丙"], "article": "标题"}\n'
                    '{"question": "几元？", "answers": [], "unanswerable": true}\n', encoding="utf-8")
    first, second, third = ev.load_testset(path)
    assert first == ev.EvalQuestion("谁？", ("甲", "乙"), doc_id="7", id="x1", line=1)
    assert second.id == "3" and second.article == "标题" and second.names_article and not second.unanswerable
    assert third.unanswerable and third.answers == () and not third.names_article


@pytest.mark.parametrize("line,message", [
    ('{"question": "谁", "answers": ["甲"]', "invalid JSON"),
    ('["谁", "甲"]', "expected a JSON object"),
    ('{"answers": ["甲"]}', "'question' is missing or empty"),
    ('{"question": "  ", "answers": ["甲"]}', "'question' is missing or empty"),
    ('{"question": "谁", "answers": "甲"}', "'answers' must be a list of strings"),
    ('{"question": "谁", "answers": ["甲", 3]}', "'answers' must be a list of strings"),
    ('{"question": "谁", "answers": []}', "'answers' is empty"),
    ('{"question": "谁"}', "'answers' is empty"),
    ('{"question": "谁", "answers": ["甲"], "unanswerable": true}', "cannot have answers"),
    ('{"question": "谁", "answers": [], "unanswerable": "yes"}', "'unanswerable' must be true or false"),
    ('{"question": "谁", "answers": ["甲"], "doc_id": ["A"]}', "'doc_id' must be a non-empty string"),
    ('{"id": "q1", "question": "谁", "answers": ["乙"]}', "duplicate id 'q1' (first on line 1)"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "q1", "question": "谁", "answers": ["甲"]}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ev.TestSetError) as error:
        ev.load_testset(path)
    assert isinstance(error.value, ValueError)
    assert str(error.value).startswith(f"{path}:3: ") and message in str(error.value)
    assert (error.value.path, error.value.line) == (str(path), 3)


def test_missing_or_empty_testset(tmp_path):
    with pytest.raises(ev.TestSetError, match="no such test set"):
        ev.load_testset(tmp_path / "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(ev.TestSetError, match="no questions"):
        ev.load_testset(tmp_path / "empty.jsonl")


def test_eval_cli_reports_a_malformed_line_and_exits_2(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "谁带队？", "answers": ["董明伟"]}\n{"question": "", "answers": ["x"]}\n',
                    encoding="utf-8")
    result = cli("eval", path, "--index", tmp_path / "no-index", timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert f"{path}:2:" in result.stderr and "question" in result.stderr and result.stdout == ""


def test_shipped_test_sets_are_valid():
    sample = ev.load_testset(SAMPLE_QUESTIONS)
    assert len(sample) == 76 and sum(q.unanswerable for q in sample) == 17
    assert all(q.article for q in sample if not q.unanswerable)
    questions = ev.load_testset(CMRC / "questions.jsonl")
    assert len(questions) == 1000 and not any(q.unanswerable for q in questions)
    corpus = {r["id"]: r for r in map(json.loads, (CMRC / "corpus.jsonl").read_text(encoding="utf-8").splitlines())}
    assert len(corpus) == 256
    for q in questions:  # every answer occurs in the context its doc_id names
        assert q.id.startswith(q.doc_id + "_") and ev.contains_answer(corpus[q.doc_id]["text"], q.answers), q.id
    readme = (CMRC / "README.md").read_text(encoding="utf-8")
    assert "CC-BY-SA-4.0" in readme and "converted" in readme and "ymcui/cmrc2018" in readme
    for line in (CMRC / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == ["id", "question", "answers", "doc_id"]


def test_shipped_corpus_is_the_shared_copy_unchanged():
    original = SHARED / "data" / "cmrc2018_trial" / "corpus.jsonl"
    if not original.is_file():
        pytest.skip(f"{original} is not on this machine")
    assert original.read_bytes() == (CMRC / "corpus.jsonl").read_bytes()


# ---------------------------------------------------------------- end to end (real model)

@pytest.fixture(scope="module")
def eval_index(request, tmp_path_factory) -> Path:
    """A real index of the sample page: the session's (conftest) when there is one, else built here."""
    try:
        return request.getfixturevalue("sample_index")
    except pytest.FixtureLookupError:
        from qa_assistant import Assistant
        folder = tmp_path_factory.mktemp("eval") / "sample"
        Assistant.build([SAMPLE_PAGE], index_dir=folder)
        return folder


@pytest.mark.e2e
def test_eval_cli_json_on_the_sample_page(eval_index):
    result = cli("eval", SAMPLE_QUESTIONS, "--index", eval_index, "--mode", "all", "--json", "-k", "5", "1",
                 "--misses", "3")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"testset", "index", "passages", "questions", "answerable", "unanswerable", "ks", "modes"} <= set(out)
    assert (out["questions"], out["answerable"], out["unanswerable"], out["ks"]) == (76, 59, 17, [1, 5])
    assert list(out["modes"]) == ["hybrid", "dense", "bm25"]
    for mode, report in out["modes"].items():
        m = report["metrics"]
        keys = {"hit@1", "hit@5", "mrr@10", "ndcg@10", "article_hit@1", "article_hit@5", "sentence_hit@1",
                "unanswerable_refused", "answerable_refused"}
        assert keys <= set(m), mode
        assert all(0.0 <= m[k] <= 1.0 for k in keys), m
        assert m["hit@1"] <= m["hit@5"] and m["article_hit@1"] <= m["article_hit@5"]
        assert m["hit@1"] <= m["mrr@10"] <= 1.0 and m["ndcg@10"] > 0.5
        assert m["hit@5"] >= 0.85, (mode, m)  # every answer is in one of 26 passages
        assert m["sentence_hit@1"] <= 1.0 - m["answerable_refused"]
        assert len(report["misses"]) <= 3
        for miss in report["misses"]:
            assert {"question", "expected", "rank", "retrieved"} <= set(miss) and miss["rank"] != 1
    hybrid = out["modes"]["hybrid"]["metrics"]
    assert hybrid["hit@1"] >= 0.75 and hybrid["hit@5"] >= 0.95 and hybrid["article_hit@1"] >= 0.9
    assert hybrid["sentence_hit@1"] >= 0.3 and hybrid["answerable_refused"] <= 0.2


@pytest.mark.e2e
def test_eval_cli_table(eval_index):
    result = cli("eval", SAMPLE_QUESTIONS, "--index", eval_index, "--mode", "bm25", "-k", "1", "3", "--misses", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "76 questions (59 answerable, 17 unanswerable)" in lines[0]
    assert lines[2].split() == ["metric", "bm25"]
    rows = {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in lines[4:] if line.strip()
            and not line.startswith(" ") and ":" not in line}
    assert {"hit@1", "hit@3", "MRR@10", "answer sentence hit@1", "unanswerable refused ↑"} <= set(rows), rows
    assert 0.5 <= float(rows["hit@3"]) <= 1.0
    assert "misses (bm25)" in result.stdout and "expected:" in result.stdout



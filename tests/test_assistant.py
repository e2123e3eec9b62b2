"""The facade end to end with the real model: quoted answers, scripts, not-found, the question set bars."""
import json
from pathlib import Path

import pytest

from qa_assistant import AnswerSettings, Assistant, ModelMismatchError, QuestionError, Settings
from qa_assistant.render import answer_json, markdown

pytestmark = pytest.mark.e2e
DATA = Path(__file__).resolve().parent.parent / "qa_assistant" / "data"
COMPANIES = ("北京先瑞达医疗科技有限公司", "北京华联印刷有限公司", "13名困难职工")


def _load(name):
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _hit(passage_text, answers):
    text = "".join(passage_text.split())
    return any("".join(a.split()) in text for a in answers)


def test_first_quote_holds_the_companies_and_the_workers(assistant):
    answer = assistant.ask("经开区总工会慰问了哪些企业？")
    assert answer.found
    assert all(name in answer.quotes[0].passage.text for name in COMPANIES)
    assert "《经开区总工会开展困难职工慰问活动》" in markdown(answer)


def test_traditional_characters_find_the_same_passage(assistant):
    simplified = assistant.retrieve("经开区总工会慰问了哪些企业？", k=1)[0].passage
    traditional = assistant.retrieve("經開區總工會慰問了哪些企業？", k=1)[0].passage
    assert traditional.id == simplified.id


def test_english_question_finds_the_passage(assistant):
    hits = assistant.retrieve("Which companies did the trade union of the Economic-Technological Development Area visit?", k=3)
    assert any("北京先瑞达医疗科技有限公司" in h.passage.text for h in hits)


def test_weather_question_is_not_found(assistant):
    answer = assistant.ask("今天北京天气怎么样？")
    assert not answer.found and "未找到" in markdown(answer)


def test_highlight_is_a_sentence_of_the_quoted_passage(assistant):
    answer = assistant.ask("经开区总工会给困难职工送了哪些生活必需品？")
    quote = answer.quotes[0]
    assert "杂粮粥" in quote.highlight_texts[0]
    assert quote.highlight_texts[0] in quote.passage.text


def test_question_set_bars(assistant):
    questions = [q for q in _load("sample_questions.jsonl") if not q.get("unanswerable")]
    assert len(questions) >= 40
    top = assistant.batch_retrieve([q["question"] for q in questions], k=5)
    hit1 = sum(_hit(hits[0].passage.text, q["answers"]) for q, hits in zip(questions, top)) / len(questions)
    hit5 = sum(any(_hit(h.passage.text, q["answers"]) for h in hits) for q, hits in zip(questions, top)) / len(questions)
    assert hit1 >= 0.85 and hit5 >= 0.97, (hit1, hit5)


def test_found_decision_on_answerable_and_unanswerable_questions(assistant):
    questions = _load("sample_questions.jsonl")
    refused = [not assistant.ask(q["question"]).found for q in questions if q.get("unanswerable")]
    kept = [assistant.ask(q["question"]).found for q in questions if not q.get("unanswerable")]
    assert len(refused) >= 10
    # the fitted answer/refuse model (cross-validated on this page by article: 0.87 refused, 0.93 kept)
    assert sum(refused) / len(refused) >= 0.85, sum(refused)
    assert sum(kept) / len(kept) >= 0.9, sum(kept)


def test_empty_and_huge_questions_are_refused_clearly(assistant):
    for bad in ("", "   "):
        with pytest.raises(QuestionError, match="empty"):
            assistant.ask(bad)
    with pytest.raises(QuestionError, match="10000 characters"):
        assistant.ask("问" * 10_000)


def test_index_refuses_queries_with_another_model(sample_index, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(sample_index, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["model"]["fingerprint"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatchError, match="multilingual-e5-small"):
        Assistant.load(copy)


def test_reindexing_unchanged_text_changes_nothing(sample_page, tmp_path):
    first = Assistant.build([sample_page], index_dir=tmp_path / "idx")
    store = {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir() if p.is_file()}
    report = first.index([sample_page], force=True)
    assert report.passages_added == 0 and report.passages_removed == 0 and report.passages_embedded == 0
    again = {p.name: p.read_bytes() for p in (tmp_path / "idx").iterdir() if p.is_file()}
    assert {k: v for k, v in again.items() if k != "manifest.json"} == {k: v for k, v in store.items() if k != "manifest.json"}


def test_an_index_keeps_the_precision_it_was_built_with(tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("经开区总工会慰问了北京华联印刷有限公司的13名困难职工。\n", encoding="utf-8")
    second = tmp_path / "second.txt"
    second.write_text("建工装饰集团工会举办读书活动，打造书香企业。\n", encoding="utf-8")
    Assistant.build([first], index_dir=tmp_path / "idx", precision="fp32")
    reopened = Assistant.load(tmp_path / "idx")
    assert reopened.embedder.info.precision == "fp32"
    reopened.index([second])  # an update at the index's own precision is accepted
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text())["model"]["precision"] == "fp32"
    assert Assistant.load(tmp_path / "idx", precision="int8").ask("经开区总工会慰问了多少名困难职工？").found
    assert Assistant.open().embedder.info.precision == "int8"  # new indexes: the fast path


def test_a_new_index_records_its_settings_and_is_loaded_with_them(sample_page, tmp_path):
    settings = Settings(answer=AnswerSettings(max_quotes=1, look_ahead=4))
    Assistant.build([sample_page], tmp_path / "idx", settings=settings)
    recorded = json.loads((tmp_path / "idx" / "manifest.json").read_text())["settings"]
    assert recorded["answer"] == {"max_quotes": 1, "look_ahead": 4}
    assert recorded["fusion"]["name"] and "threads" not in recorded  # the machine's own settings are not kept
    loaded = Assistant.open(tmp_path / "idx")
    assert loaded.settings.answer.max_quotes == 1 and loaded.settings.answer.look_ahead == 4
    assert len(loaded.ask("建工装饰集团想把公司建成一个怎样风气的企业？").quotes) == 1
    assert Assistant.open(tmp_path / "idx", answer=AnswerSettings(max_quotes=3)).settings.answer.max_quotes == 3


def test_a_later_paragraph_with_a_clearly_better_sentence_is_quoted_too(assistant):
    answer = assistant.ask("建工装饰集团想把公司建成一个怎样风气的企业？")
    assert answer.found
    quoted = [q for q in answer.quotes if "以学习为乐" in q.passage.text]
    assert quoted and "以学习为乐" in quoted[0].highlight_texts[0]
    assert answer.quotes[0].number == 1 and len(answer.quotes) <= 3


def test_a_question_is_encoded_once_per_answer(assistant, monkeypatch):
    encoded = []
    original = assistant.embedder.encode_queries
    monkeypatch.setattr(assistant.embedder, "encode_queries", lambda questions: (encoded.append(list(questions)), original(questions))[1])
    assert assistant.ask("经开区总工会慰问了哪些企业？").found
    assert encoded == [["经开区总工会慰问了哪些企业?"]]


def test_the_same_text_in_two_files_is_one_result_citing_both(sample_page, tmp_path):
    for name in ("today", "reprint"):
        (tmp_path / name).mkdir()
        (tmp_path / name / sample_page.name).write_bytes(sample_page.read_bytes())
    assistant = Assistant.build([tmp_path / "today", tmp_path / "reprint"])
    assert len(assistant.passages) == 52
    answer = assistant.ask("经开区总工会慰问了哪些企业？", k=5)
    texts = [hit.passage.text for hit in answer.hits]
    assert len(texts) == 5 and len(set(texts)) == 5  # five different paragraphs, none twice
    first = answer_json(answer)["passages"][0]
    assert {Path(s["source"]).parent.name for s in first["sources"]} == {"today", "reprint"}
    assert "另见" in answer.quotes[0].citation and "另见" in markdown(answer)


def test_a_question_about_a_town_the_archive_does_not_hold_is_not_answered_with_a_similar_story(tmp_path):
    """One beat, several towns: the reports look alike, only the names tell them apart."""
    from .conftest import write_jsonl
    reports = [
        ("乌汉伦维尔超市发生持刀袭击 5人受伤", "2023-03-20",
         ["据澳大利亚媒体报道，3月20日上午，乌汉伦维尔一家超市发生持刀袭击事件，造成5人受伤。",
          "警方说，嫌疑人伊桑·詹汉当场被制服，今年29岁，此前没有犯罪记录。",
          "伤者被送往乌汉伦维尔中心医院救治，其中两人伤势较重。"]),
        ("孔夫朗火车站发生持刀袭击 3人受伤", "2023-05-02",
         ["据法国媒体报道，5月2日晚，孔夫朗火车站发生持刀袭击事件，造成3人受伤。",
          "嫌疑人马蒂亚斯·贝洛被警方逮捕，今年34岁，来自里昂。",
          "孔夫朗市长表示，火车站将加强巡逻。"]),
    ]
    rows = [{"id": f"R{i}", "title": title, "date": date, "text": "\n".join(paragraphs)}
            for i, (title, date, paragraphs) in enumerate(reports)]
    assistant = Assistant.build([write_jsonl(tmp_path / "reports.jsonl", rows)])
    held = assistant.ask("乌汉伦维尔持刀袭击事件造成多少人受伤？")
    assert held.found and "5人受伤" in held.quotes[0].passage.text
    follow = assistant.ask("伊桑·詹汉多大年纪？")
    assert follow.found and "29岁" in follow.quotes[0].passage.text
    elsewhere = assistant.ask("阿雷亚萨堡持刀袭击事件造成多少人受伤？")
    assert not elsewhere.found and "未找到" in markdown(elsewhere)


def test_the_follow_up_about_gifts_highlights_the_sentence_that_lists_them(assistant):
    """「给他们送了什么慰问品？」 after the 经开区 question: the gifts, not a worker's thank-you quote."""
    first = "经开区总工会慰问了哪些企业？"
    answer = assistant.ask("给他们送了什么慰问品？", history=[first])
    assert answer.found and "杂粮粥" in answer.sentence


@pytest.mark.parametrize("question", ["。", "?", "😀🎉🔥💯", "？？！！。。，，……"])
def test_a_question_with_nothing_to_search_is_refused_unsearched(assistant, question):
    answer = assistant.ask(question)
    assert not answer.found and not answer.hits and "没有可以查找的文字" in markdown(answer)

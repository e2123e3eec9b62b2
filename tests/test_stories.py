"""News questions over a dated archive of a recurring story (three yearly Spring Festival reports with their
own figures): time words read against a pinned reference date, several stories quoted with their dates,
and a plain reply when the archive holds nothing in the period asked. Real model."""
from pathlib import Path

import pytest

from qa_assistant import Assistant
from qa_assistant.render import answer_json, markdown

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "qa_assistant" / "data" / "recurring"
AS_OF = "2024-01-25"


@pytest.fixture(scope="module")
def recurring(tmp_path_factory):
    return Assistant.build([DATA / "corpus.jsonl"], tmp_path_factory.mktemp("recurring") / "idx")


@pytest.mark.parametrize("question,year,figure", [
    ("今年春节前丰泽区总工会慰问了多少名困难职工？", "2024", "135名"),
    ("去年春节前丰泽区总工会慰问了多少名困难职工？", "2023", "112名"),
    ("前年春节前丰泽区总工会慰问了多少名困难职工？", "2022", "86名"),
    ("2023年春节前丰泽区总工会慰问了多少名困难职工？", "2023", "112名"),
    ("2022年春节前丰泽区总工会慰问了多少名困难职工？", "2022", "86名"),
])
def test_time_words_answer_from_the_year_asked(recurring, question, year, figure):
    answer = recurring.ask(question, as_of=AS_OF)
    assert answer.found and answer.period is not None
    assert all(q.passage.date.startswith(year) for q in answer.quotes)
    assert figure in answer.quotes[0].passage.text
    assert answer_json(answer)["period"]["since"].startswith(str(int(year) - 1)) or year in answer_json(answer)["period"]["since"]


def test_a_question_without_a_time_word_quotes_each_year_with_its_date_newest_first(recurring):
    answer = recurring.ask("春节前丰泽区总工会慰问了多少名困难职工？", as_of=AS_OF)
    assert answer.found and answer.several
    dates = [q.passage.date for q in answer.quotes]
    assert len(set(dates)) >= 2 and dates == sorted(dates, reverse=True)
    reply = markdown(answer)
    assert "不同" in reply and all(d in reply for d in dates)
    assert answer_json(answer)["several"] is True


def test_nothing_in_the_period_asked_says_so_and_shows_the_nearest_in_time(recurring):
    answer = recurring.ask("2021年春节前丰泽区总工会慰问了多少名困难职工？", as_of=AS_OF)
    assert not answer.found and answer.reason == "not_in_period"
    assert answer.quotes and answer.quotes[0].passage.date.startswith("2022")  # the nearest year held
    reply = markdown(answer)
    assert "2021年春节前" in reply and "最接近" in reply


@pytest.mark.parametrize("question,figure,year", [
    ("2023年春节送温暖活动发放慰问金和慰问品合计多少钱？", "56万元", "2023"),
    ("2022年春节送温暖活动给职工送去了什么？", "米面油和羽绒服", "2022"),
])
def test_a_named_year_keeps_every_quote_to_that_year(recurring, question, figure, year):
    answer = recurring.ask(question, as_of=AS_OF)
    assert answer.found and figure in answer.quotes[0].passage.text
    assert all(q.passage.date.startswith(year) for q in answer.quotes)

"""The question, analysed once (no model): bounds checked before anything reads the text, follow-ups
completed from the conversation, tokens and answer type."""
import pytest

from qa_assistant.question import DateRange, QuestionError, analyse
from qa_assistant.settings import Settings
from qa_assistant.text import search_tokens


def test_follow_up_questions_lean_on_the_previous_one_and_new_topics_do_not():
    history = ["经开区总工会慰问了哪些企业？"]
    assert analyse("给他们送了什么慰问品？", history).query == "经开区总工会慰问了哪些企业？ 给他们送了什么慰问品？"
    assert analyse("建工装饰集团举办了什么读书活动？", history).query == "建工装饰集团举办了什么读书活动？"
    assert analyse("给他们送了什么？", []).query == "给他们送了什么？"


def test_the_search_tokens_of_a_follow_up_are_those_of_what_is_searched():
    asked = analyse("给他们送了什么慰问品？", ["经开区总工会慰问了哪些企业？"])
    assert list(asked.tokens) == search_tokens(asked.query)
    assert analyse("经开区总工会慰问了哪些企业？").kind == "org" and analyse("刺角瓜为什么叫角瓜？").kind is None


def test_traditional_and_full_width_questions_are_read_in_simplified_script():
    asked = analyse("經開區總工會慰問了哪些企業？")
    assert asked.normalised == "经开区总工会慰问了哪些企业?"
    assert "经开区" in asked.tokens


@pytest.mark.parametrize("text, history, message", [
    ("", None, "empty"),
    ("   ", None, "empty"),
    ("问" * 2001, None, "2001 characters long; at most 2000"),
    ("给他们送了什么？", ["经开区" * 350_000], "earlier question 1 is 1050000 characters long"),
    ("给他们送了什么？", ["问题"] * 101, "101 earlier questions; at most 100"),
    ("给他们送了什么？", ["问题", 3], "earlier question 2 is not text"),
])
def test_oversized_or_malformed_input_is_refused_before_it_is_analysed(text, history, message):
    with pytest.raises(QuestionError, match=message):
        analyse(text, history)


def test_the_limits_come_from_the_settings():
    with pytest.raises(QuestionError, match="at most 10"):
        analyse("问" * 11, settings=Settings(max_question_chars=10))


def test_date_ranges_take_whole_years_and_months_and_refuse_what_is_not_a_date():
    january = DateRange("2024-01", "2024-01")
    assert january.contains("2024-01-31") and not january.contains("2024-02-01") and not january.contains("")
    assert DateRange(until="2024").contains("2024-12-31") and not DateRange(since="2025").contains("2024-12-31")
    assert DateRange.of(None, " ") is None
    for impossible in ("12/01/2024", "2024-13-45", "2024-02-30", "2023-02-29", "2024-00"):
        with pytest.raises(QuestionError, match="not a real date"):
            DateRange(since=impossible)
    assert DateRange(since="2024-02-29").contains("2024-03-01")
    with pytest.raises(QuestionError, match="empty"):
        DateRange("2024-03", "2024-02")

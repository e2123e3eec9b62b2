"""Time words read against a reference date: explicit dates, 今年/去年/前年, months, days, weeks, 近日, and
lunar festivals once a year is named."""
import datetime as dt

import pytest

from qa_assistant.question import QuestionError
from qa_assistant.when import parse_as_of, read_time

AS_OF = dt.date(2024, 1, 20)


@pytest.mark.parametrize("question,since,until", [
    ("今年春节前慰问了多少名困难职工？", "2024-01-01", "2024-02-10"),  # 春节 2024-02-10 (lunar_python)
    ("去年春节前慰问了多少名困难职工？", "2022-12-13", "2023-01-22"),
    ("前年春节前慰问了多少名困难职工？", "2021-12-23", "2022-02-01"),
    ("2023年春节前慰问了多少名困难职工？", "2022-12-13", "2023-01-22"),
    ("二〇二三年召开了几次会议？", "2023-01-01", "2023-12-31"),
    ("2024年1月12日发生了什么？", "2024-01-12", "2024-01-12"),
    ("2023年12月有哪些活动？", "2023-12-01", "2023-12-31"),
    ("1月12日发生了什么？", "2024-01-12", "2024-01-12"),
    ("3月5日发生了什么？", "2023-03-05", "2023-03-05"),  # a day not yet come this year: last year's
    ("上个月召开了什么会？", "2023-12-01", "2023-12-31"),
    ("本月有什么活动？", "2024-01-01", "2024-01-31"),
    ("昨天发生了什么？", "2024-01-19", "2024-01-19"),
    ("上周举办了什么活动？", "2024-01-08", "2024-01-14"),
    ("最近有什么活动？", "2023-12-21", "2024-01-20"),
])
def test_time_words_name_a_period(question, since, until):
    period = read_time(question, AS_OF)
    assert period is not None and (period.since, period.until) == (since, until)
    assert period.words in question.replace("二〇二三", "2023")


@pytest.mark.parametrize("question", ["春节前慰问了多少名困难职工？", "三个月后完工", "经开区总工会慰问了哪些企业？",
                                      "2024年13月发生了什么？"])
def test_no_period_without_time_words_or_with_impossible_dates(question):
    assert read_time(question, AS_OF) is None


def test_the_reference_date_is_checked():
    assert parse_as_of("2024-02-29") == dt.date(2024, 2, 29)
    assert parse_as_of(None) == dt.date.today()
    with pytest.raises(QuestionError, match="not a real date"):
        parse_as_of("2023-02-29")

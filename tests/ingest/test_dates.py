"""Dates: masthead lines, metadata strings and file names → ISO dates; text pages dated by their masthead
or file name, with the masthead kept out of the articles; citations carry the date."""
from dataclasses import replace

import pytest
from .format_fixtures import SAMPLE_PAGE

from qa_assistant.ingest import load_articles, read_text
from qa_assistant.ingest.dates import date_from_name, date_in_text, is_date_line, normalise_date
from qa_assistant.ingest.furniture import is_furniture
from qa_assistant.passages import char_window, make_passages


@pytest.mark.parametrize("text,iso", [
    ("2024年1月12日 星期五", "2024-01-12"), ("劳动午报 2024年1月12日 星期五 农历癸卯年腊月初二", "2024-01-12"),
    ("2024-01-12T08:30:00+08:00", "2024-01-12"), ("20240112", "2024-01-12"), ("2024/1/5", "2024-01-05"),
    ("2024年2月30日", ""), ("no date", "")])
def test_normalise_date(text, iso):
    assert normalise_date(text) == iso


@pytest.mark.parametrize("name,iso", [
    ("page_2024-01-12.txt", "2024-01-12"), ("laodong_20240112_03.pdf", "2024-01-12"),
    ("2024-01-12/article.html", "2024-01-12"), ("page_000.txt", ""), ("12345678901.txt", "")])
def test_date_from_name(name, iso):
    assert date_from_name(name) == iso


def test_date_lines_and_furniture_but_not_news():
    assert is_date_line("2024年1月12日 星期五") and not is_date_line("2024年1月12日，本市召开会议。")
    assert date_in_text("本报讯 2024年1月12日，") == "2024-01-12"
    for line in ("责任编辑：王文 美术编辑：李丽", "第3版 要闻", "A3版 要闻", "（下转第2版）", "劳动午报 2024年1月12日 星期五 第3版"):
        assert is_furniture(line), line
    for line in ("12名职工获表彰", "G20峰会召开", "编辑部迎新春", "设计师张三", "2023年以来，"):
        assert not is_furniture(line), line


def test_text_page_with_masthead_is_dated_and_masthead_kept_out(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("劳动午报\n2024年1月12日 星期五\n第3版 要闻\n\n" + read_text(SAMPLE_PAGE) + "\n责任编辑：王文\n",
                    encoding="utf-8")
    plain = load_articles(SAMPLE_PAGE)
    dated = load_articles(path)
    assert {a.date for a in dated} == {"2024-01-12"}
    assert [a.title for a in dated] == [a.title for a in plain]
    assert [a.text for a in dated] == [a.text for a in plain]


def test_text_page_dated_by_file_name(tmp_path):
    path = tmp_path / "laodong_20240112.txt"
    path.write_text(read_text(SAMPLE_PAGE), encoding="utf-8")
    assert {a.date for a in load_articles(path)} == {"2024-01-12"}
    assert {a.date for a in load_articles(SAMPLE_PAGE)} == {""}  # no date anywhere: none made up


def test_citation_carries_the_date():
    article = load_articles(SAMPLE_PAGE)[4]
    undated = make_passages([article], char_window(400))
    dated = make_passages([replace(article, date="2024-01-12")], char_window(400))
    assert undated[1].citation == "《经开区总工会开展困难职工慰问活动》第2段"
    assert dated[1].citation == "《经开区总工会开展困难职工慰问活动》2024-01-12 第2段"
    assert dated[1].date == "2024-01-12"

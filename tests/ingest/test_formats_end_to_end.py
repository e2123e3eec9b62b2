"""The real archive end to end (real model): the sample page as .txt, as a two-page e-paper PDF, as the
website's HTML pages (one GBK) and as a DOCX, all in one index — each story is one answer listing every
file it is in, citations carry the date, and a date range filters before ranking."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa_assistant import Assistant
from qa_assistant.render import answer_json

from .format_fixtures import DATE, JINGKAIQU, SAMPLE_PAGE, write_docx, write_site

QUESTION = "经开区总工会慰问了哪些企业？"


@pytest.fixture(scope="module")
def archive(tmp_path_factory, epaper_pdf, page) -> Assistant:
    folder = tmp_path_factory.mktemp("archive")
    shutil.copy(SAMPLE_PAGE, folder / "page_000.txt")
    shutil.copy(epaper_pdf, folder / "laodong_3.pdf")
    write_site(page, folder / "site")
    write_docx(page, folder / "page.docx")
    return Assistant.build([folder], folder.parent / "index")


@pytest.mark.e2e
def test_every_format_is_read_and_each_story_is_one_answer(archive):
    sources = {Path(s).suffix for s in archive.info()["sources"]}
    assert sources == {".txt", ".pdf", ".html", ".docx"}
    answer = archive.ask(QUESTION, k=5)
    texts = [hit.passage.text for hit in answer.hits]
    assert len(set(texts)) == len(texts) == 5  # no paragraph twice in the top 5
    first = answer_json(answer)["passages"][0]
    assert all(name in first["text"] for name in JINGKAIQU)
    assert {Path(s["source"]).suffix for s in first["sources"]} == {".txt", ".pdf", ".html", ".docx"}
    dated = [s for s in first["sources"] if DATE in s["citation"]]
    assert dated and f"》{DATE} 第" in dated[0]["citation"]


@pytest.mark.e2e
def test_a_date_range_keeps_only_articles_of_those_days(archive):
    assert archive.ask(QUESTION, since=DATE, until=DATE).found
    assert not archive.ask(QUESTION, since="2024-02-01").hits
    before = archive.retrieve(QUESTION, k=5, until="2024-01-11")
    assert all(hit.passage.date and hit.passage.date <= "2024-01-11" for hit in before)


@pytest.mark.e2e
def test_info_articles_shows_what_each_reader_made_of_its_file(archive):
    articles = archive.articles()
    by_kind: dict[str, list[dict]] = {}
    for article in articles:
        by_kind.setdefault(Path(article["source"]).suffix, []).append(article)
    assert {kind: len(found) for kind, found in by_kind.items()} == {".txt": 6, ".pdf": 6, ".html": 6, ".docx": 6}
    assert all(article["date"] == DATE for kind in (".pdf", ".html") for article in by_kind[kind])
    assert json.dumps(articles, ensure_ascii=False)  # what `qa-assistant info --articles` prints

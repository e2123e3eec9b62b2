"""E-paper PDF reader on the sample page printed by headless Chromium: six articles in reading order, the
masthead date, no page furniture, paragraphs whole across columns and pages; scanned PDFs refused."""
from pathlib import Path

import pytest
from .format_fixtures import DATE, FURNITURE, assert_same_articles, SLOGAN_PIECE, assert_jingkaiqu_whole, scanned_pdf

from qa_assistant.ingest import IngestError, iter_input_files, load_articles
from qa_assistant.ingest.pdf import extract_lines

@pytest.fixture(scope="module")
def articles(epaper_pdf):
    return load_articles(epaper_pdf)


def test_the_page_s_articles_with_masthead_date_and_paragraphs_whole_across_columns_and_pages(articles, page):
    """Headlines, subtitle, the masthead's date, and every paragraph (joined across columns and pages)
    equal to the repaired .txt page's."""
    assert_same_articles(articles, page, bylines=())


def test_the_fixture_breaks_paragraphs_across_columns_and_pages(epaper_pdf, articles):
    lines = [line for pdf_page in extract_lines(epaper_pdf) for line in pdf_page.lines if len(line.text) > 8]
    places = []
    for paragraph in (p for a in articles for p in a.paragraphs):
        inside = [line for line in lines if line.text in paragraph.text]
        places.append({(line.page, round(line.x0 / 100)) for line in inside})
    assert any(len({page for page, _ in spots}) == 2 for spots in places), "no paragraph runs onto page 2"
    assert any(len({column for page, column in spots if page == 1}) >= 2 for spots in places)


def test_no_page_furniture_or_banner_in_any_paragraph(articles):
    for article in articles:
        for text in [article.title, article.subtitle] + [p.text for p in article.paragraphs]:
            assert not any(piece in text for piece in FURNITURE + (SLOGAN_PIECE,)), text


def test_jingkaiqu_paragraph_is_one_whole_paragraph(articles):
    assert_jingkaiqu_whole(articles)


def test_bylines_and_caption(articles, page):
    assert [(a.reporters, a.correspondents) for a in articles] == \
        [(a.reporters, a.correspondents) for a in page.articles]
    assert articles[0].photographers == ("彭程",) and articles[0].paragraphs[-1].kind == "caption"


def test_other_layouts_give_the_same_articles(other_layout_pdf, page):
    """Bands of three columns with block paragraphs; a grid with a photo inside a paragraph and stories
    side by side under one-column headlines: the same stories, paragraphs and date."""
    articles = load_articles(other_layout_pdf)
    want = {a.title: a for a in page.articles}
    assert sorted(a.title for a in articles) == sorted(want)
    for article in articles:
        expected = want[article.title]
        assert article.subtitle == expected.subtitle and article.date == DATE
        assert [p.text for p in article.paragraphs if p.kind != "caption"] == \
            [p.text for p in expected.paragraphs if p.kind != "caption"]
        assert sorted(p.text for p in article.paragraphs if p.kind == "caption") == \
            sorted(p.text for p in expected.paragraphs if p.kind == "caption")
        for text in [p.text for p in article.paragraphs]:
            assert not any(piece in text for piece in FURNITURE + (SLOGAN_PIECE,)), text


def test_scanned_pdf_is_refused_by_name(tmp_path):
    path = scanned_pdf(tmp_path / "scan_20240112.pdf")
    with pytest.raises(IngestError, match="no text layer") as error:
        load_articles(path)
    assert str(path) in str(error.value) and "OCR" in str(error.value)


def test_broken_pdf_is_refused_by_name(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    with pytest.raises(IngestError) as error:
        load_articles(path)
    assert str(path) in str(error.value)


def test_a_password_protected_pdf_is_refused_by_name_and_a_print_restricted_one_is_read(epaper_pdf, tmp_path, page):
    """E-papers often come with an owner password that only restricts printing: those read as usual."""
    from pypdf import PdfWriter
    locked, restricted = tmp_path / "locked.pdf", tmp_path / "restricted.pdf"
    writer = PdfWriter(clone_from=epaper_pdf)
    writer.encrypt("secret", algorithm="AES-256")
    writer.write(locked)
    writer = PdfWriter(clone_from=epaper_pdf)
    writer.encrypt("", owner_password="owner", algorithm="AES-128", permissions_flag=0)
    writer.write(restricted)
    with pytest.raises(IngestError, match="password") as error:
        load_articles(locked)
    assert str(locked) in str(error.value)
    assert [a.title for a in load_articles(restricted)] == [a.title for a in page.articles]


def test_folders_are_walked_for_pdf_files(epaper_pdf):
    assert Path(epaper_pdf) in list(iter_input_files([Path(epaper_pdf).parent]))

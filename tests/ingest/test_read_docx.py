"""DOCX reader: Heading styles are headlines, Title the banner, soft line breaks inside a sentence joined;
the masthead date line dates the articles; files without heading styles are read like a page."""
import pytest
from .format_fixtures import DATE, DATE_LINE, FURNITURE, assert_same_articles, SLOGAN_PIECE, assert_jingkaiqu_whole, write_docx

from qa_assistant.ingest import IngestError, load_articles


@pytest.fixture(scope="module")
def docx_file(tmp_path_factory, page):
    return write_docx(page, tmp_path_factory.mktemp("docx") / "page.docx")


@pytest.fixture(scope="module")
def articles(docx_file):
    return load_articles(docx_file)


def test_the_page_s_articles_with_paragraphs_bylines_and_captions(articles, page):
    assert_same_articles(articles, page, ("reporters", "correspondents", "photographers"))


def test_no_masthead_or_banner_in_any_paragraph(articles):
    for article in articles:
        for text in [article.title] + [p.text for p in article.paragraphs]:
            assert not any(piece in text for piece in FURNITURE + (SLOGAN_PIECE,)), text


def test_jingkaiqu_paragraph_is_one_whole_paragraph(articles):
    assert_jingkaiqu_whole(articles)


def test_without_heading_styles_headlines_are_guessed(tmp_path, page):
    import docx
    document = docx.Document()
    document.add_paragraph(DATE_LINE)
    for article in page.articles[:2]:
        document.add_paragraph(article.title)
        for paragraph in article.paragraphs:
            document.add_paragraph(paragraph.text)
    path = tmp_path / "plain_20240101.docx"
    document.save(path)
    articles = load_articles(path)
    assert [a.title for a in articles] == [a.title for a in page.articles[:2]]
    assert {a.date for a in articles} == {DATE}  # the masthead line wins over the file name


def test_a_broken_docx_is_refused_by_name(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(IngestError, match="not a readable Word") as error:
        load_articles(path)
    assert str(path) in str(error.value)

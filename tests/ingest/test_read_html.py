"""HTML reader on the six articles saved as website pages (one an older GBK page in table layout):
title, subtitle, date, byline and canonical URL; no navigation, breadcrumb, related news, footer or
script text in any paragraph; charsets from the page or detected."""
import pytest
from .format_fixtures import DATE, FURNITURE, assert_same_articles, article_page_html, assert_jingkaiqu_whole, write_site

from qa_assistant.ingest import IngestError, iter_input_files, load_articles
from qa_assistant.ingest.html import decode_html, parse_html

BOILERPLATE = ("首页", "当前位置", "您现在的位置", "相关新闻", "热点推荐", "版权所有", "京ICP备", "分享到", "责任编辑",
               "打印本页", "关闭窗口", "点击数", "欢迎访问", "document.", "font-family", "市总工会召开全委会议",
               "职工书屋建设经验交流会", "新就业形态劳动者入会集中行动启动", "联系电话")


@pytest.fixture(scope="module")
def site(tmp_path_factory, page):
    folder = tmp_path_factory.mktemp("site")
    write_site(page, folder)
    return folder


@pytest.fixture(scope="module")
def articles(site):
    return [a for path in iter_input_files([site]) for a in load_articles(path)]


def test_a_folder_of_pages_gives_the_page_s_articles_with_dates_paragraphs_and_bylines(articles, page):
    assert_same_articles(articles, page)
    assert articles[0].photographers == ("彭程",)  # the caption came from <figcaption>


def test_the_gbk_page_reads_correctly(site, articles, page):
    raw = (site / "article_3.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert articles[2].title == page.articles[2].title == "和平街工会沟通会为职工“问需送暖”"
    assert articles[2].text == page.articles[2].text


def test_no_boilerplate_in_any_paragraph(articles):
    for article in articles:
        for text in [article.title, article.subtitle] + [p.text for p in article.paragraphs]:
            assert not any(piece in text for piece in BOILERPLATE + FURNITURE), text


def test_canonical_url_and_author(articles):
    assert articles[0].url == "https://www.example.com/news/20240112/1.html"
    assert articles[2].url == ""  # the old page declares none


def test_jingkaiqu_paragraph_is_one_whole_paragraph(articles):
    assert_jingkaiqu_whole(articles)


def test_wrong_or_missing_charset_falls_back_to_detection(page):
    markup = article_page_html(page.articles[4], DATE)
    mislabelled = markup.encode("gbk", errors="xmlcharrefreplace")  # says utf-8, is GBK
    assert page.articles[4].paragraphs[1].text in decode_html(mislabelled, "mislabelled.html")
    unlabelled = markup.replace("; charset=utf-8", "").encode("gb18030")
    assert page.articles[4].paragraphs[1].text in decode_html(unlabelled, "unlabelled.html")


def test_author_from_metadata_when_the_text_has_no_byline(page):
    article = page.articles[3]
    markup = article_page_html(article, DATE).replace("本报讯（记者 边磊 通讯员 顾彩玉）", "")
    [parsed] = parse_html(markup, "page.html")
    assert parsed.reporters == ("边磊",) and parsed.date == DATE


def test_a_page_without_an_article_gives_none():
    markup = ("<html><head><title>首页</title></head><body><nav><a href='/'>首页</a> <a href='/n'>要闻</a></nav>"
              "<div class='footer'>版权所有 京ICP备05012345号</div></body></html>")
    assert parse_html(markup, "index.html") == []


def test_the_visible_dateline_dates_the_article_and_is_no_paragraph():
    """A template's generic date (2024-01-01 in the metadata) loses to the dateline the reader sees, and
    the dateline is not a paragraph of the story."""
    body = "经开区总工会近日走访慰问了辖区内的困难职工，为他们送去米面油等生活物资和新春祝福。" * 3
    markup = ("<html><head><title>经开区总工会走访慰问困难职工</title>"
              "<meta name='date' content='2024-01-01'></head><body>"
              "<h1>经开区总工会走访慰问困难职工</h1><div class='info'>2024年1月15日 来源：劳动午报</div>"
              f"<div class='content'><p>{body}</p><p>{body}</p></div></body></html>")
    [parsed] = parse_html(markup, "page.html")
    assert parsed.date == "2024-01-15"
    assert all("2024年1月15日" not in p.text for p in parsed.paragraphs)


def test_a_missing_library_is_one_line_naming_the_package(monkeypatch):
    """Installed with an old pip that skips ``lxml[html_clean]``: one line naming the package, no traceback."""
    import sys
    monkeypatch.setitem(sys.modules, "lxml.html.clean", None)  # import fails as when the package is absent
    with pytest.raises(IngestError, match=r"page.html: cannot read HTML files: .*pip install lxml_html_clean"):
        parse_html("<html><body><p>正文</p></body></html>", "page.html")


def test_a_saved_page_s_files_folder_is_not_walked(tmp_path, caplog):
    """「X_files」 beside 「X.html」 holds the saved page's images and frames (now readable kinds, by OCR):
    left out, and said so in the log; a folder that only ends in _files is walked as any other."""
    import logging
    for name in ("报道.html", "报道_files/logo.png", "报道_files/frame.htm", "旧版.htm", "旧版_files/photo.jpg",
                 "2024_files/notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    with caplog.at_level(logging.INFO, logger="qa_assistant.ingest.files"):
        found = [p.relative_to(tmp_path).as_posix() for p in iter_input_files([tmp_path])]
    assert found == ["2024_files/notes.txt", "报道.html", "旧版.htm"]
    assert "报道_files: a saved web page's images and scripts, skipped" in caplog.text

"""Ingest: the sample page's articles, repaired paragraphs, bylines, captions; encodings; JSONL errors."""
import json

import pytest

from qa_assistant.ingest import IngestError, load_articles, parse_markdown, parse_page, read_text
from qa_assistant.text import is_complete_paragraph

HEADLINES = [
    "全国基层劳动关系公共服务样板站点评估组来本市调研评估",
    "顺义区政府与区总工会联席会议召开",
    "和平街工会沟通会为职工“问需送暖”",
    "北京建工装饰集团工会打造“书香企业”",
    "经开区总工会开展困难职工慰问活动",
    "拱辰街道文化路社区工会组织职工学做团扇",
]


@pytest.fixture(scope="module")
def page(sample_page):
    return parse_page(read_text(sample_page), str(sample_page))


def test_sample_page_has_six_articles_with_their_headlines(page):
    assert [a.title for a in page.articles] == HEADLINES
    assert page.articles[1].subtitle == "找准工会工作服务党政工作大局切入点和着力点"


def test_banner_slogan_is_not_an_article(page):
    assert page.banner == ("深入学习贯彻党的二十大精神 奋力开拓首都工会工作新局面",)
    assert all("二十大精神" not in a.title and "二十大精神" not in a.text for a in page.articles)


def test_reporters_correspondents_and_photographer(page):
    bylines = [(a.reporters, a.correspondents) for a in page.articles]
    assert bylines == [(("张晶",), ()), (("王路曼",), ()), (("刘欣欣",), ()), (("边磊",), ("顾彩玉",)),
                       (("孙艳",), ("黄巧维",)), (("余翠平",), ("王玉",))]
    assert page.articles[0].photographers == ("彭程",)


@pytest.mark.parametrize("left,right", [
    ("国家", "协调劳动关系三方决定"),
    ("（“小哥”", "能量补给站）"),
    ("各具特", "色的形式"),
    ("等6家区域内企业，为", "13名困难职工送上冬日慰问。"),
    ("落地落", "实。"),
    ("慰问品，", "感谢工会"),
])
def test_paragraphs_broken_by_extraction_are_rejoined(page, left, right):
    assert any(left + right in p.text for a in page.articles for p in a.paragraphs)


def test_no_paragraph_ends_inside_a_sentence(page):
    for article in page.articles:
        for paragraph in article.paragraphs:
            assert is_complete_paragraph(paragraph.text) or paragraph.kind == "caption", paragraph.text


def test_caption_is_content_of_its_article(page):
    captions = [p for a in page.articles for p in a.paragraphs if p.kind == "caption"]
    assert [c.text for c in captions] == ["图为评估组对海淀区牛顿商务楼宇劳动关系公共服务站进行核查评估。本报记者 彭程 摄"]


def test_every_line_of_the_page_is_kept_once(page, sample_page):
    """Nothing lost, nothing doubled: banner + headings + paragraphs rebuild the page (whitespace aside)."""
    pieces = list(page.banner)
    for article in page.articles:
        pieces += [article.title] + ([article.subtitle] if article.subtitle else []) + [p.text for p in article.paragraphs]
    squash = lambda s: "".join(s.split())  # noqa: E731
    assert squash("".join(pieces)) == squash(read_text(sample_page))


def test_gbk_and_bom_pages_read_like_utf8(tmp_path, sample_page):
    text = read_text(sample_page)
    (tmp_path / "gbk.txt").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    expected = [a.title for a in load_articles(sample_page)]
    assert [a.title for a in load_articles(tmp_path / "gbk.txt")] == expected
    assert [a.title for a in load_articles(tmp_path / "bom.txt")] == expected


def test_binary_and_missing_files_are_refused_by_name(tmp_path):
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(IngestError, match="photo.txt.*binary"):
        load_articles(binary)
    with pytest.raises(IngestError, match="nope.txt"):
        load_articles(tmp_path / "nope.txt")


def test_jsonl_articles(tmp_path):
    path = tmp_path / "news.jsonl"
    rows = [{"id": "a1", "title": "标题一", "text": "第一段。\n\n第二段被截\n\n断了。", "date": "2024-01-02"},
            {"id": 7, "title": "标题二", "text": "只有一段。", "url": "http://x"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    articles = load_articles(path)
    assert [a.id for a in articles] == ["news:a1", "news:7"]  # scoped by the file
    assert [p.text for p in articles[0].paragraphs] == ["第一段。", "第二段被截断了。"]
    assert articles[0].date == "2024-01-02" and articles[1].url == "http://x"


@pytest.mark.parametrize("line,message", [
    ('{"id": "x", "title": "t"', "invalid JSON"),
    ('{"id": "x", "title": "t"}', "field 'text'"),
    ('{"id": "x", "title": 5, "text": "正文。"}', "field 'title'"),
    ('["not", "an", "object"]', "JSON object"),
])
def test_malformed_jsonl_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "title": "好", "text": "正文。"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match=rf"bad.jsonl:2:.*{message}"):
        load_articles(path)


def test_markdown_headings_are_titles():
    page = parse_markdown("# 第一篇标题\n\n正文第一段。\n\n# 第二篇\n\n正文被\n\n截断的段落。\n", "x.md")
    assert [a.title for a in page.articles] == ["第一篇标题", "第二篇"]
    assert page.articles[1].paragraphs[0].text == "正文被截断的段落。"


def test_article_ids_are_stable_across_reads(sample_page):
    assert [a.id for a in load_articles(sample_page)] == [a.id for a in load_articles(sample_page)]

"""Property tests of the page parser: on any text it never fails, and banner + headlines + subtitles +
paragraphs hold every character of the page once, in order (whitespace aside) — the invariant of
test_every_line_of_the_page_is_kept_once on arbitrary pages. The passages of the parsed articles
cover the articles the same way."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa_assistant.ingest import Page, parse_markdown, parse_page
from qa_assistant.passages import char_window, make_passages

SOURCE = "∅.txt"  # an article without a headline is titled by the file stem: a character no page holds
STEM = "∅"

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
PUNCTUATION = st.sampled_from(list("。，、；：！？“”‘’（）《》「」【】…—·.,;:!?()\"'-"))
CHAR = st.one_of(HAN, HAN, HAN, PUNCTUATION, st.sampled_from(list("0123456789ABCxyz  \t")),
                 st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"))
NAME = st.text(HAN, min_size=2, max_size=3)
TEXT = st.text(CHAR, max_size=60)
SENTENCE = st.builds(lambda body, end: body + end, st.text(st.one_of(HAN, PUNCTUATION), min_size=1, max_size=40),
                     st.sampled_from(["。", "！", "？", "”", "）", "", "，"]))

LINE = st.one_of(
    TEXT,
    SENTENCE,
    st.text(HAN, min_size=2, max_size=20),  # a headline-like short line
    st.builds("本报讯（记者 {}）{}".format, NAME, SENTENCE),
    st.builds("本报讯（记者 {} 通讯员 {}）{}".format, NAME, NAME, SENTENCE),
    st.builds("本报讯（记者{}{}".format, NAME, TEXT),  # a byline cut off mid-bracket
    st.builds("新华社北京1月2日电（记者 {}）{}".format, NAME, SENTENCE),
    st.builds("本报记者 {} {}".format, NAME, SENTENCE),
    st.builds("图为{}。本报记者 {} 摄".format, st.text(HAN, max_size=30), NAME),
    st.builds("图为{}".format, TEXT),
    st.builds("{} 摄".format, NAME),
    st.builds("# {}".format, TEXT),
    st.just(""), st.just("   "), st.just("\u3000\u3000"),
)
PAGE = st.lists(LINE, max_size=30).map("\n".join)

SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def squash(text: str) -> str:
    return "".join(text.split())


def _subtitle_ends(subtitle: str, text: str, start: int) -> set[int]:
    """Where a subtitle can end in ``text`` when it starts at ``start``: the subtitle is the headlines
    under the title joined by "，", so each "，" of it is either in the page or a separator."""
    ends = {start}
    for char in subtitle:
        following = set()
        for position in ends:
            if position < len(text) and text[position] == char:
                following.add(position + 1)
            if char == "，":
                following.add(position)
        ends = following
    return ends


def kept_once(page: Page, text: str) -> bool:
    """Banner, then per article headline, subtitle and paragraphs, spell the page (whitespace aside)."""
    text = squash(text)
    pieces: list[tuple[str, bool]] = [(squash(b), False) for b in page.banner]
    for article in page.articles:
        if article.title != STEM:
            pieces.append((squash(article.title), False))
        if article.subtitle:
            pieces.append((squash(article.subtitle), True))
        pieces += [(squash(p.text), False) for p in article.paragraphs]
    positions = {0}
    for piece, is_subtitle in pieces:
        following: set[int] = set()
        for position in positions:
            if is_subtitle:
                following |= _subtitle_ends(piece, text, position)
            elif text.startswith(piece, position):
                following.add(position + len(piece))
        positions = following
    return len(text) in positions


@SETTINGS
@given(PAGE)
@example("")
@example("\n\n  \n")
@example("深入学习贯彻党的二十大精神\n标题\n副题一\n副题二\n本报讯（记者 张三）正文。")
@example("标题\n图为活动现场。本报记者 李四 摄\n正文没有结束\n\n而是被截断了。")
@example("本报讯（记者王五\n未闭合的括号")
def test_every_character_of_any_page_is_kept_once(text):
    page = parse_page(text, SOURCE)
    assert kept_once(page, text), page
    for article in page.articles:
        assert article.title and article.paragraphs
        assert all(p.text.strip() for p in article.paragraphs)


@SETTINGS
@given(PAGE)
def test_markdown_keeps_every_character_but_the_heading_marks(text):
    page = parse_markdown(text, SOURCE)
    lines = [line.strip() for line in text.split("\n")]
    without_marks = "\n".join(line.lstrip("#") if line.startswith("#") else line for line in lines)
    assert kept_once(page, without_marks), page


@SETTINGS
@given(PAGE, st.integers(min_value=8, max_value=80))
def test_passages_cover_their_articles_exactly(text, window):
    page = parse_page(text, SOURCE)
    passages = make_passages(page.articles, char_window(window))
    for article in page.articles:
        own = [p for p in passages if p.article_id == article.id]
        assert squash("".join(p.text for p in own)) == squash(article.text)
        assert all(article.text[p.start:p.end] == p.text for p in own)
        assert all(a.end <= b.start for a, b in zip(own, own[1:]))  # in order, never overlapping
        for p in own:
            assert len(f"{article.heading}\n{p.text}") <= window or len(p.text) == 1, (window, p)
    assert len({p.id for p in passages}) == len(passages) or _duplicate_articles(page)


def _duplicate_articles(page: Page) -> bool:
    ids = [a.id for a in page.articles]
    return len(set(ids)) < len(ids)

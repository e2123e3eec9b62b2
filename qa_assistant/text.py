"""Chinese text helpers shared by every stage: script normalisation, sentence splitting,
the punctuation tests that tell a finished paragraph from a broken one, and search tokens."""
from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

SENTENCE_END = "。！？!?…"
CLOSERS = "”’」』）)】》\"'"
_OPEN_CLOSE = {"（": "）", "(": ")", "“": "”", "「": "」", "『": "』", "【": "】", "《": "》", "‘": "’"}
_SENTENCE_RE = re.compile(r"[^。！？!?…\n]*(?:[。！？!?…]+[”’」』）)】》\"']*|\n|$)")
_CLAUSE_RE = re.compile(r"[^。！？!?…；;\n]*(?:[。！？!?…；;]+[”’」』）)】》\"']*|\n|$)")
WORD_CHAR = re.compile(r"[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff]")

QUESTION_WORDS = frozenset(
    "哪些 哪个 哪家 哪里 哪儿 哪位 哪 什么 怎么 怎样 怎么样 如何 为何 为什么 多少 几 谁 是否 吗 呢 么 请问 "
    "有没有 是不是 能否 可以 一下 告诉 知道 what which who whom whose when where why how".split())
STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 为 对 把 被 由 从 向 到 给 将 就 都 也 还 又 并 而 等 之 其 该 这 那 这些 那些 "
    "这个 那个 此 一 个 们 他 她 它 他们 她们 它们 我 我们 你 你们 有 没有 上 下 中 里 时 后 前 "
    "呀 啊 吧 嘛 哦 着 过 地 得 所 以 于 则 即 但 让 使 要 会 能 the a an of to in on for is are was were do does did "
    "and or by with at from as be been "
    "具体 主要 一共 总共 最后 目前 这次 这回 这场 那场 那篇 这篇 那次 里面 其中 都 请 还 "
    "哪几 哪几个 几个 哪一 哪一个 哪种 哪类 哪一类 叫 叫做 名字 什么样 怎样 一个".split()) | QUESTION_WORDS


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified characters (OpenCC), so 經開區 matches 经开区."""
    return _t2s().convert(text)


def normalise(text: str) -> str:
    """Search form of a text: NFKC (full-width → half-width), simplified script, lower case."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


def is_sentence_final(text: str) -> bool:
    """True when ``text`` ends like a finished sentence (closing quotes and brackets aside)."""
    stripped = text.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_END


def unbalanced(text: str) -> bool:
    """True when an opening bracket or quote in ``text`` is never closed (a cut paragraph)."""
    depth = {opener: 0 for opener in _OPEN_CLOSE}
    closer_of = {close: opener for opener, close in _OPEN_CLOSE.items()}
    for char in text:
        if char in depth:
            depth[char] += 1
        elif char in closer_of and depth[closer_of[char]] > 0:
            depth[closer_of[char]] -= 1
    return any(depth.values())


def is_complete_paragraph(text: str) -> bool:
    """A paragraph ends at sentence-final punctuation with its brackets closed (or a colon)."""
    stripped = text.rstrip()
    if stripped.endswith(("：", ":")):
        return not unbalanced(stripped)
    return is_sentence_final(stripped) and not unbalanced(stripped)


def join_fragments(left: str, right: str) -> str:
    """Join two pieces of one paragraph; a space only between two Latin words."""
    if left and right and left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum():
        return left + " " + right
    return left + right


class Span(NamedTuple):
    start: int
    end: int


def sentence_spans(text: str, at_semicolons: bool = False) -> list[Span]:
    """Character spans of the sentences in ``text`` (each keeps its end punctuation and closers); with
    ``at_semicolons`` the clauses of a sentence that end in ；are spans of their own."""
    spans = []
    for match in (_CLAUSE_RE if at_semicolons else _SENTENCE_RE).finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append(Span(start, end))
    return spans


def sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in sentence_spans(text)]


@functools.lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


SEARCH_TOKENIZER = "jieba-search+opencc-t2s"  # what an index records of search_tokens; rename it when the tokens change


def search_tokens(text: str, drop_stopwords: bool = True) -> list[str]:
    """BM25 tokens: jieba's search-mode words (long words plus their sub-words) of the normalised
    text, without punctuation and, by default, without stop and question words."""
    tokens: list[str] = []
    for word in _jieba().cut_for_search(normalise(text)):
        word = word.strip()
        if not word or not WORD_CHAR.search(word):
            continue
        if drop_stopwords and word in STOPWORDS:
            continue
        tokens.append(word)
    return tokens


NAME_MIN_CHARS = 3
GLUE_FREQUENCY = 50_000  # single characters this frequent in jieba's dictionary (在 和 年 中 以 把 有 …) end a name


def unfamiliar_names(text: str) -> tuple[str, ...]:
    """The names (阿雷亚萨, 林郁智) a text is about that jieba does not know: words its new-word guessing
    makes up, cut at the very frequent characters it glues to them (2016年林郁智以 → 林郁智, 书中作 → none),
    kept when NAME_MIN_CHARS or longer. ``text`` is normalised first; call it on bounded text (a question)."""
    jieba, names, run = _jieba(), [], ""
    for word in jieba.lcut(normalise(text)) + [""]:
        if len(word) >= 2 and _CJK_ONLY.fullmatch(word) and not jieba.get_FREQ(word):
            run += word
            continue
        glue = "".join(c for c in set(run) if (jieba.get_FREQ(c) or 0) >= GLUE_FREQUENCY)
        names += [piece for piece in (re.split(f"[{glue}]", run) if glue else [run]) if len(piece) >= NAME_MIN_CHARS]
        run = ""
    return tuple(dict.fromkeys(names))


_CJK_ONLY = re.compile(r"[\u4e00-\u9fff]+")


def word_tokens(text: str) -> list[str]:
    """Plain jieba words of the normalised text (no sub-words, nothing dropped)."""
    return [w for w in _jieba().lcut(normalise(text)) if w.strip()]


def content_terms(text: str) -> list[str]:
    """Distinct content words of a question (stop- and question words removed), in order."""
    seen: dict[str, None] = {}
    for token in search_tokens(text):
        seen.setdefault(token, None)
    return list(seen)


def has_cjk(text: str) -> bool:
    return re.search(r"[\u3400-\u9fff\uf900-\ufaff]", text) is not None

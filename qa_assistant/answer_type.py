"""Expected answer types: what kind of thing a question asks for (a person, an organisation, a
place, a number, a time) and where a text holds one. Classic QA answer-type matching, used to
rank passages, pick the answering sentence and refuse passages that cannot hold the answer."""
from __future__ import annotations

import re

PERSON, ORG, PLACE, NUMBER, TIME = "person", "org", "place", "number", "time"

_ORG_NOUNS = "企业|公司|单位|机构|部门|银行|学校|大学|医院|组织|集团|协会|团体|厂|酒店|媒体|报社|商家|平台"
_PLACE_NOUNS = "城区|区|市|省|县|镇|乡|村|街道|社区|小区|国家|城市|地方|地点|场所|位置|楼|路|街|园区"
_QUESTION_PATTERNS = [
    (TIME, re.compile(r"什么时候|何时|哪一?年|哪一?天|哪一?月|几月|几号|几日|哪个月|什么时间|多久|哪一?季|日期|时间是"
                      r"|(?<!哪)几点(?![要意建内看做体])")),
    (NUMBER, re.compile(r"多少|几[个家名位次项种条所座人岁万千百十件台辆只份期届批轮]|多大|多长|多高|多重|多远|多快|百分之几|第几|几成|几倍|几")),
    (PERSON, re.compile(r"谁|哪[一]?位|哪些人|什么人|叫什么名字|名字是|姓什么|姓名|哪个人|哪名|哪几位")),
    (ORG, re.compile(rf"哪[些个家所几]*(?:{_ORG_NOUNS})|什么(?:{_ORG_NOUNS})")),
    (PLACE, re.compile(rf"哪里|哪儿|在哪|什么地方|哪[个一些]*(?:{_PLACE_NOUNS})|什么(?:{_PLACE_NOUNS})")),
]

_NUMERAL = r"(?:[0-9０-９]+(?:[.,．][0-9]+)?|[一二三四五六七八九十百千万亿两零〇]+)"
_TEXT_PATTERNS = {
    NUMBER: re.compile(_NUMERAL + r"\s*(?:%|％|多|余)?\s*[个家名位次项种条所座人岁万千百件台辆只份期届批轮元米倍成分天年月日号平方公里吨部篇首场户]"),
    TIME: re.compile(r"[0-9０-９]{2,4}\s*年|[0-9０-９一二三四五六七八九十]{1,3}\s*月|[0-9０-９一二三四五六七八九十]{1,3}\s*[日号]|"
                     r"(?:今|去|明|前|上|下)年|(?:[一二三四]季度)|(?:世纪|年代)|(?:春节|元旦|国庆|除夕|中秋|上午|下午|晚上|凌晨)"),
    ORG: re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,24}?(?:有限公司|有限责任公司|股份公司|公司|集团|银行|大学|学院|医院|研究院|研究所|酒店|报社|电视台|出版社)"),
    PLACE: re.compile(r"[\u4e00-\u9fff]{1,6}(?:省|市|区|县|镇|乡|村|街道|社区|小区|大厦|楼宇|广场|公园)"),
    PERSON: re.compile(r"(?:记者|通讯员|主席|书记|主任|区长|市长|副区长|巡视员|经理|董事长|负责人|教授|先生|女士|同志)\s*[\u4e00-\u9fff]{2,3}|"
                       r"[\u4e00-\u9fff]{2,3}\s*(?:摄|说|表示|指出|介绍|强调|认为)"),
}


def question_type(question: str) -> str | None:
    """The answer type a question asks for, or None for open questions (what/how/why)."""
    for kind, pattern in _QUESTION_PATTERNS:
        if pattern.search(question):
            return kind
    return None


def type_matches(kind: str | None, text: str) -> int:
    """How many answers of ``kind`` the text holds (0 when ``kind`` is None)."""
    return len(type_values(kind, text))


def type_values(kind: str | None, text: str) -> list[str]:
    """The answers of ``kind`` the text holds, e.g. ['1889年'] for a time question."""
    if kind is None:
        return []
    return _TEXT_PATTERNS[kind].findall(text)


_CAUSE_QUESTION = re.compile(r"为什么|为何|原因|怎么来|由来|得名|何以|因何")
_CAUSE_TEXT = re.compile(r"因为|由于|因此|所以|故|得名|原因|因而|导致|以致|为了")


def asks_cause(question: str) -> bool:
    """Does the question ask why (为什么, 原因, 由来…)?"""
    return _CAUSE_QUESTION.search(question) is not None


def gives_cause(text: str) -> bool:
    """Does the text state a cause or purpose (因为, 由于, 因此, 得名…)?"""
    return _CAUSE_TEXT.search(text) is not None


_PEOPLE_UNITS = "位名人个"
_MONEY = re.compile(r"钱|金额|资金|经费|预算|收入|营收|利润|费用|价格|工资|奖金|补贴|慰问金|捐款|投资")
_ROLES = re.compile(r"主席|副主席|书记|主任|区长|市长|省长|局长|部长|厂长|校长|院长|经理|董事长|总经理|记者|通讯员|摄影|巡视员|代表|负责人")
_QUANTITY_RE = re.compile(r"(?<!哪)(?:多少|几)\s*(平方米|平方公里|公里|[个家名位次项种条所座人岁件台辆只份期届批轮本起分点元米倍天年月层间场户篇首部处])?")
_CLOCK_TIME = re.compile(r"(?<!哪)几点(?![要意建内看做体])")  # 「几点发生」 asks a time of day (news writes 9时40分)
_SPECIFIC_DAY = re.compile(r"具体(?:是)?(?:哪一?天|几号|什么时候|日期|时间)|(?:哪一?天|几号|几月几日)")
_NUMERAL_RE = r"(?:[0-9０-９]+(?:[.,．][0-9]+)?|[一二三四五六七八九十百千万亿两零〇]+)"


_WORKS = re.compile(r"(?:哪[几些本部份篇首个]*|什么|哪[本部份篇首][\u4e00-\u9fff]{1,4}?)"
                    r"(?:书|书籍|文件|作品|电影|影片|歌|歌曲|节目|规定|办法|条例|法规|报告|刊物|杂志|报纸|文章|诗|剧)")


# 「哪个城区」 wants a named one (朝阳区, not 辖区); 哪个市场 / 哪个区域 / 哪位市长 ask something else
_NAMED_UNIT = re.compile(r"哪[个一]?(城区|区|县|省|市)(?![场域别长委级民政])")
_QUOTED_CHARACTER = re.compile(r"哪[几一]?个字|什么字")  # 「在哪几个字上做文章」: “联”字


_SPECIFICS = re.compile(r"([\u4e00-\u9fff]{2})(?:具体|分别|都)(?:是|有|包括)(?:哪些|哪几|什么)")


def answer_requirement(question: str) -> re.Pattern | None:
    """What a passage must contain to answer at all: the items listed for 「…具体是哪些」, a title in
    《》 for 「哪几本书」/「哪份文件」, a quoted character for 「哪几个字」, a named district for
    「哪个城区」, a number
    with the unit asked for (多少平方米 needs 「…平方米」, money needs 元), a specific day for 「哪天」,
    the role asked about for 「主席是谁」.
    None when the question sets no such condition."""
    specifics = _SPECIFICS.search(question)
    if specifics:  # 「…站点具体是哪些」 wants the items listed next to what they are, not a count
        focus = re.escape(specifics.group(1))
        return re.compile(rf"、[^，。；！？]{{0,40}}{focus}|{focus}[^。！？]{{0,8}}[：:（(][^。！？]*、")
    if _WORKS.search(question):  # titles of books, documents, films … stand in 《》
        return re.compile(r"《[^》]+》")
    if _QUOTED_CHARACTER.search(question):
        return re.compile(r"[“\"「‘'][\u4e00-\u9fff]{1,2}[”\"」’']\s*字")
    unit = _NAMED_UNIT.search(question)
    if unit:
        suffix = "区" if unit.group(1) == "城区" else unit.group(1)
        return re.compile(rf"[\u4e00-\u9fff]{{2}}(?<![辖社小园地城景全本该各街])(?:城区|{suffix})")
    if _CLOCK_TIME.search(question):
        return re.compile(r"[0-9０-９一二三四五六七八九十]{1,3}\s*[时点]")
    if _MONEY.search(question) and re.search(r"多少|几", question):
        return re.compile(_NUMERAL_RE + r"\s*(?:多|余)?\s*(?:万|亿|千)?\s*(?:元|块|美元)")
    quantity = _QUANTITY_RE.search(question)
    if quantity:
        unit = quantity.group(1)
        if unit is None or unit == "个":
            units = "个家名位次项种条所座人岁件台辆只份期届批轮本起分点元米倍天年月层间场户篇首部处"
        elif unit in _PEOPLE_UNITS:
            units = _PEOPLE_UNITS
        else:
            return re.compile(_NUMERAL_RE + r"\s*(?:多|余)?\s*(?:万|千|百)?\s*" + re.escape(unit))
        return re.compile(_NUMERAL_RE + r"\s*(?:多|余)?\s*(?:万|千|百)?\s*[" + units + "]")
    if _SPECIFIC_DAY.search(question):
        return re.compile(r"[0-9０-９一二三四五六七八九十]{1,3}\s*[日号]|[0-9]{1,2}[./-][0-9]{1,2}")
    if question_type(question) == PERSON:
        role = _ROLES.search(question)
        if role:
            return re.compile(re.escape(role.group(0)))
    return None

"""Answer types and requirements: what a question asks for, and what a passage must hold to answer it."""
from qa_assistant.answer_type import (NUMBER, PLACE, TIME, answer_requirement, asks_cause, gives_cause, question_type,
                                      type_values)


def test_question_types():
    assert question_type("基督教神学院兴建于哪一年？") == TIME
    assert question_type("和平街街道属于北京的哪个城区？") == PLACE
    assert question_type("慰问了多少名困难职工？") == NUMBER
    assert question_type("欧洲越橘含有什么成分？") is None


def test_which_district_needs_a_named_district():
    required = answer_requirement("和平街街道属于北京的哪个城区？")
    assert required.search("近日，朝阳区和平街街道总工会新年首场职工沟通会在樱花园小区开展")
    assert required.search("房山区拱辰街道文化路社区工会")
    assert not required.search("和平街街道总工会为辖区职工宣讲，并在小区和社区开展活动")
    assert answer_requirement("这家公司占据了哪个市场？") is None


def test_which_characters_needs_a_quoted_character():
    required = answer_requirement("他提出要在哪几个字上做文章？")
    assert required.findall("在“联”字上做好文章，在“合”字上持续发力") == ["“联”字", "“合”字"]
    assert not required.search("要在联合上做好文章")


def test_which_document_needs_a_title_even_with_words_between():
    required = answer_requirement("这次慰问是依据哪份帮扶文件开展的？")
    assert required.search("为落实《困难职工帮扶工作实施办法》的要求")
    assert not required.search("根据困难类别实施分层分类帮扶")
    assert answer_requirement("什么时候开始读书？") is None


def test_type_values_and_cause_cues():
    assert type_values(TIME, "兴建于1889年，1980年成立") == ["1889年", "1980年"]
    assert type_values(None, "兴建于1889年") == []
    assert asks_cause("刺角瓜为什么又叫角瓜？") and not asks_cause("刺角瓜产于哪里？")
    assert gives_cause("果实有瘤刺，因此得名“角瓜”。") and not gives_cause("原产于非洲。")


def test_a_time_of_day_question_needs_a_clock_time_and_places_count_in_处():
    assert question_type("爆炸是几点发生的？") == TIME and question_type("哪几点要求？") != TIME
    clock = answer_requirement("爆炸是几点发生的？")
    assert clock.search("事发于当晚9时40分") and not clock.search("事发于当晚")
    assert answer_requirement("警方封锁了多少处路口？").search("警方封锁了3处路口")

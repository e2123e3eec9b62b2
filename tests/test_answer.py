"""Answer logic that needs no model: which passage can answer and which sentence holds the answer."""
from qa_assistant.answer import _SentenceClues, answers, name_occurs, question_coverage, sentence_score
from qa_assistant.passages import Passage
from qa_assistant.retrieve import Hit
from qa_assistant.question import analyse
from qa_assistant.text import sentences

ARTICLE = "欧洲越橘"
TEXT = ("欧洲越橘（学名：Vaccinium myrtillus），又称黑果越橘，是杜鹃花科越橘属的植物。"
        "主要分布于欧洲、北美和亚洲北部。"
        "果实含有大量的黄酮类化合物，其中以花青素类为主。"
        "欧洲越橘在英国称之bilberry。")


def _passage(text: str = TEXT, title: str = ARTICLE) -> Passage:
    return Passage(id="p1", article_id="a1", title=title, paragraph=1, part=0, text=text, source="test.jsonl",
                   start=0, end=len(text))


def _pick(question: str, text: str = TEXT, title: str = ARTICLE) -> str:
    """The sentence chosen when the model finds every sentence equally similar: the words decide."""
    asked = analyse(question)
    clues = _SentenceClues.of(asked, title)
    return max(sentences(text), key=lambda s: sentence_score(0.9, clues, s))


def test_the_sentence_restating_the_question_beyond_the_headline_subject_is_picked():
    # every sentence is about 欧洲越橘; the one with 含有 and 成分's neighbours answers
    assert _pick("欧洲越橘含有什么成分？").startswith("果实含有大量的黄酮类化合物")
    assert _pick("哪些地方欧洲越橘较多？分布在哪里？").startswith("主要分布于欧洲")


def test_a_time_question_prefers_the_sentence_with_a_new_date():
    text = "这座建筑现在是神学院。神学院兴建于1889年，当时是教堂。神学院位于大道2930号。"
    assert _pick("神学院兴建于哪一年？", text, "神学院") == "神学院兴建于1889年，当时是教堂。"


def test_a_why_question_prefers_the_sentence_that_states_a_cause():
    text = "刺角瓜原产于非洲。果实有瘤刺，因此得名“角瓜”。果实可以食用。"
    assert _pick("刺角瓜为什么叫角瓜？", text, "刺角瓜") == "果实有瘤刺，因此得名“角瓜”。"


def test_coverage_ignores_words_that_name_the_aspect_asked_about():
    asked = analyse("牡蒿的外貌特征是什么？")
    assert question_coverage(asked, "牡蒿是多年生草本，茎直立，叶片扇形。") == 1.0


def test_coverage_falls_back_to_characters_when_a_name_is_cut_badly():
    asked = analyse("史继偕著有哪些书册传世？")
    assert question_coverage(asked, "史继偕著有《皇明兵制考》等书册传世。") == 1.0
    assert question_coverage(asked, "天气晴朗。") == 0.0


def _hit(text: str, dense: float) -> Hit:
    return Hit(_passage(text, "测试"), score=1.0, dense=dense, bm25=1.0, row=0)


def test_a_passage_answers_only_when_close_sharing_the_question_and_holding_what_is_asked():
    asked = analyse("经开区总工会慰问了多少名困难职工？")
    holds = "经开区总工会为13名困难职工送去慰问品。"
    assert answers(asked, _hit(holds, dense=0.88))
    assert not answers(asked, _hit(holds, dense=0.70))  # too far from the question
    assert not answers(asked, _hit("经开区总工会为困难职工送去慰问品。", dense=0.88))  # no number of people
    assert not answers(asked, _hit("今天北京天气晴朗，有5名游客。", dense=0.88))  # shares too little


def test_a_similar_story_about_another_place_does_not_answer_a_question_naming_an_unknown_one():
    """The archive holds a knife attack in 乌汉伦维尔; a question about one in 阿雷亚萨堡 is not answered with it."""
    story = "3月20日，乌汉伦维尔一家超市发生持刀袭击事件，造成5人受伤，嫌疑人伊桑·詹汉已被警方控制。"
    assert answers(analyse("乌汉伦维尔持刀袭击事件造成多少人受伤？"), _hit(story, dense=0.9))
    assert not answers(analyse("阿雷亚萨堡持刀袭击事件造成多少人受伤？"), _hit(story, dense=0.9))
    assert not answers(analyse("阿雷亚萨堡持刀袭击事件造成多少人受伤？"), _hit(story, dense=0.95))  # however close


def test_a_name_the_article_holds_elsewhere_still_lets_its_paragraph_answer():
    """News names a person once, then says 他: the name may sit in another paragraph of the article."""
    asked = analyse("阿雷亚萨作案前给家人发过什么？")
    detail = "调查显示，他作案前7天向家人发送过告别短信。"
    assert asked.names and not answers(asked, _hit(detail, dense=0.9))
    assert answers(asked, _hit(detail, dense=0.9), article="警方确认，嫌疑人名叫阿雷亚萨，今年29岁。\n" + detail)


def test_a_name_glued_to_the_next_character_or_mistyped_at_one_end_still_matches():
    assert name_occurs("贝洛是", "伊利亚斯·贝洛来自里昂")  # jieba glued 是 to the name
    assert name_occurs("阿雷亚撒", "阿雷亚萨是一名退伍军人")  # the last character mistyped
    assert not name_occurs("孔夫朗", "孔多塞与朗布依埃")


def test_a_passage_holding_exactly_what_is_asked_needs_less_of_the_wording():
    asked = analyse("张艳林提出要在哪几个字上做文章、下功夫？")
    said = "张艳林指出，要在“联”字上做好文章，在“合”字上持续发力，在“工”字上发挥优势。"
    assert answers(asked, _hit(said, dense=0.85))
    assert not answers(asked, _hit("张艳林指出，要做好文章，持续发力，发挥优势。", dense=0.85))


def test_a_detail_paragraph_answers_a_question_that_names_the_event_its_article_s_lead_states():
    """News: the lead names the event (乌汉伦维尔持刀袭击), later paragraphs give details without it."""
    asked = analyse("乌汉伦维尔持刀袭击案中，哪名男子因涉嫌提供帮助被捕？")
    detail = "调查显示，詹汉作案前7天向家人发送过告别短信。警方随后逮捕了33岁的男子西蒙·达赫，他被怀疑提供了作案车辆。"
    lead = "据澳大利亚媒体报道，3月20日乌汉伦维尔发生持刀袭击事件，嫌疑人伊桑·詹汉已被捕。"
    assert not answers(asked, _hit(detail, dense=0.9))
    assert answers(asked, _hit(detail, dense=0.9), lead=lead)
    assert not answers(asked, _hit(detail, dense=0.9), lead="据媒体报道，3月20日某地发生火灾。")

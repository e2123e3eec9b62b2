"""The learned answer step without the embedding model: the shipped models pick the answering sentence,
refuse a look-alike story, find the short answer; the model format and CMRC 2018's measures."""
import json

import numpy as np
import pytest

from qa_assistant.answer import AnswerModels, compose_answer, quote_order
from qa_assistant.answer_features import (PASSAGE_FEATURES, SENTENCE_FEATURES, SentenceClues, candidates,
                                          character_f1, exact_match, name_occurs, passage_features,
                                          question_coverage, sentence_features)
from qa_assistant.learn import LinearModel
from qa_assistant.passages import Passage
from qa_assistant.question import analyse
from qa_assistant.retrieve import Hit
from qa_assistant.text import sentences

ARTICLE = "欧洲越橘"
TEXT = ("欧洲越橘（学名：Vaccinium myrtillus），又称黑果越橘，是杜鹃花科越橘属的植物。"
        "主要分布于欧洲、北美和亚洲北部。"
        "果实含有大量的黄酮类化合物，其中以花青素类为主。"
        "欧洲越橘在英国称之bilberry。")


@pytest.fixture(scope="module")
def models() -> AnswerModels:
    return AnswerModels.shipped()


def _pick(models, question: str, text: str = TEXT, title: str = ARTICLE) -> str:
    """The sentence chosen when every sentence is equally similar to the question: the words decide."""
    asked = analyse(question)
    pieces = sentences(text)
    rows = sentence_features(SentenceClues.of(asked, title), pieces, [0.85] * len(pieces))
    return pieces[int(np.argmax(models.sentence.proba(rows)))]


def test_the_sentence_restating_the_question_beyond_the_headline_subject_is_picked(models):
    assert _pick(models, "欧洲越橘含有什么成分？").startswith("果实含有大量的黄酮类化合物")
    assert _pick(models, "哪些地方欧洲越橘较多？分布在哪里？").startswith("主要分布于欧洲")


def test_a_time_question_prefers_the_sentence_with_a_new_date(models):
    text = "这座建筑现在是神学院。神学院兴建于1889年，当时是教堂。神学院位于大道2930号。"
    assert _pick(models, "神学院兴建于哪一年？", text, "神学院") == "神学院兴建于1889年，当时是教堂。"


def test_coverage_ignores_aspect_words_and_falls_back_to_characters():
    assert question_coverage(analyse("牡蒿的外貌特征是什么？"), "牡蒿是多年生草本，茎直立，叶片扇形。") == 1.0
    asked = analyse("史继偕著有哪些书册传世？")
    assert question_coverage(asked, "史继偕著有《皇明兵制考》等书册传世。") == 1.0
    assert question_coverage(asked, "天气晴朗。") == 0.0


def test_a_name_glued_to_the_next_character_or_mistyped_at_one_end_still_matches():
    assert name_occurs("贝洛是", "伊利亚斯·贝洛来自里昂")  # jieba glued 是 to the name
    assert name_occurs("阿雷亚撒", "阿雷亚萨是一名退伍军人")  # the last character mistyped
    assert not name_occurs("孔夫朗", "孔多塞与朗布依埃")


def _probability(models, question: str, text: str, dense: float = 0.9, heading: str = "新闻", lead: str = "",
                 article: str = "") -> float:
    asked = analyse(question)
    pieces = sentences(text)
    rows = sentence_features(SentenceClues.of(asked, heading), pieces, [dense] * len(pieces))
    row = passage_features(asked, dense, dense, 5.0, 5.0, 0, heading, lead, article, text, dense,
                           float(rows[:, SENTENCE_FEATURES.index("characters")].max()))
    assert row.shape == (len(PASSAGE_FEATURES),)
    return float(models.passage.proba(row)[0])


def test_a_similar_story_about_another_place_is_refused(models):
    """The archive holds a knife attack in 乌汉伦维尔; a question about one in 阿雷亚萨堡 is not answered with it."""
    story = "3月20日，乌汉伦维尔一家超市发生持刀袭击事件，造成5人受伤，嫌疑人伊桑·詹汉已被警方控制。"
    threshold = models.passage.threshold
    assert _probability(models, "乌汉伦维尔持刀袭击事件造成多少人受伤？", story) >= threshold
    assert _probability(models, "阿雷亚萨堡持刀袭击事件造成多少人受伤？", story) < threshold


def test_a_passage_that_shares_nothing_with_the_question_is_refused(models):
    assert _probability(models, "北京市有多少个区？", "今天天气晴朗，市民纷纷到公园赏花。", dense=0.82) < models.passage.threshold


def test_quote_order_keeps_the_passages_over_the_threshold_in_retrieval_order():
    assert quote_order([0.2, 0.6, 0.9], 0.5, 3) == [1, 2]  # in retrieval order
    assert quote_order([0.2, 0.6, 0.9], 0.5, 1) == [1]
    assert quote_order([0.1, 0.2], 0.5, 3) == []


class _SameVector:
    """Every sentence as close to the question as the passage: only the words tell sentences apart."""
    def encode_sentences(self, texts):
        return np.tile(np.eye(4)[0], (len(texts), 1)).astype(np.float32)


def test_the_short_answer_is_a_span_of_the_highlighted_sentence(models):
    text = ("经开区总工会近日走访慰问辖区企业。此次慰问了北京先瑞达医疗科技有限公司、北京华联印刷有限公司的13名困难职工，"
            "送去杂粮粥、坚果、洗护套装等生活必需品。")
    passage = Passage(id="p", article_id="a", title="经开区总工会走访慰问困难职工", paragraph=1, part=0, text=text,
                      source="t.txt", start=0, end=len(text))
    asked = analyse("经开区总工会慰问了多少名困难职工？")
    answer = compose_answer(asked, [Hit(passage, 1.0, 0.9, 5.0, 0)], _SameVector(), np.eye(4)[0].astype(np.float32))
    assert answer.found and "13名困难职工" in answer.sentence
    if answer.short_answer is not None:  # a span of the quoted sentence, never composed
        assert answer.short_answer.text in answer.sentence
        assert text[answer.short_answer.span.start:answer.short_answer.span.end] == answer.short_answer.text


def test_candidates_hold_numbers_dates_titles_and_names():
    sentence = "2024年1月12日，市总工会向13名困难职工发放《职工手册》，北京华联印刷有限公司参加。"
    found = {sentence[c.start:c.end] for c in candidates(sentence)}
    assert {"2024年1月12日", "13名", "《职工手册》", "职工手册"} <= found
    assert any("华联印刷" in piece for piece in found)


def test_nothing_to_search_is_refused_before_retrieval():
    for question in ("。", "?", "😀🎉🔥💯", "？？！！。。，，……"):
        asked = analyse(question)
        assert not asked.searchable
        answer = compose_answer(asked, [], None, np.zeros(4, np.float32))
        assert not answer.found and answer.reason == "nothing_to_search"
    assert analyse("GDP?").searchable and analyse("几号？").searchable


def test_cmrc_exact_match_and_character_f1():
    assert exact_match("13名", ["13 名。"]) == 1.0 and exact_match("13名困难职工", ["13名"]) == 0.0
    assert character_f1("13名困难职工", ["13名"]) == pytest.approx(2 * (3 / 7) * 1 / (3 / 7 + 1))  # 3 of 7 characters
    assert character_f1("北京", ["上海"]) == 0.0
    assert character_f1("經開區", ["经开区"]) == 1.0  # one script


def test_a_fitted_model_is_plain_json_and_predicts_the_same_after_a_round_trip(tmp_path):
    model = LinearModel("m", ("a", "b"), (1.5, -2.0), 0.25, (1.0, 0.0), (2.0, 1.0), 0.4, {"fitted_on": "x"})
    path = tmp_path / "m.json"
    model.save(path)
    again = LinearModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    rows = np.array([[3.0, 1.0], [0.0, 0.0]])
    expected = 1 / (1 + np.exp(-(((rows - [1.0, 0.0]) / [2.0, 1.0]) @ [1.5, -2.0] + 0.25)))
    np.testing.assert_allclose(again.proba(rows), expected)
    assert again == model
    with pytest.raises(ValueError, match="3 features given, 2 expected"):
        model.proba(np.zeros((1, 3)))


def test_the_shipped_models_name_their_features_in_the_order_the_code_computes_them(models):
    from qa_assistant.answer_features import SPAN_FEATURES
    assert models.passage.features == PASSAGE_FEATURES and models.sentence.features == SENTENCE_FEATURES
    assert models.span.features == SPAN_FEATURES
    for model in (models.passage, models.sentence, models.span):
        assert 0 < model.threshold < 1 and "cross_validated" in model.notes and "command" in model.notes


def test_sentence_vectors_are_encoded_once_and_kept_within_the_limit():
    from qa_assistant.answer import SentenceVectors

    class Counting(_SameVector):
        info = None

        def __init__(self):
            self.seen = []

        def encode_sentences(self, texts):
            self.seen += list(texts)
            return super().encode_sentences(texts)

    encoder, cache = Counting(), SentenceVectors(limit=3)
    assert cache.encode(encoder, ["甲。", "乙。", "甲。"]).shape == (3, 4)
    assert cache.encode(encoder, ["乙。", "丙。"]).shape == (2, 4)
    assert encoder.seen == ["甲。", "乙。", "丙。"]  # each sentence encoded once
    cache.encode(encoder, ["丁。"])
    cache.encode(encoder, ["甲。"])  # the least recently used went out when 丁 came in
    assert encoder.seen[-1] == "甲。" and len(cache._vectors) == 3

"""Text helpers: script normalisation, sentence spans, paragraph-end tests, search tokens."""
from qa_assistant.text import content_terms, unfamiliar_names, is_complete_paragraph, normalise, search_tokens, sentence_spans, sentences


def test_traditional_question_normalises_to_simplified():
    assert normalise("經開區總工會慰問了哪些企業？") == "经开区总工会慰问了哪些企业?"
    assert search_tokens("經開區總工會") == search_tokens("经开区总工会")


def test_sentences_keep_closing_quotes():
    assert sentences("“家里怎么样？最近顺利吗？”近日，他说。好。") == ["“家里怎么样？", "最近顺利吗？”", "近日，他说。", "好。"]


def test_paragraph_end_tests():
    assert not is_complete_paragraph("户外劳动者服务站（“小哥”")
    assert not is_complete_paragraph("等6家区域内企业，为")
    assert is_complete_paragraph("收到慰问品后，一位职工说。")
    assert is_complete_paragraph("他说：“好。”")


def test_question_words_are_not_search_terms():
    assert "哪些" not in content_terms("经开区总工会慰问了哪些企业？")
    assert "企业" in content_terms("经开区总工会慰问了哪些企业？")


def test_a_semicolon_ends_a_clause_not_a_sentence():
    text = "主根可深入地下三公尺；须根在地表下辐射成长。叶片长5公分。"
    assert sentences(text) == ["主根可深入地下三公尺；须根在地表下辐射成长。", "叶片长5公分。"]
    assert [text[s.start:s.end] for s in sentence_spans(text, at_semicolons=True)] == [
        "主根可深入地下三公尺；", "须根在地表下辐射成长。", "叶片长5公分。"]


def test_unfamiliar_names_are_the_long_runs_jieba_does_not_know_not_its_slips_or_common_words():
    assert unfamiliar_names("阿雷亚萨是什么身份？") == ("阿雷亚萨",)
    assert unfamiliar_names("張艷林提出要在哪幾個字上做文章？") == ("张艳林",)  # traditional script, normalised
    assert unfamiliar_names("什么样的纽西兰鸡毛松才可以被砍伐？") == ()  # 松才: a two-character slip
    assert unfamiliar_names("北京市总工会慰问了哪些企业？") == ()
    assert unfamiliar_names("Who is Arreaza?") == ()

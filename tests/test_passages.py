"""Passages: one per paragraph, long ones cut at sentence ends to fit the window, exact quotes."""
from qa_assistant.ingest import Article, Paragraph, load_articles
from qa_assistant.passages import char_window, covers, embedding_text, make_passages, split_paragraph
from qa_assistant.text import is_sentence_final


def test_sample_page_gives_one_passage_per_paragraph(sample_page):
    articles = load_articles(sample_page)
    passages = make_passages(articles, char_window(10_000))
    assert len(passages) == sum(len(a.paragraphs) for a in articles)
    assert all(covers(a, passages) for a in articles)
    assert all(p.part == 0 for p in passages)


def test_the_answer_paragraph_is_one_passage(sample_page):
    passages = make_passages(load_articles(sample_page), char_window(10_000))
    holding = [p for p in passages if "北京先瑞达医疗科技有限公司" in p.text and "北京华联印刷有限公司" in p.text]
    assert len(holding) == 1 and "13名困难职工" in holding[0].text


def test_long_paragraph_is_cut_at_sentence_ends_and_each_piece_fits():
    sentences = [f"第{i}句话讲述了一件相当具体而且很长的事情。" for i in range(40)]
    article = Article("a", "标题", (Paragraph("".join(sentences)),), "s.txt")
    fits = char_window(200)
    passages = make_passages([article], fits)
    assert len(passages) > 1
    assert all(fits(p.heading, p.text) for p in passages)
    assert all(is_sentence_final(p.text) for p in passages)
    assert covers(article, passages)
    assert [p.part for p in passages] == list(range(1, len(passages) + 1))


def test_sentence_longer_than_the_window_is_cut_without_losing_text():
    text = "，".join(["一段没有句号的很长的分句"] * 60) + "。"
    spans = split_paragraph(text, "", char_window(100))
    assert "".join(text[s.start:s.end] for s in spans) == text
    assert all(s.end - s.start <= 100 for s in spans)


def test_passage_ids_depend_on_content_only(sample_page):
    first = [p.id for p in make_passages(load_articles(sample_page), char_window(10_000))]
    again = [p.id for p in make_passages(load_articles(sample_page), char_window(10_000))]
    assert first == again and len(set(first)) == len(first)


def test_a_title_holding_the_whole_text_does_not_shred_its_article():
    """Scraped data where the title field holds the whole article: the heading the encoder sees is cut
    to its budget, and the paragraphs stay whole (not one passage per character)."""
    body = "区总工会走访慰问了困难职工，送上米面油和慰问金。慰问组还详细了解了职工的生活情况。"
    article = Article("a", body * 30, (Paragraph(body), Paragraph(body[:24])), "s.txt")
    passages = make_passages([article], char_window(300))
    assert [p.text for p in passages] == [body, body[:24]]
    assert all(len(embedding_text(p.heading, p.text)) <= 300 for p in passages)

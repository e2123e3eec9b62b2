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


# ---------------------------------------------------------------- OCR confidence (issue 23)

def test_a_paragraph_read_by_ocr_gives_passages_with_its_confidence():
    from qa_assistant.passages import Passage
    article = Article("scan", "标题", (Paragraph("扫描来的一段。", ocr=0.962), Paragraph("文字层的一段。")), "s.pdf")
    scanned, typed = make_passages([article], char_window(10_000))
    assert (scanned.ocr, typed.ocr) == (0.962, None)
    assert "ocr" not in typed.to_dict()  # a passage not read by OCR is saved exactly as before
    assert Passage.from_dict(scanned.to_dict()) == scanned and Passage.from_dict(typed.to_dict()) == typed
    old = {k: v for k, v in scanned.to_dict().items() if k != "ocr"}  # a record of an index made before OCR
    assert Passage.from_dict(old).ocr is None


def test_ocr_shows_in_info_articles_the_json_and_the_source_view(tmp_path, monkeypatch):
    """An OCR'd article saved in an index folder and opened again: ``info --articles`` gives its mean
    confidence, the source view marks its paragraphs 「OCR」, an answer's JSON gives each passage's."""
    from qa_assistant.ingest import files
    from qa_assistant.render import answer_json, source_html

    from .conftest import new_assistant, reopen

    def scanned(path, source):
        return [Article("scan:1", "经开区总工会慰问困难职工", (Paragraph("区总工会走访慰问了13名困难职工。", ocr=0.9),
                                                             Paragraph("送去了米面油和棉被。", ocr=0.8)), source),
                Article("typed:1", "市总工会举办运动会", (Paragraph("运动会有十个项目。"),), source)]
    monkeypatch.setitem(files.READERS, ".txt", scanned)
    page = tmp_path / "page.txt"
    page.write_text("(read by the stand-in reader)", encoding="utf-8")
    new_assistant(tmp_path / "index").index([page])
    assistant = reopen(tmp_path / "index")
    assert {a["article_id"]: a["ocr"] for a in assistant.articles()} == {"scan:1": 0.85, "typed:1": None}
    shown = assistant.source(str(page.resolve()))
    assert [p["ocr"] for a in shown for p in a["paragraphs"]] == [0.9, 0.8, None]
    html = source_html("page.txt", shown)
    assert html.count("「OCR」") == 2 and "置信度 0.90" in html
    passages = answer_json(assistant.ask("区总工会慰问了多少名困难职工？"))["passages"]
    assert {p["text"]: p["ocr"] for p in passages}["区总工会走访慰问了13名困难职工。"] == 0.9
    assert all("ocr" in p for p in passages) and {p["ocr"] for p in passages} >= {None, 0.9}


def test_an_index_saved_before_ocr_still_loads(tmp_path):
    """Passage records without the ``ocr`` field (every index made before issue 23) load with ocr None."""
    from qa_assistant.store import load_index

    from .conftest import ARTICLES, new_assistant, write_jsonl
    new_assistant(tmp_path / "index").index([write_jsonl(tmp_path / "news.jsonl", ARTICLES)])
    stored = next((tmp_path / "index").glob("passages-*.jsonl")).read_text(encoding="utf-8")
    assert '"ocr"' not in stored  # nothing read by OCR: the records are as before
    assert all(p.ocr is None for p in load_index(tmp_path / "index").passages)

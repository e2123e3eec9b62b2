"""Scanned pages through the e-paper reader, with real OCR (RapidOCR): the two-page A3 e-paper PDF of the
sample page rasterised at 200 dpi with blur, grain, specks and skew and saved with no text layer; a PDF
mixing text and scanned pages; a phone photo (JPEG) of one page; small A5 pages as PNG and as a
multi-page TIFF; blank and low-contrast images refused by name; an unchanged scan not read twice.

OCR is slow (seconds per page), so the files are made and read once per module, and the recogniser's
output is kept per page image for the module: a page image read again (the scan's second page inside
the mixed PDF, the scan indexed end to end) is not recognised twice."""
from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qa_assistant.ingest import IngestError, iter_input_files, load_articles, ocr, supported_suffixes
from qa_assistant.ingest.pdf import articles_from_lines, extract_lines

from ..conftest import new_assistant
from .format_fixtures import (DATE, FURNITURE, JINGKAIQU, SLOGAN_PIECE, article_text, assert_jingkaiqu_whole,
                              char_error_rate, clipping_html, image_pdf, mixed_pdf, photo_of, print_pdf,
                              scan_images)

pytestmark = pytest.mark.skipif(not ocr.available(), reason=f"OCR is not installed: {ocr.INSTALL}")
MAX_CER = 0.02  # character error rate of an article's text against the text layer's


@pytest.fixture(scope="module", autouse=True)
def _recognised_once():
    """The recogniser's output kept per page image (by its bytes) for this module."""
    seen: dict[str, list] = {}
    real = ocr._recognise

    def once(grey, path):
        key = hashlib.sha1(grey.tobytes()).hexdigest() + str(grey.shape)
        if key not in seen:
            seen[key] = real(grey, path)
        return seen[key]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ocr, "_recognise", once)
        yield


@pytest.fixture(scope="module")
def scans(epaper_pdf) -> list[Image.Image]:
    return scan_images(epaper_pdf)


@pytest.fixture(scope="module")
def scanned_pdf(scans, tmp_path_factory) -> Path:
    """The e-paper PDF as a flatbed scan: 200 dpi, blur, grain, specks, ±0.6° skew, no text layer."""
    return image_pdf(scans, tmp_path_factory.mktemp("scan") / "laodong_3_scan.pdf")


@pytest.fixture(scope="module")
def scanned(scanned_pdf):
    return load_articles(scanned_pdf)


@pytest.fixture(scope="module")
def text_layer(epaper_pdf):
    return load_articles(epaper_pdf)


def _same_stories(got, want) -> None:
    """The same headlines, subtitles, date, paragraph kinds and bylines; each article's text within
    MAX_CER of the text layer's."""
    assert [a.title for a in got] == [a.title for a in want]
    assert [a.subtitle for a in got] == [a.subtitle for a in want]
    assert {a.date for a in got} == {DATE}
    for article, expected in zip(got, want):
        assert [p.kind for p in article.paragraphs] == [p.kind for p in expected.paragraphs], article.title
        assert (article.reporters, article.correspondents) == (expected.reporters, expected.correspondents)
        assert char_error_rate(article_text(expected), article_text(article)) <= MAX_CER, article.title


def _no_furniture(articles) -> None:
    for article in articles:
        for text in [article.title, article.subtitle] + [p.text for p in article.paragraphs]:
            assert not any(piece in text for piece in FURNITURE + (SLOGAN_PIECE,)), text


def test_a_scanned_pdf_gives_the_six_articles_with_headlines_and_masthead_date(scanned, text_layer):
    assert len(scanned) == 6
    _same_stories(scanned, text_layer)


def test_no_page_furniture_or_banner_in_any_paragraph_of_the_scan(scanned):
    _no_furniture(scanned)


def test_the_jingkaiqu_paragraph_is_whole_across_columns(scanned):
    assert_jingkaiqu_whole(scanned)


def test_every_paragraph_of_the_scan_says_it_was_read_by_ocr(scanned, text_layer):
    assert all(p.ocr is not None and ocr.MIN_SCORE <= p.ocr <= 1 for a in scanned for p in a.paragraphs)
    assert all(p.ocr is None for a in text_layer for p in a.paragraphs)


def test_a_skewed_scan_is_turned_back_before_columns_are_found(scanned_pdf, epaper_pdf):
    """Line boxes read from the scan (turned ±0.6°: up to 6 pt off at the page's edges) stand where the text
    layer's lines stand: 90 % within 3 pt (the detector's boxes are not the glyphs' boxes)."""
    ocr_pages, text_pages = extract_lines(scanned_pdf), extract_lines(epaper_pdf)
    for ocr_page, text_page in zip(ocr_pages, text_pages):
        assert abs(ocr_page.width - text_page.width) < 2 and abs(ocr_page.height - text_page.height) < 2
        offsets = []
        for line in ocr_page.lines:
            twins = [t for t in text_page.lines if len(line.text) > 8 and t.text.startswith(line.text[:8])]
            if twins:
                offsets.append(min(max(abs(line.x0 - t.x0), abs(line.top - t.top)) for t in twins))
        assert len(offsets) > 0.8 * len(text_page.lines)
        assert np.percentile(offsets, 90) < 3


def test_a_mixed_pdf_reads_text_pages_from_the_text_layer_and_scanned_pages_by_ocr(epaper_pdf, scanned_pdf,
                                                                                   text_layer, tmp_path):
    mixed = load_articles(mixed_pdf(epaper_pdf, scanned_pdf, tmp_path / "mixed.pdf", scanned_pages=(2,)))
    _same_stories(mixed, text_layer)
    first_page = {a.title for a in articles_from_lines(extract_lines(epaper_pdf)[:1], "page 1")}
    for article, expected in zip(mixed, text_layer):
        if article.title in first_page and article is not mixed[-1]:
            continue
        assert any(p.ocr is not None for p in article.paragraphs), article.title
    assert mixed[0].paragraphs == text_layer[0].paragraphs  # page 1 only: the text layer, unmarked
    assert all(p.ocr is not None for p in mixed[-1].paragraphs)  # page 2 only: OCR


def test_a_jpeg_photo_of_one_page_gives_that_page_s_articles(scans, epaper_pdf, tmp_path):
    """A phone photo of page 1: turned 1.8° in all, lit unevenly, 160 dpi, no stated resolution."""
    photo = tmp_path / "photo.jpg"
    photo_of(scans[0]).save(photo, quality=80)
    want = articles_from_lines(extract_lines(epaper_pdf)[:1], "page 1")
    got = load_articles(photo)
    _same_stories(got, want)
    _no_furniture(got)


@pytest.fixture(scope="module")
def clippings(page, tmp_path_factory) -> tuple[list, list[Image.Image]]:
    """Two stories on small A5 pages (the second runs onto a third), scanned at 300 dpi (the reader
    brings them to 200)."""
    folder = tmp_path_factory.mktemp("clippings")
    stories = [a for a in page.articles if "和平街" in a.title or "经开区" in a.title]
    source = folder / "clip.html"
    source.write_text(clipping_html(stories), encoding="utf-8")
    return stories, scan_images(print_pdf(source, folder / "clip.pdf"), dpi=300, skew=0.4)


def test_a_png_page_gives_its_article(clippings, tmp_path):
    stories, images = clippings
    path = tmp_path / "clip_20240112.png"
    images[0].save(path, dpi=(300, 300))
    _same_stories(load_articles(path), stories[:1])


def test_a_multi_page_tiff_is_several_pages_and_a_blank_page_in_it_is_skipped(clippings, tmp_path, caplog):
    stories, images = clippings
    path = tmp_path / "clips.tif"
    blank = Image.new("L", images[0].size, 245)
    images[0].save(path, save_all=True, append_images=images[1:] + [blank], dpi=(300, 300), compression="tiff_lzw")
    with caplog.at_level(logging.INFO, logger=ocr.__name__):
        articles = load_articles(path, max_bytes=None)
    _same_stories(articles, stories)
    assert all(p.ocr is not None for a in articles for p in a.paragraphs)
    pages = len(images) + 1
    assert f"page {pages} is blank" in caplog.text and f"{pages} page(s) read by OCR" in caplog.text
    assert "pages/minute" in caplog.text and "under the confidence floor" in caplog.text
    assert JINGKAIQU[0] in articles[1].text


@pytest.mark.parametrize("kind", ["blank.png", "grey.jpg", "empty.tif"])
def test_blank_and_low_contrast_images_are_refused_by_name(kind, tmp_path):
    path = tmp_path / kind
    rng = np.random.default_rng(1)
    if kind.startswith("grey"):  # a photo of an empty grey wall: noise, no ink
        pixels = np.clip(rng.normal(128, 6, (900, 700)), 0, 255).astype(np.uint8)
    else:
        pixels = np.full((900, 700), 255 if kind.startswith("blank") else 0, np.uint8)
    Image.fromarray(pixels, "L").save(path)
    with pytest.raises(IngestError, match="blank or too low in contrast") as error:
        load_articles(path)
    assert str(path) in str(error.value)


def test_an_unreadable_image_is_refused_by_name(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 20)
    with pytest.raises(IngestError, match="not a readable image") as error:
        load_articles(path)
    assert str(path) in str(error.value)


def test_an_unchanged_scan_is_not_read_twice(clippings, tmp_path, monkeypatch):
    _, images = clippings
    folder = tmp_path / "in"
    folder.mkdir()
    images[1].save(folder / "clip.png", dpi=(300, 300))
    calls = []
    real = ocr.read_page
    monkeypatch.setattr(ocr, "read_page", lambda *args: calls.append(args[1]) or real(*args))
    assistant = new_assistant(tmp_path / "index")
    first = assistant.index([folder])
    assert calls == [1] and first.articles == 1
    again = assistant.index([folder])
    assert calls == [1] and again.files_unchanged == 1 and again.passages_embedded == 0


def test_without_the_ocr_extra_a_scan_is_refused_in_one_line_naming_the_package(scanned_pdf, epaper_pdf, clippings,
                                                                                 tmp_path, monkeypatch, caplog):
    _, images = clippings
    png = tmp_path / "clip.png"
    images[0].save(png)
    monkeypatch.setattr(ocr, "_ENGINE", None)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails as if not installed
    for path in (png, scanned_pdf):
        with pytest.raises(IngestError) as error:
            load_articles(path)
        message = str(error.value)
        assert "\n" not in message and str(path) in message and ocr.INSTALL in message
        assert "rapidocr-onnxruntime" in message
    mixed = mixed_pdf(epaper_pdf, scanned_pdf, tmp_path / "mixed.pdf", scanned_pages=(2,))
    with caplog.at_level(logging.WARNING):
        articles = load_articles(mixed)  # the text pages are still read; the scanned one is named
    assert articles and "page(s) 2 have no text layer" in caplog.text and ocr.INSTALL in caplog.text


def test_images_are_supported_kinds_and_folders_are_walked_for_them(tmp_path):
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff"} <= set(supported_suffixes())
    for name in ("a.JPG", "b.jpeg", "c.png", "d.tif", "e.tiff", "notes.bmp"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in iter_input_files([tmp_path])] == ["a.JPG", "b.jpeg", "c.png", "d.tif", "e.tiff"]


def test_an_image_is_brought_to_200_dpi_and_a_see_through_background_is_paper():
    from qa_assistant.ingest.images import _fitted
    clear = Image.new("RGBA", (600, 300), (0, 0, 0, 0))  # a screenshot's transparent background
    grey, points = _fitted(clear)
    assert grey.shape == (300, 600) and grey.min() == 255 and points == pytest.approx(72 / ocr.DPI)
    scan = Image.new("L", (3000, 1500), 255)
    scan.info["dpi"] = (600, 600)
    grey, points = _fitted(scan)
    assert grey.shape == (500, 1000) and points == pytest.approx(72 / ocr.DPI)


def test_clean_keeps_latin_spaces_and_mends_quotes_the_recogniser_confuses():
    assert ocr.clean("区政府办、 信访办") == "区政府办、信访办"
    assert ocr.clean("CN11 0031 国内") == "CN11 0031国内"
    assert ocr.clean("感悟人生“途’书”主题") == "感悟人生‘途’书”主题"
    assert ocr.clean("人才会客厅…·在") == "人才会客厅……在"


# ---------------------------------------------------------------- end to end (real model)

QUESTION = "经开区总工会慰问了哪些企业？"


@pytest.mark.e2e
def test_the_scanned_pdf_indexed_answers_as_the_text_layer_does(scanned_pdf, tmp_path):
    """The scan alone in an index: the 经开区 question's first passage names the first and last company
    and the 13 workers, is marked as OCR in the articles listing, and the sample question set reaches
    hit@5 ≥ 0.94."""
    from qa_assistant import Assistant
    from qa_assistant.evaluation import Evaluator, load_testset

    from .format_fixtures import ROOT
    assistant = Assistant.build([scanned_pdf], tmp_path / "index")
    first = assistant.ask(QUESTION, k=5).hits[0].passage
    assert all(name in first.text for name in JINGKAIQU), first.text
    assert first.date == DATE
    report = Evaluator(load_testset(ROOT / "qa_assistant" / "data" / "sample_questions.jsonl"), ks=(1, 5),
                       answers=False)(assistant, "hybrid")
    assert report.metrics["hit@5"] >= 0.94, report.metrics

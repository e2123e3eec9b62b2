"""OCR of scanned pages: seconds per A3 page and character error rate against the text layer.

    .venv/bin/python -m benchmarks.ocr [--dpi 200] [--skew 0.6] [--answers] [--json out.json]

The sample page is printed by headless Chromium as the two-page, three-column A3 e-paper PDF of the
format tests, rendered at ``--dpi`` with blur, grain, specks and ``--skew`` degrees (a flatbed scan) and
saved as a PDF with no text layer; that scan is read by the PDF reader (OCR, then the layout stage). Two
character error rates (edit distance over the reference length; spaces left out, as the recogniser does
not hear the spaces of Chinese text):

- lines: every text-layer line against the OCR line standing on it (unmatched lines count whole) — what
  the recogniser gets wrong;
- articles: the articles' headlines and paragraphs read from the scan against those read from the
  text-layer PDF — what the recogniser and the layout stage together get wrong.

With ``--answers`` (loads the embedding model) the scan and the text-layer PDF are each indexed alone and
the sample question set is asked of both (hybrid hit@1 and hit@5).
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from qa_assistant.ingest import load_articles, ocr
from qa_assistant.ingest.pdf import PdfPage, extract_lines
from tests.ingest.format_fixtures import (JINGKAIQU, edit_distance, epaper_html, has_chromium, image_pdf, print_pdf,
                                          sample_page, scan_images)


def _plain(text: str) -> str:
    return "".join(text.split())


def line_errors(scanned: list[PdfPage], text: list[PdfPage]) -> tuple[int, int]:
    """(errors, reference characters): each text-layer line against the OCR line overlapping it most;
    OCR lines left over count as insertions."""
    errors = length = 0
    for scan_page, text_page in zip(scanned, text):
        used: set[int] = set()
        for line in text_page.lines:
            def overlap(other) -> float:
                width = min(line.x1, other.x1) - max(line.x0, other.x0)
                height = min(line.bottom, other.bottom) - max(line.top, other.top)
                return max(0.0, width) * max(0.0, height)
            best = max(range(len(scan_page.lines)), key=lambda i: overlap(scan_page.lines[i]), default=None)
            reference = _plain(line.text)
            if best is None or overlap(scan_page.lines[best]) <= 0:
                errors += len(reference)
            else:
                used.add(best)
                errors += edit_distance(reference, _plain(scan_page.lines[best].text))
            length += len(reference)
        errors += sum(len(_plain(l.text)) for i, l in enumerate(scan_page.lines) if i not in used)
    return errors, length


def article_errors(scanned, text) -> tuple[int, int]:
    """(errors, reference characters) over the articles paired by position: headline, subtitle and
    paragraphs as one string each; an article missing on either side counts whole."""
    def whole(article) -> str:
        return _plain(" ".join([article.title, article.subtitle] + [p.text for p in article.paragraphs]))
    errors = length = 0
    for index in range(max(len(scanned), len(text))):
        reference = whole(text[index]) if index < len(text) else ""
        hypothesis = whole(scanned[index]) if index < len(scanned) else ""
        errors += edit_distance(reference, hypothesis)
        length += len(reference)
    return errors, length


def hits(pdf: Path, index: Path) -> dict:
    """Hybrid hit@1 and hit@5 of the sample question set on an index of ``pdf`` alone."""
    from qa_assistant import Assistant
    from qa_assistant.evaluation import Evaluator, load_testset
    from tests.ingest.format_fixtures import ROOT
    assistant = Assistant.build([pdf], index)
    testset = load_testset(ROOT / "qa_assistant" / "data" / "sample_questions.jsonl")
    metrics = Evaluator(testset, ks=(1, 5), answers=False)(assistant, "hybrid").metrics
    return {"hit@1": round(metrics["hit@1"], 3), "hit@5": round(metrics["hit@5"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=ocr.DPI)
    parser.add_argument("--skew", type=float, default=0.6, help="degrees, alternating page by page")
    parser.add_argument("--answers", action="store_true", help="also index both PDFs and ask the sample questions")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not has_chromium():
        raise SystemExit("headless Chromium is needed to print the e-paper PDF (apt-get install chromium)")
    if not ocr.available():
        raise SystemExit(f"OCR is not installed: {ocr.INSTALL}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        source = folder / "laodong_3.html"
        source.write_text(epaper_html(sample_page()), encoding="utf-8")
        text_pdf = print_pdf(source, folder / "laodong_3.pdf")
        scan_pdf = image_pdf(scan_images(text_pdf, dpi=args.dpi, skew=args.skew), folder / "scan.pdf", args.dpi)
        ocr._engine(scan_pdf)  # the models load outside the timing
        started = time.perf_counter()
        scanned_pages = extract_lines(scan_pdf)
        seconds = time.perf_counter() - started
        text_pages = extract_lines(text_pdf)
        scanned_articles, text_articles = load_articles(scan_pdf), load_articles(text_pdf)
        answers = {name: hits(path, folder / f"index_{name}") for name, path in
                   (("scan", scan_pdf), ("text_layer", text_pdf))} if args.answers else {}
    line_e, line_n = line_errors(scanned_pages, text_pages)
    article_e, article_n = article_errors(scanned_articles, text_articles)
    first = next((a.paragraphs[0].text for a in scanned_articles if "经开区" in a.title and a.paragraphs), "")
    figures = {
        "dpi": args.dpi, "skew_degrees": args.skew, "pages": len(scanned_pages),
        "seconds_per_page": round(seconds / len(scanned_pages), 1),
        "line_cer": round(line_e / line_n, 4), "line_chars": line_n,
        "article_cer": round(article_e / article_n, 4), "article_chars": article_n,
        "articles": len(scanned_articles), "articles_text_layer": len(text_articles),
        "titles_equal": [a.title for a in scanned_articles] == [a.title for a in text_articles],
        "dates": sorted({a.date for a in scanned_articles}),
        "jingkaiqu_first_paragraph_whole": all(name in first for name in JINGKAIQU),
        "answers": answers,
    }
    print(f"OCR at {args.dpi} dpi, skew {args.skew}°: {figures['seconds_per_page']} s per A3 page "
          f"({len(scanned_pages)} pages, models loaded beforehand)")
    print(f"character error rate, lines:    {100 * figures['line_cer']:.2f} % of {line_n} characters")
    print(f"character error rate, articles: {100 * figures['article_cer']:.2f} % of {article_n} characters "
          f"({len(scanned_articles)} articles from the scan, {len(text_articles)} from the text layer; "
          f"headlines {'equal' if figures['titles_equal'] else 'differ'}; dates {', '.join(figures['dates'])})")
    for name, metrics in answers.items():
        print(f"sample questions from the {name.replace('_', ' ')} PDF: hit@1 {metrics['hit@1']:.3f}, "
              f"hit@5 {metrics['hit@5']:.3f} (hybrid)")
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

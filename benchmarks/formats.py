"""Indexing throughput by input format: the sample page's six articles as the .txt page, as a two-page
three-column e-paper PDF (printed by headless Chromium), as six website HTML pages and as a DOCX,
indexed from empty (model loaded beforehand, not timed). The model should dominate, not the readers.

    .venv/bin/python -m benchmarks.formats [--copies 8] [--rounds 2]

``--copies`` writes the archive that many times under different file names (each copy is read, split
and embedded), so the figures are not dominated by one second of embedding. Prints seconds, characters
per second and the ratio to the .txt page for each format, and the reading time alone.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from qa_assistant import Assistant
from qa_assistant.ingest import load_articles
from tests.ingest.format_fixtures import (SAMPLE_PAGE, epaper_html, has_chromium, print_pdf, sample_page, write_docx,
                                          write_site)


def archives(folder: Path, copies: int) -> dict[str, list[Path]]:
    """The same articles, ``copies`` times, in each format (one folder per format)."""
    page = sample_page()
    source = folder / "epaper.html"
    source.write_text(epaper_html(page), encoding="utf-8")
    pdf = print_pdf(source, folder / "epaper.pdf")
    made: dict[str, list[Path]] = {}
    for kind in ("txt", "pdf", "html", "docx"):
        target = folder / kind
        target.mkdir()
        for copy in range(copies):
            if kind == "txt":
                shutil.copy(SAMPLE_PAGE, target / f"page_{copy}.txt")
            elif kind == "pdf":
                shutil.copy(pdf, target / f"epaper_{copy}.pdf")
            elif kind == "html":
                write_site(page, target / f"site_{copy}")
            else:
                write_docx(page, target / f"page_{copy}.docx")
        made[kind] = [target]
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not has_chromium():
        raise SystemExit("headless Chromium is needed to print the e-paper PDF (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as scratch:
        inputs = archives(Path(scratch), args.copies)
        template = Assistant.open()  # the model loads once, outside the timings
        figures: dict[str, dict] = {}
        for kind, paths in inputs.items():
            files = Assistant.input_files(paths)
            started = time.perf_counter()
            articles = [a for f in files for a in load_articles(f)]
            reading = time.perf_counter() - started
            chars = sum(len(p.text) for a in articles for p in a.paragraphs)
            seconds = []
            for _ in range(args.rounds):
                assistant = Assistant.open(None, create=True, embedder=template.embedder)
                started = time.perf_counter()
                assistant.index(paths)
                seconds.append(time.perf_counter() - started)
            figures[kind] = {"seconds": statistics.median(seconds), "chars": chars, "reading": reading,
                             "passages": len(assistant.passages)}
    base = figures["txt"]["chars"] / figures["txt"]["seconds"]
    print(f"{'format':6} {'passages':>8} {'s':>7} {'chars/s':>9} {'vs txt':>7} {'reading s':>9}")
    for kind, f in figures.items():
        rate = f["chars"] / f["seconds"]
        print(f"{kind:6} {f['passages']:8d} {f['seconds']:7.2f} {rate:9.0f} {rate / base:7.2f} {f['reading']:9.2f}")


if __name__ == "__main__":
    main()

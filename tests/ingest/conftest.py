"""Fixtures of the format readers' tests (builders in format_fixtures): the sample page, its e-paper PDFs
printed once per session by headless Chromium (skipped with the reason when Chromium is missing)."""
from __future__ import annotations

from pathlib import Path

import pytest
from .format_fixtures import (CHROMIUM, epaper_bands_html, epaper_grid_html, epaper_html, has_chromium,
                             print_pdf, sample_page)

from qa_assistant.ingest import Page


@pytest.fixture(scope="session")
def page() -> Page:
    return sample_page()


def _printed(tmp_path_factory, markup: str, name: str) -> Path:
    if not has_chromium():
        pytest.skip(f"{CHROMIUM} is missing: the e-paper PDFs are printed by headless Chromium "
                    "(apt-get install -y chromium fonts-wqy-microhei)")
    folder = tmp_path_factory.mktemp("epaper")
    source = folder / f"{name}.html"
    source.write_text(markup, encoding="utf-8")
    return print_pdf(source, folder / f"{name}.pdf")


@pytest.fixture(scope="session")
def epaper_pdf(tmp_path_factory, page) -> Path:
    """The sample page printed as a two-page, three-column A3 e-paper PDF (skipped without Chromium)."""
    return _printed(tmp_path_factory, epaper_html(page), "laodong_3")


@pytest.fixture(scope="session", params=["bands", "grid"])
def other_layout_pdf(request, tmp_path_factory, page) -> Path:
    """The sample page in two more e-paper layouts (see epaper_bands_html, epaper_grid_html)."""
    markup = epaper_bands_html(page) if request.param == "bands" else epaper_grid_html(page)
    return _printed(tmp_path_factory, markup, f"layout_{request.param}")

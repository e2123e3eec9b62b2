"""The reader of each kind of file beyond JSONL (path, source → articles), gathered for ``files.READERS``:
text pages and Markdown with their date, e-paper PDF (scanned pages read by OCR), page images (OCR), saved
web pages, Word files. A new format is one new module and one line here."""
from __future__ import annotations

from .docx import read_docx
from .html import read_html
from .images import IMAGE_SUFFIXES, read_image
from .pdf import read_pdf
from .textpages import read_markdown_page, read_text_page

FORMAT_READERS = {".txt": read_text_page, ".md": read_markdown_page, ".pdf": read_pdf, ".html": read_html,
                  ".htm": read_html, ".docx": read_docx, **{suffix: read_image for suffix in IMAGE_SUFFIXES}}

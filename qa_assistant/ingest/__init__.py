"""Ingest: files → articles. One reader per kind of file (path → articles) behind :func:`load_articles`;
pages are repaired (paragraphs broken by extraction, headlines, bylines, captions, banner)."""
from .encoding import decode_bytes, read_text
from .files import (MAX_FILE_MB, READERS, check_file_size, is_index_folder, iter_input_files,
                    load_articles, max_file_bytes, supported_suffixes)
from .jsonl import parse_jsonl
from .model import Article, FileTooLargeError, IngestError, Page, Paragraph
from .page import page_article_id, parse_markdown, parse_page

__all__ = ["Article", "FileTooLargeError", "IngestError", "MAX_FILE_MB", "Page", "Paragraph",
           "READERS", "check_file_size", "decode_bytes", "is_index_folder", "iter_input_files", "load_articles",
           "max_file_bytes", "page_article_id", "parse_jsonl", "parse_markdown", "parse_page", "read_text",
           "supported_suffixes"]

"""Sparse index: BM25 (bm25s) over jieba search tokens of the normalised heading and passage text; a passage's
tokens, and the check that an index's tokens are the ones this version makes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..passages import HEADING_CHARS, Passage, context_heading
from ..text import SEARCH_TOKENIZER, search_tokens
from .errors import IndexLoadError


def check_tokenizer(manifest: dict, where) -> None:
    """Refuse an index whose BM25 tokens another tokenizer made (its manifest names it): its scores would
    silently disagree with the questions' tokens."""
    recorded = (manifest.get("sparse") or {}).get("tokenizer", SEARCH_TOKENIZER)
    if recorded != SEARCH_TOKENIZER:
        raise IndexLoadError(f"{where}: BM25 tokens were made by {recorded}, this version makes {SEARCH_TOKENIZER}; "
                             f"rebuild the index")


class SparseIndex:
    """BM25 (bm25s) over jieba search tokens of the normalised heading + passage text."""

    def __init__(self, model, vocabulary: dict[str, int], size: int):
        self.model, self.vocabulary, self.size = model, vocabulary, size

    @staticmethod
    def document_tokens(passage: Passage, heading_chars: int = HEADING_CHARS) -> list[str]:
        """A passage's BM25 tokens: its headline (within its budget, as the encoder sees it) and its text."""
        return search_tokens(f"{context_heading(passage.heading, heading_chars)}\n{passage.text}")

    @classmethod
    def build(cls, token_lists: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> "SparseIndex":
        import bm25s
        model = bm25s.BM25(k1=k1, b=b)
        if token_lists:
            model.index([tokens or [""] for tokens in token_lists], show_progress=False)
            vocabulary = dict(model.vocab_dict)
        else:
            vocabulary = {}
        return cls(model, vocabulary, len(token_lists))

    def scores(self, query_tokens: Sequence[str], rows: Sequence[int] | None = None) -> np.ndarray:
        """BM25 score of every passage (all zeros when no query token is in the vocabulary); exact for
        every row, so ``rows`` (those the caller needs exact, see store/base.py) changes nothing here."""
        known = [t for t in query_tokens if t in self.vocabulary]
        if not known or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.model.save(str(folder), show_progress=False)
        (folder / "size.json").write_text(json.dumps({"size": self.size}))

    @classmethod
    def load(cls, folder: Path) -> "SparseIndex":
        import bm25s
        size = json.loads((folder / "size.json").read_text())["size"]
        if not size:
            return cls.build([])
        model = bm25s.BM25.load(str(folder), load_corpus=False, mmap=False)
        return cls(model, dict(model.vocab_dict), size)



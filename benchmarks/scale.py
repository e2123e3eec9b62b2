"""Scale: the dense index (exact flat vs HNSW) and BM25 at 100k and 1M passages, on synthetic data.

Dense: L2-normalised 384-d vectors shaped like sentence embeddings (``common.structured_vectors``),
queries drawn from the same distribution but not in the index; recall@10 of each index is measured
against exact search. Both indexes are built by ``qa_assistant.store.DenseIndex.build`` (HNSW as the
project configures it), then HNSW's efSearch is swept. Latency is of one query at a time on one FAISS
thread, as ``HybridSearcher`` searches a question (FAISS's default of every core is kept as a column:
on a busy machine it waits for the second core). A uniform-random set (no structure: the worst
case for any graph index) is measured at the smallest size.

BM25: ``qa_assistant.store.SparseIndex`` over synthetic documents: real jieba search tokens of the CMRC
corpus plus a Zipf tail of made-up words, documents as long as the CMRC passages' token lists; queries
are CMRC questions through ``qa_assistant.text.search_tokens``. Scoring all documents and picking the
top 50 is timed both with a full stable ``argsort`` (what ``retrieve.py`` did) and with
``qa_assistant.retrieve.top_rows`` (``argpartition``, same order).

    python -m benchmarks.scale --json out.json [--sizes 100000 1000000] [--quick]
"""
from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import (cmrc_corpus, cmrc_questions, folder_bytes, latency, machine, questions_of,
                     rss_mb, structured_vectors, uniform_vectors, write_final, write_json)

K = 10
EF_SWEEP = (16, 32, 64, 128, 256)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[a >= 0].tolist()) & set(b.tolist())) / len(b) for a, b in zip(found, truth)]))


def _single_queries(index, queries: np.ndarray, k: int = K, threads: int = 1) -> tuple[list[float], np.ndarray]:
    """One query at a time, as a question arrives: latency of each, and the rows found. On one FAISS
    thread, as ``HybridSearcher`` searches a question (``threads=0``: FAISS's default, every core)."""
    import faiss
    before = faiss.omp_get_max_threads()
    if threads:
        faiss.omp_set_num_threads(threads)
    try:
        index.search(queries[:3], k)
        times, rows = [], []
        for q in queries:
            started = time.perf_counter()
            _, found = index.search(q[None, :], k)
            times.append(time.perf_counter() - started)
            rows.append(found[0])
    finally:
        faiss.omp_set_num_threads(before)
    return times, np.stack(rows)


def _disk_bytes(dense) -> int:
    import faiss
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "dense.faiss")
        faiss.write_index(dense.index, path)
        return os.path.getsize(path)


def dense_at(size: int, n_queries: int, flat_queries: int, kind: str = "structured", sweep=EF_SWEEP) -> dict:
    import faiss

    from qa_assistant.store import DenseIndex

    make = structured_vectors if kind == "structured" else uniform_vectors
    started = time.perf_counter()
    everything = make(size + n_queries, seed=7)
    base, queries = everything[:size], np.ascontiguousarray(everything[size:])
    generated = time.perf_counter() - started
    del everything
    gc.collect()
    out: dict = {"passages": size, "vectors": kind, "queries": n_queries, "k": K,
                 "generate_s": round(generated, 1), "faiss_threads": faiss.omp_get_max_threads()}

    before = rss_mb()
    started = time.perf_counter()
    flat = DenseIndex.build(base, "flat")
    out["flat"] = {"build_s": round(time.perf_counter() - started, 2), "memory_mb": round(rss_mb() - before, 1),
                   "disk_bytes_per_passage": round(_disk_bytes(flat) / size, 1)}
    started = time.perf_counter()
    _, truth = flat.search(queries, K)  # exact ground truth (batched)
    out["flat"]["batch_search_s"] = round(time.perf_counter() - started, 2)
    times, _ = _single_queries(flat, queries[:flat_queries])
    out["flat"]["search"] = latency(times)
    times, _ = _single_queries(flat, queries[:flat_queries], threads=0)
    out["flat"]["search_all_threads"] = latency(times)
    out["flat"]["recall@10"] = 1.0
    del flat
    gc.collect()

    before = rss_mb()
    started = time.perf_counter()
    hnsw = DenseIndex.build(base, "hnsw")
    build_s = time.perf_counter() - started
    params = hnsw.index.hnsw
    default_ef = int(params.efSearch)
    out["hnsw"] = {"M": int(hnsw.index.hnsw.nb_neighbors(1)), "efConstruction": int(params.efConstruction),
                   "efSearch": default_ef, "build_s": round(build_s, 1),
                   "memory_mb": round(rss_mb() - before, 1),
                   "disk_bytes_per_passage": round(_disk_bytes(hnsw) / size, 1), "sweep": []}
    del base
    gc.collect()
    for ef in sorted(set(sweep) | {default_ef}):
        params.efSearch = ef
        times, found = _single_queries(hnsw, queries)
        row = {"efSearch": ef, "recall@10": round(_recall(found, truth), 4), **latency(times)}
        out["hnsw"]["sweep"].append(row)
        if ef == default_ef:
            out["hnsw"]["search"] = latency(times)
            out["hnsw"]["recall@10"] = row["recall@10"]
    params.efSearch = default_ef
    times, _ = _single_queries(hnsw, queries, threads=0)
    out["hnsw"]["search_all_threads"] = latency(times)
    del hnsw
    gc.collect()
    return out


# ---------------------------------------------------------------- BM25

def _vocabulary(rng: np.random.Generator, size: int) -> tuple[list[str], np.ndarray]:
    """Real CMRC search tokens by frequency, then made-up two- to four-character words."""
    from collections import Counter

    from qa_assistant.store import SparseIndex
    from qa_assistant.ingest import load_articles
    from qa_assistant.passages import char_window, make_passages

    passages = make_passages(load_articles(cmrc_corpus()), char_window(400))
    lists = [SparseIndex.document_tokens(p) for p in passages]
    counts = Counter(t for tokens in lists for t in tokens)
    words = [w for w, _ in counts.most_common()]
    seen = set(words)
    while len(words) < size:
        word = "".join(chr(0x4E00 + int(c)) for c in rng.integers(0, 20902, int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words, np.array([len(t) for t in lists])


def bm25_at(size: int, n_queries: int, seed: int = 3) -> dict:
    from qa_assistant.store import SparseIndex
    from qa_assistant.retrieve import top_rows
    from qa_assistant.text import search_tokens

    rng = np.random.default_rng(seed)
    words, lengths = _vocabulary(rng, 300_000)
    vocabulary = np.array(words, dtype=object)
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    weights = ranks ** -1.05
    weights /= weights.sum()
    cumulative = np.cumsum(weights)
    started = time.perf_counter()
    doc_lengths = rng.choice(lengths, size)
    token_ids = np.searchsorted(cumulative, rng.random(int(doc_lengths.sum())))
    token_ids = np.minimum(token_ids, len(words) - 1)
    bounds = np.concatenate([[0], np.cumsum(doc_lengths)])
    token_lists = [vocabulary[token_ids[bounds[i]:bounds[i + 1]]].tolist() for i in range(size)]
    generated = time.perf_counter() - started
    del token_ids
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    sparse = SparseIndex.build(token_lists)
    build_s = time.perf_counter() - started
    memory = rss_mb() - before
    del token_lists
    gc.collect()
    with tempfile.TemporaryDirectory() as folder:
        sparse.save(Path(folder) / "bm25")
        disk = folder_bytes(Path(folder))
    questions = questions_of(cmrc_questions())[:n_queries]
    tokens = [search_tokens(q) for q in questions]
    sparse.scores(tokens[0])
    score_t, sort_t, part_t, agree = [], [], [], 0
    for query in tokens:
        started = time.perf_counter()
        scores = sparse.scores(query)
        score_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        top_sort = np.argsort(-scores, kind="stable")[:50]
        sort_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        top_part = top_rows(scores, 50)
        part_t.append(time.perf_counter() - started)
        agree += int(np.array_equal(top_sort[scores[top_sort] > 0], top_part[scores[top_part] > 0]))
    return {"passages": size, "tokens_per_passage": round(float(doc_lengths.mean()), 1),
            "vocabulary": len(sparse.vocabulary), "generate_s": round(generated, 1), "build_s": round(build_s, 1),
            "memory_mb": round(memory, 1), "disk_bytes_per_passage": round(disk / size, 1),
            "scores": latency(score_t), "top50_argsort": latency(sort_t), "top50_argpartition": latency(part_t),
            "same_top50": f"{agree}/{len(tokens)}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="100k passages only")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    result: dict = {"machine": machine(), "dense": [], "bm25": []}
    for size in sizes:
        print(f"scale: dense {size:,} …", flush=True)
        result["dense"].append(dense_at(size, args.queries, flat_queries=min(args.queries, 50 if size > 200_000 else 100)))
        write_json(args.json, result)
    print(f"scale: dense {min(sizes):,} uniform (worst case) …", flush=True)
    result["dense_uniform"] = dense_at(min(sizes), args.queries, flat_queries=20, kind="uniform", sweep=(64, 128, 256, 512))
    write_json(args.json, result)
    for size in sizes:
        print(f"scale: bm25 {size:,} …", flush=True)
        result["bm25"].append(bm25_at(size, args.queries))
        write_json(args.json, result)
    write_final(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

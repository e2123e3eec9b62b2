"""Scale on Milvus: dense search latency and recall@10 at 100k and 1M synthetic passages, milvus-lite
(embedded, as ``--index milvus-lite:///…``) against the local store (FAISS via ``store.DenseIndex``), one run.

Vectors are ``common.structured_vectors`` (L2-normalised 384-d, shaped like sentence embeddings; the same
generator and seed as benchmarks/scale.py), queries from the same distribution, not in the index. Each
store uses the dense index the archive would choose at that size (``choose_dense_kind``: exact below
200k passages, HNSW from there, with the project's HNSW parameters, nested in ``params`` for Milvus);
recall@10 is against exact search. Milvus is searched the way ``store.milvus_search.MilvusDense`` does
(one query per call, inner product, the live-generation filter empty), so its latency includes the gRPC
round trip of pymilvus to the in-process milvus-lite server. One query at a time; FAISS on one thread.

    python -m benchmarks.milvus_scale [--sizes 100000 1000000] [--queries 100] [--json out.json]
"""
from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import latency, machine, rss_mb, structured_vectors, write_json

K = 10


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[a >= 0].tolist()) & set(b.tolist())) / len(b) for a, b in zip(found, truth)]))


def local_at(base: np.ndarray, queries: np.ndarray, kind: str, truth: np.ndarray) -> dict:
    from qa_assistant.store import DenseIndex
    from qa_assistant.threads import faiss_threads
    started = time.perf_counter()
    index = DenseIndex.build(base, kind)
    build = time.perf_counter() - started
    times, rows = [], []
    with faiss_threads(1):
        index.search(queries[:3], K)
        for q in queries:
            started = time.perf_counter()
            _, found = index.search(q[None, :], K)
            times.append(time.perf_counter() - started)
            rows.append(found[0])
    return {"index": kind, "build_s": round(build, 1), "search": latency(times),
            "recall@10": round(_recall(np.stack(rows), truth), 4)}


def milvus_at(base: np.ndarray, queries: np.ndarray, kind: str, truth: np.ndarray, folder: Path) -> dict:
    from pymilvus import DataType, MilvusClient

    from qa_assistant.settings import IndexSettings
    from qa_assistant.store.milvus.writing import dense_index_params
    params = IndexSettings()
    client = MilvusClient(str(folder / "bench.db"))
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("gen", DataType.INT64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=base.shape[1])
    indexes = client.prepare_index_params()
    indexes.add_index(**dense_index_params({"hnsw_m": params.hnsw_m,
                                            "hnsw_ef_construction": params.hnsw_ef_construction}, kind))
    client.create_collection("bench", schema=schema, index_params=indexes, consistency_level="Strong")
    started = time.perf_counter()
    step = 5000
    for start in range(0, len(base), step):
        chunk = base[start:start + step]
        client.insert("bench", [{"row": start + i, "gen": 1, "dense": v} for i, v in enumerate(chunk.tolist())])
    client.flush("bench")
    inserted = time.perf_counter() - started
    search = {"metric_type": "IP", "params": {"ef": params.hnsw_ef_search} if kind == "hnsw" else {}}
    started = time.perf_counter()
    client.search("bench", data=[queries[0].tolist()], anns_field="dense", limit=K, search_params=search)
    first = time.perf_counter() - started  # builds what the engine builds lazily
    times, rows = [], []
    for q in queries:
        started = time.perf_counter()
        hits = client.search("bench", data=[q.tolist()], anns_field="dense", limit=K, search_params=search,
                             output_fields=["row"])[0]
        times.append(time.perf_counter() - started)
        found = np.full(K, -1, np.int64)
        found[:len(hits)] = [int(h["row"]) for h in hits]
        rows.append(found)
    disk = sum(p.stat().st_size for p in (folder / "bench.db").rglob("*") if p.is_file())
    client.close()
    return {"index": kind, "insert_s": round(inserted, 1), "first_search_s": round(first, 1),
            "search": latency(times), "recall@10": round(_recall(np.stack(rows), truth), 4),
            "disk_bytes_per_passage": round(disk / len(base), 1)}


def run(size: int, n_queries: int) -> dict:
    from qa_assistant.store import DenseIndex, choose_dense_kind
    everything = structured_vectors(size + n_queries, seed=7)
    base, queries = everything[:size], np.ascontiguousarray(everything[size:])
    del everything
    _, truth = DenseIndex.build(base, "flat").search(queries, K)
    kind = choose_dense_kind(size)
    out = {"passages": size, "queries": n_queries, "k": K, "index": kind,
           "local": local_at(base, queries, kind, truth)}
    print(f"{size:>9,} local  {kind}: p50 {out['local']['search']['p50_ms']} ms, recall@10 {out['local']['recall@10']}",
          flush=True)
    gc.collect()
    folder = Path(tempfile.mkdtemp(prefix="milvus-bench-"))
    try:
        before = rss_mb()
        out["milvus_lite"] = milvus_at(base, queries, kind, truth, folder)
        out["milvus_lite"]["memory_mb"] = round(rss_mb() - before, 1)
    finally:
        from milvus_lite.server_manager import server_manager_instance
        server_manager_instance.release_all()
        shutil.rmtree(folder, ignore_errors=True)
    m = out["milvus_lite"]
    print(f"{size:>9,} milvus-lite {kind}: p50 {m['search']['p50_ms']} ms, recall@10 {m['recall@10']}, "
          f"insert {m['insert_s']} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = {"machine": machine(), "runs": []}
    for size in args.sizes:
        started = time.perf_counter()
        result["runs"].append(run(size, args.queries) | {"wall_s": round(time.perf_counter() - started, 1)})
        if args.json:
            write_json(args.json, result)
    for r in result["runs"]:
        for name in ("local", "milvus_lite"):
            s = r[name]
            print(f"{r['passages']:>9,} {name:<12} {s['index']:<5} p50 {s['search']['p50_ms']:>8} ms  "
                  f"p95 {s['search']['p95_ms']:>8} ms  recall@10 {s['recall@10']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

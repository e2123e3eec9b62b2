"""Shared helpers of the benchmark sections: data, timing, memory, synthetic passages and vectors."""
from __future__ import annotations

import json
import os
import platform
import random
import resource
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "qa_assistant" / "data"
SAMPLE_PAGE = DATA / "page_000.txt"
SAMPLE_QUESTIONS = DATA / "sample_questions.jsonl"


def cmrc_folder() -> Path:
    """The CMRC 2018 trial set the package ships (its question file drops the trial's empty questions)."""
    return DATA / "cmrc2018_trial"


def cmrc_corpus() -> Path:
    return cmrc_folder() / "corpus.jsonl"


def cmrc_questions() -> Path:
    return cmrc_folder() / "questions.jsonl"


def questions_of(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- measuring

def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def latency(samples: Sequence[float]) -> dict:
    """p50/p95/mean in milliseconds of a list of seconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]
    return {"n": len(ordered), "p50_ms": ms(statistics.median(ordered)), "p95_ms": ms(pick(0.95)),
            "mean_ms": ms(statistics.fmean(ordered)), "max_ms": ms(ordered[-1])}


def time_each(function, items, warmup: int = 3) -> list[float]:
    for item in list(items)[:warmup]:
        function(item)
    samples = []
    for item in items:
        started = time.perf_counter()
        function(item)
        samples.append(time.perf_counter() - started)
    return samples


@contextmanager
def stopwatch() -> Iterator[dict]:
    box = {"seconds": 0.0}
    started = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - started


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    """Resident memory now (MiB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def machine() -> dict:
    import torch
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "load_average": [round(x, 2) for x in load]}


# ---------------------------------------------------------------- synthetic data

def sentences_of(texts: Sequence[str]) -> list[str]:
    from qa_assistant.text import sentence_spans
    out = []
    for text in texts:
        out += [text[s.start:s.end].strip() for s in sentence_spans(text) if s.end - s.start > 4]
    return [s for s in out if s]


def synthetic_passages(sentences: Sequence[str], count: int, seed: int = 0, start: int = 0,
                       chars: tuple[int, int] = (120, 420)):
    """``count`` passages of real Chinese sentences drawn at random (CMRC's), each 120–420 characters,
    one per synthetic article (so BM25 sees realistic word statistics, and no passage repeats another)."""
    from qa_assistant.passages import Passage, passage_id
    rng = random.Random(seed)
    passages = []
    for number in range(start, start + count):
        target = rng.randint(*chars)
        parts, size = [], 0
        while size < target:
            sentence = rng.choice(sentences)
            parts.append(sentence)
            size += len(sentence)
        text = "".join(parts)
        title = f"合成文章{number}：{rng.choice(sentences)[:12]}"
        article = f"synthetic-{number}"
        passages.append(Passage(id=passage_id(article, 1, 0, text), article_id=article, title=title, paragraph=1,
                                part=0, text=text, source="synthetic.jsonl", start=0, end=len(text)))
    return passages


def structured_vectors(count: int, dimension: int = 384, seed: int = 0, latent: int = 128,
                       clusters: int = 1000, chunk: int = 100_000) -> np.ndarray:
    """L2-normalised float32 vectors shaped like sentence embeddings rather than uniform noise: points
    around ``clusters`` topic centres in a ``latent``-dimensional subspace, plus isotropic noise, then a
    shared offset (unrelated e5 vectors still have cosine ≈ 0.6–0.7). Random pairs then have cosine ≈ 0.58,
    a point's nearest neighbour ≈ 0.80 and its 10th ≈ 0.77. Uniform random vectors in 384 dimensions have
    no near neighbours at all (every pair ≈ 0), which no text collection looks like: :func:`uniform_vectors`
    is kept as the worst case."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((latent, dimension)).astype(np.float32) / np.sqrt(latent)
    centres = rng.standard_normal((clusters, latent)).astype(np.float32)
    offset = rng.standard_normal(dimension).astype(np.float32)
    offset *= 1.3 / np.linalg.norm(offset)
    out = np.empty((count, dimension), dtype=np.float32)
    for begin in range(0, count, chunk):
        n = min(chunk, count - begin)
        local = np.random.default_rng([seed, begin])
        topic = centres[local.integers(0, clusters, n)]
        z = topic + local.standard_normal((n, latent)).astype(np.float32)
        v = z @ basis
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        v += 0.5 * local.standard_normal((n, dimension)).astype(np.float32) / np.sqrt(dimension)
        v += offset
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[begin:begin + n] = v
    return out


def uniform_vectors(count: int, dimension: int = 384, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def write_final(path: Path, result: dict) -> None:
    """A section's last write: its peak memory and the machine's load at the end, with its figures."""
    result["peak_rss_mb"] = peak_rss_mb()
    result["machine_after"] = machine()
    write_json(path, result)

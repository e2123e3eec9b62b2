"""Thread policy in one place: how many cores the encoder uses, and the per-thread switches that keep a
single question on its calling thread (torch's intra-op threads, FAISS's OpenMP threads). Waiting for a
second thread on a busy 2-core machine costs a scheduler slice, more than a small job saves by splitting."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

FEW_QUESTIONS = 8  # up to this many questions at once, FAISS searches on the calling thread alone


def thread_count(requested: int = 0) -> int:
    """``requested`` threads, or one per core when it is 0."""
    return requested or os.cpu_count() or 1


def configure_threads(requested: int = 0) -> int:
    """Set torch's intra-op threads for batch encoding; returns the count."""
    import torch
    threads = thread_count(requested)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


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


@contextmanager
def faiss_threads(count: int) -> Iterator[None]:
    """FAISS splits even a one-question search over its OpenMP threads; for a few questions that saves
    nothing (flat, 10k passages, one question: 32 ms on 2 threads with other jobs running, 0.3 ms on 1).
    ``count`` 0 leaves it as it is. The setting is per calling thread."""
    if count <= 0:
        yield
        return
    import faiss
    before = faiss.omp_get_max_threads()
    if before == count:
        yield
        return
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)

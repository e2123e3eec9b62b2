"""The Milvus store against milvus-lite (embedded; no server to start): the same answers as the local store,
incremental re-indexing, remove, a writer killed at every write leaving each source old or new, two
processes on one archive through ``milvus-lite server``, and the command line on a milvus-lite URI.

Model-free tests use the stand-in encoder of conftest; those marked e2e load the real model."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus store needs pymilvus (pip install 'qa-assistant[milvus]')")
pytest.importorskip("milvus_lite", reason="milvus-lite cannot be imported on this platform")

from qa_assistant.assistant import Assistant  # noqa: E402
from qa_assistant.identity import sha256_file  # noqa: E402
from qa_assistant.store import IndexLoadError, IndexLockedError  # noqa: E402
from qa_assistant.store.factory import open_store  # noqa: E402
from qa_assistant.store.milvus import parse_uri, reading, writing  # noqa: E402

from .conftest import ARTICLES, ROOT, FakeEmbedder, new_assistant, write_jsonl  # noqa: E402

QUESTION = "经开区总工会慰问了哪些企业？"
EXPECTED = ("北京先瑞达医疗科技有限公司", "北京华联印刷有限公司", "13名困难职工")
CHANGED = [dict(ARTICLES[0], text="区总工会走访慰问困难职工。\n\n送上米面油和棉被。"), ARTICLES[1]]
MORE = [{"id": "m1", "title": "新闻", "text": "市总工会举办职工运动会。\n\n运动会有十个项目。"}]


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    """No readers wait on these writers (except where a test says so): no grace periods."""
    monkeypatch.setattr(writing, "GRACE_SECONDS", 0.0)


def fake_on(uri, embedder: FakeEmbedder | None = None) -> Assistant:
    """A model-free assistant over the Milvus archive at ``uri`` (created when new)."""
    from qa_assistant.settings import Settings
    embedder = embedder or FakeEmbedder()
    store = open_store(uri)
    if not store.saved:
        store.start(embedder.info.to_dict(), Settings(model="fake"))
    return Assistant(store, embedder)


def by_source(assistant: Assistant) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for passage in assistant.passages:
        out.setdefault(Path(passage.source).name, set()).add(passage.id)
    return out


@pytest.fixture
def inputs(tmp_path, sample_page) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample_page, folder / sample_page.name)
    write_jsonl(folder / "news.jsonl", ARTICLES)
    return folder


def hits(assistant: Assistant, question: str, mode: str) -> list[tuple]:
    return [(h.passage.id, round(h.score, 4), round(h.dense, 4), round(h.bm25, 4))
            for h in assistant.retrieve(question, k=10, mode=mode)]


def test_uris():
    lite = parse_uri("milvus-lite:///data/archive.db?collection=news")
    assert (lite.uri, lite.collection, lite.embedded) == ("/data/archive.db", "news", True)
    server = parse_uri("milvus://db.example:19531/prod/news", token="u:p")
    assert (server.uri, server.db_name, server.collection, server.embedded) == ("http://db.example:19531", "prod",
                                                                                "news", False)
    assert "u:p" not in repr(server) and str(server) == "milvus://db.example:19531/prod/news"
    with pytest.raises(IndexLoadError, match="no credentials in the URI"):
        parse_uri("milvus://root:secret@host:19530/news")
    with pytest.raises(IndexLoadError, match="ends in .db"):
        parse_uri("milvus-lite:///data/archive")


def test_same_hits_as_the_local_store_then_incremental_updates_and_remove(tmp_path, inputs):
    uri = f"milvus-lite://{tmp_path}/archive.db"
    milvus, local = fake_on(uri), new_assistant(None)
    first = milvus.index([inputs])
    local.index([inputs])
    assert first.passages_added == len(local.passages) == milvus.info()["passages"] > 20
    questions = [QUESTION, "区总工会给困难职工送了什么？", "技能大赛", "English question without Chinese words"]
    for question in questions:
        for mode in ("hybrid", "dense", "bm25"):
            assert hits(milvus, question, mode) == hits(local, question, mode), (question, mode)
    again = fake_on(uri)
    report = again.index([inputs])
    assert (report.passages_added, report.passages_removed, report.passages_embedded) == (0, 0, 0)
    assert again.embedder.encoded == []
    write_jsonl(inputs / "news.jsonl", CHANGED)
    report = again.index([inputs])
    assert (report.files_unchanged, report.passages_added, report.passages_removed, report.passages_embedded) == (
        1, 1, 1, 1)
    assert again.store.sources()[str((inputs / "news.jsonl").resolve())] == sha256_file(inputs / "news.jsonl")
    local.index([inputs])
    assert hits(again, "送上米面油和棉被", "hybrid") == hits(local, "送上米面油和棉被", "hybrid")
    assert again.remove(["a2"]) == 1
    assert again.remove(["nothing-like-this"]) == 0
    assert again.index([inputs]).passages_added == 0  # a removed article of an unchanged file stays removed
    assert again.remove([str(inputs / "news.jsonl")]) == 2  # a1's two paragraphs
    assert set(by_source(again)) == {"page_000.txt"}
    left = len(again.passages)
    assert again.remove(["page_000.txt"]) == left
    assert again.info()["passages"] == 0 and again.info()["sources"] == []
    assert again.retrieve(QUESTION, k=5) == []


def test_a_milvus_archive_is_never_updated_at_another_precision(tmp_path, inputs):
    """The facade's rule holds for every store: vectors of two precisions never mix in one archive."""
    from qa_assistant.identity import ModelMismatchError
    uri = f"milvus-lite://{tmp_path}/archive.db"
    fake_on(uri, FakeEmbedder(precision="fp32")).index([inputs / "news.jsonl"])
    other = fake_on(uri, FakeEmbedder(precision="int8"))
    write_jsonl(inputs / "news.jsonl", CHANGED)
    with pytest.raises(ModelMismatchError, match="made at fp32 precision, the encoder loaded runs at int8"):
        other.index([inputs / "news.jsonl"])
    assert other.embedder.encoded == []
    assert fake_on(uri, FakeEmbedder(precision="fp32")).index([inputs / "news.jsonl"]).passages_added == 1


def test_dates_filter_inside_the_search(tmp_path):
    news = write_jsonl(tmp_path / "dated.jsonl", [
        {"id": "d1", "title": "早", "text": "职工运动会在一月举行。", "date": "2024-01-12"},
        {"id": "d2", "title": "晚", "text": "职工运动会在三月举行。", "date": "2024-03-02"}])
    milvus, local = fake_on(f"milvus-lite://{tmp_path}/archive.db"), new_assistant(None)
    milvus.index([news])
    local.index([news])
    for since, until in (("2024-02", None), (None, "2024-01"), ("2024", "2024")):
        got = [h.passage.date for h in milvus.retrieve("职工运动会", k=5, since=since, until=until)]
        assert got == [h.passage.date for h in local.retrieve("职工运动会", k=5, since=since, until=until)]


def test_a_passage_read_by_ocr_is_kept_without_its_confidence(tmp_path, monkeypatch):
    """The archive's schema is fixed: an OCR'd passage is written and read back whole, ``ocr`` as None."""
    from qa_assistant.ingest import Article, Paragraph, files
    monkeypatch.setitem(files.READERS, ".txt", lambda path, source: [
        Article("scan:1", "扫描版", (Paragraph("区总工会走访慰问了13名困难职工。", ocr=0.9),), source)])
    page = tmp_path / "scan.txt"
    page.write_text("(read by the stand-in reader)", encoding="utf-8")
    milvus = fake_on(f"milvus-lite://{tmp_path}/archive.db")
    assert milvus.index([page]).passages_added == 1
    [passage] = fake_on(f"milvus-lite://{tmp_path}/archive.db").passages
    assert (passage.text, passage.ocr) == ("区总工会走访慰问了13名困难职工。", None)


def test_cmrc_bm25_scores_match_the_local_store(tmp_path):
    corpus = ROOT / "qa_assistant" / "data" / "cmrc2018_trial" / "corpus.jsonl"
    questions = [json.loads(line)["question"] for line in
                 (corpus.parent / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:40]]
    milvus, local = fake_on(f"milvus-lite://{tmp_path}/archive.db"), new_assistant(None)
    milvus.index([corpus])
    local.index([corpus])
    assert len(milvus.passages) == len(local.passages) > 500
    for question in questions:
        m, l = milvus.retrieve(question, k=10, mode="bm25"), local.retrieve(question, k=10, mode="bm25")
        assert [h.passage.id for h in m] == [h.passage.id for h in l], question
        assert np.allclose([h.score for h in m], [h.score for h in l], rtol=1e-4)


def test_a_second_process_on_an_embedded_archive_is_told_what_to_do(tmp_path, inputs):
    uri = f"milvus-lite://{tmp_path}/archive.db"
    fake_on(uri).index([inputs / "news.jsonl"])
    code = ("import sys\nfrom qa_assistant.store.factory import open_store\n"
            "try:\n    open_store(sys.argv[1])\nexcept Exception as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, uri], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "milvus-lite server" in out.stdout, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr  # milvus-lite logs the lock's traceback before it raises


# ---------------------------------------------------------------- a writer killed at every write

WRITER = r"""
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
from tests.conftest import FakeEmbedder
from tests.test_store_milvus import fake_on
from qa_assistant.store.milvus import writing
uri, die_at, grace, paths = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]
writing.GRACE_SECONDS = grace
count = [0]
if die_at:
    from pymilvus import MilvusClient
    for name in ("insert", "upsert", "delete", "drop_collection"):
        def wrapper(self, *args, _real=getattr(MilvusClient, name), **kwargs):
            count[0] += 1
            if count[0] == die_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return _real(self, *args, **kwargs)
        setattr(MilvusClient, name, wrapper)
report = fake_on(uri).index(paths)
print(json.dumps({"added": report.passages_added, "writes": count[0], "pid": os.getpid()}))
"""


def _writer(uri: str, paths: list, die_at: int = 0, grace: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT), uri, str(die_at), str(grace),
                             *map(str, paths)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _expected(inputs: Path) -> dict[str, set[str]]:
    local = new_assistant(None)
    local.index([inputs])
    return {name: ids for name, ids in by_source(local).items()}


def test_kill_at_every_write_leaves_each_source_old_or_new(tmp_path, inputs):
    pristine = tmp_path / "pristine.db"
    first = fake_on(f"milvus-lite://{pristine}")
    first.index([inputs])
    old = by_source(first)
    first.store.close()
    write_jsonl(inputs / "news.jsonl", CHANGED)
    write_jsonl(inputs / "more.jsonl", MORE)
    new = _expected(inputs)
    assert old["news.jsonl"] != new["news.jsonl"]
    new_digest = sha256_file(inputs / "news.jsonl")
    states = []
    for step in range(1, 60):
        archive = tmp_path / f"step{step}.db"
        shutil.copytree(pristine, archive)
        writer = _writer(f"milvus-lite://{archive}", [inputs], die_at=step)
        out, err = writer.communicate(timeout=300)
        assistant = fake_on(f"milvus-lite://{archive}")
        seen = by_source(assistant)
        state = {}
        for name in ("page_000.txt", "news.jsonl", "more.jsonl"):
            got = seen.get(name, set())
            assert got in (old.get(name, set()), new[name]), (step, name)
            state[name] = "new" if got == new[name] != old.get(name, set()) else "old"
        checksum = assistant.store.sources().get(str((inputs / "news.jsonl").resolve()))
        assert (checksum == new_digest) == (state["news.jsonl"] == "new"), step
        assert len(assistant.retrieve("职工", k=50, mode="bm25")) <= len(assistant.passages)
        if writer.returncode == 0:
            assistant.store.close()
            break
        assert writer.returncode == -9, err
        states.append(tuple(sorted(state.items())))
        assistant.index([inputs])  # the next writer clears what the killed one left, then finishes the job
        assert by_source(assistant) == new
        store = assistant.store
        connection = store.connection
        total = connection.client.query(connection.name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        assert total == len(assistant.passages)  # no rows of dead generations left behind
        store.close()
        shutil.rmtree(archive)
    else:
        pytest.fail("the writer never finished")
    assert json.loads(out)["writes"] == step - 1
    kinds = {dict(s)["news.jsonl"] for s in states}
    assert kinds == {"old", "new"} and len(states) >= 8, states


# ---------------------------------------------------------------- two processes, one archive

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lite_server(tmp_path):
    """``milvus-lite server`` on a free loopback port: several processes share one archive through it."""
    port = _free_port()
    binary = Path(sys.executable).with_name("milvus-lite")
    server = subprocess.Popen([str(binary), "server", "--data-dir", str(tmp_path / "served.db"), "--host",
                               "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"milvus-lite server did not start: {server.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
    try:
        yield f"milvus://127.0.0.1:{port}/qa"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_reader_and_a_writer_in_two_processes_share_one_archive(lite_server, inputs, monkeypatch):
    reader = fake_on(lite_server)
    reader.index([inputs])
    old = by_source(reader)
    write_jsonl(inputs / "news.jsonl", CHANGED)
    write_jsonl(inputs / "more.jsonl", MORE)
    new = _expected(inputs)
    writer = _writer(lite_server, [inputs], grace=reading.REFRESH_SECONDS * 2 + 0.2)
    seen, refused = set(), None
    while writer.poll() is None:
        state = by_source(reader)
        for name in ("page_000.txt", "news.jsonl", "more.jsonl"):
            assert state.get(name, set()) in (old.get(name, set()), new[name]), name
        seen.add(state.get("news.jsonl") == new["news.jsonl"])
        assert reader.retrieve(QUESTION, k=3)
        if refused is None and reader.store.writer.holder().get("pid") == writer.pid:
            try:
                reader.remove(["a2"])
            except IndexLockedError as error:
                refused = str(error)
            else:
                pytest.fail("a second writer was let in")
        time.sleep(0.05)
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert f"pid {json.loads(out)['pid']}" in refused
    time.sleep(reading.REFRESH_SECONDS + 0.1)
    assert by_source(reader) == new and seen >= {False}


# ---------------------------------------------------------------- the real model

def _cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    return subprocess.run([sys.executable, "-m", "qa_assistant.cli", "-q", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.mark.e2e
def test_cli_on_a_milvus_lite_uri(tmp_path, sample_page):
    uri = f"milvus-lite://{tmp_path}/archive.db"
    built = _cli("index", str(sample_page), "--index", uri, "--no-progress")
    assert built.returncode == 0 and "−0 passages" in built.stdout, built.stderr
    answer = _cli("ask", QUESTION, "--index", uri, "--json")
    assert answer.returncode == 0, answer.stderr
    first = json.loads(answer.stdout)["passages"][0]["text"]
    assert all(name in first for name in EXPECTED), first
    again = _cli("index", str(sample_page), "--index", uri, "--no-progress")
    assert again.returncode == 0 and "+0 −0 passages" in again.stdout, again.stdout + again.stderr
    info = json.loads(_cli("info", "--index", uri).stdout)
    assert info["index"] == uri and info["passages"] > 20 and info["sparse"]["type"] == "bm25"
    missing = _cli("ask", QUESTION, "--index", f"milvus-lite://{tmp_path}/none.db")
    assert missing.returncode == 2 and "no such index" in missing.stderr
    removed = _cli("remove", "page_000.txt", "--index", uri)
    assert removed.returncode == 0 and f"removed {info['passages']} passages, 0 left" in removed.stdout


@pytest.mark.e2e
def test_real_model_same_rankings_as_the_local_store(tmp_path, assistant):
    """The sample page's questions on Milvus and on the folder index: the same passages in the same order."""
    from qa_assistant.settings import Settings
    store = open_store(f"milvus-lite://{tmp_path}/archive.db")
    store.start(assistant.embedder.info.to_dict(), Settings.from_dict(assistant.data.manifest["settings"]))
    milvus = Assistant(store, assistant.embedder)
    milvus.index(sorted({p.source for p in assistant.passages}))
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "qa_assistant" / "data" / "sample_questions.jsonl").read_text(encoding="utf-8").splitlines()]
    for question in questions:
        for mode in ("hybrid", "dense", "bm25"):
            ours = [h.passage.id for h in milvus.retrieve(question, k=5, mode=mode)]
            assert ours == [h.passage.id for h in assistant.retrieve(question, k=5, mode=mode)], (question, mode)
    answer = milvus.ask(QUESTION)
    assert answer.found and all(name in answer.quotes[0].passage.text for name in EXPECTED)
    with pytest.raises(IndexLoadError):
        Assistant.open(f"milvus-lite://{tmp_path}/nothing.db")


@pytest.mark.e2e
def test_chat_page_served_from_a_milvus_uri(tmp_path, sample_page):
    """``qa-assistant serve --index milvus-lite:///…``: the page's API answers as it does from a folder."""
    import urllib.request

    from gradio_client import Client
    uri = f"milvus-lite://{tmp_path}/archive.db"
    assert _cli("index", str(sample_page), "--index", uri, "--no-progress").returncode == 0
    port = _free_port()
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "qa_assistant.cli", "serve", "--index", uri, "--port", str(port)],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 420
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(url + "gradio_api/info", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
                time.sleep(1)
        client = Client(url, verbose=False)
        result = client.predict(QUESTION, [], 5, "hybrid", api_name="/ask")
        quoted = [p for p in result["passages"] if p["quoted"]]
        assert result["found"] and all(name in quoted[0]["text"] for name in EXPECTED)
        assert "《经开区总工会开展困难职工慰问活动》" in quoted[0]["citation"]
        follow_up = client.predict("给他们送了什么慰问品？", [QUESTION], 5, "hybrid", api_name="/ask")
        assert any("杂粮粥" in p["text"] for p in follow_up["passages"] if p["quoted"])
        assert client.predict("今天北京天气怎么样？", [], 5, "hybrid", api_name="/ask")["found"] is False
        for mode in ("dense", "bm25"):
            assert len(client.predict(QUESTION, [], 3, mode, api_name="/ask")["passages"]) == 3
        assert uri in (tmp_path / "server.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

"""Reliability: every bad input gets a clear answer and leaves the index as it was; a writer killed
with SIGKILL at any moment leaves a loadable index that still answers; so does an upload, and once the
index is next opened no uploaded original is left that the index does not hold; two writers never mix.

Model-free tests use the stand-in encoder of conftest; the e2e ones use the real model (the session
index, copied before anything writes to it) and real ``qa-assistant`` subprocesses."""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa_assistant import Assistant
from qa_assistant.store import MANIFEST, load_index
from qa_assistant.ingest import FileTooLargeError, IngestError
from qa_assistant.settings import SettingsError, environment_changes
from .conftest import ARTICLES, killed_in_child, new_assistant, reopen, snapshot, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "经开区总工会慰问了哪些企业？"
COMPANY = "北京先瑞达医疗科技有限公司"


def _cmrc_corpus() -> Path:
    return ROOT / "qa_assistant" / "data" / "cmrc2018_trial" / "corpus.jsonl"  # shipped with the package


@pytest.fixture
def small(tmp_path, sample_page):
    """A model-free index of the sample page; the folder of inputs to add bad files to."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(sample_page, inputs / sample_page.name)
    assistant = new_assistant(tmp_path / "idx")
    assistant.index([inputs])
    return assistant, tmp_path / "idx", inputs


def refused_and_intact(folder: Path, inputs: list[Path], match: str) -> IngestError:
    before, manifest = snapshot(folder), (folder / MANIFEST).read_bytes()
    with pytest.raises(IngestError, match=match) as caught:
        reopen(folder).index(inputs)
    assert snapshot(folder) == before and (folder / MANIFEST).read_bytes() == manifest
    load_index(folder)
    return caught.value


# ---------------------------------------------------------------- bad inputs (no model)

@pytest.mark.parametrize("name,content", [("empty.txt", b""), ("blank.txt", b"\n \n\t\r\n\xe3\x80\x80\n"),
                                          ("empty.jsonl", b"\n\n"), ("empty.md", b"")])
def test_empty_file_is_skipped_with_a_warning(small, caplog, name, content):
    _, folder, inputs = small
    (inputs / name).write_bytes(content)
    write_jsonl(inputs / "news.jsonl", ARTICLES)
    with caplog.at_level(logging.WARNING, logger="qa_assistant.assistant"):
        report = reopen(folder).index([inputs])
    assert f"{name}: empty file (no text), skipped" in caplog.text
    assert report.files_skipped == 1 and report.passages_added == 3  # the other new file still goes in
    assert str((inputs / name).resolve()) not in load_index(folder).manifest["sources"]


def test_emptied_file_takes_its_passages_out(small):
    _, folder, inputs = small
    news = write_jsonl(inputs / "news.jsonl", ARTICLES)
    reopen(folder).index([inputs])
    news.write_text("")
    report = reopen(folder).index([inputs])
    assert report.passages_removed == 3 and report.files_skipped == 1
    assert not {"news:a1", "news:a2"} & {p.article_id for p in load_index(folder).passages}


@pytest.mark.parametrize("name,content,message", [
    ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "looks like a binary file"),
    ("archive.jsonl", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + os.urandom(2048), "looks like a binary file"),
    ("controls.md", bytes(range(1, 32)) * 40, "looks like a binary file"),
    ("garbage.txt", b"\xff\xfe\xfd" * 100, "does not decode to text"),
    ("noise.txt", b"\xfd\xfc\x81\x30" * 100, "cannot tell the text encoding"),
])
def test_binary_or_undecodable_file_refuses_the_run(small, name, content, message):
    _, folder, inputs = small
    write_jsonl(inputs / "news.jsonl", ARTICLES)
    (inputs / name).write_bytes(content)
    refused_and_intact(folder, [inputs], rf"{name}: {message}")


def test_gbk_and_gb18030_pages_index_like_utf8(small, sample_page, tmp_path):
    assistant, folder, _ = small
    text = sample_page.read_text(encoding="utf-8")
    for encoding in ("gbk", "gb18030", "utf-8-sig"):
        other = tmp_path / encoding
        other.mkdir()
        (other / sample_page.name).write_bytes(text.encode(encoding))
        fresh = reopen(folder)
        report = fresh.index([other / sample_page.name])
        # the same articles (headings, texts) from another file: a copy of their own, no vector is re-made
        assert report.passages_embedded == 0 and fresh.embedder.encoded == []
        copy = [(p.heading, p.text) for p in fresh.passages if p.source == str((other / sample_page.name).resolve())]
        assert copy == [(p.heading, p.text) for p in assistant.passages]


@pytest.mark.parametrize("line,message", [
    ('{"id": "x", "title": "t"', r"invalid JSON \(Expecting ',' delimiter"),
    ('{"id": "x", "title": "t"}', "field 'text': is missing"),
    ('{"id": "x", "title": 5, "text": "正文。"}', "field 'title': must be a string"),
    ('{"id": "", "title": "t", "text": "正文。"}', "field 'id': must be a non-empty"),
    ('{"id": "a1", "title": "t", "text": "正文。"}', "field 'id': duplicate id 'a1' \\(first on line 1\\)"),
    ('{"id": "x", "title": "t", "text": "  "}', "field 'text': is empty"),
    ('"just a string"', "expected a JSON object"),
])
def test_malformed_jsonl_line_refuses_the_whole_run(small, line, message):
    _, folder, inputs = small
    write_jsonl(inputs / "good.jsonl", [{"id": "g", "title": "好", "text": "这一篇没有问题。"}])
    bad = inputs / "bad.jsonl"
    bad.write_text(json.dumps(ARTICLES[0], ensure_ascii=False) + "\n" + line + "\n" + json.dumps(ARTICLES[1]) + "\n",
                   encoding="utf-8")
    error = refused_and_intact(folder, [inputs], rf"bad.jsonl:2: {message}")
    assert error.line == 2 and error.path == str(bad.resolve())


def _big_page(path: Path, megabytes: int, sample_page: Path) -> Path:
    block = sample_page.read_text(encoding="utf-8").encode("utf-8")
    with open(path, "wb") as handle:
        for copy in range(megabytes * (1 << 20) // len(block) + 1):
            handle.write(block.replace("经开区".encode(), f"经开区{copy}".encode()))
    return path


def test_50_mb_file_is_refused_unread_by_name_size_and_limit(small, sample_page, tmp_path, monkeypatch):
    _, folder, inputs = small
    big = _big_page(inputs / "archive.txt", 50, sample_page)
    write_jsonl(inputs / "news.jsonl", ARTICLES)

    def no_reading(path):
        raise AssertionError(f"{path} was read")
    monkeypatch.setattr("qa_assistant.ingest.files.read_text", no_reading)  # refused before any file is read
    started = time.perf_counter()
    error = refused_and_intact(folder, [inputs], r"archive.txt: file is 50(\.\d+)? MB, over the limit of 10 MB per file")
    assert isinstance(error, FileTooLargeError) and "--max-file-mb 51" in str(error) and "QA_ASSISTANT_MAX_FILE_MB" in str(error)
    assert time.perf_counter() - started < 30
    assert big.stat().st_size > 50 * (1 << 20)


def test_size_limit_can_be_raised_and_an_unchanged_big_file_is_not_refused(small, sample_page):
    _, folder, inputs = small
    big = _big_page(inputs / "twice.txt", 0, sample_page)  # one copy of the page, some 10 KB

    def limited(mb: float) -> Assistant:
        assistant = reopen(folder)
        assistant.settings = assistant.settings.replace(max_file_mb=mb)
        return assistant
    with pytest.raises(FileTooLargeError, match=r"twice.txt: file is \d+(\.\d+)? KB, over the limit of 5\.1\d* KB per file"):
        limited(0.005).index([big])
    assert limited(0).index([big]).passages_total > 0  # 0: no limit
    assert limited(0.005).index([inputs]).files_unchanged == 2  # already indexed and unchanged: not re-read


def test_the_environment_sets_the_size_limit_at_the_edge():
    assert environment_changes({"QA_ASSISTANT_MAX_FILE_MB": "0.005"}) == {"max_file_mb": 0.005}
    with pytest.raises(SettingsError, match="QA_ASSISTANT_MAX_FILE_MB='ten': not a valid max_file_mb"):
        environment_changes({"QA_ASSISTANT_MAX_FILE_MB": "ten"})


def test_missing_input_and_folder_without_inputs(small, tmp_path, caplog):
    _, folder, _ = small
    refused_and_intact(folder, [tmp_path / "nope.txt"], "nope.txt: no such file or folder")
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "a.mp3").write_bytes(b"ID3")
    refused_and_intact(folder, [tmp_path / "audio"], "nothing to index: no files of a supported kind")
    (tmp_path / "notes.csv").write_text("a,b\n")
    refused_and_intact(folder, [tmp_path / "notes.csv"], r"notes.csv: unsupported kind of file \(.csv\); supported: .txt")


def test_failed_first_build_leaves_no_folder(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    with pytest.raises(IngestError, match="bad.jsonl:1"):
        new_assistant(tmp_path / "new-index").index([bad])
    assert not (tmp_path / "new-index").exists()


# ---------------------------------------------------------------- real model, real processes

def cli(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "qa_assistant.cli", "-q", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def answers(folder: Path, embedder) -> str:
    """The first quoted passage for the question, from the index as saved (checksums verified)."""
    answer = Assistant.open(folder, embedder=embedder).ask(QUESTION)
    assert answer.found and answer.quotes
    return answer.quotes[0].passage.text


@pytest.fixture
def index_copy(sample_index, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(sample_index, copy)
    return copy


@pytest.mark.e2e
def test_reindexing_embeds_nothing_and_keeps_answers(index_copy, assistant, sample_page, tmp_path):
    before, first = snapshot(index_copy), answers(index_copy, assistant.embedder)
    again = Assistant.open(index_copy, embedder=_Counting(assistant.embedder))
    report = again.index([sample_page])
    assert (report.files_unchanged, report.passages_added, report.passages_embedded) == (1, 0, 0)
    forced = again.index([sample_page], force=True)
    assert (forced.passages_added, forced.passages_removed, forced.passages_embedded) == (0, 0, 0)
    assert again.embedder.calls == 0
    assert snapshot(index_copy) == before and answers(index_copy, assistant.embedder) == first
    # the same page in GBK from another folder: a copy of its own, and nothing re-embedded
    gbk = tmp_path / "gbk"
    gbk.mkdir()
    (gbk / sample_page.name).write_bytes(sample_page.read_text(encoding="utf-8").encode("gbk"))
    report = again.index([gbk])
    assert (report.passages_added, report.passages_embedded, again.embedder.calls) == (26, 0, 0)
    assert {p.source for p in load_index(index_copy).passages} == {str(sample_page.resolve()),
                                                                   str((gbk / sample_page.name).resolve())}
    assert COMPANY in answers(index_copy, assistant.embedder)


@pytest.mark.e2e
def test_lazy_model_is_not_loaded_for_unchanged_files_or_remove(index_copy, sample_page):
    lazy = Assistant.load(index_copy, lazy_model=True)
    assert lazy.index([sample_page]).files_unchanged == 1
    assert lazy.remove(["no-such-article"]) == 0 and lazy.remove([lazy.passages[0].article_id]) > 0
    assert lazy.embedder._real is None  # never loaded
    manifest = json.loads((index_copy / MANIFEST).read_text())
    manifest["model"]["fingerprint"] = "0" * 64
    (index_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="index was built with model multilingual-e5-small"):
        Assistant.load(index_copy, lazy_model=True)  # still checked up front


class _Counting:
    def __init__(self, embedder):
        self.inner, self.calls = embedder, 0

    def encode_passages(self, *args, **kwargs):
        self.calls += 1
        return self.inner.encode_passages(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.e2e
def test_cli_malformed_jsonl_changes_nothing(index_copy, assistant, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "g1", "title": "新闻", "text": "一段正常的文字。"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "b1", "title": "好", "text": "正文。"}\n{"id": "b2", "title": 3, "text": "x"}\n', encoding="utf-8")
    before, manifest = snapshot(index_copy), (index_copy / MANIFEST).read_bytes()
    result = cli("index", good, bad, "--index", index_copy)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"{bad}:2: field 'title': must be a string" in result.stderr
    assert snapshot(index_copy) == before and (index_copy / MANIFEST).read_bytes() == manifest
    assert COMPANY in answers(index_copy, assistant.embedder)


@pytest.mark.e2e
def test_cli_index_dir_errors(tmp_path, sample_page):
    (tmp_path / "a-file").write_text("x")
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"mine")
    checks = [
        (("ask", QUESTION, "--index", folder), "not an index (no manifest.json"),
        (("remove", "x", "--index", tmp_path / "missing"), "no such index folder"),
        (("info", "--index", tmp_path / "a-file"), "is a file, not an index folder"),
        (("index", sample_page, "--index", folder), "not an index (no manifest.json) and not empty (thesis.docx)"),
    ]
    for args, message in checks:
        result = cli(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert result.stderr.strip().count("\n") == 0
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.docx"]


# A real indexing process, paused just before its n-th change to the index folder (rename, folder or
# file removal) so that it can be killed exactly there.
PAUSING = r"""
import os, shutil, sys, time
folder, stop = os.path.realpath(sys.argv[1]), int(sys.argv[2])
count = 0
def pausing(name, real):
    def call(*args, **kwargs):
        global count
        if os.path.realpath(str(args[0])).startswith(folder + os.sep):
            count += 1
            if count == stop:
                print(f"PAUSED before {name} {args[0]}", file=sys.stderr, flush=True)
                time.sleep(600)
        return real(*args, **kwargs)
    return call
os.replace, os.unlink, shutil.rmtree = pausing("replace", os.replace), pausing("unlink", os.unlink), pausing("rmtree", shutil.rmtree)
from qa_assistant.cli import main
sys.exit(main(["-q", "index", "--no-progress", "--index", folder] + sys.argv[3:]))
"""


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    if process.stderr:
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def _wait_for(process: subprocess.Popen, marker: str, timeout: float = 300) -> str:
    """Read the process's stderr (a binary pipe) until ``marker`` shows; returns the text from the
    marker to the end of what was read, '' when the process ended first."""
    deadline, seen = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            return ""
        seen += chunk
        text = seen.decode("utf-8", "replace")
        if marker in text:
            return text[text.index(marker):]
    raise AssertionError(f"no {marker!r} within {timeout} s")


@pytest.mark.e2e
def test_kill_9_at_any_moment_leaves_an_index_that_answers(index_copy, assistant, sample_page, tmp_path):
    corpus = _cmrc_corpus()
    original = snapshot(index_copy)

    # the whole CMRC trial corpus (minutes of embedding), killed after 1 s and 3 s
    for delay in (1, 3):
        process = subprocess.Popen([sys.executable, "-m", "qa_assistant.cli", "-q", "index", "--no-progress",
                                    sample_page, corpus, "--index", index_copy])
        time.sleep(delay)
        _kill(process)
        assert snapshot(index_copy) == original
        assert COMPANY in answers(index_copy, assistant.embedder)

    # killed while embedding (the progress bar has started)
    process = subprocess.Popen([sys.executable, "-m", "qa_assistant.cli", "index", sample_page, corpus,
                                "--index", index_copy], stderr=subprocess.PIPE)
    try:
        assert _wait_for(process, "embedding passages")
        time.sleep(2)
        assert process.poll() is None
    finally:
        _kill(process)
    assert snapshot(index_copy) == original
    assert COMPANY in answers(index_copy, assistant.embedder)

    # killed during a save (each run adds one more article): with the new files moved in, just before
    # the manifest switch, and just after it. While the first is paused there, a second writer is
    # refused, naming it. (Every step of a save is covered without the model in
    # test_index.py::test_kill_at_every_step_of_a_save.)
    states = []
    for n, stop in enumerate((4, 5)):
        extra = write_jsonl(tmp_path / f"extra{n}.jsonl", [{"id": f"k{n}", "title": "补充", "text": f"这是补充的第{n}篇短文章。"}])
        manifest = (index_copy / MANIFEST).read_bytes()
        process = subprocess.Popen([sys.executable, "-c", PAUSING, index_copy, str(stop), sample_page, extra],
                                   stderr=subprocess.PIPE, cwd=ROOT)
        try:
            paused = _wait_for(process, "PAUSED")
            assert paused, f"run {n} ended before its change {stop} to the index folder"
            if n == 0:
                second = cli("index", sample_page, extra, "--index", index_copy)
                assert second.returncode == 2 and second.stderr.strip().count("\n") == 0
                assert f"index is being written by pid {process.pid}; try again when it has finished" in second.stderr
        finally:
            _kill(process)
        ids = {p.article_id for p in load_index(index_copy).passages}  # every named file verified
        old = (index_copy / MANIFEST).read_bytes() == manifest
        assert (f"extra{n}:k{n}" not in ids) if old else (f"extra{n}:k{n}" in ids), paused
        states.append(("old" if old else "new", paused.splitlines()[0].split(" ", 2)[2].strip()))
        assert COMPANY in answers(index_copy, assistant.embedder), paused
    assert [state for state, _ in states] == ["old", "new"], states
    assert states[0][1].endswith("manifest.json"), states

    # the next run finishes the job and clears what the killed ones left behind
    extras = sorted(tmp_path.glob("extra*.jsonl"))
    Assistant.open(index_copy, embedder=assistant.embedder).index([sample_page, *extras])
    assert {f"extra{n}:k{n}" for n in range(2)} <= {p.article_id for p in load_index(index_copy).passages}
    files = json.loads((index_copy / MANIFEST).read_text())["files"]
    assert {p.name for p in index_copy.iterdir()} == {MANIFEST, "index.lock", files["store"], files["dense"], files["sparse"]}


@pytest.mark.e2e
def test_truncated_index_is_one_clear_error_not_a_crash(index_copy):
    dense = index_copy / json.loads((index_copy / MANIFEST).read_text())["files"]["dense"]
    dense.write_bytes(dense.read_bytes()[:100])
    result = cli("ask", QUESTION, "--index", index_copy)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert f"{dense}: checksum mismatch (file truncated or altered)" in result.stderr


# ---------------------------------------------------------------- uploads killed (issue 19)
# After kill -9 at any moment of an upload, and the next open of the index (which settles what the upload
# left, as a server start does): every file in INDEX/originals is one the index holds, with the content it
# indexed, and nothing hidden is left but the folder's mark. The stand-in encoder where the model does
# not matter; one real server at the end.

def originals_agree_with_the_index(folder: Path) -> dict[str, bytes]:
    """Check that settling left INDEX/originals as the index holds it; returns the originals by name."""
    from qa_assistant.store.files import ORIGINALS, ORIGINALS_MARK
    from qa_assistant.identity import sha256_file
    sources = load_index(folder).manifest["sources"]
    home = (folder / ORIGINALS).resolve()
    kept = {p.name: p.read_bytes() for p in home.iterdir() if p.name != ORIGINALS_MARK}
    for name in kept:
        assert not name.startswith("."), f"{name} left in originals"
        assert sources.get(str(home / name)) == sha256_file(home / name), f"originals/{name} is not what the index holds"
    return kept


@pytest.fixture
def uploaded(tmp_path):
    """An index (stand-in encoder) with one uploaded original, news.jsonl, and the next upload's files: a
    new version of news.jsonl and a new page.txt."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    first = new_assistant(tmp_path / "idx")
    first.upload([write_jsonl(inputs / "news.jsonl", ARTICLES)])
    write_jsonl(inputs / "news.jsonl", ARTICLES[:1] + [{"id": "a3", "title": "新版", "text": "新版本的一段。"}])
    (inputs / "page.txt").write_text("春季植树活动\n\n本报讯 区园林局组织职工植树三百棵。\n", encoding="utf-8")
    return tmp_path / "idx", inputs


def _die_before(step: int, folder: Path) -> None:
    """In this (forked) process, SIGKILL itself just before its ``step``-th change in ``folder`` (a rename,
    a removal or a file copy)."""
    count = 0
    inside = str(folder.resolve()) + os.sep

    def lethal(real):
        def call(*args, **kwargs):
            nonlocal count
            if any(os.path.realpath(str(a)).startswith(inside) for a in args[:2] if isinstance(a, (str, Path))):
                count += 1
                if count == step:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call
    os.replace, os.unlink, shutil.rmtree, shutil.copyfile = (lethal(os.replace), lethal(os.unlink),
                                                             lethal(shutil.rmtree), lethal(shutil.copyfile))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_an_upload_killed_at_every_step_is_settled_on_the_next_open(uploaded, caplog):
    """Killed before each change an upload makes (journal, setting the old version aside, copying, the
    index save, the clean-up): the next open leaves the old archive with the old original, or the new one
    with the new original; a live name never holds content the index does not."""
    from qa_assistant.originals import settle_uploads
    run, inputs = uploaded
    pristine = run.parent / "pristine"
    shutil.copytree(run, pristine)
    old_news, new_news = (run / "originals" / "news.jsonl").read_bytes(), (inputs / "news.jsonl").read_bytes()
    manifest = (run / MANIFEST).read_bytes()
    states, settled = [], []
    for step in range(1, 40):
        shutil.rmtree(run)
        shutil.copytree(pristine, run)  # each run starts from the same archive (sources are absolute paths)
        def upload():  # the uploading process
            _die_before(step, run)
            reopen(run).upload([inputs / "news.jsonl", inputs / "page.txt"])

        if not killed_in_child(upload):
            break  # the upload has fewer changes: every one was covered
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="qa_assistant.originals"):
            done = settle_uploads(run)
        if done:
            assert "settled what an interrupted upload left" in caplog.text
            settled.append(step)
        kept = originals_agree_with_the_index(run)
        old = (run / MANIFEST).read_bytes() == manifest
        assert kept == ({"news.jsonl": old_news} if old else {"news.jsonl": new_news, "page.txt": kept.get("page.txt")})
        assert ("page.txt" in kept) != old
        assert ("news:a3" in {p.article_id for p in load_index(run).passages}) != old
        states.append("old" if old else "new")
        reopen(run).upload([inputs / "page.txt"])  # and the next upload works
    assert "old" in states and "new" in states and len(states) >= 8, states
    assert len(settled) >= 6, settled


# An upload in a real process over the stand-in encoder, paused while it embeds, or before its first
# rename to (or removal of) a name that starts so, so that it can be killed exactly there from outside.
UPLOADING = r"""
import os, sys, time
from pathlib import Path
from tests.conftest import FakeEmbedder, reopen
folder, stop, files = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
def pause(what):
    print(f"PAUSED {what}", file=sys.stderr, flush=True)
    time.sleep(600)
if stop == "embedding":
    FakeEmbedder.encode_passages = lambda self, *args, **kwargs: pause("embedding")
else:
    kind, part = stop.split(":")
    real = getattr(os, kind)
    def call(*args, **kwargs):
        if os.path.basename(str(args[-1] if kind == "replace" else args[0])).startswith(part):
            pause(f"before {kind} {args[0]}")
        return real(*args, **kwargs)
    setattr(os, kind, call)
reopen(folder).upload(files)
"""


@pytest.mark.parametrize("stop, sent, after", [
    ("embedding", ["page.txt"], "old"),  # a new file, while embedding
    ("embedding", ["news.jsonl", "page.txt"], "old"),  # a replacement and a new file, while embedding
    ("replace:news.jsonl", ["news.jsonl"], "old"),  # the old version set aside, the new one not yet in place
    ("replace:manifest.json", ["news.jsonl", "page.txt"], "old"),  # just before the index switches
    ("unlink:.previous-", ["news.jsonl", "page.txt"], "new"),  # indexed; the old version not yet deleted
])
def test_an_upload_killed_from_outside_is_settled_on_the_next_open(uploaded, caplog, stop, sent, after):
    from qa_assistant.originals import settle_uploads
    from qa_assistant.originals import JOURNAL
    folder, inputs = uploaded
    manifest, old_news = (folder / MANIFEST).read_bytes(), (folder / "originals" / "news.jsonl").read_bytes()
    process = subprocess.Popen([sys.executable, "-c", UPLOADING, folder, stop, *(inputs / n for n in sent)],
                               stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert _wait_for(process, "PAUSED", timeout=120), f"the upload ended before {stop}"
    finally:
        _kill(process)
    assert (folder / "originals" / JOURNAL).is_file()  # the journal names what the upload staged
    with caplog.at_level(logging.WARNING, logger="qa_assistant.originals"):
        done = settle_uploads(folder)  # what opening the index (the server's start) does
    assert done and "settled what an interrupted upload left" in caplog.text
    kept = originals_agree_with_the_index(folder)
    old = (folder / MANIFEST).read_bytes() == manifest
    assert ("old" if old else "new") == after
    if old:
        assert kept == {"news.jsonl": old_news}
    else:
        assert kept == {"news.jsonl": (inputs / "news.jsonl").read_bytes(), "page.txt": (inputs / "page.txt").read_bytes()}


@pytest.mark.e2e
def test_a_server_killed_while_it_embeds_an_upload_is_settled_when_it_starts_again(tmp_path):
    """The issue's case, with the real model and server: kill -9 while an upload is embedded; the file
    is in originals but not in the index until the server starts again, which removes it and says so."""
    from gradio_client import Client, handle_file
    from .conftest import start_server, stop_server
    corpus = tmp_path / "cmrc.jsonl"
    shutil.copy(_cmrc_corpus(), corpus)  # minutes of embedding
    index = tmp_path / "served"
    server = start_server(index, tmp_path / "first.log", "--build")  # the sample page, built in the server
    try:
        manifest = (index / MANIFEST).read_bytes()
        thread = threading.Thread(target=lambda: _ignore(lambda: Client(server.url, verbose=False).predict(
            [handle_file(str(corpus))], api_name="/upload")), daemon=True)
        thread.start()
        deadline = time.monotonic() + 300
        while not (index / "originals" / "cmrc.jsonl").is_file():
            assert time.monotonic() < deadline, "the upload never reached the originals folder"
            time.sleep(0.2)
        time.sleep(3)  # reading, then embedding
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=60)
    finally:
        if server.process.poll() is None:
            stop_server(server.process)
    assert (index / MANIFEST).read_bytes() == manifest and (index / "originals" / "cmrc.jsonl").is_file()
    again = start_server(index, tmp_path / "second.log")
    try:
        log = (tmp_path / "second.log").read_text()
        assert "settled what an interrupted upload left: cmrc.jsonl removed (not in the index)" in log, log[-2000:]
        rows = Client(again.url, verbose=False).predict("", api_name="/sources")
        assert [r["file"] for r in rows] == ["page_000.txt"]
        assert sorted(p.name for p in (index / "originals").iterdir()) == [".qa-assistant-originals"]
    finally:
        stop_server(again.process)


def _ignore(call) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001 — the server is killed under it
        pass

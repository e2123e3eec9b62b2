"""The index folder and incremental updates, without the model: atomic content-named saves, checksums
that catch truncated or altered files, the write lock, and ``Assistant.index``/``remove`` bookkeeping
(a deterministic stand-in encoder counts what gets embedded)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from qa_assistant.embedding import ModelMismatchError
from qa_assistant.store import (LOCK, MANIFEST, IndexLoadError, IndexLockedError, check_index_folder, load_index,
                                save_index, write_lock)
from qa_assistant.store.files import SCRATCH_MARK, SCRATCH_PREFIX
from qa_assistant.ingest import IngestError
from qa_assistant.passages import embedding_text

from .conftest import ARTICLES, FakeEmbedder, another_writer, killed_in_child, new_assistant, reopen, snapshot, write_jsonl


@pytest.fixture
def built(tmp_path, sample_page):
    """A small index of the sample page and a two-article JSONL, saved in tmp."""
    (tmp_path / "in").mkdir()
    news = write_jsonl(tmp_path / "in" / "news.jsonl", ARTICLES)
    shutil.copy(sample_page, tmp_path / "in" / sample_page.name)
    assistant = new_assistant(tmp_path / "idx")
    assistant.index([tmp_path / "in"])
    return assistant, tmp_path / "idx", tmp_path / "in", news


# ---------------------------------------------------------------- save / load

def test_files_are_content_named_and_checksummed(built):
    assistant, folder, _, _ = built
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    files = manifest["files"]
    store = (folder / files["store"]).read_bytes()
    assert files["store"] == f"passages-{hashlib.sha256(store).hexdigest()[:12]}.jsonl"
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {MANIFEST, LOCK}
    assert set(files["sha256"]) == on_disk
    for name, digest in files["sha256"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    data = load_index(folder)
    assert [p.id for p in data.passages] == [p.id for p in assistant.passages]
    assert np.allclose(data.dense.vectors(), assistant.data.dense.vectors())


def _damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    if how == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "flip":
        middle = len(raw) // 2
        path.write_bytes(raw[:middle] + bytes([raw[middle] ^ 0x01]) + raw[middle + 1:])
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("part", ["store", "dense", "sparse"])
def test_damaged_file_is_named_never_loaded(built, tmp_path, part, how):
    _, folder, _, _ = built
    files = json.loads((folder / MANIFEST).read_text())["files"]
    target = folder / files[part]
    if part == "sparse":
        target = sorted(p for p in target.iterdir() if p.suffix == ".npy")[0]
    _damage(target, how)
    with pytest.raises(IndexLoadError, match=rf"{target.name}.*(checksum mismatch|missing index file)"):
        load_index(folder)


def test_damaged_file_without_verification_is_still_a_clear_error(built):
    _, folder, _, _ = built
    files = json.loads((folder / MANIFEST).read_text())["files"]
    _damage(folder / files["dense"], "truncate")
    with pytest.raises(IndexLoadError, match="cannot read index files|disagree"):
        load_index(folder, verify=False)


@pytest.mark.parametrize("edit,message", [
    (lambda text: text[: len(text) // 2], "damaged manifest"),
    (lambda text: "", "damaged manifest"),
    (lambda text: json.dumps({**json.loads(text), "files": None}), "damaged manifest"),
    (lambda text: json.dumps({**json.loads(text), "format": "other"}), "not a qa-assistant index"),
    (lambda text: json.dumps({**json.loads(text), "format_version": 99}), "format 99 is not supported"),
    (lambda text: json.dumps({**json.loads(text), "passages": 3}), "index parts disagree"),
    (lambda text: json.dumps({**json.loads(text), "sparse": {**json.loads(text)["sparse"], "tokenizer": "jieba-v0"}}),
     "BM25 tokens were made by jieba-v0, this version makes jieba-search"),
])
def test_damaged_manifest_is_named(built, edit, message):
    _, folder, _, _ = built
    manifest = folder / MANIFEST
    manifest.write_text(edit(manifest.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(IndexLoadError, match=message):
        load_index(folder)


def test_manifest_pointing_at_an_unlisted_file_is_refused(built):
    _, folder, _, _ = built
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["store"] = "passages-000000000000.jsonl"
    (folder / "passages-000000000000.jsonl").write_text("")
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="no checksum for passages-000000000000.jsonl"):
        load_index(folder)
    manifest["files"]["store"] = "../../etc/passwd"
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="damaged manifest"):
        load_index(folder)


def test_missing_file_and_foreign_folders(tmp_path):
    with pytest.raises(IndexLoadError, match="no such index folder"):
        load_index(tmp_path / "nowhere")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(IndexLoadError, match="is a file, not an index folder"):
        load_index(tmp_path / "a-file")
    with pytest.raises(IndexLoadError, match="is a file, not an index folder"):
        check_index_folder(tmp_path / "a-file")
    docs = tmp_path / "documents"
    docs.mkdir()
    with pytest.raises(IndexLoadError, match="not an index"):
        load_index(docs)
    check_index_folder(docs)  # empty: fine to build in
    (docs / "thesis.docx").write_text("mine")
    with pytest.raises(IndexLoadError, match=r"not an index .*not empty \(thesis.docx\)"):
        check_index_folder(docs)
    with pytest.raises(IndexLoadError, match="not empty"):
        new_assistant(docs).index([])
    assert sorted(p.name for p in docs.iterdir()) == ["thesis.docx"]  # nothing written among the user's files
    crashed = tmp_path / "crashed"
    (crashed / f"{SCRATCH_PREFIX}abc").mkdir(parents=True)
    (crashed / f"{SCRATCH_PREFIX}abc" / SCRATCH_MARK).touch()
    (crashed / f"passages-{hashlib.sha256(b'half').hexdigest()[:12]}.jsonl").write_bytes(b"half")
    check_index_folder(crashed)  # leftovers of a first build that was killed: fine to build in
    (crashed / "passages-backup.jsonl").write_text("mine")
    with pytest.raises(IndexLoadError, match=r"not empty \(passages-backup.jsonl\)"):
        check_index_folder(crashed)  # named like an index file, but not one: the user's


def test_saving_the_same_content_again_keeps_names_and_repairs_a_damaged_bm25_folder(built):
    assistant, folder, _, _ = built
    before = snapshot(folder)
    files = json.loads((folder / MANIFEST).read_text())["files"]
    bm25 = folder / files["sparse"]
    (bm25 / "size.json").write_text('{"size": 1}')
    with pytest.raises(IndexLoadError, match="size.json: checksum mismatch"):
        load_index(folder)
    save_index(assistant.data, folder)
    assert snapshot(folder) == before
    assert json.loads((folder / MANIFEST).read_text())["files"] == files
    load_index(folder)


def test_stale_files_and_crash_leftovers_are_removed_after_a_save_and_nothing_else(built):
    assistant, folder, _, _ = built
    before = json.loads((folder / MANIFEST).read_text())["files"]
    (folder / f"{SCRATCH_PREFIX}crashed").mkdir()
    (folder / f"{SCRATCH_PREFIX}crashed" / SCRATCH_MARK).touch()
    (folder / f"{SCRATCH_PREFIX}crashed" / "passages-x.jsonl").write_text("half")
    orphan = f"passages-{hashlib.sha256(b'old').hexdigest()[:12]}.jsonl"  # moved in by a writer killed before its switch
    (folder / orphan).write_bytes(b"old")
    users = {"notes.txt": "not ours", "dense-matrix-notes.txt": "mine", "passages-backup.jsonl": "mine",
             "passages-deadbeef0000.jsonl": "named like ours, content is not", ".tmp-mine": None,
             "bm25-experiments": None, "bm25-0123456789ab": None}
    for name, text in users.items():
        if text is None:
            (folder / name).mkdir()
            (folder / name / "data.json").write_text("{}")
        else:
            (folder / name).write_text(text)
    assistant.remove(["a2"])
    names = sorted(p.name for p in folder.iterdir())
    files = json.loads((folder / MANIFEST).read_text())["files"]
    assert files["store"] != before["store"]  # the old index files went, the user's stayed
    assert names == sorted([MANIFEST, LOCK, files["store"], files["dense"], files["sparse"], *users])
    for name, text in users.items():
        assert (folder / name / "data.json").is_file() if text is None else (folder / name).read_text() == text


# ---------------------------------------------------------------- the write lock

def _lock_holder(folder: Path) -> subprocess.Popen:
    code = ("import sys, time\nfrom qa_assistant.store import write_lock\n"
            "with write_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_second_writer_is_refused_naming_the_first_and_a_killed_writer_leaves_no_stale_lock(built):
    assistant, folder, inputs, news = built
    before = snapshot(folder)
    holder = _lock_holder(folder)
    try:
        with pytest.raises(IndexLockedError, match=rf"index is being written by pid {holder.pid}"):
            save_index(assistant.data, folder)
        write_jsonl(news, ARTICLES + [{"id": "a3", "title": "新文章", "text": "新的一段。"}])
        with pytest.raises(IndexLockedError, match=str(holder.pid)):
            assistant.index([inputs])
        with pytest.raises(IndexLockedError):
            assistant.remove(["a1"])
        assert snapshot(folder) == before
        load_index(folder)  # readers are never blocked
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    report = assistant.index([inputs])  # the kernel released the killed holder's lock
    assert report.passages_added == 1


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    folder = tmp_path / "idx"
    errors = []
    with write_lock(folder):
        with write_lock(folder):
            pass
        thread = threading.Thread(target=lambda: errors.append(_try_lock(folder)))
        thread.start()
        thread.join()
    assert "another thread" in errors[0]
    with write_lock(folder):  # released
        pass
    assert (folder / LOCK).read_text() == ""


def _try_lock(folder: Path) -> str:
    try:
        with write_lock(folder):
            return "acquired"
    except IndexLockedError as error:
        return str(error)


def test_a_writer_that_loaded_an_older_version_does_not_lose_the_newer_one(built, tmp_path):
    _, folder, inputs, _ = built
    first, second = reopen(folder), reopen(folder)
    extra1 = write_jsonl(tmp_path / "one.jsonl", [{"id": "n1", "title": "一", "text": "第一篇新文章。"}])
    extra2 = write_jsonl(tmp_path / "two.jsonl", [{"id": "n2", "title": "二", "text": "第二篇新文章。"}])
    first.index([extra1])
    second.index([extra2])  # loaded before first saved: it must build on first's save
    ids = {p.article_id for p in load_index(folder).passages}
    assert {"one:n1", "two:n2", "news:a1", "news:a2"} <= ids


def test_another_model_cannot_update_the_index(built):
    _, folder, inputs, _ = built
    other = new_assistant(folder, FakeEmbedder(fingerprint="0" * 64))
    with pytest.raises(ModelMismatchError, match="built with model fake"):
        other.index([inputs])


@pytest.mark.parametrize("built_at, updated_at", [("fp32", "int8"), ("int8", "fp32")])
def test_an_index_is_never_updated_at_another_precision(tmp_path, built_at, updated_at):
    """One index never holds vectors of two precisions: an update, or an upload, at another precision is
    refused before anything is embedded and leaves the index as it was; asking at another precision works
    (same weights, compatible vectors); updating at the index's own precision works."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_jsonl(inputs / "news.jsonl", ARTICLES)
    folder = tmp_path / "idx"
    new_assistant(folder, FakeEmbedder(precision=built_at)).index([inputs])
    before, manifest = snapshot(folder), (folder / MANIFEST).read_bytes()
    other = reopen(folder, FakeEmbedder(precision=updated_at))
    assert other.retrieve("慰问", k=1)
    more = write_jsonl(inputs / "more.jsonl", [{"id": "m1", "title": "新闻", "text": "市总工会举办职工运动会。"}])
    for write in (lambda: other.index([inputs]), lambda: other.upload([more])):
        with pytest.raises(ModelMismatchError, match=f"made at {built_at} precision, the encoder loaded runs at "
                                                     f"{updated_at}; update it with --precision {built_at}"):
            write()
    assert other.embedder.encoded == [] and snapshot(folder) == before and (folder / MANIFEST).read_bytes() == manifest
    report = reopen(folder, FakeEmbedder(precision=built_at)).index([inputs])
    assert report.passages_added == 1 and json.loads((folder / MANIFEST).read_text())["model"]["precision"] == built_at


def test_the_headline_budget_is_recorded_and_read_back_by_the_encoder_and_bm25(tmp_path, monkeypatch):
    """What shapes an index's vectors and BM25 tokens is recorded in its manifest and used from there."""
    import qa_assistant.assistant as facade
    from qa_assistant.assistant import Assistant
    from qa_assistant.settings import IndexSettings, Settings
    made = []
    monkeypatch.setattr(facade, "Embedder", lambda name, **options: made.append(options) or FakeEmbedder())
    news = write_jsonl(tmp_path / "news.jsonl", [{"id": "a", "title": "春节慰问困难职工", "text": "送上米面油。"}])
    Assistant.open(tmp_path / "idx", Settings(index=IndexSettings(heading_chars=2)), create=True).index([news])
    reopened = Assistant.open(tmp_path / "idx")
    assert [options["heading_chars"] for options in made] == [2, 2]
    assert json.loads((tmp_path / "idx" / MANIFEST).read_text())["settings"]["index"]["heading_chars"] == 2
    assert "春节" in reopened.data.sparse.vocabulary and "慰问" not in reopened.data.sparse.vocabulary


# ---------------------------------------------------------------- incremental updates

def test_indexing_unchanged_files_again_changes_nothing(built):
    assistant, folder, inputs, _ = built
    before = snapshot(folder)
    manifest = (folder / MANIFEST).read_bytes()
    fresh = reopen(folder)
    report = fresh.index([inputs])
    assert (report.files_unchanged, report.passages_added, report.passages_removed, report.passages_embedded) == (2, 0, 0, 0)
    assert fresh.embedder.encoded == []
    assert snapshot(folder) == before and (folder / MANIFEST).read_bytes() == manifest  # not even rewritten
    forced = fresh.index([inputs], force=True)
    assert forced.passages_embedded == 0 and forced.files_unchanged == 0
    assert snapshot(folder) == before


def test_same_folder_into_two_new_indexes_gives_byte_identical_stores(built, tmp_path):
    _, folder, inputs, _ = built
    other = new_assistant(tmp_path / "idx2")
    other.index([inputs])
    assert snapshot(tmp_path / "idx2") == snapshot(folder)


def test_changed_file_replaces_its_passages_and_reuses_unchanged_vectors(built):
    assistant, folder, inputs, news = built
    page_passages = [p for p in assistant.passages if p.source.endswith(".txt")]
    rows = [dict(ARTICLES[0], text="区总工会走访慰问困难职工。\n\n送上米面油和棉被。"), ARTICLES[1]]
    write_jsonl(news, rows)
    fresh = reopen(folder)
    report = fresh.index([inputs])
    assert (report.files_unchanged, report.passages_added, report.passages_removed, report.passages_embedded) == (1, 1, 1, 1)
    assert fresh.embedder.encoded == ["春节慰问\n送上米面油和棉被。"]
    texts = [p.text for p in load_index(folder).passages]
    assert "送上米面油和棉被。" in texts and "送上米面油等慰问品。" not in texts
    assert len(texts) == len(set(texts))
    assert [p for p in fresh.passages if p.source.endswith(".txt")] == page_passages


def test_new_heading_re_embeds_the_paragraphs_under_it(built):
    _, folder, inputs, news = built
    write_jsonl(news, [dict(ARTICLES[0], title="新春慰问"), ARTICLES[1]])
    fresh = reopen(folder)
    report = fresh.index([inputs])
    assert report.passages_embedded == 2 and report.passages_total == len(fresh.passages)
    assert all(text.startswith("新春慰问\n") for text in fresh.embedder.encoded)
    vectors = load_index(folder).dense.vectors()
    for row, passage in enumerate(fresh.passages):
        assert np.allclose(vectors[row], FakeEmbedder._vector(embedding_text(passage.heading, passage.text)))


def test_two_exports_numbered_from_one_keep_all_their_articles(built):
    assistant, folder, inputs, news = built
    before = {p.article_id for p in load_index(folder).passages}
    other = write_jsonl(inputs / "other.jsonl", [{"id": 1, "title": "别的报道", "text": "另一份导出的第一篇。"}])
    write_jsonl(inputs / "numbered.jsonl", [{"id": "1", "title": "第一篇", "text": "这一份导出也从1开始编号。"}])
    reopen(folder).index([other])
    report = reopen(folder).index([inputs / "numbered.jsonl"])  # a later run: nothing of other.jsonl is lost
    data = load_index(folder)
    assert report.passages_removed == 0
    assert {p.article_id for p in data.passages} == before | {"other:1", "numbered:1"}
    with pytest.raises(LookupError, match=r"article id '1' is in several files"):
        reopen(folder).remove(["1"])
    assert reopen(folder).remove(["other:1"]) == 1
    assert reopen(folder).remove(["1"]) == 1  # unambiguous now: the file's own id addresses it


def test_an_id_held_by_another_file_is_refused_naming_both(built, tmp_path):
    _, folder, inputs, news = built
    before = snapshot(folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_jsonl(elsewhere / "news.jsonl", [ARTICLES[1]])  # same file name, so the same scoped id news:a2
    with pytest.raises(IngestError, match=r"elsewhere/news.jsonl: field 'id': article id 'news:a2' is already in "
                                          r".*in/news.jsonl"):
        reopen(folder).index([elsewhere])
    assert snapshot(folder) == before


def test_same_article_id_in_two_files_of_one_run_is_refused(built, tmp_path):
    _, folder, inputs, news = built
    before = snapshot(folder)
    write_jsonl(news, ARTICLES + [{"id": "a9", "title": "新", "text": "新段落。"}])
    (inputs / "copy").mkdir()
    write_jsonl(inputs / "copy" / "news.jsonl", [ARTICLES[1]])
    with pytest.raises(IngestError, match=r"news.jsonl: field 'id': article id 'news:a2' is also in .*news.jsonl"):
        reopen(folder).index([inputs])
    assert snapshot(folder) == before


def test_remove_by_article_id_file_name_and_path(built):
    assistant, folder, inputs, news = built
    total = len(assistant.passages)
    assert assistant.remove(["a2"]) == 1
    assert assistant.remove(["nothing-like-this"]) == 0
    assert assistant.remove([str(news)]) == 2
    assert {p.article_id for p in load_index(folder).passages}.isdisjoint({"news:a1", "news:a2"})
    assert list(load_index(folder).manifest["sources"]) == [str((inputs / "page_000.txt").resolve())]
    assert assistant.remove(["page_000.txt"]) == total - 3
    data = load_index(folder)
    assert data.passages == [] and len(data.dense) == 0 and data.manifest["sources"] == {}
    report = reopen(folder).index([inputs])  # everything comes back, vectors re-made
    assert report.passages_total == total


def test_removed_article_of_an_unchanged_file_stays_removed(built):
    assistant, folder, inputs, _ = built
    assistant.remove(["a1"])
    report = reopen(folder).index([inputs])
    assert report.passages_added == 0 and "news:a1" not in {p.article_id for p in load_index(folder).passages}


# ---------------------------------------------------------------- crash at every step of a save

def _die_at(step: int, folder: Path) -> None:
    """In this (forked) process, SIGKILL itself just before its ``step``-th change to ``folder``."""
    count = 0
    inside = str(folder.resolve()) + os.sep

    def lethal(real):
        def call(*args, **kwargs):
            nonlocal count
            if os.path.realpath(str(args[0])).startswith(inside):
                count += 1
                if count == step:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call
    os.replace, os.unlink, shutil.rmtree = lethal(os.replace), lethal(os.unlink), lethal(shutil.rmtree)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("change", ["new article", "same content"])
def test_kill_at_every_step_of_a_save(built, tmp_path, change):
    """A writer killed just before each rename or removal of a save leaves the old index or the new
    one, complete and verified; never a mixture. Saving the same content again (same file names)
    never touches the live files."""
    _, folder, _, _ = built
    states = []
    for step in range(1, 30):
        extra = write_jsonl(tmp_path / f"more{step}.jsonl", [{"id": f"m{step}", "title": "再", "text": f"第{step}段。"}])
        manifest, before = (folder / MANIFEST).read_bytes(), load_index(folder).passages
        def write():  # the writer
            _die_at(step, folder)
            if change == "new article":
                reopen(folder).index([extra])
            else:
                save_index(load_index(folder), folder)

        if not killed_in_child(write):
            break  # this save has fewer steps: all were covered
        data = load_index(folder)
        old = (folder / MANIFEST).read_bytes() == manifest
        if change == "new article":
            assert (f"more{step}:m{step}" in {p.article_id for p in data.passages}) != old
        else:
            assert data.passages == before
        assert len(data.passages) == len(data.dense) == data.sparse.size
        states.append("old" if old else "new")
    if change == "new article":  # (the same content gives the same manifest but for its time stamp)
        assert "old" in states and "new" in states and len(states) >= 6, states
    reopen(folder).index(sorted(tmp_path.glob("more*.jsonl")))
    files = json.loads((folder / MANIFEST).read_text())["files"]
    assert {p.name for p in folder.iterdir()} == {MANIFEST, LOCK, files["store"], files["dense"], files["sparse"]}


# ---------------------------------------------------------------- full disk, read-only, info

def test_a_full_disk_names_the_index_and_keeps_the_previous_version(built, monkeypatch, tmp_path):
    from qa_assistant.store import IndexWriteError
    import qa_assistant.store.local as local
    assistant, folder, _, _ = built
    before = snapshot(folder)
    real = local.fsync_write

    def full(path, data):
        if str(path).endswith(".faiss"):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(local, "fsync_write", full)
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "m1", "title": "新闻", "text": "全市新建职工驿站三十个。"}])
    with pytest.raises(IndexWriteError, match=r"No space left on device.*previous version of the index is intact") as caught:
        assistant.index([more])
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)
    assert snapshot(folder) == before
    assert all(p.source != str(more) for p in reopen(folder).passages)  # the old version loads, checksums and all


def test_indexing_unchanged_files_needs_no_write_lock(built):
    """A no-op run on an index another writer holds (or a read-only one) says nothing changed."""
    assistant, folder, inputs, _ = built
    with another_writer(folder):
        report = reopen(folder).index([inputs])
        assert report.files_unchanged == report.files_read == 2 and report.passages_added == 0

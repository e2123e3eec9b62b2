"""The service behind the page's 资料库 tab (uploads.py, originals.py), model-free: uploads kept as originals
under safe names, one per uploaded name, a result per file (and its words, render.py), replace and dedupe, a
failed upload undone, what a killed upload left settled by its journal, removal deleting only our originals,
the folder guard, the sources table, noticing another writer, one writer at a time. Uploads killed by a real
SIGKILL: tests/test_reliability.py."""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from qa_assistant.ingest import IngestError
from qa_assistant.originals import settle_uploads
from qa_assistant.originals import (INCOMING, JOURNAL, MAX_NAME_BYTES, PREVIOUS, safe_name, stored_name,
                                    write_journal)
from qa_assistant.store import IndexLoadError, IndexLockedError, check_index_folder, load_index
from qa_assistant.render import refusal_text, upload_message
from qa_assistant.store.files import ORIGINALS, ORIGINALS_MARK
from qa_assistant.uploads import RequestError

from .conftest import ARTICLES, FakeEmbedder, another_writer, new_assistant, reopen, write_jsonl

PAGE = "密云水库开展春季鱼类增殖放流\n\n本报讯（记者 赵清波）4月18日，密云区向水库投放鲢鱼、鳙鱼鱼苗120万尾。\n\n" \
       "据介绍，今年秋季还将再放流鱼苗80万尾。\n"


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_jsonl(folder / "news.jsonl", ARTICLES)
    (folder / "page.txt").write_text(PAGE, encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "tool.exe").write_bytes(b"MZ")
    return folder


@pytest.fixture
def archive(tmp_path):
    return new_assistant(tmp_path / "index")


def originals(archive) -> list[str]:
    return sorted(p.name for p in (archive.index_dir / ORIGINALS).iterdir())


# ------------------------------------------------------------------ names

@pytest.mark.parametrize("sent, stored", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\Windows\\x.md", "x.md"),
    (".hidden.txt", "hidden.txt"),
    ("a/b/.txt", "upload.txt"),
    ("报纸 第1版.TXT", "报纸 第1版.txt"),
    ("-n.jsonl", "n.jsonl"),
    ("\x00evil\u202e.txt", "evil.txt"),
    ("a;rm -rf *.jsonl", "a_rm -rf.jsonl"),
])
def test_safe_names_stay_in_the_folder(sent, stored):
    assert safe_name(sent) == stored


@pytest.mark.parametrize("sent", ["tool.exe", "noextension", "archive.txt.zip", ""])
def test_unsupported_names_are_refused(sent):
    with pytest.raises(IngestError, match="unsupported kind of file"):
        safe_name(sent)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from([".txt", ".md", ".jsonl", ".PDF", ".html", ".docx"]))
def test_no_name_escapes_the_originals_folder(stem, suffix):
    folder = Path("/srv/index/originals")
    for name in (safe_name(stem + suffix), stored_name(stem + suffix)):
        assert (folder / name).parent == folder and "/" not in name and "\\" not in name
        assert not name.startswith((".", "-")) and len(name) <= 120 and name.endswith(suffix.lower())
        assert len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES


LONG = "北京市经济技术开发区总工会春节前夕走访慰问困难职工和一线劳动者" * 4  # 120 characters, 360 bytes


@pytest.mark.parametrize("sent, stored", [
    ("news.jsonl", "news.jsonl"), ("报纸 第1版.txt", "报纸 第1版.txt"), ("uploads/2024/news.jsonl", "news.jsonl"),
    (unicodedata.normalize("NFD", "café.txt"), "café.txt"),  # the same name in NFD: the same file
])
def test_a_name_that_is_already_safe_is_kept(sent, stored):
    assert stored_name(sent) == stored


@pytest.mark.parametrize("first, second", [
    ("A&B.txt", "A+B.txt"),  # both A_B.txt as safe names
    ("A&B.txt", "A_B.txt"),  # a name kept as it is never meets a hashed one
    (" .txt", "....txt"),  # both upload.txt
    (".txt", " .txt"),
    ("X.TXT", "X.txt"),
    ("a" * 200 + "1.txt", "a" * 200 + "2.txt"),  # differ after the cut-off
    (LONG + "甲.md", LONG + "乙.md"),
    ("page.txt", ".page.txt"),
])
def test_different_names_never_share_a_stored_name(first, second):
    a, b = stored_name(first), stored_name(second)
    assert a != b and a == stored_name(first) and b == stored_name(second)  # unique and stable
    for name in (a, b):
        assert (Path("/srv/originals") / name).parent == Path("/srv/originals") and not name.startswith((".", "-"))
        assert len(name) <= 120 and len(name.encode()) <= MAX_NAME_BYTES


def test_a_name_made_to_look_hashed_gets_its_own_hash():
    hashed = stored_name("A&B.txt")
    assert hashed.startswith("A_B__") and hashed.endswith(".txt")
    assert stored_name(hashed) != hashed  # uploading that name literally does not take its place
    assert stored_name("A_B_" + hashed[5:]) not in (hashed, "A_B.txt")


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="A&+_ .-/\\密云a\u0301á", max_size=8), min_size=2, max_size=6, unique=True),
       st.sampled_from([".txt", ".TXT", ".md"]))
def test_stored_names_are_one_per_uploaded_name(stems, suffix):
    """Names from a few characters that safe_name folds together: stored names differ exactly when the
    names a user gave (last path part, NFC) differ."""
    named = {}
    for stem in stems:
        given = (stem + suffix).replace("/", "_").replace("\\", "_")
        named.setdefault(unicodedata.normalize("NFC", given), set()).add(stored_name(given))
    assert all(len(stored) == 1 for stored in named.values())
    assert len(set().union(*named.values())) == len(named)


# ------------------------------------------------------------------ upload

def test_upload_keeps_originals_and_says_what_happened_to_each_file(archive, inputs):
    files = [inputs / "news.jsonl", ("../../evil/.page.txt", inputs / "page.txt"), inputs / "binary.txt",
             inputs / "tool.exe"]
    writer, results = archive.upload(files)
    assert [r["status"] for r in results] == ["added", "added", "error", "error"]
    assert upload_message(results[0]) == "已加入：2 篇文章、3 个段落" and results[0]["stored_as"] == "originals/news.jsonl"
    assert (results[1]["file"], results[1]["stored_as"], results[1]["articles"]) == (
        "../../evil/.page.txt", f"originals/{stored_name('.page.txt')}", 1)  # not page.txt: another name
    assert "binary" in upload_message(results[2]) and str(inputs) not in upload_message(results[2])
    assert upload_message(results[3]).startswith("未加入：不支持的文件类型（.exe）；支持：.txt、.md")
    assert (results[3]["reason"], results[3]["detail"]) == ("unsupported", ".exe")
    assert originals(writer) == [ORIGINALS_MARK, "news.jsonl", stored_name(".page.txt")]
    assert (writer.index_dir / results[1]["stored_as"]).read_text(encoding="utf-8") == PAGE
    assert len(archive.passages) == 0 and len(writer.passages) == 5  # the old assistant is left as it was
    assert len(reopen(writer.index_dir).passages) == 5  # and the new archive is saved


def test_same_content_is_unchanged_and_same_name_replaces(archive, inputs):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    again, [result] = writer.upload([("copy.jsonl", inputs / "news.jsonl")])
    assert result["status"] == "unchanged" and "news.jsonl" in upload_message(result) and result["passages"] == 3
    assert result["stored_as"] == "originals/news.jsonl"  # where that content is kept
    assert originals(again) == [ORIGINALS_MARK, "news.jsonl"]  # not stored twice
    write_jsonl(inputs / "news.jsonl", ARTICLES[:1])
    replaced, [result] = again.upload([inputs / "news.jsonl"])
    assert result["status"] == "replaced" and (result["passages"], result["passages_removed"]) == (2, 1)
    assert upload_message(result).startswith("已替换旧版本：现有 1 篇文章、2 个段落")
    assert json.loads((replaced.index_dir / ORIGINALS / "news.jsonl").read_text()) == ARTICLES[0]


def test_two_files_of_one_name_in_one_upload_are_both_kept(archive, inputs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "page.txt").write_text(PAGE.replace("密云", "怀柔"), encoding="utf-8")
    writer, results = archive.upload([inputs / "page.txt", other / "page.txt"])
    assert [r["status"] for r in results] == ["added", "added"]
    assert results[0]["stored_as"] == "originals/page.txt" and results[1]["stored_as"].startswith("originals/page__")


@pytest.mark.parametrize("first, second", [("A&B.txt", "A+B.txt"), (" .txt", "....txt"),
                                           ("新闻" * 70 + "一.txt", "新闻" * 70 + "二.txt")])
def test_uploads_of_different_names_never_replace_each_other(archive, tmp_path, first, second):
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text(PAGE, encoding="utf-8")
    two.write_text(PAGE.replace("密云", "怀柔"), encoding="utf-8")
    writer, [a] = archive.upload([(first, one)])
    writer, [b] = writer.upload([(second, two)])
    assert (a["status"], b["status"]) == ("added", "added") and a["stored_as"] != b["stored_as"]
    assert {p.source for p in writer.passages} == {a["source"], b["source"]}
    for result, sent in ((a, one), (b, two)):
        assert (writer.index_dir / result["stored_as"]).read_bytes() == sent.read_bytes()
    one.write_text(PAGE.replace("120万尾", "150万尾"), encoding="utf-8")
    writer, [again] = writer.upload([(first, one)])  # the first name again: its own file, and only that, replaced
    assert again["status"] == "replaced" and again["stored_as"] == a["stored_as"]
    assert {p.source for p in writer.passages} == {a["source"], b["source"]}
    assert any("150万尾" in p.text for p in writer.passages) and any("怀柔" in p.text for p in writer.passages)
    assert originals(writer) == sorted([ORIGINALS_MARK, Path(a["stored_as"]).name, Path(b["stored_as"]).name])


def test_an_empty_or_bad_new_version_leaves_the_old_one(archive, inputs):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    before = (writer.index_dir / ORIGINALS / "news.jsonl").read_bytes()
    (inputs / "news.jsonl").write_text('{"id": "a1", "title": "x"}\n', encoding="utf-8")  # no text field
    after, [result] = writer.upload([inputs / "news.jsonl"])
    assert result["status"] == "error" and "text" in upload_message(result)
    assert (writer.index_dir / ORIGINALS / "news.jsonl").read_bytes() == before
    assert originals(after) == [ORIGINALS_MARK, "news.jsonl"] and len(after.passages) == 3
    (inputs / "news.jsonl").write_text("  \n", encoding="utf-8")
    _, [result] = after.upload([inputs / "news.jsonl"])
    assert result["status"] == "error" and upload_message(result) == "未加入：空文件：没有文字"
    assert (writer.index_dir / ORIGINALS / "news.jsonl").read_bytes() == before


def test_a_failed_run_puts_every_original_back(archive, inputs, monkeypatch):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    saved, kept = (writer.index_dir / "manifest.json").read_bytes(), (writer.index_dir / ORIGINALS / "news.jsonl").read_bytes()
    write_jsonl(inputs / "news.jsonl", ARTICLES[:1])

    def broken(*args, **kwargs):
        raise RuntimeError("the encoder died")
    monkeypatch.setattr(FakeEmbedder, "encode_passages", broken)
    with pytest.raises(RuntimeError):
        writer.upload([inputs / "news.jsonl", inputs / "page.txt"])
    assert originals(writer) == [ORIGINALS_MARK, "news.jsonl"]
    assert (writer.index_dir / ORIGINALS / "news.jsonl").read_bytes() == kept
    assert (writer.index_dir / "manifest.json").read_bytes() == saved


def test_leftovers_of_a_killed_upload_are_settled(archive, inputs):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    home = writer.index_dir / ORIGINALS
    kept = (home / "news.jsonl").read_bytes()
    (home / "news.jsonl").rename(home / (PREVIOUS + "news.jsonl"))  # killed after setting the old one aside …
    (home / "news.jsonl").write_text("half a new version", encoding="utf-8")  # … and copying the new one in
    (home / (INCOMING + "page.txt")).write_text("half copied", encoding="utf-8")
    writer.upload([inputs / "page.txt"])
    assert (home / "news.jsonl").read_bytes() == kept
    assert originals(writer) == [ORIGINALS_MARK, "news.jsonl", "page.txt"]


class Killed(BaseException):
    """The process stops dead: no clean-up code runs, as after kill -9."""


def killed_while_embedding(writer, files, monkeypatch) -> None:
    with monkeypatch.context() as patch:
        def dies(*args, **kwargs):
            raise Killed
        patch.setattr(FakeEmbedder, "encode_passages", dies)
        patch.setattr("qa_assistant.uploads.unstage_all", lambda staged: None)
        patch.setattr("qa_assistant.uploads.end_journal", lambda home: None)
        with pytest.raises(Killed):
            writer.upload(files)


def index_holds_every_original(folder: Path) -> None:
    """Every file in INDEX/originals but the mark is a source of the index, with the content it indexed."""
    sources = load_index(folder).manifest["sources"]
    home = (folder / ORIGINALS).resolve()
    for path in home.iterdir():
        if path.name != ORIGINALS_MARK:
            assert sources.get(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest(), path.name


def test_an_upload_killed_while_embedding_is_settled_when_the_index_is_next_opened(archive, inputs, monkeypatch,
                                                                                  caplog):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    folder, home = writer.index_dir, writer.index_dir / ORIGINALS
    kept, saved = (home / "news.jsonl").read_bytes(), (folder / "manifest.json").read_bytes()
    write_jsonl(inputs / "news.jsonl", ARTICLES[:1])
    killed_while_embedding(writer, [inputs / "news.jsonl", inputs / "page.txt"], monkeypatch)
    assert originals(writer) == sorted([ORIGINALS_MARK, JOURNAL, "news.jsonl", PREVIOUS + "news.jsonl", "page.txt"])
    assert (folder / "manifest.json").read_bytes() == saved  # the index as it was; the folder disagrees with it
    with caplog.at_level(logging.WARNING, logger="qa_assistant.originals"):
        done = settle_uploads(folder)
    assert done == ["news.jsonl removed (not in the index)", "news.jsonl restored (the version the index holds)",
                    "page.txt removed (not in the index)"]
    assert "settled what an interrupted upload left: news.jsonl removed" in caplog.text
    assert originals(writer) == [ORIGINALS_MARK, "news.jsonl"] and (home / "news.jsonl").read_bytes() == kept
    index_holds_every_original(folder)
    assert settle_uploads(folder) == []  # settled once; an index with nothing left costs one listing


def test_a_killed_upload_whose_index_was_saved_keeps_the_new_version(archive, inputs, monkeypatch):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    home = writer.index_dir / ORIGINALS
    write_jsonl(inputs / "news.jsonl", ARTICLES[:1])
    with monkeypatch.context() as patch:  # killed after the manifest switch, before the clean-up
        patch.setattr("qa_assistant.uploads.end_journal", lambda home: None)
        patch.setattr("qa_assistant.uploads._indexed", lambda *args: (_ for _ in ()).throw(Killed()))
        real_unlink = Path.unlink
        patch.setattr(Path, "unlink", lambda self, missing_ok=False: None if self.name.startswith(PREVIOUS)
                      else real_unlink(self, missing_ok))
        with pytest.raises(Killed):
            writer.upload([inputs / "news.jsonl"])
    assert originals(writer) == sorted([ORIGINALS_MARK, JOURNAL, "news.jsonl", PREVIOUS + "news.jsonl"])
    assert settle_uploads(writer.index_dir) == ["news.jsonl kept (indexed); the version it replaced removed"]
    assert json.loads((home / "news.jsonl").read_text()) == ARTICLES[0]
    index_holds_every_original(writer.index_dir)


def test_settling_deletes_only_what_the_upload_wrote(archive, inputs, tmp_path):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    folder, home = writer.index_dir, writer.index_dir / ORIGINALS
    (home / "notes.txt").write_text("a file someone put here", encoding="utf-8")
    (home / "mine.txt").write_text("not what the journal says was copied in", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("elsewhere", encoding="utf-8")
    write_journal(home, {"mine.txt": "0" * 64, "../outside.txt": "0" * 64, ".hidden": "0" * 64,
                         "news.jsonl": "0" * 64})
    assert settle_uploads(folder) == []
    assert originals(writer) == [ORIGINALS_MARK, "mine.txt", "news.jsonl", "notes.txt"]
    assert (tmp_path / "outside.txt").is_file()
    (home / JOURNAL).write_text("{garbled", encoding="utf-8")
    (home / (INCOMING + "x.txt")).write_text("half", encoding="utf-8")
    assert settle_uploads(folder) == [f"{INCOMING}x.txt removed (copy not finished)"]
    assert originals(writer) == [ORIGINALS_MARK, "mine.txt", "news.jsonl", "notes.txt"]


def test_settling_leaves_a_running_upload_alone(archive, inputs, monkeypatch):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    killed_while_embedding(writer, [inputs / "page.txt"], monkeypatch)
    with another_writer(writer.index_dir):
        assert settle_uploads(writer.index_dir) == [] and "page.txt" in originals(writer)
    assert settle_uploads(writer.index_dir) == ["page.txt removed (not in the index)"]


def test_a_copy_that_fails_puts_the_old_version_back_at_once(archive, inputs, monkeypatch):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    kept = (writer.index_dir / ORIGINALS / "news.jsonl").read_bytes()
    write_jsonl(inputs / "news.jsonl", ARTICLES[:1])

    def full(source, target):
        Path(target).write_bytes(b"half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("qa_assistant.originals.shutil.copyfile", full)
    after, [result] = writer.upload([inputs / "news.jsonl"])
    assert result["status"] == "error" and "No space left" in upload_message(result)
    assert originals(after) == [ORIGINALS_MARK, "news.jsonl"]
    assert (after.index_dir / ORIGINALS / "news.jsonl").read_bytes() == kept


def refused(call) -> str:
    """What the page says when ``call`` is refused (a RequestError), in its words."""
    with pytest.raises(RequestError) as error:
        call()
    return refusal_text(error.value)


def test_upload_limits(archive, inputs):
    archive.settings = archive.settings.replace(max_upload_files=2)
    assert refused(lambda: archive.upload([inputs / "news.jsonl", inputs / "page.txt", inputs / "binary.txt"])) == (
        "一次最多上传 2 个文件（收到 3 个），请分批上传。")
    archive.settings = archive.settings.replace(max_upload_mb=0.00001)
    assert "合计最多" in refused(lambda: archive.upload([inputs / "news.jsonl"]))
    archive.settings = archive.settings.replace(max_upload_mb=100, max_file_mb=0.0001)
    _, [result] = archive.upload([inputs / "page.txt"])
    assert result["status"] == "error" and "超过每个文件" in upload_message(result)
    assert refused(lambda: archive.upload([])) == "没有收到文件：请选择要加入资料库的文件。"


def test_an_archive_without_a_folder_says_so_for_uploads_and_for_removals(inputs):
    in_memory = new_assistant(None)
    in_memory.index([inputs / "news.jsonl"])
    assert "上传需要索引文件夹" in refused(lambda: in_memory.upload([inputs / "page.txt"]))
    removal = refused(lambda: in_memory.withdraw(["news.jsonl"]))
    assert "删除需要索引文件夹" in removal and "qa-assistant remove" in removal and "上传" not in removal


def test_a_second_writer_is_told_at_once(archive, inputs):
    with another_writer(archive.index_dir):
        with pytest.raises(IndexLockedError, match="being written by pid") as error:
            archive.upload([inputs / "page.txt"])
        assert refusal_text(error.value).startswith("资料库正在被写入，请等写入完成后再试")
    assert archive.upload([inputs / "page.txt"])[1][0]["status"] == "added"


# ------------------------------------------------------------------ removal

def test_withdraw_deletes_only_our_originals(archive, inputs):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    writer.index([inputs / "page.txt"])  # indexed from its own folder, as the CLI does
    left, removal = writer.withdraw(["news.jsonl", str((inputs / "page.txt").resolve())])
    assert removal["originals_deleted"] == ["originals/news.jsonl"] and removal["passages_left"] == 0
    assert (inputs / "page.txt").is_file() and (inputs / "news.jsonl").is_file()  # the user's files stay
    assert originals(left) == [ORIGINALS_MARK] and len(writer.passages) == 5


def test_withdraw_one_article_keeps_the_original(archive, inputs):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    left, removal = writer.withdraw(["news:a2"])
    assert removal["articles"] == ["news:a2"] and removal["sources"] == [] and removal["originals_deleted"] == []
    assert [a["article_id"] for a in left.source("news.jsonl")] == ["news:a1"]
    assert originals(left) == [ORIGINALS_MARK, "news.jsonl"]
    assert refused(lambda: left.withdraw(["no-such-thing"])) == "资料库里没有 no-such-thing"
    _, removal = left.withdraw(["news:a1", "no-such-thing"])
    assert removal["not_found"] == ["no-such-thing"] and removal["originals_deleted"] == ["originals/news.jsonl"]
    assert refused(lambda: left.withdraw(["x" * 5000])).startswith("来源或文章编号必须是 1 到 4096 个字符")


# ------------------------------------------------------------------ the folder

def test_the_folder_guard_accepts_the_originals_folder_and_saves_keep_it(archive, inputs, tmp_path):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    (writer.index_dir / "manifest.json").unlink()  # the index lost, its originals kept: the folder is still ours
    for name in [p.name for p in writer.index_dir.iterdir() if p.name != ORIGINALS]:
        path = writer.index_dir / name
        if path.is_dir():
            for inner in path.iterdir():
                inner.unlink()
            path.rmdir()
        else:
            path.unlink()
    check_index_folder(writer.index_dir)
    rebuilt = new_assistant(writer.index_dir)
    rebuilt.index([writer.index_dir / ORIGINALS])  # the archive rebuilt from its originals
    assert len(rebuilt.passages) == 3 and (writer.index_dir / ORIGINALS / "news.jsonl").is_file()
    foreign = tmp_path / "foreign"
    (foreign / ORIGINALS).mkdir(parents=True)
    (foreign / ORIGINALS / "mine.txt").write_text("a user's file", encoding="utf-8")
    with pytest.raises(IndexLoadError, match="not an index"):
        check_index_folder(foreign)
    with pytest.raises(IndexLoadError, match="not an index"):  # no index is written among a user's files
        new_assistant(foreign).upload([inputs / "page.txt"])
    new_assistant(tmp_path / "index2").index([inputs / "news.jsonl"])
    (tmp_path / "index2" / ORIGINALS).mkdir()
    (tmp_path / "index2" / ORIGINALS / "mine.txt").write_text("a user's file", encoding="utf-8")
    with pytest.raises(IndexLoadError, match="was not made by qa-assistant"):  # an index, with a folder not ours
        reopen(tmp_path / "index2").upload([inputs / "page.txt"])
    assert (foreign / ORIGINALS / "mine.txt").is_file() and (tmp_path / "index2" / ORIGINALS / "mine.txt").is_file()


# ------------------------------------------------------------------ the table, one source

def test_sources_table_filter_and_one_source(archive, inputs):
    writer, _ = archive.upload([inputs / "news.jsonl"])
    first = writer.sources()[0]["indexed"]
    writer, _ = writer.upload([inputs / "page.txt"])
    rows = {row["file"]: row for row in writer.sources()}
    assert set(rows) == {"news.jsonl", "page.txt"} and rows["news.jsonl"]["indexed"] == first
    assert (rows["news.jsonl"]["articles"], rows["news.jsonl"]["passages"], rows["news.jsonl"]["original"]) == (2, 3, True)
    assert [r["file"] for r in writer.sources("鱼类增殖")] == ["page.txt"]  # a headline
    assert [r["file"] for r in writer.sources("NEWS")] == ["news.jsonl"]  # a file name, any case
    article, = writer.source("page.txt")
    assert article["title"] == "密云水库开展春季鱼类增殖放流" and len(article["paragraphs"]) == 2
    assert "120万尾" in article["paragraphs"][0]["text"]
    assert refused(lambda: writer.source("missing.txt")) == "资料库里没有来源 missing.txt"
    assert refused(lambda: writer.sources("x" * 500)) == "筛选文字最多 200 个字符"


# ------------------------------------------------------------------ another writer

def test_reloaded_notices_another_writer_and_leaves_the_old_archive(archive, inputs):
    served, _ = archive.upload([inputs / "news.jsonl"])
    assert served.reloaded() is served  # nothing changed: itself, at one stat
    other = reopen(served.index_dir)  # `qa-assistant index` in a shell
    other.index([inputs / "page.txt"])
    fresh = served.reloaded()
    assert fresh is not served and len(fresh.passages) == 5 and len(served.passages) == 3
    assert fresh.reloaded() is fresh
    assert copy.copy(fresh).passages is fresh.passages  # a copy shares the loaded index until it writes
    assert len(load_index(served.index_dir).passages) == 5

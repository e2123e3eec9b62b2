"""The page's parts without a server or a model: who may manage the archive, logins, the live archive that
switches whole (a question in flight keeps its archive), the archive tab's rendering (escaped), and a
server start settling what a killed upload left."""
from __future__ import annotations

import hashlib
import logging

import pytest

from .conftest import ARTICLES, FakeEmbedder, new_assistant, reopen, write_jsonl

USER, PASSWORD = "editor", "s3cret:with-colon"


@pytest.mark.parametrize("host, manage", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                          ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.20", False),
                                          ("::", False), ("example.org", False)])
def test_management_is_on_only_on_this_machine_or_with_a_login(host, manage):
    from qa_assistant.page.live import access_for
    assert access_for(host, with_login=False).manage is manage
    assert access_for(host, with_login=True).manage
    if not manage:
        assert "资料管理已关闭" in access_for(host, with_login=False).reason


def test_logins_from_the_command_line_and_a_file(tmp_path):
    from qa_assistant.page import read_credentials
    from qa_assistant.settings import SettingsError
    logins = tmp_path / "logins"
    logins.write_text(f"# the newsroom\n\n{USER}:{PASSWORD}\nclerk:pass word\n", encoding="utf-8")
    assert read_credentials("a:b", logins) == [("a", "b"), (USER, PASSWORD), ("clerk", "pass word")]
    assert read_credentials() == []
    for bad in ("nocolon", ":nouser", "user:"):
        with pytest.raises(SettingsError, match="USER:PASSWORD"):
            read_credentials(bad)
    logins.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="no user:password"):
        read_credentials(None, logins)
    with pytest.raises(SettingsError, match="cannot read"):
        read_credentials(None, tmp_path / "missing")


def test_a_password_is_taken_exactly_as_written_after_the_first_colon(tmp_path):
    from qa_assistant.page import read_credentials
    logins = tmp_path / "logins"
    logins.write_bytes("\ufeff  alice :  spaced  \r\nbob:a:b:\t\n\n  # a comment\ncarol:#not a comment\n".encode())
    assert read_credentials(None, logins) == [("alice", "  spaced  "), ("bob", "a:b:\t"), ("carol", "#not a comment")]


@pytest.mark.parametrize("text, line, also", [
    ("alice:one\nbob:two\nalice:three\n", 3, "on line 1"),
    ("# team\n\n alice :one\nalice:one\n", 4, "on line 3"),  # the same login twice is still twice
])
def test_a_user_listed_twice_is_refused_by_file_and_line(tmp_path, text, line, also):
    from qa_assistant.page import read_credentials
    from qa_assistant.settings import SettingsError
    logins = tmp_path / "logins"
    logins.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        read_credentials(None, logins)
    assert str(refused.value) == f"{logins}:{line}: user 'alice' is listed twice (also {also}); give each user one line"
    logins.write_text("bob:x\nalice:y\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=f"{logins}:2: user 'alice' is listed twice \\(also given with --auth\\)"):
        read_credentials("alice:z", logins)


def test_opening_the_index_settles_what_a_killed_upload_left(tmp_path, monkeypatch, caplog):
    """The server (and every command) opens the index through ``Assistant.open``, which settles it."""
    import qa_assistant.assistant as facade
    from qa_assistant import Assistant
    from qa_assistant.originals import JOURNAL, write_journal
    from qa_assistant.store.files import ORIGINALS, ORIGINALS_MARK
    first = new_assistant(tmp_path / "index")
    writer, _ = first.upload([write_jsonl(tmp_path / "news.jsonl", ARTICLES)])
    home = writer.index_dir / ORIGINALS
    (home / "half.txt").write_text("staged, then the server was killed while embedding", encoding="utf-8")
    write_journal(home, {"half.txt": hashlib.sha256((home / "half.txt").read_bytes()).hexdigest()})
    monkeypatch.setattr(facade, "_embedder_for", lambda *args: FakeEmbedder())
    with caplog.at_level(logging.INFO):
        opened = Assistant.open(writer.index_dir)
    assert len(opened.passages) == len(writer.passages)
    assert sorted(p.name for p in home.iterdir()) == [ORIGINALS_MARK, "news.jsonl"]
    assert "settled what an interrupted upload left: half.txt removed (not in the index)" in caplog.text
    assert not (home / JOURNAL).exists()


def test_the_live_archive_switches_whole(tmp_path):
    """A question in flight keeps the archive it started with; the next one gets the new archive."""
    from qa_assistant.page.live import Live
    first = new_assistant(tmp_path / "index")
    first.index([write_jsonl(tmp_path / "news.jsonl", ARTICLES)])
    live = Live(first)
    in_flight = live.get()
    assert in_flight is first
    reopen(first.index_dir).index([write_jsonl(tmp_path / "more.jsonl", [{"id": "m", "title": "新", "text": "新的一段。"}])])
    fresh = live.get()
    assert fresh is not in_flight and len(fresh.passages) == 4 and len(in_flight.passages) == 3
    assert live.get() is fresh
    writer, _ = fresh.withdraw(["more.jsonl"])
    live.publish(writer)
    assert live.get() is writer and len(writer.passages) == 3


def test_a_failed_reload_keeps_answering_from_the_last_archive(tmp_path, monkeypatch, caplog):
    from qa_assistant.page.live import Live
    from qa_assistant.store import IndexLoadError
    first = new_assistant(tmp_path / "index")
    first.index([write_jsonl(tmp_path / "news.jsonl", ARTICLES)])
    live = Live(first)
    reopen(first.index_dir).index([write_jsonl(tmp_path / "more.jsonl", [{"id": "m", "title": "新", "text": "新。"}])])

    def broken(self):
        raise IndexLoadError("damaged")
    monkeypatch.setattr(type(first), "reloaded", broken)
    assert live.get() is first and "cannot be loaded" in caplog.text
    assert live.get() is first  # and does not try again on every request


def test_archive_rendering_escapes_names_and_text():
    from qa_assistant.render import removal_question, source_html, sources_table, upload_report
    evil = "<img src=x onerror=alert(1)>.txt"
    report = upload_report([{"file": evil, "status": "error", "message": "未加入：<script>"}])
    assert "<img" not in report and "<script" not in report and "出错 1 个" in report
    html = source_html(evil, [{"article_id": "a<b", "title": "<script>alert(1)</script>", "date": "2024-01-02",
                               "paragraphs": [{"paragraph": 1, "text": "<b>粗</b>"}]}])
    assert "<script" not in html and "<b>粗" not in html and "&lt;script&gt;" in html
    assert "<img" not in removal_question(source=f"/x/{evil}")
    rows = [{"source": "/a/p.txt", "file": "p.txt", "articles": 1, "passages": 2, "first_date": "2024-01-01",
             "last_date": "2024-01-03", "indexed": "2026-01-02T03:04:05"},
            {"source": "/b/p.txt", "file": "p.txt", "articles": 1, "passages": 1, "first_date": "", "last_date": "",
             "indexed": ""}]
    assert sources_table(rows) == [["p.txt（a）", 1, 2, "2024-01-01 至 2024-01-03", "2026-01-02 03:04"],
                                   ["p.txt（b）", 1, 1, "—", "—"]]

"""The page's parts without the model: who may manage the archive, logins, the live archive that switches
whole (a question in flight keeps its archive), the archive tab's rendering (escaped), a server start settling
what a killed upload left, and malformed API calls to a page over the stand-in encoder."""
from __future__ import annotations

import hashlib
import json
import logging
import urllib.request

import pytest

from ..conftest import ARTICLES, FakeEmbedder, new_assistant, page_in_process, reopen, write_jsonl

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


def test_opening_the_index_settles_what_a_killed_upload_left(tmp_path, caplog):
    """The server (and every command) opens the index through ``Assistant.open``, which settles it."""
    from qa_assistant import Assistant
    from qa_assistant.originals import JOURNAL, write_journal
    from qa_assistant.store.files import ORIGINALS, ORIGINALS_MARK
    first = new_assistant(tmp_path / "index")
    writer, _ = first.upload([write_jsonl(tmp_path / "news.jsonl", ARTICLES)])
    home = writer.index_dir / ORIGINALS
    (home / "half.txt").write_text("staged, then the server was killed while embedding", encoding="utf-8")
    write_journal(home, {"half.txt": hashlib.sha256((home / "half.txt").read_bytes()).hexdigest()})
    with caplog.at_level(logging.INFO):
        opened = Assistant.open(writer.index_dir, embedder=FakeEmbedder())
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


def _call(url: str, endpoint: str, data) -> tuple[str, str]:
    """A raw call of an API endpoint as a script without gradio_client makes it: (event, data) of its result."""
    request = urllib.request.Request(f"{url}gradio_api/call/{endpoint}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{endpoint}/{event_id}", timeout=60) as response:
        lines = response.read().decode("utf-8").splitlines()
    events = [line[len("event: "):] for line in lines if line.startswith("event: ")]
    payloads = [line[len("data: "):] for line in lines if line.startswith("data: ")]
    return events[-1], payloads[-1]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page over an index of two articles and the stand-in encoder, served in this process."""
    folder = tmp_path_factory.mktemp("page")
    assistant = new_assistant(folder / "index")
    assistant.index([write_jsonl(folder / "news.jsonl", ARTICLES)])
    with page_in_process(assistant) as url:
        yield url


def test_malformed_api_calls_get_one_line_errors_and_leave_one_log_line_each(page, caplog, capfd):
    """A raw call with too few arguments used to get ``{"error": null}`` and a traceback in the server log."""
    capfd.readouterr()
    for endpoint, arguments, wanted in (("ask", ["区总工会慰问了谁？", [], 5, "hybrid"], 6), ("remove", [], 1),
                                        ("upload", [], 1), ("sources", [], 1)):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            event, data = _call(page, endpoint, arguments)
        message = json.loads(data)["error"]
        assert event == "error" and f"/{endpoint} 需要 {wanted} 个参数" in message and "\n" not in message, data
        assert len([r for r in caplog.records if r.name.startswith("qa_assistant")]) == 1, caplog.text
        assert "Traceback" not in capfd.readouterr().err
    event, data = _call(page, "ask", ["区总工会慰问了谁？", [], 0, "hybrid", "", ""])  # a bad value: one line too
    assert event == "error" and "k 必须是" in json.loads(data)["error"]


def test_the_archive_endpoints_upload_list_and_remove(page, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError
    client = Client(page, verbose=False)
    fish = tmp_path / "fish.txt"
    fish.write_text("鱼类增殖放流\n\n密云区向水库投放鲢鱼、鳙鱼鱼苗120万尾。\n", encoding="utf-8")
    [result] = client.predict([handle_file(str(fish))], api_name="/upload")
    assert (result["status"], result["message"], result["stored_as"]) == ("added", "已加入：1 篇文章、1 个段落",
                                                                          "originals/fish.txt")
    assert sorted(row["file"] for row in client.predict("", api_name="/sources")) == ["fish.txt", "news.jsonl"]
    assert client.predict(["fish.txt"], api_name="/remove")["originals_deleted"] == ["originals/fish.txt"]
    with pytest.raises(AppError, match="无法删除：资料库里没有 fish.txt"):
        client.predict(["fish.txt"], api_name="/remove")


def test_the_upload_box_speaks_chinese_and_takes_images(page):
    """Gradio's own 「Drop File Here - or - Click to Upload」 comes in Chinese whatever the browser's language
    (the page's translations, as the served config gives them), and the box takes the scanned kinds."""
    with urllib.request.urlopen(f"{page}config", timeout=30) as response:
        config = json.load(response)
    translations = config["i18n_translations"]
    for locale in ("en", "zh-CN", "zh-TW", "fr"):
        assert translations[locale]["upload_text.drop_file"] == "将文件拖放到这里"
        assert translations[locale]["upload_text.click_to_upload"] == "点击选择文件"
    [upload] = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "qa-upload-files"]
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"} <= set(upload["props"]["file_types"])


def test_serve_launches_the_page_with_its_chinese_upload_text(tmp_path, monkeypatch):
    import gradio as gr

    from qa_assistant.page import serve
    from qa_assistant.page.library import PAGE_I18N
    launched = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: launched.update(kwargs))
    serve(tmp_path / "index", assistant=new_assistant(None))
    assert launched["i18n"] is PAGE_I18N

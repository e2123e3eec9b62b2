"""The chat page end to end: a real server (subprocess) over a real index of the sample page plus a page
whose text carries HTML/script injection, driven through gradio_client and through headless Chromium."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import CHROMIUM, CHROMIUM_ARGS, SERVER_ENV, cli_command, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "qa_assistant" / "data" / "page_000.txt"
ARTIFACTS = ROOT / "test-artifacts"

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
EXTRA_TITLE = "昌平区图书馆举办网络安全科普展"
EXTRA_PAGE = f"""{EXTRA_TITLE}

本报讯（记者 王晓明）近日，昌平区图书馆举办网络安全科普展，吸引了不少市民和职工前来参观，展览共设置了密码知识、防范诈骗和安全上网三个展区。

在“安全上网”展区，一块电子屏上循环播放着一段钓鱼网页的示例代码{SCRIPT}以及{IMG}，讲解员介绍，这类隐藏在网页里的恶意脚本会在用户打开页面时悄悄运行，提醒市民不要随意点击来历不明的链接。
"""
INJECTION_QUESTION = "安全上网展区的电子屏上循环播放的是什么？"

Q_COMPANIES = "经开区总工会慰问了哪些企业？"
Q_GIFTS = "给他们送了什么慰问品？"
Q_FANS = "拱辰街道文化路社区工会组织职工做了什么手工？"
Q_WEATHER = "今天北京天气怎么样？"
COMPANIES = ("北京先瑞达医疗科技有限公司", "北京华联印刷有限公司")
CITATION = "《经开区总工会开展困难职工慰问活动》"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Index the sample page plus the injection page, start ``qa-assistant serve`` on a free port, wait
    until it answers, and stop it afterwards."""
    folder = tmp_path_factory.mktemp("ui")
    extra = folder / "page_extra.txt"
    extra.write_text(EXTRA_PAGE, encoding="utf-8")
    index = folder / "index"
    built = subprocess.run(cli_command("index", str(SAMPLE), str(extra), "--index", str(index), "--no-progress"),
                           cwd=ROOT, env=SERVER_ENV, capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    running = start_server(index, folder / "server.log")
    try:
        yield running
    finally:
        stop_server(running.process)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server.url, verbose=False)


def _quoted(result: dict) -> list[dict]:
    return [p for p in result["passages"] if p["quoted"]]


# ------------------------------------------------------------------ the API endpoint (gradio_client)

@pytest.mark.e2e
def test_server_logs_the_index_and_model(server, client):
    log = server.log.read_text()
    assert str(server.index) in log and "multilingual-e5-small" in log
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(named) == {"/ask", "/upload", "/sources", "/remove"}  # the archive tab's three: tests/page/test_library.py


@pytest.mark.e2e
def test_api_quotes_the_companies(client):
    result = client.predict(Q_COMPANIES, [], 5, "hybrid", api_name="/ask")
    assert set(result) == {"question", "found", "answer", "short_answer", "short_answer_span", "sentence", "query",
                           "mode", "refused", "probability", "several", "period", "undated", "passages"}
    assert result["found"] and result["question"] == Q_COMPANIES
    first = _quoted(result)[0]
    assert all(name in first["text"] for name in COMPANIES), first
    assert CITATION in first["citation"] and CITATION in result["answer"]
    assert len(result["passages"]) == 5 and [p["rank"] for p in result["passages"]] == [1, 2, 3, 4, 5]


@pytest.mark.e2e
def test_api_matches_the_cli_json(server, client):
    """The endpoint returns render.answer_json(answer): the same JSON as ``qa-assistant ask --json``."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    run = subprocess.run(cli_command("-q", "ask", Q_COMPANIES, "--index", str(server.index), "--json", "-k", "3"),
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    cli = json.loads(run.stdout)
    api = client.predict(Q_COMPANIES, [], 3, "hybrid", api_name="/ask")
    scores = ("score", "dense", "bm25")
    strip = lambda d: {**d, "passages": [{k: v for k, v in p.items() if k not in scores} for p in d["passages"]]}
    assert strip(api) == strip(cli)
    for mine, theirs in zip(api["passages"], cli["passages"]):
        assert all(abs(mine[s] - theirs[s]) < 1e-4 for s in scores)


@pytest.mark.e2e
def test_api_follow_up_uses_the_earlier_question(client):
    result = client.predict(Q_GIFTS, [Q_COMPANIES], 5, "hybrid", api_name="/ask")
    assert result["found"]
    assert any("杂粮粥" in p["text"] for p in _quoted(result)), _quoted(result)
    # the history may also be sent as a JSON string
    again = client.predict(Q_GIFTS, json.dumps([Q_COMPANIES], ensure_ascii=False), 5, "hybrid", api_name="/ask")
    assert again["query"] == result["query"] and _quoted(again) == _quoted(result)


@pytest.mark.e2e
def test_api_new_topic_is_not_dragged_back(client):
    result = client.predict(Q_FANS, [Q_COMPANIES, Q_GIFTS], 5, "hybrid", api_name="/ask")
    assert result["found"]
    assert "经开区" not in result["query"]
    quoted = _quoted(result)
    assert quoted and "团扇" in quoted[0]["title"]
    assert not any("经开区" in p["title"] for p in quoted)


@pytest.mark.e2e
def test_api_not_found(client):
    result = client.predict(Q_WEATHER, [], 5, "hybrid", api_name="/ask")
    assert result["found"] is False and not _quoted(result)
    assert "未找到" in result["answer"]


@pytest.mark.e2e
def test_api_date_range_searches_only_articles_of_those_days(client):
    """The sample page carries no date: a date range leaves nothing to search, and says so."""
    result = client.predict(Q_COMPANIES, [], 5, "hybrid", "2024-01-01", "2024-12-31", api_name="/ask")
    assert result["found"] is False and result["passages"] == []
    assert client.predict(Q_COMPANIES, [], 5, "hybrid", "", "", api_name="/ask")["found"]


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_api_modes(client, mode):
    result = client.predict(Q_COMPANIES, [], 3, mode, api_name="/ask")
    assert result["mode"] == mode and len(result["passages"]) == 3


@pytest.mark.e2e
@pytest.mark.parametrize("args, message", [
    (("", [], 5, "hybrid"), "问题不能为空"),
    (("   ", [], 5, "hybrid"), "问题不能为空"),
    ((Q_COMPANIES, [], 0, "hybrid"), "k 必须是"),
    ((Q_COMPANIES, [], 5, "fuzzy"), "mode 必须是"),
    ((Q_COMPANIES, "not json", 5, "hybrid"), "history"),
    (("问" * 5000, [], 5, "hybrid"), "无法回答这个问题"),
    ((Q_GIFTS, [Q_COMPANIES, 3], 5, "hybrid"), "history"),
    ((Q_GIFTS, ["问" * 3000], 5, "hybrid"), "at most 2000"),
    ((Q_COMPANIES, [], 5, "hybrid", "12/01/2024"), "not a real date"),
])
def test_api_errors_are_clear_messages(client, args, message):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError) as error:
        client.predict(*args, api_name="/ask")
    assert message in str(error.value) and "Traceback" not in str(error.value)


@pytest.mark.e2e
def test_bad_requests_leave_one_log_line_each_and_no_traceback(server, client):
    from gradio_client.exceptions import AppError
    before = server.log.read_text()
    with pytest.raises(AppError):
        client.predict(Q_COMPANIES, [], 0, "hybrid", api_name="/ask")
    time.sleep(0.5)
    added = server.log.read_text()[len(before):]
    assert "Traceback" not in added and "k 必须是" in added and len(added.strip().splitlines()) <= 2, added


@pytest.mark.e2e
def test_a_megabyte_of_history_is_refused_and_never_stalls_other_users(server):
    """A follow-up sent with a 1 MB earlier question used to freeze the server for minutes (a regular
    expression quadratic in the text): it is refused at once while another user's question is answered."""
    from concurrent.futures import ThreadPoolExecutor
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    def flood():
        try:
            Client(server.url, verbose=False).predict(Q_GIFTS, ["经开区" * 350_000], 5, "hybrid", api_name="/ask")
        except AppError as error:
            return str(error)
        return "answered"

    with ThreadPoolExecutor(2) as pool:
        refused = pool.submit(flood)
        other = Client(server.url, verbose=False).predict(Q_COMPANIES, [], 5, "hybrid", api_name="/ask")
        assert other["found"] and all(name in _quoted(other)[0]["text"] for name in COMPANIES)
        assert "at most 2000" in refused.result(timeout=120)


@pytest.mark.e2e
def test_api_serves_concurrent_users(server):
    """Several sessions at once all get their own, correct answers."""
    from concurrent.futures import ThreadPoolExecutor
    from gradio_client import Client

    questions = [Q_COMPANIES, Q_FANS, Q_WEATHER, INJECTION_QUESTION]

    def ask(question):
        return Client(server.url, verbose=False).predict(question, [], 5, "hybrid", api_name="/ask")

    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(ask, questions))
    assert [r["question"] for r in results] == questions
    assert [r["found"] for r in results] == [True, True, False, True]
    assert SCRIPT in _quoted(results[3])[0]["text"]


# ------------------------------------------------------------------ the page in a real browser

@pytest.fixture
def page(server):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.dialogs = []
            page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(server.url, wait_until="load")
            page.locator("#qa-question textarea").wait_for(timeout=60_000)
            yield page
        finally:
            browser.close()


def _ask_in_page(page, question: str, replies_before: int):
    from playwright.sync_api import expect
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    # a reply is complete when its list of retrieved passages is there
    expect(page.locator("#qa-chat details.qa-hits")).to_have_count(replies_before + 1, timeout=120_000)
    return page.locator("#qa-chat [data-testid='bot']").last


@pytest.mark.browser
def test_browser_chat(page):
    from playwright.sync_api import expect

    # example questions come from the loaded index's headlines
    examples = page.locator("#qa-chat button.example")
    expect(examples.first).to_be_visible()
    assert any(EXTRA_TITLE in text or "经开区" in text or "团扇" in text or "工会" in text
               for text in examples.all_inner_texts())

    reply = _ask_in_page(page, Q_COMPANIES, 0)
    expect(page.locator("#qa-chat [data-testid='user']").last).to_contain_text(Q_COMPANIES)
    first_quote = reply.locator("blockquote").first
    expect(first_quote).to_be_visible()
    for name in COMPANIES:
        expect(first_quote).to_contain_text(name)
    expect(reply.locator("blockquote strong").first).to_be_visible()  # the answering sentence is highlighted
    expect(reply.get_by_text(CITATION).first).to_be_visible()
    expect(reply.locator("details.qa-hits summary")).to_contain_text("检索到的全部段落")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    # the detector works: a real alert is seen …
    page.evaluate("() => alert('control')")
    assert page.dialogs == ["control"]
    page.dialogs.clear()

    # … and corpus text with markup is shown as text and runs nothing
    reply = _ask_in_page(page, INJECTION_QUESTION, 1)
    expect(reply.locator("blockquote").first).to_contain_text(SCRIPT)
    expect(page.get_by_text(SCRIPT, exact=False).filter(visible=True).first).to_be_visible()
    expect(page.get_by_text(IMG, exact=False).filter(visible=True).first).to_be_visible()
    reply.locator("details.qa-hits summary").click()  # the full passage list shows it as text too
    expect(reply.locator("details.qa-hits li").first).to_contain_text(SCRIPT)
    page.wait_for_timeout(1500)
    assert page.dialogs == []
    assert page.locator("#qa-chat script").count() == 0
    assert page.locator("#qa-chat img[src='x']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "chat_injection.png"), full_page=True)

    # a question that the news cannot answer
    reply = _ask_in_page(page, Q_WEATHER, 2)
    expect(reply).to_contain_text("未找到")
    assert page.dialogs == []


# ------------------------------------------------------------------ rendering (no server)

def test_rendered_reply_escapes_corpus_and_question_text():
    from qa_assistant.answer import Answer, Quote
    from qa_assistant.passages import Passage
    from qa_assistant.render import reply_html
    from qa_assistant.retrieve import Hit
    from qa_assistant.text import Span

    text = f"第一句{SCRIPT}。第二句有*星号*和{IMG}。"
    passage = Passage(id="p1", article_id="a1", title=f"标题{IMG}", paragraph=2, part=0, text=text,
                      source="x.txt", start=0, end=len(text))
    sentence = Span(text.index("第二句"), len(text))
    quote = Quote(1, passage, 0.03, 0.9, 3.0, (sentence,))
    hit = Hit(passage, 0.03, 0.9, 3.0, 0)
    found = reply_html(Answer("问题", True, (quote,), (hit,), "问题", "hybrid"), 5)
    lost = reply_html(Answer(f"问{SCRIPT}", False, (), (hit,), f"问{SCRIPT}", "hybrid"), 5)
    for reply in (found, lost):
        assert "<script" not in reply and "<img" not in reply
        assert "&lt;script&gt;" in reply and "&lt;img" in reply
    assert "<strong>第二句有\\*星号\\*和&lt;img" in found  # highlighted, Markdown characters escaped
    assert "[1] 《标题&lt;img src=x onerror=alert\\(1\\)&gt;》第2段" in found
    assert "<mark>" in found and "<details" in found and "未找到" in lost

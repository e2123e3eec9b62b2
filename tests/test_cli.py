"""The command line, run as a user runs it: index, ask (one question, stdin JSONL), info, remove, errors."""
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "qa_assistant.cli", "-q", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, sample_page):
    folder = tmp_path_factory.mktemp("cli") / "idx"
    result = cli("index", sample_page, "--index", folder)
    assert result.returncode == 0, result.stderr
    assert "26 in the index" in result.stdout or "in the index" in result.stdout
    return folder


def test_ask_json_quotes_the_repaired_paragraph_first(cli_index):
    result = cli("ask", "经开区总工会慰问了哪些企业？", "--index", cli_index, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["found"] is True and answer["question"] == "经开区总工会慰问了哪些企业？"
    first = answer["passages"][0]
    assert {"id", "title", "text", "score", "highlights"} <= set(first)
    for name in ("北京先瑞达医疗科技有限公司", "北京华联印刷有限公司", "13名困难职工"):
        assert name in first["text"]
    assert all(h in first["text"] for h in first["highlights"])


def test_stdin_questions_give_one_json_object_per_line(cli_index):
    result = cli("ask", "--index", cli_index, "--json", "-k", "3", stdin="经开区总工会慰问了哪些企业？\n\n今天北京天气怎么样？\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["found"] for a in lines] == [True, False]
    assert len(lines[0]["passages"]) == 3


def test_info_names_model_and_size(cli_index):
    result = cli("info", "--index", cli_index)
    info = json.loads(result.stdout)
    assert info["model"]["name"] == "multilingual-e5-small" and info["passages"] == 26 and info["articles"] == 6


@pytest.mark.parametrize("args,message", [
    (("ask", "问题", "--index", "/nonexistent/idx"), "no such index folder"),
    (("index", "/nonexistent/page.txt", "--index", "/tmp/unused-idx"), "no such file"),
])
def test_errors_are_one_line_and_non_zero(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.strip().count("\n") == 0


def test_remove_by_source_file(cli_index, tmp_path, sample_page):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(cli_index, copy)
    result = cli("remove", sample_page.name, "--index", copy)
    assert result.returncode == 0 and "removed 26 passages" in result.stdout
    assert json.loads(cli("info", "--index", copy).stdout)["passages"] == 0

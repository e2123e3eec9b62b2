"""The command line, run as a user runs it: index, ask (one question, stdin JSONL), info, remove, errors."""
import json
import subprocess
import sys

import pytest

from .conftest import default_model_index, snapshot


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


@pytest.mark.e2e
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


def cli_bytes(*args, stdin: bytes):
    return subprocess.run([sys.executable, "-m", "qa_assistant.cli", "-q", *map(str, args)], input=stdin,
                          capture_output=True, timeout=600)


@pytest.mark.e2e
def test_stdin_questions_give_one_json_object_per_input_line_whatever_the_line_holds(cli_index):
    lines = ["经开区总工会慰问了哪些企业？".encode(), b"", "问" .encode() * 100_000, b"\xff\xfe bad bytes",
             "今天北京天气怎么样？".encode()]
    result = cli_bytes("ask", "--index", cli_index, "--json", "-k", "3", stdin=b"\n".join(lines) + b"\n")
    out = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5]  # every line answered, in order, after the bad ones too
    assert out[0]["found"] is True and len(out[0]["passages"]) == 3
    assert "empty line" in out[1]["error"] and "at most 2000" in out[2]["error"] and "UTF-8" in out[3]["error"]
    assert out[4]["found"] is False
    assert result.returncode == 1 and b"3 of 5 lines could not be answered" in result.stderr


@pytest.mark.e2e
def test_big5_and_utf16_pages_answer_in_their_own_script(tmp_path, sample_page):
    import opencc
    text = sample_page.read_text(encoding="utf-8")
    traditional = opencc.OpenCC("s2tw").convert(text)
    for name, data, script in (("big5", traditional.encode("big5"), "s2tw"), ("utf16", text.encode("utf-16"), None),
                               ("utf16be-nul", text.encode("utf-16-be") + b"\x00", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "page.txt").write_bytes(data)
        assert cli("index", tmp_path / name, "--index", tmp_path / f"idx-{name}").returncode == 0
        answer = json.loads(cli("ask", "经开区总工会慰问了哪些企业？", "--index", tmp_path / f"idx-{name}", "--json").stdout)
        first = answer["passages"][0]["text"]
        for expected in ("北京先瑞达医疗科技有限公司", "北京华联印刷有限公司", "13名困难职工"):
            assert (opencc.OpenCC(script).convert(expected) if script else expected) in first


@pytest.mark.e2e
def test_indexing_a_folder_that_holds_the_index_does_not_read_the_index_back(tmp_path, sample_page):
    import shutil
    shutil.copy(sample_page, tmp_path / "page.txt")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "notes.txt").write_text("本报讯 虚拟环境里的文件不是文章。", encoding="utf-8")
    counts = []
    for _ in range(3):
        result = cli("index", tmp_path, "--index", tmp_path / "embeddings" / "sample")
        assert result.returncode == 0, result.stderr
        counts.append(json.loads(cli("info", "--index", tmp_path / "embeddings" / "sample").stdout)["passages"])
    assert counts == [26, 26, 26]


def test_a_folder_with_nothing_to_index_fails_and_creates_no_index(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "photo.bmp").write_bytes(b"BM not an article")
    (tmp_path / "in" / "table.csv").write_text("a,b\n")
    result = cli("index", tmp_path / "in", "--index", tmp_path / "idx")
    assert result.returncode == 2 and "nothing to index" in result.stderr
    assert not (tmp_path / "idx").exists()


@pytest.mark.e2e
def test_info_names_model_and_size(cli_index):
    result = cli("info", "--index", cli_index)
    info = json.loads(result.stdout)
    assert info["model"]["name"] == "multilingual-e5-small" and info["passages"] == 26 and info["articles"] == 6


@pytest.mark.parametrize("args,message", [
    (("ask", "问题", "--index", "/nonexistent/idx"), "no such index folder"),
    (("index", "/nonexistent/page.txt", "--index", "/tmp/unused-idx"), "no such file"),
    (("index", "pyproject.toml", "--index", "/tmp/unused-idx"), "unsupported kind of file (.toml); supported: .txt"),
    (("ask", "问题", "--index", "/nonexistent/idx", "--since", "2024-13-45"), "'2024-13-45' is not a real date"),
    (("index", "pyproject.toml", "--index", "milvus_lite:///tmp/x.db"), "unknown kind of index URI"),
    (("info", "--index", "Milvus-Lite:///tmp/x.db"), "unknown kind of index URI"),
    (("ask", "问题", "--index", "/nonexistent/idx", "--until", "2024-02-30"), "'2024-02-30' is not a real date"),
])
def test_errors_are_one_line_and_non_zero(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("built_at, asked_at", [("fp32", "int8"), ("int8", "fp32")])
def test_input_errors_are_reported_before_the_model_loads(tmp_path, built_at, asked_at):
    """An empty question, a file over the size limit and an update at another precision than the index's
    (which would mix two kinds of vectors) are refused at once, in one line, without loading the model."""
    index = default_model_index(tmp_path / "idx", built_at)
    before = snapshot(index), (index / "manifest.json").read_bytes()
    more = tmp_path / "more.txt"
    more.write_text("市总工会举办职工运动会。\n", encoding="utf-8")
    checks = [(("ask", "", "--index", index), "the question is empty"),
              (("index", more, "--index", tmp_path / "new", "--max-file-mb", "0.00001"), "over the limit"),
              (("index", more, "--index", index, "--precision", asked_at),
               f"index vectors were made at {built_at} precision, the encoder loaded runs at {asked_at}")]
    for args, message in checks:
        result = subprocess.run([sys.executable, "-m", "qa_assistant.cli", *map(str, args)], capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 2 and "qa-assistant: error: " in result.stderr and message in result.stderr, (
            args, result.stderr)
        assert "embedding model:" not in result.stderr and "materialising" not in result.stderr, result.stderr
    assert (snapshot(index), (index / "manifest.json").read_bytes()) == before
    assert not (tmp_path / "new").exists()


@pytest.mark.e2e
def test_remove_by_source_file(cli_index, tmp_path, sample_page):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(cli_index, copy)
    result = cli("remove", sample_page.name, "--index", copy)
    assert result.returncode == 0 and "removed 26 passages" in result.stdout
    assert json.loads(cli("info", "--index", copy).stdout)["passages"] == 0


@pytest.mark.e2e
def test_info_checks_every_file_against_its_checksum(tmp_path, cli_index):
    """An altered passages file fails ``info`` by name (exit 2), as it fails ``ask``."""
    import shutil
    folder = tmp_path / "idx"
    shutil.copytree(cli_index, folder)
    assert cli("info", "--index", folder).returncode == 0
    store = next(folder.glob("passages-*.jsonl"))
    store.write_bytes(store.read_bytes().replace("经开区".encode(), "开发区".encode()))
    result = cli("info", "--index", folder)
    assert result.returncode == 2 and store.name in result.stderr and "checksum" in result.stderr
    assert result.stderr.strip().count("\n") == 0

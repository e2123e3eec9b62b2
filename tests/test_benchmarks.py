"""Every benchmark still runs (benchmarks/): each module imports, and each runs its smallest case on the
stand-in encoder of conftest (the figures are the real model's business; what is checked here is that the
code around it still fits the package). The benchmarks that drive the chat page are pointed at a page
served in this process over the stand-in encoder."""
from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import benchmarks
from qa_assistant.assistant import Assistant

from .conftest import SAMPLE_PAGE, FakeEmbedder, default_model_index, new_assistant, page_in_process

MODULES = sorted(info.name for info in pkgutil.iter_modules(benchmarks.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_imports(name):
    importlib.import_module(f"benchmarks.{name}")


def test_questions_at_the_smallest_size(tmp_path):
    from benchmarks import questions
    from benchmarks.common import cmrc_questions, questions_of, sentences_of
    embedder = FakeEmbedder()
    passages, vectors = questions.real_index(embedder, None)
    asked = questions_of(cmrc_questions())[:5]
    out = questions.at_size(embedder, passages, vectors, sentences_of([p.text for p in passages[:50]]),
                            len(passages) + 20, asked, asked[:1], tmp_path)
    assert out["passages"] == len(passages) + 20 and set(out["retrieve"]) == {"hybrid", "dense", "bm25"}
    assert {"encode_query", "dense_search", "bm25_scores"} == set(out["parts"]) and out["ask"]["questions"] == 1


def test_indexing_once(tmp_path):
    from benchmarks import indexing
    out = indexing.index_once(FakeEmbedder(), indexing.quick_corpus(tmp_path, 3), tmp_path / "index")
    assert out["passages"] > 3 and out["disk_bytes"] > 0 and Assistant.exists(tmp_path / "index")


def test_scale_at_the_smallest_sizes():
    from benchmarks import scale
    dense = scale.dense_at(2000, 3, 3, sweep=(16,))
    assert dense["passages"] == 2000
    assert scale.bm25_at(2000, 3)["passages"] == 2000


@pytest.mark.milvus
def test_milvus_scale_at_the_smallest_size():
    pytest.importorskip("milvus_lite")
    from benchmarks import milvus_scale
    out = milvus_scale.run(2000, 3)
    assert out["local"]["recall@10"] == 1.0 and out["milvus_lite"]["recall@10"] > 0.9


def test_the_news_stress_generator_makes_the_committed_set(tmp_path):
    from benchmarks import make_news_stress
    make_news_stress.write(tmp_path)
    for name in ("corpus.jsonl", "questions.jsonl"):
        assert (tmp_path / name).read_bytes() == (make_news_stress.FOLDER / name).read_bytes(), name


def test_fusion_re_fuses_candidate_lists_of_the_sample_page(tmp_path):
    from benchmarks import fusion
    from qa_assistant.evaluation import load_testset
    assistant = new_assistant(None)
    files, testset, _ = fusion.set_files("sample", tmp_path)
    assistant.index(files)
    lists = fusion.candidate_lists(assistant, load_testset(testset)[:8])
    figures = fusion.fast_figures(lists, fusion.strategies())
    assert set(figures) >= {"hybrid", "hybrid (old z-score)", "dense", "bm25"}
    assert "hit@1" in fusion.table("sample page", figures, 8, 8)


def test_memory_of_one_command(tmp_path):
    from benchmarks import memory
    index = default_model_index(tmp_path / "index")
    assert memory.main(["--json", str(tmp_path / "out.json"), "--", "info", "--index", str(index)]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["exit_code"] == 0 and out["peak_rss_mb"] > 0


def test_run_prints_the_tables_of_a_saved_run(tmp_path, capsys):
    from benchmarks import run
    from benchmarks.common import machine
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps({"machine": machine()}), encoding="utf-8")
    assert run.main(["--from-json", str(saved)]) == 0 and "Machine:" in capsys.readouterr().out


def test_formats_build_their_archives(tmp_path):
    from benchmarks import formats
    if not formats.has_chromium():
        pytest.skip("headless Chromium prints the e-paper PDF (apt-get install chromium)")
    made = formats.archives(tmp_path, 1)
    assistant = new_assistant(None)
    for kind, paths in made.items():
        assert Assistant.input_files(paths), kind
    assistant.index(made["txt"])
    assert len(assistant.passages) > 20


# ---------------------------------------------------------------- the page's benchmarks, on a page in this process

@pytest.fixture(scope="module")
def page(tmp_path_factory):
    assistant = new_assistant(tmp_path_factory.mktemp("bench-page") / "index")
    assistant.index([SAMPLE_PAGE])
    with page_in_process(assistant) as url:
        yield url


def test_chat_concurrency_with_one_user(page):
    from benchmarks import chat_concurrency
    out = chat_concurrency.run(page, 1, 1, 3, "hybrid", sequential_check=False)
    assert (out["asked"], out["errors"]) == (1, 0)


def test_archive_upload_with_one_user(page, tmp_path):
    from benchmarks import archive_upload
    corpus = tmp_path / "cmrc2.jsonl"
    corpus.write_text("\n".join(archive_upload.CMRC.read_text(encoding="utf-8").splitlines()[:2]) + "\n",
                      encoding="utf-8")
    asked, upload = archive_upload.with_upload(page, corpus, 1, 1, 3, "hybrid")
    assert asked["errors"] == 0 and upload["error"] is None and upload["results"][0]["status"] == "added"


def test_oversized_requests_are_refused(page):
    from gradio_client import Client
    from benchmarks import oversized_requests
    client = Client(page, verbose=False)
    seconds, outcome = oversized_requests.timed(
        lambda: client.predict(oversized_requests.FOLLOW_UP, oversized_requests.HUGE_HISTORY, 5, "hybrid",
                               api_name="/ask"))
    assert outcome.startswith("refused") and seconds < 60


def test_ocr_error_rates_of_a_page_read_twice():
    """The OCR benchmark's measures (its run needs Chromium and the recogniser: tests/ingest/test_read_scans.py)."""
    from benchmarks import ocr
    from qa_assistant.ingest import load_articles
    articles = load_articles(SAMPLE_PAGE)
    errors, length = ocr.article_errors(articles, articles)
    assert errors == 0 and length > 1000 and ocr.line_errors([], []) == (0, 0)

"""The evaluation notebooks: their tooling (notebooks/nbtools.py), and the notebooks re-executed, whose
saved figures must still match what the code computes now."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from qa_assistant import evaluation as ev

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "qa_assistant" / "data"
CMRC_SUBSET = 60  # questions the notebook test evaluates on CMRC (the whole corpus is indexed)
sys.path.insert(0, str(NOTEBOOKS))
import nbtools  # noqa: E402  (the notebooks' own tooling, outside the package)


def test_results_page_lists_every_mode_and_how_to_reproduce():
    metrics = {"hybrid": {"hit@1": 0.5, "mrr@10": 0.75, "article_hit@1": None, "sentence_hit@1": 1.0},
               "dense": {"hit@1": 0.25, "mrr@10": 0.5, "article_hit@1": None, "sentence_hit@1": None}}
    payload = {"dataset": "sample_page", "questions": 4, "passages": 26, "articles": 6, "model": "m",
               "fingerprint": "abc", "limit": None, "metrics": metrics}
    page = nbtools.results_markdown([payload])
    assert "--mode all" in page and "| hybrid | 0.500 |" in page and "make notebooks" in page


def test_set_parameters_rewrites_the_parameters_cell():
    source = "# Parameters\nLIMIT = None  # how many\nINDEX_DIR = None"
    out = nbtools.set_parameters(source, {"LIMIT": 60, "RESULTS_FILE": "/tmp/r.jsonl"})
    assert out.splitlines() == ["# Parameters", "LIMIT = 60  # how many", "INDEX_DIR = None",
                                "RESULTS_FILE = '/tmp/r.jsonl'"]


# ---------------------------------------------------------------- notebooks

def _committed(notebook: str):
    import nbformat
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    payload = nbtools.notebook_payload(nb)
    assert payload is not None, f"{notebook} has no saved figures: run `make notebooks`"
    return nb, payload


def _no_errors(nb, name):
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"{name}: a cell was not executed"
            assert not [o for o in cell.outputs if o.output_type == "error"], f"{name}: a cell failed"
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs), name


# Another CPU may round a near tie the other way (SIMD paths of torch, int8 kernels with or without VNNI):
# a question or two of a hundred may flip, never more.
MAX_DIFFERING_SHARE = 0.03
# nDCG@10 also moves when a second or third passage holding the answer swaps places with a neighbour
# lower down the list; what a reader sees (first hit's rank, article rank, found, sentence) must not.
NDCG_SLACK = 0.05


def _record_matches(now: dict, saved: dict) -> bool:
    if set(now) != set(saved):
        return False
    for key, value in now.items():
        if key not in ev.MODES:
            if value != saved[key]:
                return False
            continue
        (rank, article_rank, ndcg, found, sentence), (rank_s, article_s, ndcg_s, found_s, sentence_s) = value, saved[key]
        if (rank, article_rank, found, sentence) != (rank_s, article_s, found_s, sentence_s):
            return False
        if (ndcg is None or ndcg_s is None) and ndcg != ndcg_s or ndcg is not None and ndcg_s is not None \
                and abs(ndcg - ndcg_s) > NDCG_SLACK:
            return False
    return True


def _same_records(fresh: dict, saved: dict, name: str):
    """The questions evaluated now have the saved per-question figures (but for rare near-tie flips)."""
    missing = [qid for qid in fresh if qid not in saved]
    assert not missing, f"{name}: questions not in the saved results: {missing[:5]} (refresh: make notebooks)"
    differ = [(qid, fresh[qid], saved[qid]) for qid in fresh if not _record_matches(fresh[qid], saved[qid])]
    assert len(differ) <= MAX_DIFFERING_SHARE * len(fresh), (
        f"{name}: {len(differ)} of {len(fresh)} questions differ from the saved notebook results "
                        f"(refresh: make notebooks): " + "; ".join(f"{q}: now {a} saved {b}" for q, a, b in differ[:5]))


def _close(now: dict, saved: dict, name: str, tolerance: float = 1e-3):
    # the saved per-question records do not say which questions hold time words: that figure is in the table only
    keys = set(now) & set(saved) - {"time_words_sentence_hit@1"}
    assert keys >= {"hit@1", "mrr@10", "ndcg@10", "sentence_hit@1"}, name
    differ = {k: (now[k], saved[k]) for k in sorted(keys) if (now[k] is None) != (saved[k] is None)
              or (now[k] is not None and abs(now[k] - saved[k]) > tolerance)}
    assert not differ, f"{name}: figures now vs saved: {differ} (refresh: make notebooks)"


def _execute(notebook: str, tmp_path: Path, parameters: dict):
    started = time.perf_counter()
    nb = nbtools.execute_notebook(NOTEBOOKS / notebook, parameters, save_to=tmp_path / notebook, timeout=3600)
    print(f"{notebook}: executed in {time.perf_counter() - started:.0f} s")
    _no_errors(nb, notebook)
    return nb


@pytest.mark.e2e
def test_sample_notebook_runs_and_matches_its_saved_figures(sample_index, tmp_path):
    committed_nb, committed = _committed("sample_page.ipynb")
    _no_errors(committed_nb, "committed sample_page.ipynb")
    saved = ev.load_records(NOTEBOOKS / "results" / "sample_page.jsonl")
    index = tmp_path / "sample"
    shutil.copytree(sample_index, index)  # the notebook re-indexes in place: keep the session's index as it is
    results = tmp_path / "sample_page.jsonl"
    nb = _execute("sample_page.ipynb", tmp_path, {"INDEX_DIR": str(index), "RESULTS_FILE": str(results)})
    fresh = nbtools.notebook_payload(nb)
    assert fresh["questions"] == committed["questions"] == 76 and fresh["passages"] == committed["passages"]
    _same_records(ev.load_records(results), saved, "sample_page")
    assert len(saved) == 76
    for mode in ev.MODES:
        _close(fresh["metrics"][mode], committed["metrics"][mode], f"sample_page/{mode}", tolerance=0.03)
        _close(ev.summarise_records(saved.values(), mode, range(1, 11)), committed["metrics"][mode],
               f"sample_page/{mode} saved records vs saved table")


@pytest.mark.e2e
def test_cmrc_notebook_on_a_subset_matches_its_saved_figures(tmp_path):
    committed_nb, committed = _committed("cmrc2018.ipynb")
    _no_errors(committed_nb, "committed cmrc2018.ipynb")
    assert committed["limit"] is None and committed["questions"] == 1000
    saved = ev.load_records(NOTEBOOKS / "results" / "cmrc2018_trial.jsonl")
    assert len(saved) == 1000
    results = tmp_path / "cmrc.jsonl"
    nb = _execute("cmrc2018.ipynb", tmp_path, {"LIMIT": CMRC_SUBSET, "INDEX_DIR": str(tmp_path / "cmrc"),
                                               "RESULTS_FILE": str(results)})
    fresh = nbtools.notebook_payload(nb)
    assert fresh["questions"] == CMRC_SUBSET and fresh["limit"] == CMRC_SUBSET
    assert (fresh["passages"], fresh["articles"]) == (committed["passages"], committed["articles"])
    now = ev.load_records(results)
    assert len(now) == CMRC_SUBSET
    _same_records(now, saved, "cmrc2018")
    subset = [saved[qid] for qid in now]
    for mode in ev.MODES:
        # the subset's figures equal those of the saved results for the same questions …
        _close(fresh["metrics"][mode], ev.summarise_records(subset, mode, range(1, 11)), f"cmrc2018/{mode} subset",
               tolerance=0.03)
        # … and the saved table is what the saved per-question results add up to
        _close(ev.summarise_records(saved.values(), mode, range(1, 11)), committed["metrics"][mode],
               f"cmrc2018/{mode} saved records vs saved table")

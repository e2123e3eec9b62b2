"""Notebook tooling (outside the installed package): prepare an evaluation index, record a notebook's
figures, execute the notebooks with nbclient and rewrite notebooks/RESULTS.md.

    .venv/bin/python notebooks/nbtools.py --notebooks      # what `make notebooks` runs
    .venv/bin/python notebooks/nbtools.py --results        # only rewrite RESULTS.md
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from qa_assistant import USER_ERRORS, Assistant
from qa_assistant.embedding import DEFAULT_PRECISION
from qa_assistant.evaluation import MODES, ModeReport, markdown_table
from qa_assistant.settings import environment_changes

HERE = Path(__file__).resolve().parent

NOTEBOOKS = ("sample_page.ipynb", "cmrc2018.ipynb")  # evaluations: their figures go to RESULTS.md
ANALYSES = ("answer_model.ipynb", "recurring_stories.ipynb")  # re-run in place, no RESULTS.md figures
RESULT_MARK = "qa_assistant_eval"  # key of the JSON output that carries a notebook's figures


def find_root(start: str | Path | None = None) -> Path:
    """The project folder (the one with pyproject.toml) above ``start`` (default: the working folder)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return HERE.parent


def prepare_index(paths: Sequence[str | Path], index_dir: str | Path, rebuild: bool = False) -> Assistant:
    """An index of exactly ``paths`` in ``index_dir``: reused when present and made at the precision this
    run asks for (files re-read and re-split with the current code; vectors of unchanged passages kept),
    other sources removed; built otherwise."""
    index_dir = Path(index_dir)
    changes = environment_changes(os.environ)
    assistant = None
    if not rebuild and Assistant.exists(index_dir):
        try:
            assistant = Assistant.open(index_dir, **changes)
        except USER_ERRORS:
            assistant = None
        wanted = changes.get("precision", DEFAULT_PRECISION)
        if assistant is not None and assistant.info()["model"].get("precision") != wanted:
            assistant = None
    if assistant is None:
        if index_dir.exists():
            shutil.rmtree(index_dir)
        assistant = Assistant.open(index_dir, create=True, **changes)
    assistant.index(paths, force=True)
    wanted = {str(Path(p).resolve()) for p in paths}
    others = sorted({p.source for p in assistant.passages} - wanted)
    if others:
        assistant.remove(others)
    return assistant


def results_payload(name: str, testset_path: str, reports: Mapping[str, ModeReport], assistant, limit=None) -> dict:
    """What a notebook records as its figures (the JSON output the notebook test and RESULTS.md read)."""
    return {RESULT_MARK: {
        "dataset": name, "testset": testset_path, "limit": limit,
        "questions": len(next(iter(reports.values())).results),
        "passages": len(assistant.passages), "articles": len({p.article_id for p in assistant.passages}),
        "model": assistant.info()["model"]["name"],
        "fingerprint": assistant.info()["model"]["fingerprint"][:12],
        "metrics": {m: dict(r.metrics) for m, r in reports.items()},
        "seconds": {m: round(r.seconds, 1) for m, r in reports.items()}}}


def notebook_payload(notebook: Any) -> dict | None:
    """The figures a notebook saved (its ``qa_assistant_eval`` JSON output), or None."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("application/json")
            if isinstance(data, dict) and RESULT_MARK in data:
                return data[RESULT_MARK]
    return None


def execute_notebook(path: str | Path, parameters: Mapping[str, Any] | None = None, save_to: str | Path | None = None,
                     timeout: int | None = None):
    """Run a notebook with nbclient in its own folder; ``parameters`` replace the assignments of its first
    (``parameters``) cell. Returns the executed notebook, written to ``save_to`` when given; ``timeout``
    limits each cell (seconds, None: no limit)."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        cell = notebook.cells[next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")]
        cell.source = set_parameters(cell.source, parameters)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    if save_to is not None:
        nbformat.write(notebook, save_to)
    return notebook


def set_parameters(source: str, parameters: Mapping[str, Any]) -> str:
    """Replace ``NAME = …`` lines of a parameters cell (and append names it lacks)."""
    lines, done = source.splitlines(), set()
    for i, line in enumerate(lines):
        name = line.split("=", 1)[0].strip()
        if "=" in line and name in parameters and not line.startswith((" ", "#")):
            comment = line.split("#", 1)[1] if "#" in line else ""
            lines[i] = f"{name} = {parameters[name]!r}" + (f"  # {comment.strip()}" if comment else "")
            done.add(name)
    lines += [f"{name} = {value!r}" for name, value in parameters.items() if name not in done]
    return "\n".join(lines)


def results_markdown(payloads: Sequence[Mapping[str, Any]]) -> str:
    """notebooks/RESULTS.md from the notebooks' saved figures."""
    commands = {
        "sample_page": ("qa-assistant index qa_assistant/data/page_000.txt --index embeddings/sample",
                        "qa-assistant eval qa_assistant/data/sample_questions.jsonl --index embeddings/sample "
                        "--mode all"),
        "cmrc2018_trial": ("qa-assistant index qa_assistant/data/cmrc2018_trial/corpus.jsonl "
                           "--index embeddings/cmrc2018_trial",
                           "qa-assistant eval qa_assistant/data/cmrc2018_trial/questions.jsonl "
                           "--index embeddings/cmrc2018_trial --mode all"),
    }
    titles = {"sample_page": "Sample page (`qa_assistant/data/page_000.txt`, `sample_questions.jsonl`)",
              "cmrc2018_trial": "CMRC 2018 trial set (`qa_assistant/data/cmrc2018_trial/`, CC-BY-SA-4.0)"}
    parts = ["# Evaluation results", "",
             "Written by `make notebooks` (= `.venv/bin/python notebooks/nbtools.py --notebooks`), which re-runs "
             "`notebooks/sample_page.ipynb` and `notebooks/cmrc2018.ipynb` with nbclient, saves their outputs and "
             "per-question results (`notebooks/results/*.jsonl`), and rewrites this file. "
             "`tests/test_notebooks.py` re-executes both notebooks (CMRC on a subset) and fails when these saved "
             "figures no longer match the code: refresh them with that command. It takes a few minutes for the "
             "sample page and about ten minutes for CMRC (3 × 1000 answers) on a 2-core machine; on a busy machine "
             "`QA_ASSISTANT_THREADS=1 make notebooks` is faster.", "",
             "Figures: `hit@k` — a top-k passage contains an answer (whitespace ignored); `MRR@10`, `nDCG@10` — "
             "binary relevance (every passage holding an answer is relevant); `article hit@k` — a top-k passage "
             "is from the question's article; `answer sentence hit@1` — the sentence the answer picks out "
             "(first quote) contains an answer, a “未找到” reply counting as a miss; "
             "`unanswerable refused ↑` — share of unanswerable questions answered 未找到; "
             "`answerable refused ↓` — share of answerable ones "
             "wrongly answered 未找到. Retrieval figures are over answerable questions.", ""]
    for payload in payloads:
        name = payload["dataset"]
        metrics = payload["metrics"]  # saved notebooks sort JSON keys: back to the usual mode order
        metrics = {m: metrics[m] for m in sorted(metrics, key=lambda m: (MODES + (m,)).index(m))}
        seconds = sum((payload.get("seconds") or {}).values())
        index_cmd, eval_cmd = commands.get(name, ("", ""))
        parts += [f"## {titles.get(name, name)}", "",
                  f"{payload['questions']} questions, {payload['passages']} passages from {payload['articles']} "
                  f"articles, model {payload['model']} (weights {payload['fingerprint']}…)"
                  + (f", first {payload['limit']} questions only" if payload.get("limit") else "")
                  + (f"; evaluating the three modes took {seconds / 60:.0f} min" if seconds else "") + ".", "",
                  markdown_table(metrics), ""]
        if eval_cmd:
            parts += ["Reproduce:", "", "```sh", index_cmd, eval_cmd, "```", ""]
    return "\n".join(parts)


def notebooks_folder(root: str | Path | None = None) -> Path:
    return find_root(root or HERE) / "notebooks"


def write_results(root: str | Path | None = None) -> Path:
    """Rewrite notebooks/RESULTS.md from the figures saved in the notebooks."""
    import nbformat
    folder = notebooks_folder(root)
    payloads = [notebook_payload(nbformat.read(folder / name, as_version=4)) for name in NOTEBOOKS]
    target = folder / "RESULTS.md"
    target.write_text(results_markdown([p for p in payloads if p]), encoding="utf-8")
    return target


def run_notebooks(root: str | Path | None = None, names: Sequence[str] = NOTEBOOKS + ANALYSES) -> Path:
    """Re-execute the notebooks in place (outputs and per-question results saved), then rewrite
    RESULTS.md: what ``make notebooks`` runs."""
    folder = notebooks_folder(root)
    for name in names:
        started = time.perf_counter()
        print(f"executing {folder / name} …", file=sys.stderr, flush=True)
        notebook = execute_notebook(folder / name, save_to=folder / name)
        if name in NOTEBOOKS and notebook_payload(notebook) is None:
            raise RuntimeError(f"{folder / name}: no {RESULT_MARK} output")
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return write_results(root)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python notebooks/nbtools.py",
                                     description="re-run the evaluation notebooks and rewrite notebooks/RESULTS.md")
    parser.add_argument("--notebooks", nargs="*", metavar="NAME", default=None,
                        help=f"execute these notebooks in place (default, no NAME: {' '.join(NOTEBOOKS)}), "
                             "then rewrite RESULTS.md")
    parser.add_argument("--results", action="store_true", help="only rewrite RESULTS.md from the saved notebooks")
    args = parser.parse_args(argv)
    if args.results:
        print(write_results())
    elif args.notebooks is not None:
        print(run_notebooks(names=tuple(args.notebooks) or NOTEBOOKS + ANALYSES))
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

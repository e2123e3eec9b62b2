"""Command line: ``qa-assistant index | ask | info | remove | eval | serve``. A thin shell over
:class:`qa_assistant.Assistant`; errors are one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

DEFAULT_INDEX = "embeddings/sample"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa-assistant", description="问答助手: answers questions over Chinese news by quoting them.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True)
    encoder = argparse.ArgumentParser(add_help=False)
    encoder.add_argument("--precision", choices=("int8", "fp32"), default=None,
                         help="encoder precision: int8 (fast, the default for new indexes) or fp32 (the reference); "
                              "an existing index is used at the precision it was built with unless this asks otherwise")

    index = commands.add_parser("index", parents=[encoder], help="add or update files/folders (.txt, .md, .jsonl) in an index")
    index.add_argument("paths", nargs="+", metavar="PATH")
    index.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR", help=f"index folder (default {DEFAULT_INDEX})")
    index.add_argument("--model", default=None, help="sentence-transformers model name or folder (default: multilingual-e5-small)")
    index.add_argument("--dense", default=None, choices=("auto", "flat", "hnsw"), help="FAISS index type (default auto: exact below 200k passages)")
    index.add_argument("--force", action="store_true", help="re-read files even when unchanged")
    index.add_argument("--max-file-mb", type=float, default=None, metavar="MB",
                       help="refuse files larger than this (default 10, or $QA_ASSISTANT_MAX_FILE_MB; 0 = no limit)")
    index.add_argument("--no-progress", action="store_true", help="no progress bar")

    ask = commands.add_parser("ask", parents=[encoder], help="answer a question (or one per line from stdin)")
    ask.add_argument("question", nargs="?", help="the question; without it, questions are read from stdin, one per line")
    ask.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR")
    ask.add_argument("--model", default=None, help="must match the model that built the index")
    ask.add_argument("-k", type=int, default=5, help="passages to retrieve (default 5)")
    ask.add_argument("--mode", default="hybrid", choices=("hybrid", "dense", "bm25"))
    ask.add_argument("--json", action="store_true", help="print JSON (one object per line for stdin questions)")

    info = commands.add_parser("info", help="describe an index")
    info.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR")

    remove = commands.add_parser("remove", help="delete passages by source file or article id")
    remove.add_argument("keys", nargs="+", metavar="SOURCE")
    remove.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR")

    evaluate = commands.add_parser("eval", parents=[encoder], help="measure retrieval and answers on a JSONL test set")
    evaluate.add_argument("testset", metavar="TESTSET")
    evaluate.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR")
    evaluate.add_argument("--mode", default="hybrid", choices=("hybrid", "dense", "bm25", "all"))
    evaluate.add_argument("-k", type=int, nargs="+", default=[1, 3, 5, 10], help="cut-offs (default 1 3 5 10)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--misses", type=int, default=10, help="misses to list per mode (default 10)")

    serve = commands.add_parser("serve", parents=[encoder], help="open the chat page")
    serve.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--build", nargs="*", metavar="PATH", default=None,
                       help="build the index from these paths first when it is missing (no PATH: the sample page)")
    return parser


def sample_page() -> Path:
    return Path(__file__).parent / "data" / "page_000.txt"


def _run(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    if args.command == "index":
        from .ingest import iter_input_files
        list(iter_input_files(args.paths))  # a missing path fails now, before the model loads
        exists = (Path(args.index) / "manifest.json").is_file()
        assistant = (Assistant.load(args.index, model=args.model, lazy_model=True) if exists
                     else Assistant.empty(args.model, args.index))
        report = assistant.index(args.paths, dense_kind=args.dense, progress=not args.no_progress, force=args.force,
                                 max_file_mb=args.max_file_mb)
        if not (Path(args.index) / "manifest.json").is_file():
            assistant.save(args.index)
        skipped = f", {report.files_skipped} skipped" if report.files_skipped else ""
        print(f"{args.index}: {report.files_read} files ({report.files_unchanged} unchanged{skipped}), "
              f"{report.articles} articles read, +{report.passages_added} −{report.passages_removed} passages, "
              f"{report.passages_total} in the index")
        return 0
    if args.command == "info":
        from .store import read_manifest
        manifest = read_manifest(args.index)
        print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, ensure_ascii=False, indent=2))
        return 0
    if args.command == "remove":
        assistant = Assistant.load(args.index, lazy_model=True)
        removed = assistant.remove(args.keys)
        if not removed:
            raise LookupError(f"nothing in {args.index} matches {' '.join(args.keys)}")
        print(f"{args.index}: removed {removed} passages, {len(assistant.passages)} left")
        return 0
    if args.command == "ask":
        assistant = Assistant.load(args.index, model=args.model)
        if args.question is not None:
            answer = assistant.ask(args.question, k=args.k, mode=args.mode)
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1) if args.json else answer.reply)
            return 0
        return _ask_each_line(assistant, sys.stdin.buffer, args)
    if args.command == "eval":
        from .evaluate import run_cli
        return run_cli(args)
    if args.command == "serve":
        from .ui import serve
        if args.build is not None and not (Path(args.index) / "manifest.json").is_file():
            Assistant.build(args.build or [sample_page()], index_dir=args.index, progress=True)
        serve(args.index, host=args.host, port=args.port)
        return 0
    raise AssertionError(args.command)


MAX_LINE_BYTES = 16 * 1024  # a question is at most 2,000 characters; a longer line is refused unread


def read_lines(stream, limit: int = MAX_LINE_BYTES):
    """(line number, bytes or None) for each line of a binary stream; None for a line over ``limit``
    bytes, whose rest is skipped without being kept in memory."""
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 16)
            yield number, None
        else:
            yield number, line


def _ask_each_line(assistant, stream, args) -> int:
    """One answer (or one error) per input line, in order; exit status 1 when any line failed."""
    from .assistant import QuestionError
    failed = lines = 0
    for number, raw in read_lines(stream):
        lines = number
        try:
            if raw is None:
                raise QuestionError(f"the line is over {MAX_LINE_BYTES // 1024} KB; a question is at most 2000 characters")
            try:
                question = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                raise QuestionError(f"not valid UTF-8 (byte {error.start})") from None
            if not question:
                raise QuestionError("empty line: no question")
            answer = assistant.ask(question, k=args.k, mode=args.mode)
        except (QuestionError, ValueError) as error:
            failed += 1
            print(json.dumps({"line": number, "error": str(error)}, ensure_ascii=False) if args.json
                  else f"[{number}] error: {error}", flush=True)
            continue
        print(json.dumps({"line": number, **answer.to_dict()}, ensure_ascii=False) if args.json else answer.reply,
              flush=True)
    if failed:
        print(f"qa-assistant: {failed} of {lines} lines could not be answered", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("faiss.loader", "sentence_transformers", "httpx", "bm25s", "jieba", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if getattr(args, "precision", None):  # read by every part that loads the encoder
        os.environ["QA_ASSISTANT_PRECISION"] = args.precision
    from .assistant import QuestionError
    from .embedder import ModelMismatchError
    from .store import IndexLoadError
    from .ingest import IngestError
    try:
        return _run(args)
    except (IngestError, IndexLoadError, ModelMismatchError, QuestionError, LookupError, ValueError, OSError) as error:
        print(f"qa-assistant: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa-assistant: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

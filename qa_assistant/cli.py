"""Command line: ``qa-assistant index | ask | info | remove | eval | serve``. A thin shell over
:class:`qa_assistant.Assistant` and the rendering module; the environment (``QA_ASSISTANT_*``) is read
here, once. Errors are one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .settings import DENSE_KINDS, MODES, PRECISIONS, Settings, SettingsError

DEFAULT_INDEX = "embeddings/sample"
MAX_LINE_BYTES = 16 * 1024  # a question is at most 2,000 characters; a longer line is refused unread


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa-assistant", description="问答助手: answers questions over Chinese news by quoting them.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True)
    encoder = argparse.ArgumentParser(add_help=False)
    encoder.add_argument("--precision", choices=PRECISIONS, default=None,
                         help="encoder precision: int8 (fast, the default for new indexes) or fp32 (the reference); "
                              "an existing index is used at the precision it was built with unless this asks otherwise")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR|URI",
                       help=f"index folder (default {DEFAULT_INDEX}), or a Milvus archive: milvus-lite:///path/archive.db "
                            f"or milvus://host:19530/collection (token from $QA_ASSISTANT_MILVUS_TOKEN)")
    dated = argparse.ArgumentParser(add_help=False)
    dated.add_argument("--since", default=None, metavar="DATE", help="only articles dated on or after DATE (2024-01-12, 2024-01, 2024)")
    dated.add_argument("--until", default=None, metavar="DATE", help="only articles dated on or before DATE")
    dated.add_argument("--as-of", default=None, metavar="DATE", dest="as_of",
                       help="the date time words (今年, 去年, 上个月 …) are read against (default: today)")

    index = commands.add_parser("index", parents=[encoder, where],
                                help="add or update files/folders (.txt, .md, .jsonl, .pdf, .html, .docx; scans .jpg .png .tif by OCR) in an index")
    index.add_argument("paths", nargs="+", metavar="PATH")
    index.add_argument("--model", default=None, help="sentence-transformers model name or folder (default: multilingual-e5-small)")
    index.add_argument("--dense", default=None, choices=DENSE_KINDS,
                       help=f"FAISS index type (default {Settings().index.dense}: exact below "
                            f"{Settings().index.hnsw_threshold:,} passages)")
    index.add_argument("--force", action="store_true", help="re-read files even when unchanged")
    index.add_argument("--max-file-mb", type=float, default=None, metavar="MB",
                       help=f"refuse files larger than this (default {Settings.max_file_mb:g}, or "
                            f"$QA_ASSISTANT_MAX_FILE_MB; 0 = no limit)")
    index.add_argument("--no-progress", action="store_true", help="no progress bar")

    ask = commands.add_parser("ask", parents=[encoder, where, dated], help="answer a question (or one per line from stdin)")
    ask.add_argument("question", nargs="?", help="the question; without it, questions are read from stdin, one per line")
    ask.add_argument("--model", default=None, help="must match the model that built the index")
    ask.add_argument("-k", type=int, default=None, help=f"passages to retrieve (default {Settings.k})")
    ask.add_argument("--mode", default=None, choices=MODES, help=f"retrieval mode (default {Settings.mode})")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per line for stdin questions)")

    info = commands.add_parser("info", parents=[where], help="describe an index")
    info.add_argument("--articles", action="store_true", help="list the articles of every source, as the index holds them")

    remove = commands.add_parser("remove", parents=[where], help="delete passages by source file or article id")
    remove.add_argument("keys", nargs="+", metavar="SOURCE")

    evaluate = commands.add_parser("eval", parents=[encoder, where, dated], help="measure retrieval and answers on a JSONL test set")
    evaluate.add_argument("testset", metavar="TESTSET")
    evaluate.add_argument("--mode", default=Settings.mode, choices=MODES + ("all",))
    evaluate.add_argument("-k", type=int, nargs="+", default=[1, 3, 5, 10], help="cut-offs (default 1 3 5 10)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--misses", type=int, default=10, help="misses to list per mode (default 10)")

    serve = commands.add_parser("serve", parents=[encoder, where], help="open the chat page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--build", nargs="*", metavar="PATH", default=None,
                       help="build the index from these paths first when it is missing (no PATH: the sample page)")
    serve.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                       help="visitors log in (the whole page and API); with a login, uploading and removing "
                            "files is allowed on any --host (without one, only on 127.0.0.1)")
    serve.add_argument("--auth-file", default=None, metavar="FILE", help="logins, one user:password per line")
    return parser


def sample_page() -> Path:
    return Path(__file__).parent / "data" / "page_000.txt"


def settings_changes(args: argparse.Namespace) -> dict[str, Any]:
    """Settings this run asks for, over the index's own: the environment, then the command line."""
    from .settings import environment_changes
    changes = environment_changes(os.environ)
    names = ["precision", "model", "max_file_mb"] + (["k", "mode"] if args.command == "ask" else [])
    changes.update({name: getattr(args, name) for name in names if getattr(args, name, None) is not None})
    return changes


def _run(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .question import DateRange
    from .when import parse_as_of
    from .render import answer_json, markdown
    from .updates import RemovalError

    changes = settings_changes(args)
    args.index = Assistant.locate(args.index, os.environ)  # a Milvus URI gets its token from QA_ASSISTANT_MILVUS_TOKEN
    if args.command == "index":
        if args.dense:
            changes["dense"] = args.dense
        # a missing, unsupported or (for a new index, whose limits are known now) oversized file fails before
        # the model loads; an existing index's own limit is checked before its model loads too
        Assistant.input_files(args.paths, None if Assistant.exists(args.index) else Settings().replace(**changes))
        assistant = Assistant.open(args.index, create=True, lazy_model=True, **changes)
        report = assistant.index(args.paths, progress=not args.no_progress, force=args.force)
        skipped = f", {report.files_skipped} skipped" if report.files_skipped else ""
        print(f"{args.index}: {report.files_read} files ({report.files_unchanged} unchanged{skipped}), "
              f"{report.articles} articles read, +{report.passages_added} −{report.passages_removed} passages, "
              f"{report.passages_total} in the index")
        return 0
    if args.command == "info":
        assistant = Assistant.open(args.index, lazy_model=True)  # every file checked against its checksum
        out = assistant.articles() if args.articles else assistant.info()
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if args.command == "remove":
        assistant = Assistant.open(args.index, lazy_model=True)
        removed = assistant.remove(args.keys)
        if not removed:
            raise RemovalError(f"nothing in {args.index} matches {' '.join(args.keys)}")
        print(f"{args.index}: removed {removed} passages, {len(assistant.passages)} left")
        return 0
    if args.command == "ask":
        DateRange.of(args.since, args.until)  # a bad date fails now, before the model loads
        parse_as_of(args.as_of)
        assistant = Assistant.open(args.index, lazy_model=True, **changes)  # a bad question fails before it loads
        if args.question is not None:
            answer = assistant.ask(args.question, since=args.since, until=args.until, as_of=args.as_of)
            print(json.dumps(answer_json(answer), ensure_ascii=False, indent=1) if args.json else markdown(answer))
            return 0
        return _ask_each_line(assistant, sys.stdin.buffer, args.json,
                              {"since": args.since, "until": args.until, "as_of": args.as_of})
    if args.command == "eval":
        return _evaluate(args, changes)
    if args.command == "serve":
        from .page import read_credentials, serve
        auth = read_credentials(args.auth, args.auth_file)  # a bad credentials file fails before the model loads
        built = None
        if args.build is not None and not Assistant.exists(args.index):  # built here, served as it is: one model load
            built = Assistant.build(args.build or [sample_page()], args.index, progress=True, **changes)
        serve(args.index, host=args.host, port=args.port, changes=changes, auth=auth, assistant=built)
        return 0
    raise AssertionError(args.command)


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


def _ask_each_line(assistant, stream, as_json: bool, dates: dict) -> int:
    """One answer (or one error) per input line, in order; exit status 1 when any line failed."""
    from .assistant import QuestionError
    from .render import answer_json, markdown
    failed = lines = 0
    for number, raw in read_lines(stream):
        lines = number
        try:
            if raw is None:
                raise QuestionError(f"the line is over {MAX_LINE_BYTES // 1024} KB; a question is at most "
                                    f"{assistant.settings.max_question_chars} characters")
            try:
                question = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                raise QuestionError(f"not valid UTF-8 (byte {error.start})") from None
            if not question:
                raise QuestionError("empty line: no question")
            answer = assistant.ask(question, **dates)
        except QuestionError as error:
            failed += 1
            print(json.dumps({"line": number, "error": str(error)}, ensure_ascii=False) if as_json
                  else f"[{number}] error: {error}", flush=True)
            continue
        print(json.dumps({"line": number, **answer_json(answer)}, ensure_ascii=False) if as_json else markdown(answer),
              flush=True)
    if failed:
        print(f"qa-assistant: {failed} of {lines} lines could not be answered", file=sys.stderr)
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    """``qa-assistant eval TESTSET --index DIR --mode hybrid|dense|bm25|all -k 1 3 5 10 [--json] [--misses N]``."""
    from .assistant import Assistant
    from .question import DateRange
    from .when import parse_as_of
    from .evaluation import Evaluator, format_misses, format_table, load_testset

    testset = load_testset(args.testset)  # before the model loads: a bad line fails fast
    DateRange.of(args.since, args.until)
    parse_as_of(args.as_of)
    ks = tuple(sorted(set(args.k)))
    if not ks or ks[0] < 1:
        raise SettingsError("cut-offs (-k) must be positive integers")
    assistant = Assistant.open(args.index, **changes)
    modes = MODES if args.mode == "all" else (args.mode,)
    evaluator = Evaluator(testset, ks=ks, progress=not args.json and sys.stderr.isatty(), since=args.since,
                          until=args.until, as_of=args.as_of)
    reports = {mode: evaluator(assistant, mode) for mode in modes}
    answerable = sum(1 for q in testset if not q.unanswerable)
    if args.json:
        out = {"testset": str(args.testset), "index": str(args.index), "passages": len(assistant.passages),
               "questions": len(testset), "answerable": answerable, "unanswerable": len(testset) - answerable,
               "ks": list(ks), "modes": {m: r.to_dict(misses=args.misses) for m, r in reports.items()}}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print(f"{args.testset}: {len(testset)} questions ({answerable} answerable, {len(testset) - answerable} "
          f"unanswerable) on {args.index} ({len(assistant.passages)} passages)\n")
    print(format_table({m: r.metrics for m, r in reports.items()}, ks))
    unreachable = next(iter(reports.values())).metrics.get("unreachable")
    if unreachable:
        print(f"\n{unreachable} answerable questions have no passage in the index that contains their answer.")
    if args.misses > 0:
        for report in reports.values():
            print()
            print(format_misses(report, args.misses))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("faiss.loader", "sentence_transformers", "httpx", "bm25s", "jieba", "urllib3", "trafilatura"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    from .assistant import USER_ERRORS
    try:
        return _run(args)
    except USER_ERRORS as error:
        print(f"qa-assistant: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa-assistant: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

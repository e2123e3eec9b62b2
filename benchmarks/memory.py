"""Peak memory of one ``qa-assistant`` command, run in this fresh process:

    python -m benchmarks.memory --json out.json -- index CORPUS --index DIR --no-progress

The command runs through ``qa_assistant.cli.main``; its exit code, wall time and peak RSS are written.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

from .common import peak_rss_mb, rss_mb, write_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    from qa_assistant.cli import main as cli_main

    start_rss = rss_mb()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = cli_main(["-q", *command])
    write_json(args.json, {"command": command, "exit_code": code, "seconds": round(time.perf_counter() - started, 1),
                           "rss_start_mb": start_rss, "peak_rss_mb": peak_rss_mb(),
                           "stdout_tail": out.getvalue()[-300:]})
    return code


if __name__ == "__main__":
    raise SystemExit(main())

"""Asking while the archive grows: N gradio_client users × M questions on the chat page's ``/ask`` while a
~300-passage upload runs through ``/upload`` (the first 250 CMRC 2018 trial articles as one .jsonl), beside
the same users and questions with no upload. Every answer is checked against the sample question set's
expected strings (the rule of benchmarks/chat_concurrency.py).

    .venv/bin/python -m benchmarks.archive_upload                  # starts its own server on the sample page
    .venv/bin/python -m benchmarks.archive_upload --users 10 --questions 5 --articles 250

Prints errors, correct answers and p50/p95 reply times of both runs, the upload's time and how many replies
came while it ran; writes benchmarks/results/archive_upload.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.chat_concurrency import ROOT, SAMPLE_PAGE, free_port, percentile, run, wait_until_up
from qa_assistant.settings import MODES, Settings

CMRC = ROOT / "qa_assistant" / "data" / "cmrc2018_trial" / "corpus.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "archive_upload.json"


def start(index: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    command = [sys.executable, "-m", "qa_assistant.cli", "serve", "--index", str(index), "--port", str(port),
               "--build", str(SAMPLE_PAGE)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def with_upload(url: str, corpus: Path, users: int, per_user: int, k: int, mode: str) -> tuple[dict, dict]:
    """The askers' run while ``corpus`` is being uploaded (started first, so every question meets it)."""
    from gradio_client import Client, handle_file
    upload: dict = {}

    def send() -> None:
        started = time.perf_counter()
        try:
            upload["results"] = Client(url, verbose=False).predict([handle_file(str(corpus))], api_name="/upload")
        except Exception as error:  # noqa: BLE001 — reported, not raised
            upload["error"] = f"{type(error).__name__}: {error}"
        upload["started"], upload["finished"] = started, time.perf_counter()

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(1.0)  # the file is sent and being read before the first question
    asked_from = time.perf_counter()
    summary = run(url, users, per_user, k, mode, sequential_check=False)
    thread.join()
    asked_for = summary["wall_seconds"]
    overlap = max(0.0, min(upload["finished"], asked_from + asked_for) - asked_from)
    upload_summary = {"seconds": round(upload["finished"] - upload["started"], 2),
                      "asking_seconds_while_uploading": round(overlap, 2), "asking_seconds": asked_for,
                      "results": upload.get("results"), "error": upload.get("error")}
    return summary, upload_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--questions", type=int, default=5, help="questions per user")
    parser.add_argument("--articles", type=int, default=250, help="CMRC articles in the uploaded file")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--mode", default=Settings.mode, choices=MODES)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the server")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="qa-bench-archive-") as scratch:
        folder = Path(scratch)
        corpus = folder / f"cmrc{args.articles}.jsonl"
        lines = CMRC.read_text(encoding="utf-8").splitlines()[:args.articles]
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        port, log_path = free_port(), folder / "server.log"
        url = f"http://127.0.0.1:{port}/"
        print(f"starting a server on {url} …", file=sys.stderr)
        process = start(folder / "index", port, log_path)
        try:
            wait_until_up(url, process, args.timeout, log_path)
            baseline = run(url, args.users, args.questions, args.k, args.mode, sequential_check=False)
            during, upload = with_upload(url, corpus, args.users, args.questions, args.k, args.mode)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    rows = [("no upload", baseline), ("during upload", during)]
    print(f"{args.users} users × {args.questions} questions ({args.mode}, k={args.k}); upload: {corpus.name}, "
          f"{args.articles} articles")
    print(f"{'run':<14} {'asked':>5} {'errors':>6} {'correct':>7} {'p50 s':>6} {'p95 s':>6} {'max s':>6}")
    for name, summary in rows:
        print(f"{name:<14} {summary['asked']:>5} {summary['errors']:>6} {summary['correct']:>7} "
              f"{summary['p50_seconds']:>6.2f} {summary['p95_seconds']:>6.2f} {summary['max_seconds']:>6.2f}")
    result = (upload["results"] or [{}])[0]
    print(f"upload: {upload['seconds']:.1f} s, {result.get('status')} — {result.get('message') or upload['error']}; "
          f"questions were asked for {upload['asking_seconds']:.1f} s, {upload['asking_seconds_while_uploading']:.1f} s "
          f"of them while the upload ran")
    during_times = [r["seconds"] for r in during["records"]]
    out = {"users": args.users, "questions_per_user": args.questions, "articles_uploaded": args.articles,
           "no_upload": {k: v for k, v in baseline.items() if k not in ("records", "failures", "mismatches")},
           "during_upload": {k: v for k, v in during.items() if k not in ("records", "failures", "mismatches")},
           "upload": upload, "during_upload_p50_p95": [percentile(during_times, 50), percentile(during_times, 95)],
           "failures": {"no_upload": baseline["failures"], "during_upload": during["failures"]}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1))
    return 0 if during["errors"] == 0 and baseline["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Chat page under load: N concurrent gradio_client users, each asking M questions through the page's
``/ask`` API endpoint, every answer checked against the known answer strings of the sample question set.

    .venv/bin/python benchmarks/chat_concurrency.py                 # starts its own server on the sample page
    .venv/bin/python benchmarks/chat_concurrency.py --url http://127.0.0.1:7860/
    .venv/bin/python benchmarks/chat_concurrency.py --index embeddings/sample --users 10 --questions 5

An answer counts as correct when it is ``found`` and one of its quoted passages contains one of the
question's expected strings (whitespace ignored), the same rule as the project's evaluation.
Prints correct/failed counts and p50/p95 reply times; writes benchmarks/results/chat_concurrency.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from qa_assistant.settings import MODES, Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "qa_assistant" / "data" / "sample_questions.jsonl"
SAMPLE_PAGE = ROOT / "qa_assistant" / "data" / "page_000.txt"
RESULTS = ROOT / "benchmarks" / "results" / "chat_concurrency.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen | None, timeout: float, log_path: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"server exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"no answer from {url} after {timeout:.0f} s")


def start_server(index: Path, port: int, log_path: Path, concurrency: int | None) -> subprocess.Popen:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    if concurrency:
        env["QA_ASSISTANT_CONCURRENCY"] = str(concurrency)
    command = [sys.executable, "-m", "qa_assistant.cli", "serve", "--index", str(index), "--port", str(port)]
    if not (index / "manifest.json").is_file():
        command += ["--build", str(SAMPLE_PAGE)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def load_questions() -> list[dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if not row.get("unanswerable") and row.get("answers")]


def squash(text: str) -> str:
    return "".join(text.split())


def check(result: dict, answers: list[str]) -> tuple[bool, str]:
    if not result.get("found"):
        return False, "not found"
    quoted = [squash(p["text"]) for p in result.get("passages", []) if p.get("quoted")]
    for expected in answers:
        if any(squash(expected) in text for text in quoted):
            return True, expected
    return False, "expected text not in the quoted passages"


def signature(result: dict | None) -> list | None:
    """What an answer says: found, the quoted passages and the answering sentence."""
    if result is None:
        return None
    return [bool(result.get("found")), [p["id"] for p in result.get("passages", []) if p.get("quoted")],
            result.get("sentence", "")]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def run(url: str, users: int, per_user: int, k: int, mode: str, sequential_check: bool = True) -> dict:
    from gradio_client import Client

    questions = load_questions()
    if users * per_user > len(questions):
        print(f"note: {users * per_user} asks over {len(questions)} questions, some are repeated", file=sys.stderr)
    plan = [[questions[(u * per_user + j) % len(questions)] for j in range(per_user)] for u in range(users)]
    clients = [Client(url, verbose=False) for _ in range(users)]  # one session per user, made before the clock
    clients[0].predict("经开区总工会慰问了哪些企业？", [], k, mode, api_name="/ask")  # warm-up, not counted
    records: list[dict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def user(number: int) -> None:
        barrier.wait()
        for item in plan[number]:
            started = time.perf_counter()
            try:
                result = clients[number].predict(item["question"], [], k, mode, api_name="/ask")
                error = None
            except Exception as exc:  # an error is a failed answer, recorded with its message
                result, error = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - started
            ok, why = check(result, item["answers"]) if result is not None else (False, error)
            with lock:
                records.append({"user": number, "question": item["question"], "answers": item["answers"],
                                "correct": ok, "detail": why, "seconds": round(seconds, 4), "error": error,
                                "found": bool(result and result.get("found")), "signature": signature(result)})

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    times = [r["seconds"] for r in records]
    correct = sum(r["correct"] for r in records)
    # thread-safety check: the same question asked alone must get the same answer as under load
    mismatches = []
    if sequential_check:
        alone: dict[str, list | None] = {}
        for record in records:
            if record["question"] not in alone:
                alone[record["question"]] = signature(clients[0].predict(record["question"], [], k, mode, api_name="/ask"))
            if record["signature"] is not None and record["signature"] != alone[record["question"]]:
                mismatches.append({"question": record["question"], "concurrent": record["signature"],
                                   "alone": alone[record["question"]]})
    return {
        "url": url, "users": users, "questions_per_user": per_user, "k": k, "mode": mode,
        "asked": len(records), "correct": correct, "failed": len(records) - correct,
        "errors": sum(r["error"] is not None for r in records),
        "p50_seconds": round(percentile(times, 50), 3), "p95_seconds": round(percentile(times, 95), 3),
        "mean_seconds": round(statistics.fmean(times), 3) if times else None,
        "max_seconds": round(max(times), 3) if times else None,
        "answers_differing_from_sequential": len(mismatches) if sequential_check else None,
        "wall_seconds": round(wall, 3), "answers_per_second": round(len(records) / wall, 3) if wall else None,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_1min": [load_before, load_after]},  # other work on the machine skews timings
        "failures": [r for r in records if not r["correct"]],
        "mismatches": mismatches,
        "records": sorted(records, key=lambda r: (r["user"], r["question"])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running chat page (default: start one)")
    parser.add_argument("--index", type=Path, help="index for the started server (default: a fresh one of the sample page)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--questions", type=int, default=5, help="questions per user")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--mode", default=Settings.mode, choices=MODES)
    parser.add_argument("--concurrency", type=int, default=None, help="server's concurrent answers (QA_ASSISTANT_CONCURRENCY)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for a started server")
    parser.add_argument("--no-sequential-check", action="store_true",
                        help="skip re-asking every question alone to compare with the answers given under load")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    process, scratch = None, None
    url = args.url
    try:
        if url is None:
            scratch = tempfile.TemporaryDirectory(prefix="qa-bench-")
            index = args.index or Path(scratch.name) / "index"
            port = free_port()
            log_path = Path(scratch.name) / "server.log"
            url = f"http://127.0.0.1:{port}/"
            print(f"starting a server on {url} (index {index}) …", file=sys.stderr)
            process = start_server(index, port, log_path, args.concurrency)
            wait_until_up(url, process, args.timeout, log_path)
        url = url if url.endswith("/") else url + "/"
        summary = run(url, args.users, args.questions, args.k, args.mode, not args.no_sequential_check)
        summary["server"] = {"started_here": process is not None,
                             "concurrency": args.concurrency or os.environ.get("QA_ASSISTANT_CONCURRENCY")
                             or "server default (Settings.concurrency)"}
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if scratch is not None:
            scratch.cleanup()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{summary['users']} users × {summary['questions_per_user']} questions = {summary['asked']} asks "
          f"in {summary['wall_seconds']:.1f} s ({summary['answers_per_second']:.2f}/s)")
    print(f"correct {summary['correct']}, failed {summary['failed']} (errors {summary['errors']})")
    if summary["answers_differing_from_sequential"] is not None:
        print(f"answers differing from the same question asked alone: {summary['answers_differing_from_sequential']}")
    print(f"reply time p50 {summary['p50_seconds']:.2f} s, p95 {summary['p95_seconds']:.2f} s, "
          f"max {summary['max_seconds']:.2f} s")
    for failure in summary["failures"]:
        print(f"  failed: {failure['question']} — {failure['detail']}")
    print(f"written {args.out}")
    return 0 if summary["errors"] == 0 and not summary["mismatches"] else 1


if __name__ == "__main__":
    sys.exit(main())

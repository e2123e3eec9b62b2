"""Oversized requests against the chat page: a follow-up sent with a 1 MB earlier question must be refused
at once, and another user's question must be answered in its usual time while it is.

    .venv/bin/python -m benchmarks.oversized_requests            # starts its own server on the sample page

Prints the refusal time of the 1 MB request and the reply time of a normal question alone and beside
a stream of 1 MB requests (p50/p95 over the rounds).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.chat_concurrency import free_port, percentile, start_server, wait_until_up

QUESTION = "经开区总工会慰问了哪些企业？"
FOLLOW_UP = "给他们送了什么慰问品？"
HUGE_HISTORY = ["经开区" * 350_000]  # 1,050,000 characters


def timed(call) -> tuple[float, str]:
    from gradio_client.exceptions import AppError
    started = time.perf_counter()
    try:
        call()
        outcome = "answered"
    except AppError as error:
        outcome = f"refused: {str(error)[:80]}"
    return time.perf_counter() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        log_path = Path(scratch) / "server.log"
        server = start_server(Path(scratch) / "index", port, log_path, None)
        try:
            wait_until_up(url, server, 600, log_path)
            user, flooder = Client(url, verbose=False), Client(url, verbose=False)
            ask = lambda: user.predict(QUESTION, [], 5, "hybrid", api_name="/ask")  # noqa: E731
            flood = lambda: flooder.predict(FOLLOW_UP, HUGE_HISTORY, 5, "hybrid", api_name="/ask")  # noqa: E731
            ask()  # warm up
            alone = [timed(ask)[0] for _ in range(args.rounds)]
            refusals: list[float] = []
            outcomes: set[str] = set()
            stop = threading.Event()

            def keep_flooding() -> None:
                while not stop.is_set():
                    seconds, outcome = timed(flood)
                    refusals.append(seconds)
                    outcomes.add(outcome)

            flooding = threading.Thread(target=keep_flooding)
            flooding.start()
            time.sleep(0.5)
            beside = [timed(ask)[0] for _ in range(args.rounds)]
            stop.set()
            flooding.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"1 MB history request: {len(refusals)} sent, {sorted(outcomes)}")
    print(f"  time to the refusal: p50 {statistics.median(refusals):.2f} s, max {max(refusals):.2f} s")
    print(f"normal question alone:              p50 {statistics.median(alone):.2f} s, p95 {percentile(alone, 95):.2f} s")
    print(f"normal question beside the 1 MB requests: p50 {statistics.median(beside):.2f} s, "
          f"p95 {percentile(beside, 95):.2f} s (ratio of p50s {statistics.median(beside) / statistics.median(alone):.2f})")


if __name__ == "__main__":
    main()

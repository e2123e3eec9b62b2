"""All benchmarks, one command: ``python -m benchmarks.run`` (``make bench``).

Sections, each in its own fresh process (so peak memory is each one's own):

* ``indexing`` — ``qa-assistant index`` (the Assistant path) vs plain fp32 ``SentenceTransformer.encode``
  on the CMRC 2018 trial passages, index overhead, hit@k of each precision (sample page, CMRC);
* ``memory`` — peak RSS of ``qa-assistant index`` (CMRC) and ``qa-assistant ask`` in fresh processes;
* ``questions`` — ``Assistant.retrieve`` per mode and ``ask`` at 1k and 10k passages;
* ``scale`` — flat vs HNSW dense search and BM25 at 100k and 1M synthetic passages.

Prints the tables (Markdown) and the bars of the issue, writes ``benchmarks/results/bench.json`` (and a
time-stamped copy). ``--quick`` runs smaller sizes (about 10 minutes on 2 busy cores instead of about an
hour); ``--write-summary`` also rewrites ``benchmarks/RESULTS.md``; ``--from-json FILE`` prints (and
with ``--write-summary`` writes) the tables of an earlier run without running anything.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import RESULTS, ROOT, cmrc_corpus, machine, write_json

SECTIONS = ("indexing", "memory", "questions", "scale")
SUMMARY = ROOT / "benchmarks" / "RESULTS.md"


def run_section(module: str, args: list[str], env: dict | None = None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, "-m", f"benchmarks.{module}", "--json", str(out), *args]
    started = time.perf_counter()
    process = subprocess.run(command, cwd=ROOT, env={**os.environ, "TOKENIZERS_PARALLELISM": "false",
                                                     "TQDM_DISABLE": "1", **(env or {})})
    try:
        result = json.loads(out.read_text(encoding="utf-8")) if out.stat().st_size else {}
    except (OSError, json.JSONDecodeError):
        result = {}
    finally:
        out.unlink(missing_ok=True)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    if process.returncode:
        result["error"] = f"exit code {process.returncode}"
    return result


# ---------------------------------------------------------------- tables

def _f(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return "\n".join(lines)


FAST = "int8"


def bars(results: dict) -> list[tuple[str, str, bool | None]]:
    """(bar, measured, met?) for each bar of the issue that this run measured, for the fast (int8) path."""
    out: list[tuple[str, str, bool | None]] = []
    indexing = results.get("indexing", {})
    paths = indexing.get("paths", {})
    fast = paths.get(f"index_{FAST}")
    if fast:
        out.append(("indexing throughput ≥ 1.7× plain fp32 SentenceTransformer.encode",
                    f"{fast['ratio_to_plain']:.2f}× (rounds: {indexing.get('ratio_pairs', {}).get(FAST)})",
                    fast["ratio_to_plain"] >= 1.7))
        out.append(("index overhead (everything but the encoder) ≤ 10 % of indexing time",
                    f"{fast['overhead_share'] * 100:.1f} %", fast["overhead_share"] <= 0.10))
    for set_name, modes in indexing.get("quality", {}).items():
        for mode in ("hybrid", "dense"):
            by_precision = modes.get(mode, {})
            if FAST in by_precision and "fp32" in by_precision:
                delta = by_precision[FAST]["hit@5"] - by_precision["fp32"]["hit@5"]
                out.append((f"hit@5 on {set_name} ({mode}) within 0.01 of fp32",
                            f"{by_precision[FAST]['hit@5']:.3f} vs {by_precision['fp32']['hit@5']:.3f} "
                            f"(Δ {delta:+.3f})", abs(delta) <= 0.01 + 1e-9))
    for size in results.get("questions", {}).get(FAST, {}).get("sizes", []):
        if size["passages"] >= 10_000:
            hybrid = size["retrieve"]["hybrid"]
            out.append((f"hybrid retrieve at {size['passages']:,} passages: p50 ≤ 20 ms, p95 ≤ 40 ms",
                        f"p50 {hybrid['p50_ms']:.1f} ms, p95 {hybrid['p95_ms']:.1f} ms",
                        hybrid["p50_ms"] <= 20 and hybrid["p95_ms"] <= 40))
    for dense in results.get("scale", {}).get("dense", []):
        if dense["passages"] >= 1_000_000 and "hnsw" in dense:
            hnsw = dense["hnsw"]
            out.append((f"approximate index at {dense['passages']:,}: p50 ≤ 5 ms, recall@10 ≥ 0.95",
                        f"HNSW M={hnsw['M']} efSearch={hnsw['efSearch']}: p50 {hnsw['search']['p50_ms']:.2f} ms, "
                        f"recall@10 {hnsw['recall@10']:.3f}",
                        hnsw["search"]["p50_ms"] <= 5 and hnsw["recall@10"] >= 0.95))
    return out


def render(results: dict) -> str:
    parts: list[str] = []
    info = results.get("machine", {})
    after = results.get("machine_after", {})
    parts.append(f"Machine: {info.get('cpus')} × {info.get('cpu')}, Python {info.get('python')}, torch "
                 f"{info.get('torch')}; load average at start {info.get('load_average')}, at the end "
                 f"{after.get('load_average')} (other jobs share the cores: compare figures of one run, not "
                 f"across runs). Default precision: {results.get('indexing', {}).get('default_precision', '?')}; "
                 f"the bars are read on the int8 path.")
    checks = bars(results)
    if checks:
        parts.append("### Bars (int8 path)\n\n" + _table(["bar", "measured", "met"],
                                                          [[b, m, "yes" if ok else "NO"] for b, m, ok in checks]))
    indexing = results.get("indexing", {})
    if indexing.get("paths"):
        corpus = indexing["corpus"]
        rows = []
        for name, p in indexing["paths"].items():
            rows.append([name, p["seconds"], p["passages_per_s"], p["characters_per_s"], f"{p['ratio_to_plain']:.2f}×",
                         p.get("encoder_seconds"), _f(p["overhead_share"] * 100) + " %" if "overhead_share" in p else "–",
                         p.get("disk_bytes_per_passage")])
        parts.append(f"### Indexing: CMRC 2018 trial, {corpus['passages']} passages, {corpus['characters']:,} characters\n\n"
                     + _table(["path", "s", "passages/s", "chars/s", "vs plain", "encoder s", "overhead",
                               "disk B/passage"], rows)
                     + f"\n\nMedian of {len(indexing.get('rounds_s', {}).get('plain_fp32_encode', []))} rounds; "
                       f"seconds per round: {indexing.get('rounds_s')}. Start-up (s, not in the figures): "
                       f"{indexing.get('model_load_s')}. Vectors int8 vs fp32: {indexing.get('vector_agreement')}.")
    if indexing.get("quality"):
        rows = []
        for set_name, modes in indexing["quality"].items():
            for mode, by_precision in modes.items():
                for precision, m in by_precision.items():
                    rows.append([set_name, mode, precision, m["answerable"], _f(m["hit@1"], 3), _f(m["hit@5"], 3),
                                 _f(m["hit@10"], 3)])
        parts.append("### Retrieval quality per precision\n\n"
                     + _table(["set", "mode", "precision", "questions", "hit@1", "hit@5", "hit@10"], rows))
    questions = results.get("questions", {})
    rows = []
    for precision, run in questions.items():
        for size in run.get("sizes", []):
            label = f"{size['passages']:,}"
            for mode, lat in size["retrieve"].items():
                rows.append([label, precision, f"retrieve {mode}", lat["p50_ms"], lat["p95_ms"]])
            rows.append([label, precision, "ask (hybrid)", size["ask"]["p50_ms"], size["ask"]["p95_ms"]])
            for part, lat in size["parts"].items():
                rows.append([label, precision, f"part of hybrid: {part}", lat["p50_ms"], lat["p95_ms"]])
        for name, lat in run.get("encoder", {}).items():
            rows.append(["–", "", f"query encoder alone: {name}", lat["p50_ms"], lat["p95_ms"]])
    if rows:
        parts.append("### Questions, one at a time (CMRC questions; 311 real passages + synthetic ones)\n\n"
                     + _table(["passages", "encoder", "what", "p50 ms", "p95 ms"], rows))
    rows = []
    for name, m in results.get("memory", {}).items():
        if isinstance(m, dict) and "peak_rss_mb" in m:
            rows.append([name, m["peak_rss_mb"], m.get("seconds"), "–"])
    for precision, run in questions.items():
        for size in run.get("sizes", []):
            rows.append([f"questions ({precision}), {size['passages']:,}-passage index loaded", run.get("peak_rss_mb"),
                         None, size["disk_bytes_per_passage"]])
    for name, p in indexing.get("paths", {}).items():
        if "disk_bytes_per_passage" in p:
            rows.append([f"CMRC index ({name})", "–", None, p["disk_bytes_per_passage"]])
    if rows:
        parts.append("### Memory and disk\n\n" + _table(["process / index", "peak RSS MB", "s", "disk B/passage"], rows))
    scale = results.get("scale", {})
    if scale.get("dense"):
        rows = []
        for dense in scale["dense"] + ([scale["dense_uniform"]] if scale.get("dense_uniform") else []):
            label = f"{dense['passages']:,} {dense['vectors']}"
            flat = dense["flat"]
            every = flat.get("search_all_threads", {})
            rows.append([label, "flat (exact)", flat["build_s"], flat["memory_mb"], flat["disk_bytes_per_passage"],
                         flat["search"]["p50_ms"], flat["search"]["p95_ms"], every.get("p50_ms"), "1.000"])
            hnsw = dense["hnsw"]
            for row in hnsw["sweep"]:
                built = row["efSearch"] == hnsw["efSearch"]
                every = hnsw.get("search_all_threads", {}) if built else {}
                rows.append([label, f"HNSW M={hnsw['M']} efC={hnsw['efConstruction']} efSearch={row['efSearch']}"
                                    f"{' (as built)' if built else ''}",
                             hnsw["build_s"] if built else "", hnsw["memory_mb"] if built else "",
                             hnsw["disk_bytes_per_passage"] if built else "", row["p50_ms"], row["p95_ms"],
                             every.get("p50_ms", ""), f"{row['recall@10']:.3f}"])
        parts.append("### Scale: dense search, one query at a time, k=10\n\n"
                     + _table(["passages", "index", "build s", "memory MB", "disk B/passage", "p50 ms (1 thread)",
                               "p95 ms (1 thread)", "p50 ms (all threads)", "recall@10"], rows))
    if scale.get("bm25"):
        rows = []
        for b in scale["bm25"]:
            rows.append([f"{b['passages']:,}", b["tokens_per_passage"], b["build_s"], b["memory_mb"],
                         b["disk_bytes_per_passage"], b["scores"]["p50_ms"], b["scores"]["p95_ms"],
                         b["top50_argsort"]["p50_ms"], b["top50_argpartition"]["p50_ms"]])
        parts.append("### Scale: BM25 (synthetic Chinese token lists)\n\n"
                     + _table(["passages", "tokens/passage", "build s", "memory MB", "disk B/passage", "scores p50 ms",
                               "scores p95 ms", "top-50 by argsort p50 ms", "top-50 by top_rows p50 ms"], rows))
    errors = {name: r["error"] for name, r in results.items() if isinstance(r, dict) and r.get("error")}
    errors.update({f"questions/{p}": r["error"] for p, r in questions.items() if isinstance(r, dict) and r.get("error")})
    if errors:
        parts.append(f"Errors: {errors}")
    return "\n\n".join(parts) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (60 articles, 100k at scale)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--rounds", type=int, default=None, help="indexing rounds (default 2, quick 1)")
    parser.add_argument("--write-summary", action="store_true", help=f"rewrite {SUMMARY.relative_to(ROOT)}")
    parser.add_argument("--from-json", type=Path, default=None, help="print the tables of an earlier run")
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
        text = render(results)
        print(text)
        if args.write_summary:
            SUMMARY.write_text(summary_markdown(results, text), encoding="utf-8")
            print(f"wrote {SUMMARY.relative_to(ROOT)}")
        return 0
    quick = ["--quick"] if args.quick else []
    results: dict = {"machine": machine(), "quick": args.quick, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch_name:
        scratch = Path(scratch_name)
        cmrc_index = scratch / "cmrc-index"
        if "indexing" in args.sections:
            print("== indexing", flush=True)
            rounds = args.rounds or (1 if args.quick else 2)
            results["indexing"] = run_section("indexing", [*quick, "--rounds", str(rounds),
                                                           "--keep-index", str(cmrc_index)])
        if "memory" in args.sections:
            print("== memory", flush=True)
            results["memory"] = {}
            for precision in ("int8", "fp32"):
                env = {"QA_ASSISTANT_PRECISION": precision}
                folder = scratch / f"memory-index-{precision}"
                results["memory"][f"qa-assistant index CMRC ({precision})"] = run_section(
                    "memory", ["--", "index", str(cmrc_corpus()), "--index", str(folder), "--no-progress"], env)
                results["memory"][f"qa-assistant ask, CMRC index ({precision})"] = run_section(
                    "memory", ["--", "ask", "《泡泡战士》由谁开发？", "--index", str(folder)], env)
        if "questions" in args.sections:
            results["questions"] = {}
            for number, precision in enumerate(("int8", "fp32")):
                print(f"== questions ({precision})", flush=True)
                extra = ["--index", str(cmrc_index / precision)] if (cmrc_index / precision).is_dir() else []
                results["questions"][precision] = run_section(
                    "questions", [*quick, "--precision", precision, *extra, *(["--skip-encoder"] if number else [])])
        if "scale" in args.sections:
            print("== scale", flush=True)
            results["scale"] = run_section("scale", quick)
        results["machine_after"] = machine()
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "bench.json", results)
    write_json(RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json", results)
    text = render(results)
    print(text)
    if args.write_summary:
        SUMMARY.write_text(summary_markdown(results, text), encoding="utf-8")
        print(f"wrote {SUMMARY.relative_to(ROOT)}")
    failed = [r for r in [*results.values(), *results.get("questions", {}).values()]
              if isinstance(r, dict) and r.get("error")]
    return 1 if failed else 0


def summary_markdown(results: dict, tables: str) -> str:
    return ("# Benchmark results\n\n"
            f"`python -m benchmarks.run{' --quick' if results.get('quick') else ''}` "
            f"({results.get('started')} – {results.get('finished')}); the full figures are in "
            "`benchmarks/results/bench.json` (not committed). How each figure is measured: the docstrings of "
            "`benchmarks/*.py`.\n\n" + tables)


if __name__ == "__main__":
    raise SystemExit(main())

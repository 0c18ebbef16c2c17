"""Markdown of ``benchmarks/retrieval.py``: run facts and machine load, the results table and the
target section, whose verdicts come from :mod:`benchmarks.retrieval_timing`."""

from __future__ import annotations

import datetime
import os
import sys

import numpy as np

from benchmarks import retrieval_timing as timing


def measured(rows: list[dict], label: str) -> timing.Measured:
    """The target's inputs for ``label`` from one size's rows (NaN for a missing thread count,
    which fails the target)."""
    by_threads = {row["threads"]: row for row in rows if row["index"] == label}
    nan = float("nan")
    return timing.Measured(
        recall=next(iter(by_threads.values()))["recall"],
        speedup_1=by_threads[1]["x_exact"] if 1 in by_threads else nan,
        speedup_2=by_threads[2]["x_exact"] if 2 in by_threads else nan,
        p99_ms_1=by_threads[1]["p99_ms"] if 1 in by_threads else nan,
    )


def cell(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def results_table(rows: list[dict]) -> list[str]:
    lines = [
        "| items | index | threads | build s | memory MB | queries/s | x exact | recall@50 | p50 ms/user | "
        "p99 ms/user | p99 ms/user with diversity |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['items']:,} | {row['index']} | {row['threads']} | {row['build_seconds']:.1f} | "
            f"{row['memory_mb']:.0f} | {row['qps']:,.0f} | {row['x_exact']:.1f} | {row['recall']:.4f} | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {cell(row['p99_div_ms'], 2)} |"
        )
    return lines


def target_lines(size: int, rows: list[dict], start_load, sweep: bool) -> list[str]:
    """The target table of one size (the defaults; with ``sweep`` every approximate setting),
    each verdict computed from the measured numbers by :func:`timing.verdict`."""
    labels = list(dict.fromkeys(row["index"] for row in rows if row["kind"] != "flat"
                                and (sweep or "(default)" in row["index"])))
    lines = [
        "| items | index | recall@50 | x exact, 1 thread | x exact, 2 threads | p99 ms/user, 1 thread | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| target | | >= {timing.TARGET_RECALL} | >= {timing.TARGET_SPEEDUP:.0f} | >= {timing.TARGET_SPEEDUP:.0f} "
        f"| <= {timing.TARGET_P99_MS:.0f} | |",
    ]
    meeting = []
    for label in labels:
        m = measured(rows, label)
        word = timing.verdict(m, start_load)
        lines.append(f"| {size:,} | {label} | {m.recall:.4f} | {m.speedup_1:.1f} | {m.speedup_2:.1f} | "
                     f"{m.p99_ms_1:.2f} | {word} |")
        if timing.target_met(m):
            meeting.append(label)
    if sweep:
        valid = "" if timing.idle(start_load) else " (not valid: the machine was not idle)"
        lines += ["", f"Settings meeting the target with 1 AND with 2 threads at {size:,} items{valid}: "
                      + (", ".join(meeting) if meeting else "none")]
    return lines


def load_lines(start_load, per_round: list[tuple], cpus: int | None) -> list[str]:
    """The load section: at start, per-round min/max of the 1-minute load, and the warning
    when the machine was not idle at start."""
    ones = [load[0] for load in per_round]
    lines = [f"Load (os.getloadavg, 1/5/15 min) at start: {start_load[0]:.2f} / {start_load[1]:.2f} / "
             f"{start_load[2]:.2f} on {cpus} CPUs; 1-min load at the start of each round: min {min(ones):.2f}, "
             f"max {max(ones):.2f} over {len(ones)} rounds (these include the benchmark's own 1-2 busy threads; "
             "only the load at start says whether other work ran)."]
    if not timing.idle(start_load):
        lines += ["", f"**WARNING: machine not idle** (1-min load {start_load[0]:.2f} > {timing.IDLE_LOAD} at start): "
                      "figures not valid for the target."]
    return lines


def method_lines(args) -> list[str]:
    return [
        f"{args.users:,} users x {args.interest_num} interests = {args.users * args.interest_num:,} queries, "
        f"d = {args.dim}, items around {args.clusters:,} cluster centres (noise std .7), every user's interests "
        f"near {args.interest_num} different centres. Every index is timed once per round, in an order rotated "
        f"from round to round, with each faiss thread count ({', '.join(map(str, args.threads))}); figures are "
        f"medians over {args.rounds} rounds. Queries/s: all interest queries in one `search` call. x exact: per "
        "round, the exact index's time over this index's (same round, same threads), then the median. Latency "
        f"per user: one user's {args.interest_num} interest rows searched in one call, then merged into their "
        f"top-50 (`merge_interest_results`), for {min(args.users, args.latency_users)} users per round "
        f"({min(args.users, args.exact_latency_users)} for the exact index), p50/p99 over all rounds; with diversity: serving's "
        f"`diversity_lambda` {args.diversity_lambda:g} path instead, a search of 5 x 50 items per interest then "
        "`diverse_merge`'s greedy over 18 random categories (n/a with `--diversity_lambda 0`). Recall@50: "
        "share of the exact merged top-50 found, averaged over users. Build: once per index, with faiss's "
        "default threads; memory: `faiss.serialize_index` size.",
    ]


def versions_line() -> str:
    import faiss

    torch = f", torch {sys.modules['torch'].__version__}" if "torch" in sys.modules else " (part 2 ran without torch)"
    return (f"Versions: faiss {faiss.__version__}, numpy {np.__version__}{torch}, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs.")


def exactness_lines(exactness: dict) -> list[str]:
    users = exactness["users"]
    return [
        "## Exact retrieval vs RecBole's full-sort scoring (ml-100k)", "",
        f"MIND with its defaults (`properties/MIND.yaml`), checkpoint `{os.path.basename(exactness['checkpoint'])}`; "
        "for every test user, faiss `IndexFlatIP` queried with each active interest, lists merged by max score, "
        "vs `torch.topk` of `full_sort_predict` (max over interests).", "",
        "| test users | same top-50 items | same top-50 order |", "| --- | --- | --- |",
        f"| {users} | {exactness['same_set']} ({exactness['same_set'] / users:.2%}) "
        f"| {exactness['same_order']} ({exactness['same_order'] / users:.2%}) |", "",
    ]


def report(args, argv: list[str], exactness: dict | None, sizes: dict[int, dict], start_load) -> str:
    """The markdown page: run facts and load, part 1, the results table, the target."""
    command = " ".join(["python -m benchmarks.retrieval", *argv])
    per_round = [load for result in sizes.values() for load in result["loads"]]
    lines = [
        "# Retrieval: exact and approximate faiss search over MIND's interests", "",
        "## Run", "",
        f"Command: `{command}`", "",
        f"Date: {datetime.datetime.now().isoformat(timespec='minutes')}. {versions_line()}", "",
        f"Faiss threads: {', '.join(map(str, args.threads))}, timed separately (a row per thread count); "
        f"{args.rounds} interleaved rounds.", "",
        *load_lines(start_load, per_round, os.cpu_count()), "",
    ]
    if exactness:
        lines += exactness_lines(exactness)
    lines += ["## Approximate indexes at scale (synthetic)", "", *method_lines(args), ""]
    for result in sizes.values():
        lines += results_table(result["rows"]) + [""]
    lines += [
        "## Target", "",
        f"recall@50 >= {timing.TARGET_RECALL} of the exact merged top-50 at >= {timing.TARGET_SPEEDUP:.0f}x the "
        "exact index's queries/s with 1 thread AND with 2 threads, and p99 per user (search + merge, 1 thread) "
        f"<= {timing.TARGET_P99_MS:.0f} ms. Verdicts are computed by the script from the numbers above.", "",
    ]
    for size, result in sizes.items():
        lines += target_lines(size, result["rows"], start_load, args.sweep) + [""]
    return "\n".join(lines)

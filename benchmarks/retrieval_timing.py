"""Timing and report of ``benchmarks/retrieval.py``: machine load, interleaved rounds rotated from
round to round (a slow patch of time lands on every index alike), medians of per-round ratios,
per-user latency, the target's verdict, and the markdown page.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import time
from typing import Callable, NamedTuple, Sequence, TypeVar

import numpy as np

T = TypeVar("T")

TOP = 50
# a run whose 1-minute load at start is above this shared the cores with other work
IDLE_LOAD = 0.5
# the target: recall@50 of the exact merged top-50, speed-up over the exact index's
# queries/s (with 1 and with 2 faiss threads), p99 per user (1 thread, search + merge)
TARGET_RECALL = 0.99
TARGET_SPEEDUP = 30.0
TARGET_P99_MS = 10.0


def machine_load() -> tuple[float, float, float]:
    return os.getloadavg()  # 1-, 5- and 15-minute load averages


def load_line(label: str, load: Sequence[float], cpus: int | None) -> str:
    """One printable line: ``label``, the three load averages, the CPU count."""
    return f"[retrieval] load {label}: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min), {cpus} CPUs"


def idle(start_load: Sequence[float], limit: float = IDLE_LOAD) -> bool:
    """Whether the 1-minute load at start says the machine was idle."""
    return start_load[0] <= limit


def rotated(items: Sequence[T], round_index: int) -> list[T]:
    """``items`` rotated left by ``round_index``: round r starts with item r (mod len), so
    over len(items) rounds every item is timed first, last and in between once."""
    if not items:
        return []
    shift = round_index % len(items)
    return list(items[shift:]) + list(items[:shift])


def round_schedule(settings: Sequence[T], threads: Sequence[int], round_index: int) -> list[tuple[int, T]]:
    """The (thread count, setting) pairs timed in round ``round_index``, in order: every setting
    once per thread count, thread counts and settings both rotated by the round."""
    return [(count, setting) for count in rotated(threads, round_index) for setting in rotated(settings, round_index)]


def median_ratios(seconds: dict[str, list[float]], exact: str) -> dict[str, float]:
    """Per setting (``seconds``: its batch-search seconds round by round), the median over rounds
    of its speed-up over the ``exact`` index of the same round (= the queries/s ratio)."""
    base = seconds[exact]
    ratios = {}
    for name, timed in seconds.items():
        if len(timed) != len(base):
            raise ValueError(f"{name}: {len(timed)} rounds, the exact index has {len(base)}")
        ratios[name] = statistics.median(b / t for b, t in zip(base, timed))
    return ratios


def median_qps(seconds: list[float], queries: int) -> float:
    """Median over rounds of ``queries / seconds``."""
    return statistics.median(queries / s for s in seconds)


def synthetic(n_items: int, n_users: int, dim: int, interests: int, clusters: int, seed: int):
    """Items ``(N, d)``, and interests ``(U, K, d)`` with their (all active) capsule mask
    ``(U, K)``: items around cluster centres, each user's K interests near K different centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    item_cluster = rng.integers(clusters, size=n_items)
    items = centres[item_cluster] + 0.7 * rng.normal(size=(n_items, dim)).astype(np.float32)
    user_clusters = np.stack([rng.choice(clusters, interests, replace=False) for _ in range(n_users)])
    user_interests = centres[user_clusters] + 0.7 * rng.normal(size=(n_users, interests, dim)).astype(np.float32)
    return items.astype(np.float32), user_interests.astype(np.float32), np.ones((n_users, interests), dtype=bool)


def configure(index, options: dict) -> None:
    """Set the search-time levers of ``options`` on a built index (efSearch, nprobe): the index
    objects are shared by the settings that differ only in these."""
    if "hnsw_ef_search" in options:
        index.hnsw.efSearch = options["hnsw_ef_search"]
    if "ivf_probes" in options:
        index.nprobe = options["ivf_probes"]


def time_batch(index, vectors: np.ndarray) -> float:
    """Seconds of one ``search`` of all ``vectors`` ``(R, d)`` for their top-50."""
    start = time.perf_counter()
    index.search(vectors, TOP)
    return time.perf_counter() - start


# categories of the synthetic items, for the greedy's cost: as many as MovieLens' genres
SYNTHETIC_CATEGORIES = 18


def synthetic_categories(n_items: int, seed: int) -> np.ndarray:
    """``(N,)`` one category id per synthetic item, uniform at random: the greedy's cost does
    not depend on which items share a category, only on how many candidates it weighs."""
    return np.random.default_rng(seed + 1).integers(1, SYNTHETIC_CATEGORIES + 1, size=n_items)


class Latency(NamedTuple):
    """Per-user wall times in ms, ``(users,)`` each: search + merge, and (if a diverse step was
    given) serving's ``diversity_lambda > 0`` path: the larger search + the greedy's merge."""

    merged: np.ndarray
    diverse: np.ndarray | None


def user_latencies(index, vectors: np.ndarray, owners: np.ndarray, users: int, merge: Callable,
                   diverse: tuple[int, Callable] | None = None) -> Latency:
    """Wall time of serving each of the first ``users`` users alone (``vectors``: ``(R, d)`` interest
    rows, ``owners``: their users): one ``search`` of their rows for the top-50, then ``merge``
    (``merge_interest_results``); with ``diverse = (k, diverse_merge)`` (categories and lambda
    bound), also one search for ``k`` items per interest, then ``diverse_merge``."""
    merged, diversified = [], []
    for user in range(users):
        mine = vectors[owners == user]
        mine_owners = np.zeros(len(mine), dtype=np.int64)
        start = time.perf_counter()
        scores, positions = index.search(mine, TOP)
        merge(scores, positions, mine_owners, 1, TOP)
        merged.append(time.perf_counter() - start)
        if diverse is not None:
            candidates, diverse_merge = diverse
            start = time.perf_counter()
            scores, positions = index.search(mine, candidates)
            diverse_merge(scores, positions, mine_owners, 1, TOP)
            diversified.append(time.perf_counter() - start)
    return Latency(1000 * np.array(merged), 1000 * np.array(diversified) if diverse is not None else None)


def recall_at_top(found: list[set[int]], exact: list[set[int]]) -> float:
    """Mean over users of the share of their exact merged top-50 found."""
    return float(np.mean([len(a & e) / TOP for a, e in zip(found, exact)]))


class Measured(NamedTuple):
    """What the target judges, for one setting at one size."""

    recall: float
    speedup_1: float  # median x exact, 1 faiss thread
    speedup_2: float  # median x exact, 2 faiss threads
    p99_ms_1: float  # per user, search + merge, 1 faiss thread


def target_met(measured: Measured) -> bool:
    """recall@50 >= .99, >= 30x exact with 1 and with 2 threads, p99 <= 10 ms with 1 thread."""
    return (measured.recall >= TARGET_RECALL and measured.speedup_1 >= TARGET_SPEEDUP
            and measured.speedup_2 >= TARGET_SPEEDUP and measured.p99_ms_1 <= TARGET_P99_MS)


def verdict(measured: Measured, start_load: Sequence[float]) -> str:
    """``met`` / ``NOT met`` from the numbers; on a machine that was not idle at start, the
    verdict is not valid, whatever the numbers say."""
    word = "met" if target_met(measured) else "NOT met"
    if idle(start_load):
        return word
    return f"not valid (machine not idle: 1-min load {start_load[0]:.2f} > {IDLE_LOAD} at start; as measured: {word})"


def measured(rows: list[dict], label: str) -> Measured:
    """The target's inputs for ``label`` from one size's rows (NaN for a missing thread count,
    which fails the target)."""
    by_threads = {row["threads"]: row for row in rows if row["index"] == label}
    nan = float("nan")
    return Measured(
        recall=next(iter(by_threads.values()))["recall"],
        speedup_1=by_threads[1]["x_exact"] if 1 in by_threads else nan,
        speedup_2=by_threads[2]["x_exact"] if 2 in by_threads else nan,
        p99_ms_1=by_threads[1]["p99_ms"] if 1 in by_threads else nan,
    )


def cell(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def results_table(rows: list[dict]) -> list[str]:
    return ["| items | index | threads | build s | memory MB | queries/s | x exact | recall@50 | p50 ms/user | "
            "p99 ms/user | p99 ms/user with diversity |", "| --- " * 11 + "|"] + [
        f"| {row['items']:,} | {row['index']} | {row['threads']} | {row['build_seconds']:.1f} | "
        f"{row['memory_mb']:.0f} | {row['qps']:,.0f} | {row['x_exact']:.1f} | {row['recall']:.4f} | "
        f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {cell(row['p99_div_ms'], 2)} |" for row in rows]


def target_lines(size: int, rows: list[dict], start_load, sweep: bool) -> list[str]:
    """The target table of one size (the defaults; with ``sweep`` every approximate setting),
    each verdict computed from the measured numbers by :func:`verdict`."""
    labels = list(dict.fromkeys(row["index"] for row in rows if row["kind"] != "flat"
                                and (sweep or "(default)" in row["index"])))
    lines = [
        "| items | index | recall@50 | x exact, 1 thread | x exact, 2 threads | p99 ms/user, 1 thread | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| target | | >= {TARGET_RECALL} | >= {TARGET_SPEEDUP:.0f} | >= {TARGET_SPEEDUP:.0f} "
        f"| <= {TARGET_P99_MS:.0f} | |",
    ]
    meeting = []
    for label in labels:
        m = measured(rows, label)
        word = verdict(m, start_load)
        lines.append(f"| {size:,} | {label} | {m.recall:.4f} | {m.speedup_1:.1f} | {m.speedup_2:.1f} | "
                     f"{m.p99_ms_1:.2f} | {word} |")
        if target_met(m):
            meeting.append(label)
    if sweep:
        valid = "" if idle(start_load) else " (not valid: the machine was not idle)"
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
    if not idle(start_load):
        lines += ["", f"**WARNING: machine not idle** (1-min load {start_load[0]:.2f} > {IDLE_LOAD} at start): "
                      "figures not valid for the target."]
    return lines


def method_lines(args) -> list[str]:
    if getattr(args, "vectors", None):
        data = (f"Vectors exported from a trained model (`{args.vectors}`, `python -m recbole_mind.retrieval export`): "
                f"its whole catalogue, and the active interests of its first {args.users:,} users as the queries. ")
    else:
        data = (f"{args.users:,} users x {args.interest_num} interests = {args.users * args.interest_num:,} queries, "
                f"d = {args.dim}, items around {args.clusters:,} cluster centres (noise std .7), every user's interests "
                f"near {args.interest_num} different centres. ")
    return [
        data + "Every index is timed once per round, in an order rotated "
        f"from round to round, with each faiss thread count ({', '.join(map(str, args.threads))}); figures are "
        f"medians over {args.rounds} rounds. Queries/s: all interest queries in one `search` call. x exact: per "
        "round, the exact index's time over this index's (same round, same threads), then the median. Latency "
        "per user: one user's interest rows searched in one call, then merged into their "
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
    part = "trained vectors" if getattr(args, "vectors", None) else "synthetic"
    lines += [f"## Approximate indexes at scale ({part})", "", *method_lines(args), ""]
    for result in sizes.values():
        lines += results_table(result["rows"]) + [""]
    lines += [
        "## Target", "",
        f"recall@50 >= {TARGET_RECALL} of the exact merged top-50 at >= {TARGET_SPEEDUP:.0f}x the "
        "exact index's queries/s with 1 thread AND with 2 threads, and p99 per user (search + merge, 1 thread) "
        f"<= {TARGET_P99_MS:.0f} ms. Verdicts are computed by the script from the numbers above.", "",
    ]
    for size, result in sizes.items():
        lines += target_lines(size, result["rows"], start_load, args.sweep) + [""]
    return "\n".join(lines)

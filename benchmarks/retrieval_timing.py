"""Helpers of ``benchmarks/retrieval.py``: machine load, interleaved rounds, per-round ratios,
per-user latency, the optional diversity step and the target verdict.

Timings on a shared 2-core machine drift with whatever else runs; timing every index once per
round, in an order rotated from round to round, and taking medians of per-round ratios keeps a
slow patch of time from landing on one index only. The load is recorded so that a reader (and
:func:`verdict`) can tell whether the figures describe an idle machine.
"""

from __future__ import annotations

import os
import statistics
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
    """``os.getloadavg()``: 1-, 5- and 15-minute load averages."""
    return os.getloadavg()


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
    """Per setting, the median over rounds of its speed-up over the exact index of the same
    round: ``exact seconds / its seconds`` (the same queries, so = queries/s ratio).

    Args:
        seconds: setting -> ``(rounds,)`` seconds of the batch search, round by round.
        exact: the key of the exact index.
    """
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
    """Wall time of serving each of the first ``users`` users alone: one ``search`` of their K
    interest rows for the top-50, then the merge into their top-50; with ``diverse = (k,
    diverse_merge)``, also one search for ``k`` items per interest, then ``diverse_merge``.

    Args:
        vectors: ``(R, d)`` interest rows; owners: ``(R,)`` their users (rows grouped by user).
        merge: ``merge_interest_results(scores, items, owners, users, n)``.
        diverse: ``diverse_merge(scores, items, owners, users, n)`` with its categories and
            lambda bound, and the candidates it asks per interest.
    """
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

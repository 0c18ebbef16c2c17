"""Helpers of ``benchmarks/retrieval.py``: machine load, interleaved rounds, per-round ratios,
per-user latency, the optional diversity step and the target verdict.

Timings on a shared 2-core machine drift with whatever else runs; timing every index once per
round, in an order rotated from round to round, and taking medians of per-round ratios keeps a
slow patch of time from landing on one index only. The load is recorded so that a reader (and
:func:`verdict`) can tell whether the figures describe an idle machine.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
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


def diversity_function() -> Callable | None:
    """``recbole_mind.serving.diversity.greedy_select`` if that module exists, else None.

    ``find_spec`` of the top package does not import it, so when the module is absent part 2
    still runs without torch (importing ``recbole_mind`` loads the model, hence torch)."""
    package = importlib.util.find_spec("recbole_mind")
    folders = list(package.submodule_search_locations or []) if package else []
    if not any(os.path.isfile(os.path.join(folder, "serving", "diversity.py")) for folder in folders):
        return None
    try:
        module = importlib.import_module("recbole_mind.serving.diversity")
    except ImportError:
        return None
    return getattr(module, "greedy_select", None)


# parameter names greedy_select may use for what the benchmark hands it
CANDIDATE_NAMES = ("candidates", "ranked", "merged", "results", "scored")
VECTOR_NAMES = ("item_vectors", "vectors", "embeddings", "item_embeddings")
COUNT_NAMES = ("n", "k", "top_n", "size", "count")


def diversity_call(select: Callable, candidates: list[tuple[int, float]], vectors: np.ndarray, n: int):
    """``select`` applied to one user's merged ``[(index row, score), ...]`` (best first), the
    item vectors ``(N, d)`` and the number to keep: by parameter name when the names are known
    ones, else positionally in that order."""
    names = list(inspect.signature(select).parameters)
    known = {**{name: candidates for name in CANDIDATE_NAMES}, **{name: vectors for name in VECTOR_NAMES},
             **{name: n for name in COUNT_NAMES}}
    if len(names) >= 3 and all(name in known for name in names[:3]):
        return select(**{name: known[name] for name in names[:3]})
    return select(candidates, vectors, n)


class Latency(NamedTuple):
    """Per-user wall times in ms, ``(users,)`` each: search + merge, and the same plus the
    diversity step (None without ``greedy_select``)."""

    merged: np.ndarray
    diverse: np.ndarray | None


def user_latencies(index, vectors: np.ndarray, owners: np.ndarray, users: int, merge: Callable,
                   items: np.ndarray, select: Callable | None, diverse_n: int) -> Latency:
    """Wall time of serving each of the first ``users`` users alone: one ``search`` of their K
    interest rows, the merge into their top-50, then (if ``select``) the diversity step.

    Args:
        vectors: ``(R, d)`` interest rows; owners: ``(R,)`` their users (rows grouped by user).
        merge: ``merge_interest_results``; items: ``(N, d)`` item vectors for ``select``.
    """
    merged, diverse = [], []
    for user in range(users):
        mine = vectors[owners == user]
        start = time.perf_counter()
        scores, positions = index.search(mine, TOP)
        found = merge(scores, positions, np.zeros(len(mine), dtype=np.int64), 1, TOP)
        merged.append(time.perf_counter() - start)
        if select is not None:
            diversity_call(select, found[0], items, diverse_n)
            diverse.append(time.perf_counter() - start)
    return Latency(1000 * np.array(merged), 1000 * np.array(diverse) if select is not None else None)


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

"""Inner-product indexes over item vectors, queried with one row per active interest.

numpy only, plus faiss for ``hnsw``, ``ivf`` and a faster ``flat``: no torch and no RecBole, so
a service can load exported vectors (``serving.export``) and this file alone (and
``serving.diversity``, numpy only too, for ``diversity_lambda > 0``). Rows of the
index are positions in the item vector array; mapping them to item ids is the caller's
(``serving.users`` for MIND checkpoints).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

INDEX_KINDS = ("flat", "hnsw", "ivf")
# ANN defaults, chosen from two runs of `python -m benchmarks.retrieval --sweep --skip_ml100k
# --sizes 100000` (2 and 3 rounds, 1-min load 1.70 and 0.56 at start: not idle, so only recall
# and the 1-thread x-exact ratios of the same rounds were used; docs/retrieval.md "How the
# defaults were chosen") and, for 1M items, the recall of the earlier runs (recall does not
# depend on the load). IVF with 2 sqrt(N) cells, 4 scanned per query: recall@50 .9999 at 100k
# (.9991 at 1M), faster than sqrt(N) cells with 4 probes (recall .9944) and 4 sqrt(N) with 8.
# HNSW efSearch 64: recall@50 .9971 at 100k at about twice the queries/s of 128 (neither
# reached .99 at 1M). Whether the defaults meet the target at 1M items (>= 30x the exact
# index's queries/s with 1 and 2 threads) awaits a run on an idle machine.
IVF_LISTS_PER_SQRT_N = 2
IVF_PROBES = 4
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


class InterestRows(NamedTuple):
    """One query row per active interest: its user (position in the batch), capsule, vector."""

    owners: np.ndarray  # (R,) int
    capsules: np.ndarray  # (R,) int
    vectors: np.ndarray  # (R, d) float32


def active_interest_rows(interests: np.ndarray, capsule_mask: np.ndarray) -> InterestRows:
    """Rows of the active interests, users in order, capsules in order within a user.

    Args:
        interests: ``(U, K, d)``.
        capsule_mask: ``(U, K)`` bool, ``True`` for active interests.
    """
    owners, capsules = np.nonzero(np.asarray(capsule_mask))
    vectors = np.ascontiguousarray(np.asarray(interests)[owners, capsules], dtype=np.float32)
    return InterestRows(owners.astype(np.int64), capsules.astype(np.int64), vectors)


def check_n(n: Any, what: str) -> None:
    """``n`` must be a positive integer; ``what`` says what it counts, for the message."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n ({what}) must be an integer >= 1, got {n!r}")


class ExactIndex:
    """Exact inner-product search with numpy: ``IndexFlatIP``'s results without faiss."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.ntotal = len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        k = min(k, self.ntotal)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)


def import_faiss(kind: str, required: bool = True):
    """The ``faiss`` module; without it, None for an optional use, else a clear ImportError."""
    try:
        import faiss
    except ImportError as error:
        if not required:
            return None
        raise ImportError(
            f"index {kind!r} needs faiss: pip install faiss-cpu (or pip install 'recbole-mind[retrieval]'); "
            "index 'flat' also works without it"
        ) from error
    return faiss


def default_ivf_lists(n_vectors: int) -> int:
    """The default number of k-means cells for ``n_vectors`` vectors: ``IVF_LISTS_PER_SQRT_N *
    sqrt(N)``, rounded, at most ``N / 39`` (faiss's k-means wants >= 39 training points per
    cell) and at least 1. Cells grow with sqrt(N) because finding the cells (one centroid per
    cell) and scanning them (N / cells vectors per probed cell) then cost about the same; the
    factor 2 trades a slightly dearer cell search for smaller cells to scan."""
    return max(1, min(int(round(IVF_LISTS_PER_SQRT_N * np.sqrt(n_vectors))), n_vectors // 39))


def build_index(
    vectors: np.ndarray,
    kind: str = "flat",
    hnsw_m: int = HNSW_M,
    hnsw_ef_construction: int = HNSW_EF_CONSTRUCTION,
    hnsw_ef_search: int = HNSW_EF_SEARCH,
    ivf_lists: int | None = None,
    ivf_probes: int = IVF_PROBES,
    seed: int = 2020,
):
    """Inner-product index over ``vectors`` ``(N, d)``.

    ``flat``: exact (faiss ``IndexFlatIP``, or :class:`ExactIndex` without faiss); ``hnsw``:
    graph ``IndexHNSWFlat`` (``hnsw_m`` links per node, ``hnsw_ef_search`` candidates per query);
    ``ivf``: ``IndexIVFFlat`` with ``ivf_lists`` k-means cells (default
    :func:`default_ivf_lists`), of which ``ivf_probes`` are scanned per query.
    """
    if kind not in INDEX_KINDS:
        raise ValueError(f"index must be one of {INDEX_KINDS}, got {kind!r}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    faiss = import_faiss(kind, required=kind != "flat")
    if faiss is None:
        return ExactIndex(vectors)
    if kind == "flat":
        index = faiss.IndexFlatIP(vectors.shape[1])
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = hnsw_ef_construction
        index.hnsw.efSearch = hnsw_ef_search
    else:
        lists = ivf_lists or default_ivf_lists(len(vectors))
        quantizer = faiss.IndexFlatIP(vectors.shape[1])
        index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(vectors)
        index.nprobe = ivf_probes
    index.add(vectors)
    return index


def merge_interest_results(
    scores: np.ndarray,
    items: np.ndarray,
    owners: np.ndarray,
    users: int,
    n: int,
    exclude: Sequence[np.ndarray] | None = None,
) -> list[list[tuple[int, float]]]:
    """Per user, the ``n`` best items over all of their interests' result lists.

    Args:
        scores, items: ``(R, k)`` results of the R interest queries (item -1 = no result).
        owners: ``(R,)`` the user (0..users-1) each query belongs to.
        exclude: per user, index rows to drop (e.g. already seen items).

    Returns:
        per user, ``[(index row, score), ...]`` best first; an item found by several
        interests appears once, with its best score (= max over interests).
    """
    merged: list[dict[int, float]] = [{} for _ in range(users)]
    for owner, row_scores, row_items in zip(owners, scores, items):
        best = merged[owner]
        for item, score in zip(row_items.tolist(), row_scores.tolist()):
            if item >= 0 and score > best.get(item, -np.inf):
                best[item] = score
    results = []
    for user, best in enumerate(merged):
        if exclude is not None:
            for item in exclude[user].tolist():
                best.pop(item, None)
        results.append(sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))[:n])
    return results


def retrieve(
    index,
    rows: InterestRows,
    users: int,
    n: int,
    exclude: Sequence[np.ndarray] | None = None,
    categories: Any = None,
    diversity_lambda: float = 0.0,
) -> list[list[tuple[int, float]]]:
    """Top-``n`` index rows with scores per user: every interest queried, merged, deduplicated.

    Each interest asks for ``n`` plus the number of excluded items of its user, so ``n`` items
    remain after the exclusion whenever the catalogue has them. ``diversity_lambda > 0``:
    ``serving.diversity.diverse_retrieve`` (ComiRec's greedy over ``categories``, an
    ``ItemCategories`` by index row, among ``DIVERSITY_CANDIDATE_FACTOR * n`` items per
    interest); 0, the default, ranks by score alone.
    """
    check_n(n, "items to retrieve per user")
    if diversity_lambda != 0:
        from recbole_mind.serving.diversity import diverse_retrieve  # numpy only, as this file

        return diverse_retrieve(index, rows, users, n, categories, diversity_lambda, exclude)
    extra = max((len(items) for items in exclude), default=0) if exclude is not None else 0
    k = min(n + extra, index.ntotal)
    scores, items = index.search(rows.vectors, k)
    return merge_interest_results(scores, items, rows.owners, users, n, exclude)

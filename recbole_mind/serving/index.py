"""Inner-product indexes over item vectors, queried with one row per active interest.

numpy only, plus faiss for ``hnsw``, ``ivf`` and a faster ``flat``: no torch and no RecBole, so
a service can load exported vectors (``serving.export``) and this file alone; with
``diversity_lambda > 0`` it imports the package's ``diversity.greedy``. Rows of the
index are positions in the item vector array; mapping them to item ids is the caller's
(``serving.users`` for MIND checkpoints).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

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


class Recommendations(list):
    """One user's ``[(item, score), ...]``, best first, and ``note``: why it holds fewer items
    than were asked for (None when it holds them all). A plain list otherwise."""

    def __init__(self, items: Any = (), note: str | None = None) -> None:
        super().__init__(items)
        self.note = note


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


# Each round that leaves a user short of n items doubles k and the index's own breadth.
WIDEN_FACTOR = 2


def _search_breadth(index) -> tuple[str, int, int] | None:
    """The index's own search breadth as ``(name, current, most)``: IVF cells scanned
    (``nprobe`` of ``nlist``), HNSW candidates (``efSearch``, at most every item); None for an
    index without one (exact indexes, or any object with ``search`` and ``ntotal``)."""
    if hasattr(index, "nprobe") and hasattr(index, "nlist"):
        return "nprobe", int(index.nprobe), int(index.nlist)
    if hasattr(index, "hnsw"):
        return "efSearch", int(index.hnsw.efSearch), int(index.ntotal)
    return None


def _search(index, queries: np.ndarray, k: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` with its breadth times ``scale``, passed as search parameters rather than
    set on the index, so the index keeps its settings and concurrent searches are unaffected."""
    breadth = _search_breadth(index)
    if breadth is None or scale == 1:
        return index.search(queries, k)
    faiss = import_faiss("ivf" if breadth[0] == "nprobe" else "hnsw")
    name, current, most = breadth
    value = min(most, current * scale)
    if name == "nprobe":
        return index.search(queries, k, params=faiss.SearchParametersIVF(nprobe=value))
    # HNSW returns at most efSearch candidates per query
    return index.search(queries, k, params=faiss.SearchParametersHNSW(efSearch=max(value, k)))


def _searched_everything(index, k: int, scale: int) -> bool:
    """Whether a search of ``k`` items at breadth times ``scale`` could already return every item:
    then widening cannot find more, only an exact search (HNSW's graph may leave items unreached)."""
    if k < index.ntotal:
        return False
    breadth = _search_breadth(index)
    return breadth is None or breadth[1] * scale >= breadth[2]


def _exact_copy(index) -> ExactIndex | None:
    """An exact index over ``index``'s vectors (faiss indexes give them back with
    ``reconstruct_n``); None when the index cannot."""
    if isinstance(index, ExactIndex):
        return index
    try:
        return ExactIndex(index.reconstruct_n(0, index.ntotal))
    except (AttributeError, RuntimeError):  # no such method; faiss raises for an index that cannot
        return None


def shortfall_note(found: int, n: int, total: int, excluded: int, queried: bool = True,
                   exclusion: str = "excluded") -> str | None:
    """Why a user's list holds ``found`` < ``n`` items (None when it holds ``n``): ``total``
    items in the index, ``excluded`` of them excluded for this user (``exclusion`` says how,
    e.g. "already seen"), ``queried`` False when the user had no interest vector to query."""
    if found >= n:
        return None
    if not queried:
        return "no interest vector to query: nothing to recommend from"
    left = total - excluded
    if left == 0:
        return f"no items left to recommend: all {total} items are {exclusion}"
    if found >= left:
        if excluded == 0:
            return f"only {total} items in the catalogue"
        return f"only {left} items left to recommend: {excluded} of the {total} items are {exclusion}"
    return f"the index found only {found} of the {min(n, left)} items left and cannot be searched exactly"


def search_and_merge(
    index,
    rows: InterestRows,
    users: int,
    n: int,
    k: int,
    merge: Callable[..., list] = merge_interest_results,
    exclude: Sequence[np.ndarray] | None = None,
    exclusion: str = "excluded",
) -> list[Recommendations]:
    """Search ``k`` items per interest, merge them per user (``merge``, called as
    :func:`merge_interest_results`), widening the search until every user has ``n`` items or
    all the items left to them.

    An approximate index's result lists, less a user's excluded items, can hold fewer than
    ``n`` (IVF's probed cells run out, HNSW's candidates are all excluded; -1 = no result).
    The users short of ``n`` are searched again with twice ``k`` and twice the index's breadth
    (IVF ``nprobe``, at most ``nlist``; HNSW ``efSearch``), and once nothing wider is left, with
    an exact search over the index's vectors. Only a user with fewer than ``n`` items left (the
    catalogue less their excluded items) or without a query row gets fewer, with a
    :func:`shortfall_note` on their :class:`Recommendations`.
    """
    total = index.ntotal
    excluded = np.zeros(users, dtype=np.int64)
    if exclude is not None:
        for user, rows_out in enumerate(exclude):
            rows_out = np.asarray(rows_out, dtype=np.int64)
            excluded[user] = np.unique(rows_out[(rows_out >= 0) & (rows_out < total)]).size
    queried = np.bincount(rows.owners, minlength=users)[:users] > 0
    wanted = np.where(queried, np.minimum(n, total - excluded), 0)
    results = [Recommendations() for _ in range(users)]
    todo = np.flatnonzero(wanted > 0)
    k, scale, exact = max(1, min(k, total)), 1, None
    while todo.size:
        chosen = np.isin(rows.owners, todo)
        queries, owners = rows.vectors[chosen], np.searchsorted(todo, rows.owners[chosen])
        scores, items = _search(index, queries, k, scale) if exact is None else exact.search(queries, total)
        found = merge(scores, items, owners, len(todo), n, None if exclude is None else [exclude[u] for u in todo])
        for user, user_found in zip(todo.tolist(), found):
            results[user] = Recommendations(user_found)
        todo = todo[np.array([len(results[user]) < wanted[user] for user in todo.tolist()], dtype=bool)]
        if not todo.size or exact is not None:
            break
        if _searched_everything(index, k, scale):
            exact = _exact_copy(index)
            if exact is None:
                break
        else:
            k, scale = min(k * WIDEN_FACTOR, total), scale * WIDEN_FACTOR
    for user, found in enumerate(results):
        found.note = shortfall_note(len(found), n, total, int(excluded[user]), bool(queried[user]), exclusion)
    return results


def retrieve(
    index,
    rows: InterestRows,
    users: int,
    n: int,
    exclude: Sequence[np.ndarray] | None = None,
    categories: Any = None,
    diversity_lambda: float = 0.0,
    exclusion: str = "excluded",
) -> list[Recommendations]:
    """Top-``n`` index rows with scores per user: every interest queried, merged, deduplicated.

    Each interest first asks for ``n`` plus the number of excluded items of its user; a user
    still short of ``n`` is searched wider, then exactly (:func:`search_and_merge`), so every
    index returns ``n`` items whenever the catalogue less the user's excluded items holds
    them. A user with fewer gets fewer, and ``note`` on their list says why (``exclusion``
    names the excluded items in it, e.g. "already seen"). ``diversity_lambda > 0``:
    ``serving.diversity.diverse_search_plan`` (ComiRec's greedy over ``categories``, an
    ``ItemCategories`` by index row, among ``DIVERSITY_CANDIDATE_FACTOR * n`` items per
    interest); 0, the default, ranks by score alone.
    """
    check_n(n, "items to retrieve per user")
    if diversity_lambda != 0:
        from recbole_mind.diversity.greedy import diverse_search_plan  # numpy only, as this file

        k, merge = diverse_search_plan(index, n, categories, diversity_lambda, exclude)
        return search_and_merge(index, rows, users, n, k, merge, exclude, exclusion)
    extra = max((len(items) for items in exclude), default=0) if exclude is not None else 0
    return search_and_merge(index, rows, users, n, n + extra, merge_interest_results, exclude, exclusion)

"""Controllable diversity: ComiRec's greedy aggregation of a user's candidates (Cen et al., KDD 2020).

numpy only in its computations; ``diversity_lambda`` is checked by the settings table's rule
(``settings.diversity.check_diversity_lambda``), so the file is imported as part of the package.

The N recommended items are chosen greedily from a candidate set to maximise

    sum_{i in S} score(i) + diversity_lambda * sum_{i < j in S} g(i, j),

ComiRec's aggregation module: the first item is the best-scored candidate, each next one the
candidate with the largest ``score(i) + diversity_lambda * sum_{j already chosen} g(i, j)``.
``diversity_lambda = 0`` is the plain top-N by score.

``g(i, j)``, the category difference of two items, is the Jaccard distance of their category
sets, ``1 - |C_i & C_j| / |C_i | C_j|``: ComiRec's indicator ``1[cat_i != cat_j]`` when every item
has one category, and for multi-genre items (ml-100k's ``class``) 0 for the same genres, 1 for
disjoint ones, in between for overlapping ones. An item without any category differs from
every item that has one (``g = 1``) and from none without (``g = 0``): unknown genres are one
more "genre", so they are neither favoured nor penalised against each other.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from recbole_mind.settings.diversity import check_diversity_lambda


# With diversity_lambda > 0 the greedy chooses N items among this many times N candidates (per
# interest in serving and in MIND's evaluation, from the whole ranking for other models): room to
# trade score for category difference while every candidate stays among the best-scored.
DIVERSITY_CANDIDATE_FACTOR = 5


class ItemCategories:
    """Each item's set of categories, as an ``(n_items, n_categories)`` bool matrix.

    Row ``i`` belongs to item ``i`` (an item id, or an index row: whatever the caller ranks);
    a row without any ``True`` is an item without a category.
    """

    def __init__(self, matrix: np.ndarray) -> None:
        matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"item categories must be an (items, categories) matrix, got shape {matrix.shape}")
        self.matrix = matrix.astype(bool)
        self._floats = self.matrix.astype(np.float32)
        self._sizes = self._floats.sum(axis=1)

    @classmethod
    def from_lists(cls, categories: Sequence[Iterable[int]], n_categories: int | None = None) -> "ItemCategories":
        """From each item's category ids (``categories[i]`` lists item ``i``'s, may be empty)."""
        categories = [np.asarray(list(item), dtype=np.int64) for item in categories]
        if n_categories is None:
            n_categories = max((int(item.max()) + 1 for item in categories if len(item)), default=0)
        matrix = np.zeros((len(categories), n_categories), dtype=bool)
        for row, item in enumerate(categories):
            matrix[row, item] = True
        return cls(matrix)

    @classmethod
    def from_token_ids(cls, token_ids: np.ndarray, padding: int = 0) -> "ItemCategories":
        """From a token field ``(n_items,)`` or a token_seq field ``(n_items, length)`` of category
        ids, ``padding`` (RecBole's 0) meaning no category."""
        token_ids = np.asarray(token_ids, dtype=np.int64)
        if token_ids.ndim == 1:
            token_ids = token_ids[:, None]
        n_categories = int(token_ids.max()) + 1 if token_ids.size else 0
        matrix = np.zeros((len(token_ids), n_categories), dtype=bool)
        rows = np.repeat(np.arange(len(token_ids)), token_ids.shape[1])
        matrix[rows, token_ids.ravel()] = True
        if 0 <= padding < n_categories:
            matrix[:, padding] = False
        return cls(matrix)

    def __len__(self) -> int:
        return len(self.matrix)

    @property
    def n_categories(self) -> int:
        return self.matrix.shape[1]

    def check_items(self, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        if items.size and (items.min() < 0 or items.max() >= len(self)):
            bad = items[(items < 0) | (items >= len(self))][:5].tolist()
            raise ValueError(f"items {bad} have no categories: the table covers items 0..{len(self) - 1}")
        return items

    def difference(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        """``g(i, j)`` of every item of ``items`` ``(A,)`` with every one of ``others`` ``(B,)``: ``(A, B)``."""
        items, others = self.check_items(items), self.check_items(others)
        shared = self._floats[items] @ self._floats[others].T
        union = self._sizes[items][:, None] + self._sizes[others][None, :] - shared
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, 1.0 - shared / union, 0.0)

    def g(self, i: int, j: int) -> float:
        """The category difference of two items (module docstring)."""
        return float(self.difference(np.array([i]), np.array([j]))[0, 0])


def _unique_by_best_score(candidates: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidates once each, with their best score, ordered by score (high first), then id."""
    order = np.lexsort((candidates, -scores))
    candidates, scores = candidates[order], scores[order]
    _, first = np.unique(candidates, return_index=True)
    keep = np.sort(first)  # the first occurrence of an id in this order holds its best score
    return candidates[keep], scores[keep]


def greedy_select(
    candidates: np.ndarray,
    scores: np.ndarray,
    categories: ItemCategories,
    n: int,
    diversity_lambda: float,
) -> np.ndarray:
    """Up to ``n`` of ``candidates``, in the order the greedy picks them (module docstring).

    Args:
        candidates: ``(C,)`` item ids (rows of ``categories``); a repeated id counts once, with
            its best score.
        scores: ``(C,)`` finite scores (MIND: the best over the user's interests).
        categories: every candidate's categories.
        n: items to select (``min(n, distinct candidates)`` are returned).
        diversity_lambda: weight of the category differences, a finite number >= 0; 0 returns
            the top-``n`` by score.

    Ties of the objective go to the higher score, then the lower id, so the result is
    deterministic, and with ``diversity_lambda = 0`` it is the top-``n`` ordered by
    ``(-score, id)`` (as ``serving.index.merge_interest_results``). Each step costs one
    ``(C, n_categories)`` product with the chosen item's categories: O(n C) in all.
    """
    diversity_lambda = check_diversity_lambda(diversity_lambda)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    candidates = np.asarray(candidates, dtype=np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if candidates.shape != scores.shape:
        raise ValueError(f"one score per candidate: {len(candidates)} candidates, {len(scores)} scores")
    if not np.isfinite(scores).all():
        raise ValueError("candidate scores must be finite (drop excluded items from the candidates)")
    candidates, scores = _unique_by_best_score(candidates, scores)
    n = min(int(n), len(candidates))
    if diversity_lambda == 0 or n <= 1:
        return candidates[:n]
    categories.check_items(candidates)
    floats = categories._floats[candidates]  # (C, n_categories)
    sizes = categories._sizes[candidates]
    gains = np.zeros(len(candidates))  # sum of g(i, j) over the chosen j
    available = np.ones(len(candidates), dtype=bool)
    chosen = np.empty(n, dtype=np.int64)
    for step in range(n):
        objective = np.where(available, scores + diversity_lambda * gains, -np.inf)
        best = int(np.argmax(objective))  # first maximum: higher score, then lower id
        chosen[step] = best
        available[best] = False
        shared = floats @ floats[best]
        union = sizes + sizes[best] - shared
        with np.errstate(invalid="ignore", divide="ignore"):
            gains += np.where(union > 0, 1.0 - shared / union, 0.0)
    return candidates[chosen]


def diverse_merge(
    scores: np.ndarray,
    items: np.ndarray,
    owners: np.ndarray,
    users: int,
    n: int,
    categories: ItemCategories | None,
    diversity_lambda: float,
    exclude: Sequence[np.ndarray] | None = None,
) -> list[list[tuple[int, float]]]:
    """``serving.index.merge_interest_results`` with the greedy choice of :func:`greedy_select`.

    Per user: the union of their interests' result lists (``items`` -1 = no result), each item
    once with its best score, ``exclude[user]`` removed; then ``n`` items by the greedy.
    Returns per user ``[(item, score), ...]`` in the greedy's order; with ``diversity_lambda =
    0`` exactly ``merge_interest_results``' lists (``categories`` may then be None).
    """
    diversity_lambda = check_diversity_lambda(diversity_lambda)
    if diversity_lambda > 0 and categories is None:
        raise ValueError("diversity_lambda > 0 needs the items' categories")
    scores = np.asarray(scores)
    items = np.asarray(items, dtype=np.int64)
    owners = np.asarray(owners, dtype=np.int64)
    row_owner = np.repeat(owners, items.shape[1]) if items.ndim == 2 else owners
    found = items.ravel() >= 0
    flat_items, flat_scores, flat_owners = items.ravel()[found], scores.ravel()[found], row_owner[found]
    order = np.argsort(flat_owners, kind="stable")
    flat_items, flat_scores = flat_items[order], flat_scores[order]
    bounds = np.searchsorted(flat_owners[order], np.arange(users + 1))
    results = []
    for user in range(users):
        candidates = flat_items[bounds[user]:bounds[user + 1]]
        values = flat_scores[bounds[user]:bounds[user + 1]]
        if exclude is not None and len(exclude[user]):
            kept = ~np.isin(candidates, exclude[user])
            candidates, values = candidates[kept], values[kept]
        unique, best = _unique_by_best_score(candidates, values.astype(np.float64))
        best_of = dict(zip(unique.tolist(), best.tolist()))  # float32 scores are exact in float64
        picked = greedy_select(unique, best, categories, n, diversity_lambda)
        results.append([(item, best_of[item]) for item in picked.tolist()])
    return results


def diverse_search_plan(
    index,
    n: int,
    categories: ItemCategories | None,
    diversity_lambda: float,
    exclude: Sequence[np.ndarray] | None = None,
) -> tuple[int, Callable[..., list]]:
    """How ``serving.index.retrieve`` searches when choosing each user's ``n`` items by the
    greedy: ``(k, merge)``, the results to ask per interest first and the merge of the result
    lists (:func:`diverse_merge`, called as ``serving.index.merge_interest_results``).

    Args:
        index: an index of ``serving.index.build_index`` (anything with ``search`` and ``ntotal``).
        categories: the categories of the index rows.
        exclude: per user, index rows to drop.

    With ``diversity_lambda > 0`` each interest asks for ``DIVERSITY_CANDIDATE_FACTOR * n`` items
    plus the user's excluded ones, so the greedy has room; with 0, for ``n`` plus those, and the
    lists are ``serving.index.retrieve``'s. The search itself, widened for users short of ``n``,
    is ``serving.index.search_and_merge``'s (this module imports numpy only).
    """
    diversity_lambda = check_diversity_lambda(diversity_lambda)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (items to retrieve per user) must be an integer >= 1, got {n!r}")
    if diversity_lambda > 0 and categories is None:
        raise ValueError("diversity_lambda > 0 needs the items' categories (categories=ItemCategories(...))")
    if categories is not None and len(categories) != index.ntotal:
        raise ValueError(f"categories cover {len(categories)} items, the index holds {index.ntotal}")
    extra = max((len(items) for items in exclude), default=0) if exclude is not None else 0
    wanted = n * DIVERSITY_CANDIDATE_FACTOR if diversity_lambda > 0 else n

    def merge(scores, items, owners, users, n, exclude):
        return diverse_merge(scores, items, owners, users, n, categories, diversity_lambda, exclude)

    return wanted + extra, merge


# ------------------------------------------------------------------------------------ metrics


def list_diversity(ranked: np.ndarray, categories: ItemCategories) -> np.ndarray:
    """Diversity of each user's list ``(U, N)`` of item ids: the mean category difference of
    its pairs, ``2 / (N (N - 1)) * sum_{i < j} g(i, j)`` (ComiRec). A list of one item has no
    pair and scores 0. Returns ``(U,)``."""
    ranked = categories.check_items(np.asarray(ranked, dtype=np.int64))
    users, length = ranked.shape
    if length < 2:
        return np.zeros(users)
    floats = categories._floats[ranked]  # (U, N, n_categories)
    sizes = categories._sizes[ranked]
    shared = np.einsum("unc,umc->unm", floats, floats)
    union = sizes[:, :, None] + sizes[:, None, :] - shared
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.where(union > 0, 1.0 - shared / union, 0.0)
    return difference.sum(axis=(1, 2)) / (length * (length - 1))  # each pair counted twice


def category_coverage(ranked: np.ndarray, target_categories: np.ndarray, categories: ItemCategories) -> np.ndarray:
    """Share of each user's target categories that their list's items carry: ``(U,)``.

    Args:
        ranked: ``(U, N)`` item ids.
        target_categories: ``(U, n_categories)`` bool, the union of the categories of each
            user's target items.
        categories: the items' categories.

    Returns:
        ``|C(list) & C(targets)| / |C(targets)|`` per user; NaN for a user whose targets have no
        category (averages skip them).
    """
    ranked = categories.check_items(np.asarray(ranked, dtype=np.int64))
    listed = categories.matrix[ranked].any(axis=1)  # (U, n_categories)
    wanted = np.asarray(target_categories, dtype=bool)
    counts = wanted.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (listed & wanted).sum(axis=1) / counts, np.nan)


def mean_over_users(values: np.ndarray) -> float:
    """Average of per-user metric values, NaN (skipped users) left out; 0 if all are skipped."""
    values = np.asarray(values, dtype=np.float64)
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if len(kept) else 0.0

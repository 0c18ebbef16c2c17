"""Held-out users of the multi-interest protocol: user split, history/target cut, full-sort
ranking with the history excluded, and ComiRec's Recall, NDCG and HitRate (with Diversity and
CategoryCoverage over the items' categories)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from recbole.data.interaction import Interaction

from recbole_mind.settings.protocol import METRICS, Scorer
from recbole_mind.diversity.greedy import ItemCategories, category_coverage, list_diversity, mean_over_users


def time_ordered_sequences(
    frame: pd.DataFrame, uid_field: str, iid_field: str, time_field: str
) -> dict[int, np.ndarray]:
    """Each user's item ids in time order (ties keep the file's order, as a stable sort)."""
    ordered = frame.sort_values([uid_field, time_field], kind="mergesort")
    users = ordered[uid_field].to_numpy()
    items = ordered[iid_field].to_numpy().astype(np.int64)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return {int(users[s]): items[s:e] for s, e in zip(starts, np.r_[starts[1:], len(users)])}


def split_users(
    user_ids: Sequence[int], shares: Sequence[float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test users: a seeded permutation cut by ``shares``.

    Validation and test get ``round(n * share)`` users each and at least one; train the rest.
    """
    user_ids = np.sort(np.asarray(user_ids, dtype=np.int64))
    n_users = len(user_ids)
    n_valid = max(1, int(round(n_users * shares[1])))
    n_test = max(1, int(round(n_users * shares[2])))
    if n_users - n_valid - n_test < 1:
        raise ValueError(
            f"user_split {list(shares)} leaves no train users among {n_users} users: use more users "
            "or a larger train share"
        )
    permuted = np.random.default_rng(seed).permutation(user_ids)
    return (
        np.sort(permuted[n_valid + n_test:]),
        np.sort(permuted[:n_valid]),
        np.sort(permuted[n_valid:n_valid + n_test]),
    )


def history_length(n_behaviours: int, history_ratio: float) -> int:
    """How many of a user's earliest behaviours form the history: ``floor(n * ratio)``, as
    ComiRec, kept in ``[1, n - 1]`` so that there is a history and at least one target."""
    return min(max(int(n_behaviours * history_ratio), 1), n_behaviours - 1)


@dataclass
class HeldOutUsers:
    """Validation or test users: the model's input, the items to exclude and the targets.

    ``item_seq`` holds the most recent ``max_item_list_length`` history items left-aligned and
    padded with 0, as RecBole's ``SequentialDataset`` builds its ``item_id_list``.
    """

    user_ids: np.ndarray  # (U,)
    histories: list[np.ndarray]  # the whole history of each user (excluded from ranking)
    targets: list[np.ndarray]  # the distinct items each user should retrieve
    item_seq: torch.Tensor  # (U, L)
    item_seq_len: torch.Tensor  # (U,)
    uid_field: str
    item_seq_field: str
    item_seq_len_field: str
    skipped_users: int = 0  # held-out users with too few behaviours or no target left
    user_features: Interaction | None = None  # RecBole's user_feat, joined as its loaders do

    def __len__(self) -> int:
        return len(self.user_ids)

    def interaction(self, start: int, stop: int) -> Interaction:
        """Users ``start:stop`` as the batch a sequential model's ``full_sort_predict`` reads."""
        user_ids = torch.as_tensor(self.user_ids[start:stop])
        batch = Interaction({
            self.uid_field: user_ids,
            self.item_seq_field: self.item_seq[start:stop],
            self.item_seq_len_field: self.item_seq_len[start:stop],
        })
        if self.user_features is not None:
            batch.update(self.user_features[user_ids])
        return batch


def build_held_out_users(
    sequences: Mapping[int, np.ndarray],
    user_ids: Sequence[int],
    history_ratio: float,
    max_item_list_length: int,
    exclude_history: bool,
    uid_field: str = "user_id",
    item_seq_field: str = "item_id_list",
    item_seq_len_field: str = "item_length",
) -> HeldOutUsers:
    """Cut each user's time-ordered behaviours into history and targets (module docstring)."""
    kept, histories, targets = [], [], []
    for user in user_ids:
        items = sequences[int(user)]
        if len(items) < 2:
            continue
        cut = history_length(len(items), history_ratio)
        history, future = items[:cut], items[cut:]
        # Distinct targets, in order of first appearance; one the user already had cannot be
        # ranked when history items are excluded, so it does not count.
        future = pd.unique(future)
        if exclude_history:
            future = future[~np.isin(future, history)]
        if len(future) == 0:
            continue
        kept.append(int(user))
        histories.append(history)
        targets.append(np.asarray(future, dtype=np.int64))
    item_seq = torch.zeros((len(kept), max_item_list_length), dtype=torch.long)
    item_seq_len = torch.zeros(len(kept), dtype=torch.long)
    for row, history in enumerate(histories):
        recent = history[-max_item_list_length:]
        item_seq[row, : len(recent)] = torch.as_tensor(recent)
        item_seq_len[row] = len(recent)
    return HeldOutUsers(
        user_ids=np.asarray(kept, dtype=np.int64),
        histories=histories,
        targets=targets,
        item_seq=item_seq,
        item_seq_len=item_seq_len,
        uid_field=uid_field,
        item_seq_field=item_seq_field,
        item_seq_len_field=item_seq_len_field,
        skipped_users=len(user_ids) - len(kept),
    )


# --------------------------------------------------------------------- ranking and metrics


def rank_catalogue(
    scorer: Scorer,
    users: HeldOutUsers,
    n_items: int,
    max_k: int,
    batch_size: int,
    exclude_history: bool = True,
    device: torch.device | str = "cpu",
    rerank: Callable[[Interaction, torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """The ``max_k`` best item ids of each held-out user, best first: ``(U, max_k)``.

    Every catalogue item is scored; the padding id 0 and, with ``exclude_history``, the
    user's history items are never in the list, whatever their scores. ``rerank``
    (``diversity.DiversityReranker``) maps a batch and its scores, excluded items at ``-inf``,
    to the scores that are ranked.

    Raises:
        ValueError: ``max_k`` exceeds a user's candidates (:func:`fewest_candidates`): the
            list would be filled with excluded items.
    """
    ranked = []
    require_candidates(max_k, users, n_items, exclude_history)
    for start in range(0, len(users), batch_size):
        stop = min(start + batch_size, len(users))
        batch = users.interaction(start, stop).to(device)
        scores = scorer(batch)
        scores = scores.detach().view(stop - start, -1).float().clone()
        if scores.shape[1] != n_items:
            raise ValueError(f"the scorer returned {scores.shape[1]} scores per user for {n_items} items")
        excluded = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
        excluded[:, 0] = True
        if exclude_history:
            histories = users.histories[start:stop]
            rows = np.repeat(np.arange(stop - start), [len(history) for history in histories])
            excluded[torch.as_tensor(rows), torch.as_tensor(np.concatenate(histories))] = True
        scores.masked_fill_(excluded, -torch.inf)
        if rerank is not None:
            scores = rerank(batch, scores)
        # Excluded items go strictly below every candidate, even one the scorer or the re-ranker
        # left at -inf or NaN (torch.topk ranks NaN first, and breaks -inf ties in any order).
        lowest = torch.finfo(scores.dtype).min
        scores = scores.nan_to_num_(nan=lowest, neginf=lowest).masked_fill_(excluded, -torch.inf)
        ranked.append(torch.topk(scores, max_k, dim=1).indices.cpu().numpy())
    return np.concatenate(ranked) if ranked else np.zeros((0, max_k), dtype=np.int64)


def fewest_candidates(users: HeldOutUsers, n_items: int, exclude_history: bool) -> int:
    """The fewest items any of ``users`` can be recommended: the catalogue (``n_items`` ids,
    the padding id 0 among them) less, with ``exclude_history``, the user's distinct history."""
    longest = max((len(np.unique(history)) for history in users.histories), default=0) if exclude_history else 0
    return n_items - 1 - longest


def require_candidates(topk: int | Sequence[int], users: HeldOutUsers, n_items: int, exclude_history: bool,
                       key: str = "multi_target_topk", part: str = "held-out") -> None:
    """Refuse a list longer than some user's candidates: its tail would be padding or history
    items (ranked at ``-inf``), counted by Diversity and CategoryCoverage as recommendations."""
    from recbole_mind.training.pipeline import require_topk_within

    available = fewest_candidates(users, n_items, exclude_history)
    what = f"the catalogue has {n_items - 1} items"
    if exclude_history and available < n_items - 1:
        what += (f" and a {part} user's history excludes up to {n_items - 1 - available} of them, so "
                 f"only {available} candidates remain for that user")
    require_topk_within(key, topk, available, what,
                        " (or exclude_history: False)" if exclude_history and available < n_items - 1 else "")


def multi_target_metrics(
    ranked: np.ndarray,
    targets: Sequence[np.ndarray],
    topk: Sequence[int],
    metrics: Sequence[str] = METRICS,
    categories: ItemCategories | None = None,
) -> OrderedDict[str, float]:
    """Recall, NDCG and HitRate at each N, averaged over users (module docstring); Diversity
    and CategoryCoverage (``recbole_mind.integration.metrics``' definitions) with the items' ``categories``.

    Args:
        ranked: ``(U, width)`` item ids, best first; ``width >= max(topk)`` unless the
            catalogue is smaller.
        targets: each user's distinct target items (non-empty).
        topk: the cut-offs N.
        metrics: names among ``Recall``, ``NDCG``, ``HitRate``, ``Diversity``, ``CategoryCoverage``.
        categories: the items' categories, by item id (needed by the last two).

    Returns:
        ``{"recall@20": ..., "ndcg@20": ..., ...}``, lower case as RecBole keys its results.
    """
    if len(ranked) != len(targets) or len(targets) == 0:
        raise ValueError(f"need one target set per ranked user, got {len(ranked)} rankings, {len(targets)} target sets")
    hits = np.stack([np.isin(row, user_targets) for row, user_targets in zip(ranked, targets)])
    target_counts = np.array([len(user_targets) for user_targets in targets])
    discounts = 1.0 / np.log2(np.arange(2, max(topk) + 2))
    ideal_dcg = np.r_[0.0, np.cumsum(discounts)]  # ideal_dcg[m]: DCG of m hits at ranks 1..m
    values = {}
    for n in topk:
        hits_at_n = hits[:, :n]
        hit_counts = hits_at_n.sum(axis=1)
        dcg = (hits_at_n * discounts[: hits_at_n.shape[1]]).sum(axis=1)
        values["recall", n] = float(np.mean(hit_counts / target_counts))
        values["ndcg", n] = float(np.mean(dcg / ideal_dcg[np.minimum(target_counts, n)]))
        values["hitrate", n] = float(np.mean(hit_counts > 0))
    wanted = {name.lower() for name in metrics}
    if wanted & {"diversity", "categorycoverage"}:
        if categories is None:
            raise ValueError("Diversity and CategoryCoverage need the items' categories (diversity_category_field)")
        target_categories = np.stack([categories.matrix[user_targets].any(axis=0) for user_targets in targets])
        for n in topk:
            values["diversity", n] = float(np.mean(list_diversity(ranked[:, :n], categories)))
            values["categorycoverage", n] = mean_over_users(category_coverage(ranked[:, :n], target_categories, categories))
    return OrderedDict((f"{name.lower()}@{n}", values[name.lower(), n]) for name in metrics for n in topk)



"""From a MIND checkpoint to what serving needs: users' histories, interests, item vectors.

Histories are the user's latest ``MAX_ITEM_LIST_LENGTH`` interactions in the whole dataset
(time order), i.e. what would be served now, not the test-time history.

Index rows and item ids: RecBole's internal item id 0 is padding, so the item vector array
(and every index built on it) holds the real items only, and row ``r`` is item id
``r + FIRST_ITEM_ID``. :func:`item_ids_of_rows` and :func:`rows_of_item_ids` are the only
places that know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from recbole.data.interaction import Interaction

from recbole_mind.training.checkpoint import data_and_model, load_checkpoint
from recbole_mind.model.mind import MIND
from recbole_mind.training.pipeline import all_interactions
from recbole_mind.serving.index import InterestRows, active_interest_rows

FIRST_ITEM_ID = 1  # internal id 0 is RecBole's padding item
# A user known to the dataset (its .user file, or an id map) with no interaction left after
# its filters: MIND's interests from an empty history are padding alone, not this user's.
NO_HISTORY_NOTE = "no history: the user has no interactions in the dataset, so there is nothing to recommend from"


def item_ids_of_rows(rows: np.ndarray) -> np.ndarray:
    """Internal item ids of item vector (index) rows."""
    return np.asarray(rows) + FIRST_ITEM_ID


def rows_of_item_ids(item_ids: np.ndarray) -> np.ndarray:
    """Item vector (index) rows of internal item ids (>= 1)."""
    return np.asarray(item_ids) - FIRST_ITEM_ID


def load_mind(checkpoint: str, config_dict: dict[str, Any] | None = None) -> tuple:
    """``(config, model, dataset)`` of a MIND checkpoint, model in eval mode on CPU."""
    saved = load_checkpoint(checkpoint)
    if saved["config"]["model"] != "MIND":
        raise ValueError(
            f"{checkpoint} holds a {saved['config']['model']} model; export, retrieval and explanations "
            "need a MIND checkpoint (saved/MIND-<time>.pth)"
        )
    config, model, dataset, *_ = data_and_model(saved, config_dict, source=checkpoint)
    assert isinstance(model, MIND)
    return config, model, dataset


@dataclass
class Histories:
    """Latest behaviours of some users, as MIND's forward takes them."""

    user_ids: torch.Tensor  # (U,) internal user ids
    item_seq: torch.Tensor  # (U, L) internal item ids, 0 = padding
    item_seq_len: torch.Tensor  # (U,)
    seen: list[np.ndarray]  # every item id each user interacted with


@dataclass
class ServedUsers:
    """What a checkpoint serves for some users: their histories and interests."""

    config: Any
    model: MIND
    dataset: Any
    user_ids: np.ndarray
    histories: Histories
    interests: torch.Tensor  # (U, K, d)
    capsule_mask: torch.Tensor  # (U, K)
    routing_weights: torch.Tensor  # (U, K, L)

    def item_tokens(self) -> np.ndarray:
        """Tokens of the real items, aligned with :func:`item_vectors` rows."""
        rows = np.arange(self.dataset.item_num - FIRST_ITEM_ID)
        return self.dataset.id2token(self.dataset.iid_field, item_ids_of_rows(rows))

    def user_tokens(self) -> np.ndarray:
        """Tokens of the served users, aligned with ``user_ids``."""
        return self.dataset.id2token(self.dataset.uid_field, self.user_ids)

    def has_history(self) -> np.ndarray:
        """``(U,)`` bool: whether each user has at least one interaction to be served from."""
        return self.histories.item_seq_len.numpy() > 0

    def interest_rows(self) -> InterestRows:
        """One query row per active interest of the users with a history; users without one
        get no row, so nothing is retrieved for them (see ``NO_HISTORY_NOTE``)."""
        mask = self.capsule_mask.numpy() & self.has_history()[:, None]
        return active_interest_rows(self.interests.numpy(), mask)


def serve_users(
    checkpoint: str, user_tokens: str | Sequence[str] | None, config_dict: dict[str, Any] | None = None
) -> ServedUsers:
    """Load a MIND checkpoint and compute the interests of ``user_tokens`` (all users: None;
    one user: a token)."""
    user_tokens = requested_users(user_tokens)  # before the (slow) load
    config, model, dataset = load_mind(checkpoint, config_dict)
    user_ids = user_ids_of(dataset, user_tokens)
    histories = latest_histories(dataset, user_ids, model.max_seq_length)
    return ServedUsers(config, model, dataset, user_ids, histories, *user_interests(model, dataset, histories))


def requested_users(user_tokens: str | int | Sequence[str] | None) -> list[str] | None:
    """The user tokens asked for as a list: a single token (``"12"``, or an int) is one user,
    not the users of its characters; None (every user) stays None.

    Raises:
        ValueError: an empty list.
    """
    if user_tokens is None:
        return None
    if isinstance(user_tokens, (str, int, np.integer)):
        return [str(user_tokens)]
    tokens = list(user_tokens)
    if not tokens:
        raise ValueError("no user tokens given (an empty list): name at least one user, or pass None for every user")
    return tokens


def user_ids_of(dataset, user_tokens: str | Sequence[str] | None) -> np.ndarray:
    """Internal ids of ``user_tokens`` (all users when None, one when a single token);
    unknown tokens raise ValueError."""
    field = dataset.uid_field
    user_tokens = requested_users(user_tokens)
    if user_tokens is None:
        return np.arange(1, dataset.user_num)
    known = dataset.field2token_id[field]
    # id 0 is RecBole's padding token ([PAD]): it has no history and is no user
    unknown = [token for token in user_tokens if known.get(str(token), 0) == 0]
    if unknown:
        raise ValueError(
            f"Unknown user token(s) {unknown[:5]} for {field!r} in dataset {dataset.dataset_name!r} "
            f"({dataset.user_num - 1} users, e.g. {[str(token) for token in list(known)[1:4]]}; "
            f"{str(dataset.field2id_token[field][0])!r} is the padding token, not a user)"
        )
    return np.array([known[str(token)] for token in user_tokens], dtype=np.int64)


def latest_histories(dataset, user_ids: np.ndarray, max_length: int) -> Histories:
    """Each user's latest ``max_length`` interactions, oldest first, over the whole dataset.

    Read from every interaction the dataset was loaded with (``pipeline.all_interactions``),
    not from ``inter_feat``: after RecBole's sequential split that holds one row per prediction
    target and lacks each user's first interaction.
    """
    users, items = all_interactions(dataset)
    starts = np.searchsorted(users, user_ids, side="left")
    ends = np.searchsorted(users, user_ids, side="right")
    item_seq = np.zeros((len(user_ids), max_length), dtype=np.int64)
    lengths = np.minimum(ends - starts, max_length)
    seen = []
    for row, (start, end, length) in enumerate(zip(starts, ends, lengths)):
        item_seq[row, :length] = items[end - length : end]
        seen.append(np.unique(items[start:end]))
    return Histories(
        torch.as_tensor(user_ids), torch.as_tensor(item_seq), torch.as_tensor(lengths), seen
    )


@torch.no_grad()
def user_interests(model: MIND, dataset, histories: Histories, batch_size: int = 1024) -> tuple:
    """Interests ``(U, K, d)``, capsule mask ``(U, K)`` and routing weights ``(U, K, L)``."""
    model.eval()
    outputs = []
    for start in range(0, len(histories.user_ids), batch_size):
        rows = slice(start, start + batch_size)
        batch = Interaction({dataset.uid_field: histories.user_ids[rows]})
        if model.user_profile is not None:
            batch = dataset.join(batch)  # the profile fields of these users
        outputs.append(
            model.interests_and_routing_weights(histories.item_seq[rows], histories.item_seq_len[rows], batch)
        )
    return tuple(torch.cat(parts) for parts in zip(*outputs))


@torch.no_grad()
def item_vectors(model: MIND) -> np.ndarray:
    """``(n_items - 1, d)`` float32 vectors of the real items, one per index row."""
    model.eval()
    return model.catalogue_vectors()[FIRST_ITEM_ID:].cpu().numpy().astype(np.float32)

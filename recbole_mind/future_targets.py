"""Later items as extra training targets (``future_targets``, a "dense all-action" loss).

The paper trains every example on the one item that follows its history. That item is best
predicted by the latest behaviours, so the routed interests, which summarise the rest of the
history, learn little that a short-term interest does not. With ``future_targets: F`` each
training example is also trained on its user's next ``F`` training items after its target (as
PinnerFormer trains long-term user vectors on all of a user's later actions).

The later items come from the training split only: RecBole's augmented examples of a user are
consecutive prefixes in time order, so an example's later targets are the targets of the
examples that follow it. Under leave-one-out the validation and test targets are not training
examples, so they never become anyone's extra target.
"""

from __future__ import annotations

import torch
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

FUTURE_ITEM_FIELD = "future_item_id_list"


def later_targets(user_ids: torch.Tensor, targets: torch.Tensor, count: int) -> torch.Tensor:
    """The next ``count`` targets of the same user for each example, 0 where there are none.

    Args:
        user_ids: ``(n,)`` user of each example; a user's examples are consecutive, in time order.
        targets: ``(n,)`` target item of each example.
        count: ``F >= 1``.

    Returns:
        ``(n, F)`` item ids: column ``o`` holds the target of example ``j + o + 1`` when that
        example belongs to the same user, else 0 (padding).
    """
    n = targets.size(0)
    later = torch.zeros(n, count, dtype=targets.dtype)
    for offset in range(1, min(count, n - 1) + 1):
        same_user = user_ids[offset:] == user_ids[:-offset]
        later[:-offset, offset - 1] = torch.where(same_user, targets[offset:], torch.zeros_like(targets[offset:]))
    return later


def multi_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Full-softmax loss of several targets per example, each example weighing the same.

    Args:
        logits: ``(B, N)`` scores of every item.
        targets: ``(B, T)`` item ids, 0 for none; column 0 (the next item) is always real.

    Returns:
        The mean over examples of the mean ``-log softmax(logits)[target]`` of its real targets:
        the usual cross-entropy of the next item when every other column is 0.
    """
    log_probs = torch.log_softmax(logits, dim=-1).gather(1, targets)  # (B, T)
    real = targets != 0
    real[:, 0] = True
    per_example = -(log_probs * real).sum(dim=1) / real.sum(dim=1)
    return per_example.mean()


def add_future_targets(dataset, count: int) -> None:
    """Give every training example of ``dataset`` (a RecBole ``SequentialDataset`` split) the
    field ``future_item_id_list``: ``(n, F)`` later targets of its user (:func:`later_targets`),
    ``F = count`` or fewer when no user has that many examples after one.

    Raises:
        ValueError: when the examples are not consecutive prefixes in time order (RecBole's
            augmentation makes them so; pre-split ``benchmark_filename`` files need not be).
    """
    inter = dataset.inter_feat
    user_ids = inter[dataset.uid_field]
    targets = inter[dataset.iid_field]
    history = inter[dataset.iid_field + dataset.config["LIST_SUFFIX"]]
    lengths = inter[dataset.config["ITEM_LIST_LENGTH_FIELD"]]
    if len(targets) > 1:
        same_user = user_ids[1:] == user_ids[:-1]
        next_last = history[1:].gather(1, (lengths[1:] - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        in_order = (next_last == targets[:-1]) & (lengths[1:] > 0)
        broken = same_user & ~in_order
        if bool(broken.any()):
            row = int(broken.nonzero()[0])
            raise ValueError(
                f"future_targets: {count} needs each user's training examples as consecutive "
                f"prefixes in time order (RecBole's augmentation), but example {row + 1}'s history "
                f"does not end with example {row}'s target (pre-split benchmark_filename data?); "
                "set future_targets: 0"
            )
    # no user has more later targets than examples: a huge count must not cost (n, count) memory
    longest = int(torch.unique_consecutive(user_ids, return_counts=True)[1].max()) if len(user_ids) else 1
    columns = max(1, min(count, longest - 1))
    dataset.set_field_property(FUTURE_ITEM_FIELD, FeatureType.TOKEN_SEQ, FeatureSource.INTERACTION, columns)
    inter.update(Interaction({FUTURE_ITEM_FIELD: later_targets(user_ids, targets, columns)}))


def prepare_future_targets(config, train_dataset) -> None:
    """Add the later targets to MIND's training split when ``future_targets`` > 0 (every run
    path calls this between splitting the data and building the model)."""
    count = config["future_targets"] if "future_targets" in config else 0
    if config["model"] == "MIND" and count:
        add_future_targets(train_dataset, count)

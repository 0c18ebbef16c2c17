import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from recbole.data.interaction import Interaction

from conftest import SLICE_CONFIG, build_mind
from recbole_mind import run_recbole_mind
from recbole_mind.future_targets import (
    FUTURE_ITEM_FIELD,
    add_future_targets,
    later_targets,
    multi_target_cross_entropy,
)

PRESET = {"interest_num": 4, "short_term_window": 5, "training_score": "max"}


def test_later_targets_stop_at_each_users_last_example():
    users = torch.tensor([1, 1, 1, 2, 2, 3])
    targets = torch.tensor([10, 11, 12, 20, 21, 30])
    assert later_targets(users, targets, 2).tolist() == [[11, 12], [12, 0], [0, 0], [21, 0], [0, 0], [0, 0]]


@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(1, 8))
def test_later_targets_are_the_same_users_following_targets(block_sizes, count):
    users = torch.cat([torch.full((size,), user) for user, size in enumerate(block_sizes)])
    targets = torch.arange(1, len(users) + 1)
    later = later_targets(users, targets, count)
    assert later.shape == (len(users), count)
    for row in range(len(users)):
        for offset in range(count):
            following = row + offset + 1
            same = following < len(users) and users[following] == users[row]
            assert later[row, offset] == (targets[following] if same else 0)


def test_cross_entropy_of_the_next_item_when_there_are_no_later_targets():
    logits = torch.randn(4, 7)
    targets = torch.tensor([[3, 0, 0], [1, 0, 0], [6, 0, 0], [2, 0, 0]])
    assert torch.allclose(multi_target_cross_entropy(logits, targets), F.cross_entropy(logits, targets[:, 0]))


def test_every_example_weighs_the_same_whatever_its_number_of_targets():
    logits = torch.randn(2, 5)
    log_probs = logits.log_softmax(-1)
    targets = torch.tensor([[1, 2, 3], [4, 0, 0]])
    expected = (-(log_probs[0, 1] + log_probs[0, 2] + log_probs[0, 3]) / 3 - log_probs[1, 4]) / 2
    assert torch.allclose(multi_target_cross_entropy(logits, targets), expected)


def train_copy(data):
    """The fixture's training split with its own copy of the examples (the fixture is shared)."""
    train = data[2]._dataset
    return train.copy(Interaction({key: value.clone() for key, value in train.inter_feat.interaction.items()}))


def test_training_examples_get_their_users_later_training_targets_only(ml100k_data):
    train = train_copy(ml100k_data)
    add_future_targets(train, 4)
    inter = train.inter_feat
    later = inter[FUTURE_ITEM_FIELD]
    assert later.shape == (len(inter), 4) and later.dtype == inter["item_id"].dtype
    users, targets = inter["user_id"], inter["item_id"]
    first = int(users[0])
    rows = (users == first).nonzero().squeeze(1)
    own = targets[rows].tolist()
    for position, row in enumerate(rows.tolist()):
        expected = own[position + 1: position + 5]
        assert later[row].tolist() == expected + [0] * (4 - len(expected))
    # leave-one-out: no user's validation or test target is among their training targets' later items
    held_out = {}
    for split in (ml100k_data[3], ml100k_data[4]):
        for user, item in zip(split._dataset.inter_feat["user_id"].tolist(), split._dataset.inter_feat["item_id"].tolist()):
            held_out.setdefault(user, set()).add(item)
    for user, row in zip(users.tolist(), later.tolist()):
        assert not set(row) & held_out.get(user, set())


def test_a_count_beyond_every_users_examples_costs_no_more_columns(ml100k_data):
    train = train_copy(ml100k_data)
    add_future_targets(train, 10**9)
    longest = max(torch.unique_consecutive(train.inter_feat["user_id"], return_counts=True)[1].tolist())
    assert train.inter_feat[FUTURE_ITEM_FIELD].shape == (len(train.inter_feat), longest - 1)


def test_examples_out_of_time_order_are_refused(ml100k_data):
    train = train_copy(ml100k_data)
    order = torch.randperm(len(train.inter_feat), generator=torch.Generator().manual_seed(0))
    shuffled = train.copy(train.inter_feat[order])
    with pytest.raises(ValueError, match="future_targets: 3 needs each user's training examples"):
        add_future_targets(shuffled, 3)


def test_the_model_refuses_a_training_split_without_later_targets(ml100k_data):
    with pytest.raises(ValueError, match=f"future_targets: 2 .* '{FUTURE_ITEM_FIELD}'"):
        build_mind(ml100k_data, future_targets=2, **PRESET)


def test_loss_averages_the_next_and_later_items_and_reduces_to_the_papers(ml100k_data):
    train = train_copy(ml100k_data)
    add_future_targets(train, 3)
    data = (ml100k_data[0], ml100k_data[1], copy.copy(ml100k_data[2]), *ml100k_data[3:])
    data[2]._dataset = train
    batch = train.inter_feat[torch.arange(256)]
    with_later = build_mind(data, future_targets=3, **PRESET).eval()
    next_only = build_mind(data, future_targets=0, **PRESET).eval()
    assert torch.equal(with_later.item_encoder.id_embedding.weight, next_only.item_encoder.id_embedding.weight)
    with torch.no_grad():
        # fresh weights score every item about alike: spread the scores so targets matter
        for model in (with_later, next_only):
            model.item_encoder.id_embedding.weight.mul_(20)
            model.eval()
        assert not torch.allclose(with_later.calculate_loss(batch), next_only.calculate_loss(batch))
        batch[FUTURE_ITEM_FIELD] = torch.zeros_like(batch[FUTURE_ITEM_FIELD])
        assert torch.allclose(with_later.calculate_loss(batch), next_only.calculate_loss(batch))
    with_later.train()
    batch = train.inter_feat[torch.arange(256)]
    loss = with_later.calculate_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert with_later.routing.bilinear.weight.grad.abs().sum() > 0


def test_a_run_with_later_targets_trains_and_evaluates_end_to_end(in_tmp_dir):
    result = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE_CONFIG, **PRESET, "future_targets": 5})
    assert all(value == value for value in result["test_result"].values())
    assert result["test_result"]["ndcg@10"] > 0

"""Serving reads each user's whole history, not RecBole's training samples (which lack the first)."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from recbole_mind.training.config import build_config
from recbole_mind.training.pipeline import prepare
from recbole_mind.serving.explain import explain
from recbole_mind.serving.export import retrieve_for_users
from recbole_mind.serving.users import latest_histories

from conftest import QUIET

def test_serving_histories_equal_every_ml100k_users_interactions_in_time_order(ml100k_data):
    config, dataset = ml100k_data[0], ml100k_data[1]
    frame = pd.read_csv(os.path.join(config["data_path"], "ml-100k.inter"), sep="\t", dtype=str)
    frame = frame.sort_values("timestamp:float", key=lambda times: times.astype(float), kind="stable")
    frame = frame.sort_values("user_id:token", kind="stable")  # by user, then time, then file order
    expected = {
        int(dataset.token2id(dataset.uid_field, user)): list(dataset.token2id(dataset.iid_field, group["item_id:token"].tolist()))
        for user, group in frame.groupby("user_id:token", sort=False)
    }
    user_ids = np.arange(1, dataset.user_num)
    assert sorted(expected) == user_ids.tolist()
    longest = max(len(items) for items in expected.values())
    histories = latest_histories(dataset, user_ids, longest)
    assert int(histories.item_seq_len.sum()) == len(frame) == 100_000
    for row, user in enumerate(user_ids):
        length = int(histories.item_seq_len[row])
        assert histories.item_seq[row, :length].tolist() == expected[user], user
        assert histories.seen[row].tolist() == sorted(set(expected[user]))
    latest = latest_histories(dataset, user_ids, 20)  # what the model reads: the last 20
    for row, user in enumerate(user_ids[:50]):
        assert latest.item_seq[row, : int(latest.item_seq_len[row])].tolist() == list(expected[user][-20:])


@pytest.fixture
def untrained_checkpoint(in_tmp_dir):
    """A MIND checkpoint (untrained weights) on data where user 'solo' has one interaction and
    every user 'u<k>' first saw item 'first<k>'."""
    folder = in_tmp_dir / "data" / "tiny"
    folder.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(6):
        items = [f"first{user}"] + [f"i{(user + step) % 9}" for step in range(5)]
        lines += [f"u{user}\t{item}\t{100 * user + step}" for step, item in enumerate(items)]
    lines.append("solo\ti3\t7")
    (folder / "tiny.inter").write_text("\n".join(lines) + "\n")
    config = build_config("MIND", "tiny", config_dict={
        "data_path": str(in_tmp_dir / "data"), "MAX_ITEM_LIST_LENGTH": 10, "interest_num": 2,
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]}, **QUIET,
    })
    model = prepare(config).model
    path = str(in_tmp_dir / "MIND-untrained.pth")
    torch.save({"config": config, "state_dict": model.state_dict()}, path)
    return path


def test_a_users_only_and_first_interactions_are_served(untrained_checkpoint):
    solo = explain(untrained_checkpoint, "solo", n=3)
    assert [entry["item"] for entry in solo["history"]] == ["i3"]
    assert len(solo["interests"]) == 1 and solo["interests"][0]["routing_weights"] == [pytest.approx(1.0)]
    first = explain(untrained_checkpoint, "u2", n=3)
    assert [entry["item"] for entry in first["history"]] == ["first2", "i2", "i3", "i4", "i5", "i6"]
    catalogue = 15  # first0..first5 and i0..i8
    found = retrieve_for_users(untrained_checkpoint, ["u2", "solo"], n=catalogue, exclude_seen=True)
    assert {item for item, _ in found["u2"]} == {f"first{user}" for user in range(6) if user != 2} | {
        "i0", "i1", "i7", "i8"}
    assert "i3" not in {item for item, _ in found["solo"]} and len(found["solo"]) == catalogue - 1

"""Checkpoints carry their token <-> id maps; data that gives other ids is refused."""

import logging
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recbole_mind.training.checkpoint import check_resumable, load_checkpoint, load_data_and_model
from recbole_mind.training.config import build_config
from recbole_mind.data.token_maps import TOKEN_MAPS_ATTRIBUTE, check_token_maps, describe_difference

from conftest import SLICE_CONFIG, ml100k_copy

SLICE = {**SLICE_CONFIG, "interest_num": 4}  # the trained_mind fixture's run


def fake_dataset(users, items):
    tokens = {"user_id": np.array(["[PAD]", *users]), "item_id": np.array(["[PAD]", *items])}
    return SimpleNamespace(uid_field="user_id", iid_field="item_id", field2id_token=tokens)


def fake_maps(users, items):
    return {
        "user": {"field": "user_id", "tokens": np.array(["[PAD]", *users])},
        "item": {"field": "item_id", "tokens": np.array(["[PAD]", *items])},
    }


@pytest.mark.parametrize(
    "users, items, message",
    [
        (["u2", "u1", "u3"], ["a", "b"], "field 'user_id': user ids differ from the checkpoint's: 2 of 3 tokens "
                                          "map to other ids"),
        (["u1", "u2", "u3"], ["b", "a"], "field 'item_id': item ids differ from the checkpoint's: 2 of 2 tokens"),
        (["u1", "u2"], ["a", "b"], "user ids differ from the checkpoint's: 0 of 3 tokens map to other ids, "
                                   "1 of the checkpoint's tokens are not in the data"),
        (["u1", "u2", "u3"], ["a", "b", "c"], "1 tokens of the data are not in the checkpoint"),
        (["u1", "u2", "u3"], ["a", "c"], "1 of the checkpoint's tokens are not in the data, 1 tokens of the data"),
    ],
)
def test_data_with_other_ids_is_refused_naming_checkpoint_field_and_difference(users, items, message):
    with pytest.raises(ValueError) as error:
        check_token_maps(fake_maps(["u1", "u2", "u3"], ["a", "b"]), fake_dataset(users, items), "saved/MIND-x.pth")
    text = str(error.value)
    assert text.startswith("saved/MIND-x.pth, field ") and message in text
    assert "the data is not the data this checkpoint was trained on" in text


def test_the_same_maps_pass_and_a_checkpoint_without_maps_warns_once(caplog):
    check_token_maps(fake_maps(["u1"], ["a", "b"]), fake_dataset(["u1"], ["a", "b"]), "same.pth")
    with caplog.at_level(logging.WARNING):
        check_token_maps(None, fake_dataset(["u1"], ["a"]), "old.pth")
        check_token_maps(None, fake_dataset(["u1"], ["a"]), "old.pth")
    warnings = [record for record in caplog.records if "old.pth carries no token <-> id maps" in record.message]
    assert len(warnings) == 1


def test_describe_difference_counts_moved_tokens_only_once():
    saved = np.array(["[PAD]", "a", "b", "c", "d"])
    assert describe_difference("item", saved, saved.copy()) is None
    moved = np.array(["[PAD]", "a", "c", "b", "d"])
    assert describe_difference("item", saved, moved) == "item ids differ from the checkpoint's: 2 of 4 tokens map to other ids"


# ------------------------------------------------------------------- with a trained checkpoint


def test_checkpoints_carry_the_maps_of_their_data(trained_mind):
    checkpoint, _, _, _, dataset = trained_mind
    maps = getattr(load_checkpoint(checkpoint)["config"], TOKEN_MAPS_ATTRIBUTE)
    assert maps["user"]["field"] == "user_id" and maps["item"]["field"] == "item_id"
    np.testing.assert_array_equal(maps["item"]["tokens"], dataset.field2id_token["item_id"])
    np.testing.assert_array_equal(maps["user"]["tokens"], dataset.field2id_token["user_id"])


@pytest.mark.parametrize("shuffle", [False, True])
def test_loading_with_data_in_another_row_order_is_refused(trained_mind, tmp_path, shuffle):
    checkpoint = trained_mind[0]
    data_path = ml100k_copy(trained_mind, tmp_path, shuffle)
    if not shuffle:  # the same rows: the same ids, the checkpoint loads
        assert load_data_and_model(checkpoint, {"data_path": data_path})[1] is not None
        return
    with pytest.raises(ValueError) as error:
        load_data_and_model(checkpoint, {"data_path": data_path})
    assert str(error.value).startswith(f"{checkpoint}, field 'user_id': user ids differ from the checkpoint's: ")
    assert "the data is not the data this checkpoint was trained on" in str(error.value)


def test_resuming_on_data_in_another_row_order_is_refused(trained_mind, tmp_path):
    from recbole_mind.training.pipeline import prepare

    data_path = ml100k_copy(trained_mind, tmp_path / "data", shuffle=True)
    config = build_config("MIND", "ml-100k", config_dict={**SLICE, "epochs": 2})
    config["data_path"] = os.path.join(data_path, "ml-100k")  # RecBole's Config fixes ml-100k's
    dataset = prepare(config, build_model=False).dataset
    with pytest.raises(ValueError, match="field 'user_id': user ids differ from the checkpoint's"):
        check_resumable(trained_mind[0], config, dataset)


def test_an_old_checkpoint_without_maps_still_loads(trained_mind, tmp_path, caplog):
    saved = load_checkpoint(trained_mind[0])
    delattr(saved["config"], TOKEN_MAPS_ATTRIBUTE)
    old = tmp_path / "old.pth"
    torch.save(saved, old)
    with caplog.at_level(logging.WARNING):
        model = load_data_and_model(str(old))[1]
    assert all(torch.equal(model.state_dict()[name], value) for name, value in saved["state_dict"].items())
    assert any(f"{old} carries no token <-> id maps" in record.message for record in caplog.records)


# ------------------------------------------------------------------- the fields the model embeds


def feature_checkpoint(data, folder):
    """A MIND checkpoint (untrained) on ``ml100k_feature_data``, as a run writes it."""
    from conftest import build_mind

    path = folder / "MIND-features.pth"
    torch.save({"config": data[0], "state_dict": build_mind(data).state_dict()}, path)
    return path


def ml100k_with_items_shuffled(config, folder):
    """A data_path holding ml-100k's files, the .item rows in another order."""
    target = folder / "ml-100k"
    target.mkdir(parents=True)
    for suffix in ("inter", "user", "item"):
        header, *rows = open(os.path.join(config["data_path"], f"ml-100k.{suffix}"), "rb").read().splitlines()
        if suffix == "item":
            rows = rows[::-1]
        (target / f"ml-100k.{suffix}").write_bytes(b"\n".join([header, *rows]) + b"\n")
    return str(folder)


def test_checkpoints_carry_the_maps_of_the_token_fields_the_model_embeds(ml100k_feature_data):
    config, dataset = ml100k_feature_data[:2]
    maps = getattr(config, TOKEN_MAPS_ATTRIBUTE)
    assert set(maps) == {
        "user", "item", "item feature:class", "item feature:release_year",
        "user profile:age", "user profile:gender", "user profile:occupation",
    }
    np.testing.assert_array_equal(maps["item feature:class"]["tokens"], dataset.field2id_token["class"])


def test_item_features_in_another_row_order_are_refused_by_field(ml100k_feature_data, tmp_path):
    checkpoint = feature_checkpoint(ml100k_feature_data, tmp_path)
    data_path = ml100k_with_items_shuffled(ml100k_feature_data[0], tmp_path / "data")
    with pytest.raises(ValueError) as error:
        load_data_and_model(str(checkpoint), {"data_path": data_path})
    assert str(error.value).startswith(f"{checkpoint}, field 'class': item feature ids differ from the checkpoint's: ")
    # a checkpoint from before feature maps were recorded is checked on its user and item ids only
    saved = load_checkpoint(str(checkpoint))
    maps = getattr(saved["config"], TOKEN_MAPS_ATTRIBUTE)
    setattr(saved["config"], TOKEN_MAPS_ATTRIBUTE, {role: maps[role] for role in ("user", "item")})
    torch.save(saved, checkpoint)
    assert load_data_and_model(str(checkpoint), {"data_path": data_path})[1] is not None

import re

import numpy as np
import pytest

from recbole_mind.serving.users import (
    FIRST_ITEM_ID,
    item_ids_of_rows,
    item_vectors,
    latest_histories,
    rows_of_item_ids,
    user_ids_of,
)


def test_item_rows_and_ids_are_one_map_around_the_padding_id():
    rows = np.arange(5)
    assert item_ids_of_rows(rows).tolist() == [1, 2, 3, 4, 5] and FIRST_ITEM_ID == 1
    assert rows_of_item_ids(item_ids_of_rows(rows)).tolist() == rows.tolist()


def test_item_vectors_are_the_models_catalogue_without_padding(trained_mind):
    _, _, _, model, dataset = trained_mind
    vectors = item_vectors(model)
    assert vectors.shape == (dataset.item_num - 1, model.embedding_size) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], model.item_encoder.all_items()[1].detach().numpy())


def test_latest_histories_are_time_ordered_and_padded(trained_mind):
    _, _, _, model, dataset = trained_mind
    histories = latest_histories(dataset, np.array([1, 2]), model.max_seq_length)
    for row in range(2):
        length = int(histories.item_seq_len[row])
        assert 0 < length <= model.max_seq_length
        assert (histories.item_seq[row, length:] == 0).all() and (histories.item_seq[row, :length] > 0).all()
        assert set(histories.item_seq[row, :length].tolist()) <= set(histories.seen[row].tolist())


def test_unknown_user_tokens_are_named(trained_mind):
    dataset = trained_mind[4]
    with pytest.raises(ValueError, match=r"Unknown user token\(s\) \['no-such-user'\]"):
        user_ids_of(dataset, ["no-such-user"])


@pytest.mark.parametrize("token", ["[PAD]", "no-such-user"])
def test_the_padding_token_and_unknown_users_are_refused_by_name(token):
    from types import SimpleNamespace

    dataset = SimpleNamespace(
        uid_field="user_id", dataset_name="tiny", user_num=3,
        field2token_id={"user_id": {"[PAD]": 0, "u1": 1, "u2": 2}},
        field2id_token={"user_id": ["[PAD]", "u1", "u2"]},
    )
    pattern = rf"Unknown user token\(s\) \['{re.escape(token)}'\] .*'\[PAD\]' is the padding token"
    with pytest.raises(ValueError, match=pattern):
        user_ids_of(dataset, [token])
    assert list(user_ids_of(dataset, ["u2", "u1"])) == [2, 1]


def test_a_single_token_is_one_user_and_an_empty_list_is_refused(in_trained_dir):
    from recbole_mind.serving.export import retrieve_for_users

    checkpoint, _, _, _, dataset = in_trained_dir
    user = next(str(token) for token in dataset.field2id_token[dataset.uid_field][1:] if len(str(token)) > 1)
    assert list(retrieve_for_users(checkpoint, user, n=2)) == [user]
    assert list(user_ids_of(dataset, user)) == [dataset.field2token_id[dataset.uid_field][user]]
    with pytest.raises(ValueError, match=r"no user tokens given \(an empty list\)"):
        retrieve_for_users("not-loaded.pth", [], n=2)  # refused before the checkpoint is read

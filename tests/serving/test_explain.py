import numpy as np

from recbole_mind.serving.explain import explain, item_titles


def test_explanation_weights_sum_per_behaviour_and_padding_never_appears(in_trained_dir):
    checkpoint, _, _, model, dataset = in_trained_dir
    short_user = str(dataset.id2token(dataset.uid_field, 1))
    explanation = explain(checkpoint, short_user, n=5)
    history = explanation["history"]
    assert 0 < len(history) <= model.max_seq_length
    assert all(entry["item"] != "[PAD]" for entry in history)
    assert any(entry["title"] for entry in history)  # ml-100k movie titles
    weights = np.array([interest["routing_weights"] for interest in explanation["interests"]])
    assert weights.shape == (len(explanation["interests"]), len(history))
    assert explanation["routing_softmax_axis"] == "interest"
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-5)  # each behaviour spread over interests
    for interest in explanation["interests"]:
        assert len(interest["retrieves"]) == 5 and len(interest["top_behaviours"]) == 5
        scores = [entry["score"] for entry in interest["retrieves"]]
        assert scores == sorted(scores, reverse=True)


class ItemIdField:
    iid_field = "item_id"


def test_item_titles_honour_the_datasets_field_separator(tmp_path):
    (tmp_path / "shop.item").write_text("item_id:token,name:token_seq\n7,red shoe\n8,blue hat\n")
    config = {"data_path": str(tmp_path), "dataset": "shop", "field_separator": ","}
    assert item_titles(config, ItemIdField()) == {"7": "red shoe", "8": "blue hat"}
    assert item_titles({**config, "dataset": "none"}, ItemIdField()) == {}


def test_item_titles_read_the_file_in_the_datasets_encoding(tmp_path):
    (tmp_path / "films.item").write_bytes("item_id:token\ttitle:token_seq\n7\tLes Misérables\n".encode("latin-1"))
    config = {"data_path": str(tmp_path), "dataset": "films", "field_separator": "\t", "encoding": "latin-1"}
    assert item_titles(config, ItemIdField()) == {"7": "Les Misérables"}

import os

import numpy as np
import pytest

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


def test_a_plot_replaces_a_link_at_its_path_and_a_failed_one_leaves_no_temporary_file(tmp_path):
    from recbole_mind.serving.explain import plot_routing

    explanation = {
        "user": "1", "history": [{"item": "i1", "title": "A"}, {"item": "i2", "title": ""}],
        "interests": [{"interest": 0, "routing_weights": [0.3, 0.7]}, {"interest": 2, "routing_weights": [0.7, 0.3]}],
    }
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    os.symlink(victim, tmp_path / "heat.png")
    plot_routing(explanation, str(tmp_path / "heat.png"))
    assert victim.read_text() == "keep me" and not os.path.islink(tmp_path / "heat.png")
    plot = (tmp_path / "heat.png").read_bytes()
    assert plot.startswith(b"\x89PNG")
    plot_routing(explanation, str(tmp_path / "plots" / "heat"))  # no suffix: PNG, in a new folder
    assert (tmp_path / "plots" / "heat").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="not supported"):
        plot_routing(explanation, str(tmp_path / "heat.unknown"))
    assert sorted(os.listdir(tmp_path)) == ["heat.png", "plots", "victim"]

"""Removed levers (issue 39): old configs and checkpoints at the defaults still load; any other
value, and weights of a removed module, stop with the grid and the commit that has the code."""

import os
import warnings

import pytest
import torch
import yaml

from conftest import REPO_ROOT, build_mind
from recbole_mind.settings.removed import LAST_COMMIT, REMOVED_LEVERS, check_removed_keys, check_removed_weights

NON_DEFAULT = {
    "recency_embedding": True,
    "routing_recency_prior": True,
    "short_term_attention": True,
    "short_term_order_mlp": True,
    "routing_gradient": True,
    "routing_regularization": 0.5,
    "future_targets": 3,
    "hard_negative_beta": 1.0,
}


def test_every_removed_lever_has_a_record_row_and_is_gone_from_the_defaults():
    assert set(NON_DEFAULT) == set(REMOVED_LEVERS)
    with open(os.path.join(REPO_ROOT, "properties", "MIND.yaml"), encoding="utf-8") as file:
        assert not set(yaml.safe_load(file)) & set(REMOVED_LEVERS)
    with open(os.path.join(REPO_ROOT, "docs", "tuning.md"), encoding="utf-8") as file:
        record = file.read()
    table = record[record.index("## Removed levers"):]
    for key in REMOVED_LEVERS:
        assert f"`{key}`" in table, key


@pytest.mark.parametrize("key", sorted(NON_DEFAULT))
def test_a_removed_lever_set_on_stops_the_model_with_its_grid_and_commit(ml100k_data, key):
    lever = REMOVED_LEVERS[key]
    with pytest.raises(ValueError, match=rf"{key}: .* removed .*{lever.grids}.* commit {LAST_COMMIT}"):
        build_mind(ml100k_data, **{key: NON_DEFAULT[key]})


@pytest.mark.parametrize("key", sorted(NON_DEFAULT))
def test_a_removed_lever_at_its_default_is_accepted(ml100k_data, key):
    model = build_mind(ml100k_data, **{key: REMOVED_LEVERS[key].default})
    assert not hasattr(model, key)


@pytest.mark.parametrize("value", ["False", "0", "off"])
def test_a_removed_lever_written_as_a_string_is_not_its_default(value):
    with pytest.raises(ValueError, match="recency_embedding: '.*' sets a lever that was removed"):
        check_removed_keys({"recency_embedding": value})


def test_a_config_file_setting_a_removed_lever_is_named(in_tmp_dir):
    from recbole_mind.training.config import build_config

    (in_tmp_dir / "old.yaml").write_text("interest_num: 4\nfuture_targets: 3\n")
    with pytest.raises(ValueError, match=r"old.yaml: future_targets: 3 sets a lever that was removed .*grid 20"):
        build_config("MIND", "ml-100k", config_file_list=[str(in_tmp_dir / "old.yaml")])
    (in_tmp_dir / "defaults.yaml").write_text("future_targets: 0\nrouting_gradient: False\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even an unknown-key warning
        config = build_config("MIND", "ml-100k", config_file_list=[str(in_tmp_dir / "defaults.yaml")])
    assert config["future_targets"] == 0


def test_the_command_line_setting_a_removed_lever_is_named(capsys, in_tmp_dir):
    from recbole_mind.run.cli import main

    assert main(["--dataset=ml-100k", "--hard_negative_beta=2.0"]) == 2
    assert "the command line: hard_negative_beta: 2.0 sets a lever that was removed" in capsys.readouterr().err


def test_a_checkpoint_with_a_removed_modules_weights_is_named(in_trained_dir, tmp_path):
    from recbole_mind.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(in_trained_dir[0])
    checkpoint["state_dict"]["short_term_order.output"] = torch.zeros(4, 4)
    damaged = tmp_path / "order_mlp.pth"
    torch.save(checkpoint, damaged)
    with pytest.raises(ValueError, match=r"order_mlp.pth holds weights of short_term_order_mlp .*grid 32.*5224e6d"):
        load_checkpoint(str(damaged))


def test_a_checkpoint_holding_the_removed_keys_at_their_defaults_loads_and_resumes_alike(in_trained_dir, tmp_path):
    from recbole_mind.training.checkpoint import changed_keys, load_checkpoint, load_data_and_model

    checkpoint_file, _, _, trained_model, _ = in_trained_dir
    checkpoint = load_checkpoint(checkpoint_file)
    for key, lever in REMOVED_LEVERS.items():  # as every checkpoint of an earlier release holds them
        checkpoint["config"].final_config_dict[key] = lever.default
    older = tmp_path / "older.pth"
    torch.save(checkpoint, older)
    config, model, *_ = load_data_and_model(str(older))
    for name, value in trained_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    fresh = load_checkpoint(checkpoint_file)["config"]
    assert changed_keys(load_checkpoint(str(older))["config"], fresh) == {}


def test_weights_check_ignores_other_modules():
    check_removed_weights(["short_term_weights.weight", "routing.bilinear.weight"], "x")

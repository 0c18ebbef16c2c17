import os

import yaml

from conftest import PRESET, REPO_ROOT


def test_recommended_preset_sets_only_valid_mind_keys(in_tmp_dir):
    from recbole_mind.model.params import read_mind_params
    from recbole_mind.training.config import build_config

    with open(PRESET, encoding="utf-8") as file:
        preset = yaml.safe_load(file)
    with open(os.path.join(REPO_ROOT, "properties", "MIND.yaml"), encoding="utf-8") as file:
        known = set(yaml.safe_load(file))
    assert set(preset) <= known, set(preset) - known
    config = build_config("MIND", "ml-100k", config_file_list=[PRESET])
    params = read_mind_params(config)
    for key, value in preset.items():
        assert config[key] == value, key
    assert params.short_term_window <= config["MAX_ITEM_LIST_LENGTH"]


def test_preset_is_installed_with_the_package():
    from recbole_mind.settings.properties import properties_path

    assert os.path.isfile(properties_path(os.path.join("presets", "MIND-recommended.yaml")))


def test_the_presets_are_named_by_their_packaged_files():
    from recbole_mind.settings.presets import preset_description, preset_file, preset_names
    from recbole_mind.settings.properties import properties_path

    assert "recommended" in preset_names()
    assert os.path.samefile(preset_file("recommended"), PRESET)  # the checkout's file, installed as package data
    assert os.path.dirname(preset_file("recommended")) == properties_path("presets")  # not the current folder
    with open(PRESET, encoding="utf-8") as file:
        assert preset_description("recommended") == file.readline().lstrip("#").strip()


def test_build_config_with_the_preset_by_name_equals_the_preset_file(in_tmp_dir):
    from recbole_mind.training.config import build_config

    by_name = build_config("MIND", "ml-100k", preset="recommended")
    by_file = build_config("MIND", "ml-100k", config_file_list=[PRESET])
    assert by_name.final_config_dict == by_file.final_config_dict

"""The settings table owns every key this package adds (issue 46)."""

import ast
import os
import collections

import pytest
import yaml

from recbole_mind.settings.table import MIND_RECBOLE_DEFAULTS, SETTINGS, defaults_for, owned_by, setting_value

from conftest import REPO_ROOT

PROPERTIES = os.path.join(REPO_ROOT, "properties")


def shipped(name):
    with open(os.path.join(PROPERTIES, name), encoding="utf-8") as file:
        return yaml.safe_load(file)


@pytest.mark.parametrize("name,owner,extra", [
    ("MIND.yaml", "MIND", MIND_RECBOLE_DEFAULTS),
    ("diversity.yaml", "diversity", {}),
    ("protocols/multi_target.yaml", "multi_target", {"multi_target": True}),  # the file selects the protocol
])
def test_the_shipped_yaml_files_show_the_tables_defaults(name, owner, extra):
    expected = {key: setting.default for key, setting in owned_by(owner).items()}
    assert shipped(name) == {**expected, **extra}


def test_every_default_passes_its_own_rule():
    for name, setting in SETTINGS.items():
        assert setting.rule.allows(setting.default), name


@pytest.mark.parametrize("model", ["MIND", "SASRec"])
def test_every_key_of_the_table_has_a_value_once_a_config_is_built(model, in_tmp_dir):
    from recbole_mind.training.config import build_config

    config = build_config(model, "ml-100k")
    expected = {key: value for key, value in defaults_for(model == "MIND").items() if key in SETTINGS}
    assert {key: config[key] for key in expected} == expected
    assert all(key in config for key in expected)
    if model != "MIND":
        # MIND's own keys stay out (some names, such as loss_type, are RecBole's too)
        assert "interest_num" not in config and "routing_times" not in config


def test_a_key_a_mapping_lacks_takes_the_default_and_an_explicit_none_stays():
    assert setting_value({}, "diversity_lambda") == 0.0
    assert setting_value({"diversity_category_field": None}, "diversity_category_field") is None


def test_tuning_asks_the_rules_not_the_messages():
    from recbole_mind.run.tuning import allowed_value_error

    assert allowed_value_error("interest_num", 4) is None
    assert allowed_value_error("interest_num", 0) == "interest_num must be an integer >= 1, got 0"
    assert allowed_value_error("cosine_temperature", 0.005).startswith("cosine_temperature must be 0 (off)")
    assert allowed_value_error("learning_rate", -1.0) == "learning_rate must be a finite number > 0, got -1.0"
    assert allowed_value_error("my_own_key", object()) is None  # no rule: not ours to judge


def private_definitions():
    found = collections.defaultdict(list)
    package = os.path.join(REPO_ROOT, "recbole_mind")
    for folder, _, files in os.walk(package):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                for node in ast.parse(open(path, encoding="utf-8").read()).body:
                    if isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
                        found[node.name].append(os.path.relpath(path, package))
    return found


def test_the_value_helpers_are_written_once():
    # _is_number three times, _get and _bool twice each before the table (issue 46)
    found = private_definitions()
    assert {name: found[name] for name in ("_is_number", "_get", "_bool", "_value", "_number") if found[name]} == {}


def test_a_runs_keys_are_validated_once_and_again_only_when_changed(in_tmp_dir, monkeypatch):
    # read_mind_params ran twice per run before (config build, then the model); the model and
    # evaluation now share the config build's frozen objects
    from recbole_mind.model import params
    from recbole_mind.settings import diversity, table
    from recbole_mind.run.quick_start import run_recbole_mind

    from conftest import SLICE_CONFIG

    calls = {"mind": 0, "diversity": 0}

    def counted(name, reader):
        def read(*args):
            calls[name] += 1
            return reader(*args)
        return read

    mind_reader = counted("mind", params.read_mind_params)
    monkeypatch.setattr("recbole_mind.model.mind.read_mind_params", mind_reader)
    monkeypatch.setattr("recbole_mind.training.config.read_mind_params", mind_reader)
    diversity_reader = counted("diversity", diversity.read_diversity_params)
    monkeypatch.setattr("recbole_mind.settings.prerun.read_diversity_params", diversity_reader)
    monkeypatch.setattr("recbole_mind.diversity.evaluation.read_diversity_params", diversity_reader)
    run_recbole_mind("MIND", "ml-100k", config_dict=SLICE_CONFIG, saved=False)
    assert calls["mind"] == 1
    # evaluation asks for the diversity keys every batch, with the run's metrics and without
    assert calls["diversity"] <= 2

    config = {"interest_num": 3}
    assert table.validated_once(config, params.read_mind_params).interest_num == 3  # a dict: read each time
    from recbole_mind.training.config import build_config

    built = build_config("MIND", "ml-100k", config_dict=SLICE_CONFIG)
    first = table.validated_once(built, params.read_mind_params)
    assert table.validated_once(built, params.read_mind_params) is first
    built["interest_num"] = 0  # changed after the build: checked again
    with pytest.raises(ValueError, match="interest_num must be an integer >= 1"):
        table.validated_once(built, params.read_mind_params)

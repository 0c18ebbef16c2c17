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

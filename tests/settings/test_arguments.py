"""A run's config comes from its arguments only, read as literals (issue 45).

RecBole's ``Config`` passed every ``--key=value`` and every ``config_dict`` string to ``eval()``
and read ``sys.argv`` whoever called it; ``config.build_config`` gives it the values ``cli.main``
parsed instead (``literals.literal_value``) and nothing of the process's command line.
"""

import math
import sys

import pytest

import recbole_mind.run.quick_start as quick_start
from recbole_mind.run.cli import main
from recbole_mind.training.config import build_config
from recbole_mind.settings.keys import command_line_values
from recbole_mind.settings.literals import literal_value

from conftest import FAST_CONFIG, Stop


def payload(path) -> str:
    """Text that, passed to ``eval()``, creates ``path`` (and evaluates to 0)."""
    return f"__import__('os').system('touch {path}')"


@pytest.mark.parametrize("key", ["epochs", "my_own_key", "load_col", "user_inter_num_interval"])
def test_a_command_line_value_that_is_code_is_refused_and_never_run(in_tmp_dir, monkeypatch, capsys, key):
    target = in_tmp_dir / "pwned"
    value = payload(target) if key != "load_col" else "{'inter': " + payload(target) + "}"
    args = [f"--{key}={value}", "--epochs=1"] if key != "epochs" else [f"--{key}={value}"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])  # as the shell
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: --{key}: value " in err and "is not a literal (number, string, list, dict" in err, err
    assert not target.exists()


@pytest.mark.parametrize("key", ["epochs", "my_own_key", "learning_rate"])
def test_a_config_dict_string_that_is_code_is_refused_and_never_run(in_tmp_dir, key):
    target = in_tmp_dir / "pwned"
    with pytest.raises(ValueError, match=rf"config_dict\['{key}'\]: value .* is not a literal"):
        quick_start.run_recbole_mind("MIND", "ml-100k", config_dict={**FAST_CONFIG, key: payload(target)})
    assert not target.exists()


def test_a_search_space_choice_that_is_code_stops_before_the_first_trial(tmp_path):
    from recbole_mind.run.tuning import load_search_space

    space = tmp_path / "space.yaml"
    space.write_text(f'choice:\n  learner: ["adam", "{payload(tmp_path / "pwned")}"]\n')
    with pytest.raises(ValueError, match=r"space.yaml: choice of 'learner': value .* is not a literal"):
        load_search_space(str(space))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "key, text, value",
    [
        ("epochs", "3", 3),
        ("learning_rate", "1e-3", 0.001),
        ("weight_decay", "0.", 0.0),
        ("topk", "[10,20]", [10, 20]),
        ("metrics", "['Recall','NDCG']", ["Recall", "NDCG"]),
        ("load_col", "{'inter': ['user_id', 'item_id']}", {"inter": ["user_id", "item_id"]}),
        ("user_inter_num_interval", "[20,30]", "[20,30]"),  # RecBole parses intervals from the string
        ("item_inter_num_interval", "[1,inf)", "[1,inf)"),
        ("user_inter_num_interval", "(0,10];[20,inf)", "(0,10];[20,inf)"),
        ("show_progress", "false", False),
        ("reproducibility", "True", True),
        ("rm_dup_inter", "None", None),
        ("attention_power", "inf", math.inf),
        ("attention_power", "-inf", -math.inf),
        ("clusters", "[1.0, inf]", [1.0, math.inf]),
        ("valid_metric", "NDCG@10", "NDCG@10"),
        ("checkpoint_dir", "saved/run.1", "saved/run.1"),
        ("data_path", "./data", "./data"),
        ("dataset", "ml-100k", "ml-100k"),
        ("learner", "adam", "adam"),
        ("learner", "'adam'", "adam"),
        ("user_profile_fields", "[age,gender]", "[age,gender]"),  # refused later, with the quoted form
        ("data_path", "'copy(2)'", "copy(2)"),  # quoted: the text, not a call
    ],
)
def test_the_literal_forms_parse(key, text, value):
    assert command_line_values({key: text}) == {key: value}
    if not isinstance(value, str):
        assert literal_value(key, value, "x") == value  # a typed value is kept as it is


def test_nan_is_a_float():
    assert math.isnan(literal_value("attention_power", "nan", "--attention_power"))


def test_command_line_values_keep_their_priority_and_types_in_the_config():
    command_line = command_line_values({
        "epochs": "3", "learning_rate": "2e-3", "topk": "[10,20]", "user_inter_num_interval": "[20,30]",
        "show_progress": "false", "attention_power": "inf", "valid_metric": "NDCG@20",
    })
    config = build_config("MIND", "ml-100k", config_dict={**FAST_CONFIG, "epochs": 9, "learning_rate": 1.0},
                          command_line=command_line)
    assert config["epochs"] == 3 and config["learning_rate"] == 0.002  # above config_dict, as RecBole's
    assert config["topk"] == [10, 20] and config["show_progress"] is False
    assert config["user_inter_num_interval"] == "[20,30]" and config["attention_power"] == math.inf
    assert type(config).__name__ == "Config" and "_load_cmd_line" not in vars(config)  # a plain Config


def test_a_quoted_command_line_text_is_read_once():
    config = build_config("MIND", "ml-100k", config_dict=FAST_CONFIG,
                          command_line=command_line_values({"checkpoint_dir": "'saved(2)'"}))
    assert config["checkpoint_dir"] == "saved(2)"


def test_config_dict_strings_are_read_as_literals():
    config = build_config("MIND", "ml-100k", config_dict={**FAST_CONFIG, "epochs": "4", "topk": "[10]",
                                                          "user_inter_num_interval": "[20,30]"})
    assert config["epochs"] == 4 and config["topk"] == [10] and config["user_inter_num_interval"] == "[20,30]"


def test_the_python_api_does_not_read_the_scripts_command_line(in_tmp_dir, monkeypatch, config_seen):
    target = in_tmp_dir / "pwned"
    monkeypatch.setattr(sys, "argv", ["script.py", "--epochs=7", "--foo=bar", f"--seed={payload(target)}"])
    config = build_config("MIND", "ml-100k", config_dict=FAST_CONFIG)
    assert config["epochs"] != 7 and "foo" not in config and config["seed"] == 2020
    with pytest.raises(Stop):
        quick_start.run_recbole_mind("MIND", "ml-100k", config_dict={**FAST_CONFIG, "epochs": 2})
    assert config_seen[0]["epochs"] == 2 and "foo" not in config_seen[0]
    assert not target.exists()


def test_the_cli_passes_its_own_arguments_not_the_processes(in_tmp_dir, monkeypatch, config_seen):
    monkeypatch.setattr(sys, "argv", ["pytest", "--epochs=7", "--foo=bar"])  # not the CLI's arguments
    with pytest.raises(Stop):
        main(["--epochs=2", "--learning_rate=0.01", "--state=WARNING", "--show_progress=False"])
    config = config_seen[0]
    assert config["epochs"] == 2 and config["learning_rate"] == 0.01 and "foo" not in config


def test_kd_dagfm_s_teacher_which_recbole_evaluates_is_a_network_name_in_every_layer(tmp_path):
    target = tmp_path / "pwned"
    config_file = tmp_path / "kd.yaml"
    config_file.write_text(f'teacher: "{payload(target)}"\n')
    with pytest.raises(ValueError, match="teacher must be CrossNet or CIN"):
        build_config("KD_DAGFM", "ml-100k", config_file_list=[str(config_file)])
    with pytest.raises(ValueError, match="teacher must be CrossNet or CIN"):
        build_config("KD_DAGFM", "ml-100k", config_dict={"teacher": "'os'"})
    assert build_config("KD_DAGFM", "ml-100k", config_dict={"teacher": "CIN"})["teacher"] == "CIN"
    assert not target.exists()


YAML_TAGS = {
    "a function": "learner: !!python/name:os.system\n",
    "an object": "learner: !!python/object/apply:os.system ['touch {marker}']\n",
    "an instance": "learner: !!python/object:collections.OrderedDict {{}}\n",
}


@pytest.mark.parametrize("kind", sorted(YAML_TAGS))
def test_a_yaml_file_builds_plain_data_only(tmp_path, kind):
    # RecBole reads config files with FullLoader, which builds Python objects from tags
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(YAML_TAGS[kind].format(marker=marker), encoding="utf-8")
    with pytest.raises(ValueError, match="evil.yaml is not valid YAML"):
        build_config("MIND", "ml-100k", config_file_list=[str(path)])
    assert not marker.exists()


def test_yaml_keeps_recboles_float_rule_and_checkpoints_name_pyyamls_loader(tmp_path):
    import yaml

    path = tmp_path / "ok.yaml"
    path.write_text("learning_rate: 1e-3\nepochs: 3\n", encoding="utf-8")
    config = build_config("MIND", "ml-100k", config_file_list=[str(path)])
    assert config["learning_rate"] == 0.001 and config["epochs"] == 3
    assert config.yaml_loader is yaml.SafeLoader

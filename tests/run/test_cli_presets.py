"""Presets by name (issue 46): ``--preset=recommended`` and ``preset="recommended"`` load the
packaged YAML from any folder, under the user's files, dict and ``--key=value``; an unknown name
or another model is refused; ``--help`` lists the presets; unknown keys are reported from every
source, and ``--preset`` is not one of them."""

import sys
import warnings

import pytest

import recbole_mind.run.quick_start as quick_start
from recbole_mind.run.cli import build_parser, main
from recbole_mind.training.config import build_config

from conftest import SLICE_CONFIG, Stop, preset_keys

UNKNOWN_KEY = "is read by no RecBole model"


def as_arguments(values: dict) -> list[str]:
    """``--key=value`` arguments for ``values``, lists written without spaces."""
    return [f"--{key}={value!r}".replace(" ", "") for key, value in values.items()]


# the slice, without the keys the preset sets (they would override it)
SLICE_ARGS = as_arguments({key: value for key, value in SLICE_CONFIG.items() if key not in preset_keys()})


def test_the_preset_by_name_trains_from_an_empty_folder(in_tmp_dir, monkeypatch, capsys):
    assert list(in_tmp_dir.iterdir()) == []
    built = []

    def recording(config, *args, **kwargs):
        built.append(config)
        return prepare(config, *args, **kwargs)

    prepare = quick_start.prepare
    monkeypatch.setattr(quick_start, "prepare", recording)
    args = ["--preset=recommended", *SLICE_ARGS]
    monkeypatch.setattr(sys, "argv", ["recbole-mind", *args])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test result: recall@10:" in out and "checkpoint: saved/MIND-" in out
    (config,) = built
    for key, value in preset_keys().items():
        assert config[key] == value, key
    assert config["interest_num"] == 4 and config["MAX_ITEM_LIST_LENGTH"] == 20  # as the YAML says
    assert config["epochs"] == 1


def test_the_python_api_takes_a_preset_by_name(in_tmp_dir, config_seen):
    quiet = {key: value for key, value in SLICE_CONFIG.items() if key not in preset_keys()}
    with pytest.raises(Stop):
        quick_start.run_recbole_mind("MIND", "ml-100k", config_dict=quiet, preset="recommended")
    with pytest.raises(Stop):
        quick_start.run(model="MIND", dataset="ml-100k", config_dict=quiet, preset="recommended")
    configs = [*config_seen, build_config("MIND", "ml-100k", config_dict=quiet, preset="recommended")]
    for config in configs:
        assert {key: config[key] for key in preset_keys()} == preset_keys()
    without = build_config("MIND", "ml-100k", config_dict=quiet)
    assert without["interest_num"] != preset_keys()["interest_num"]  # the preset is not a default


def test_the_preset_sits_under_the_users_files_dict_and_command_line(in_tmp_dir):
    (in_tmp_dir / "mine.yaml").write_text("interest_num: 3\nshort_term_window: 4\ncosine_temperature: 0.5\n")
    config = build_config(
        "MIND", "ml-100k", config_file_list=["mine.yaml"],
        config_dict={"short_term_window": 3, "cosine_temperature": 0.3},
        command_line={"cosine_temperature": 0.1, "state": "WARNING"}, preset="recommended",
    )
    assert config["interest_num"] == 3           # a file over the preset
    assert config["short_term_window"] == 3      # config_dict over the file
    assert config["cosine_temperature"] == 0.1   # the command line over all
    assert config["MAX_ITEM_LIST_LENGTH"] == preset_keys()["MAX_ITEM_LIST_LENGTH"]  # the preset over MIND.yaml


def test_a_key_value_on_the_command_line_wins_over_the_preset(in_tmp_dir, monkeypatch, config_seen):
    args = ["--preset=recommended", "--interest_num=2", "--MAX_ITEM_LIST_LENGTH=10", "--state=WARNING"]
    monkeypatch.setattr(sys, "argv", ["recbole-mind", *args])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=f".*{UNKNOWN_KEY}")  # --preset is a flag, not a key
        with pytest.raises(Stop):
            main(args)
    (config,) = config_seen
    assert config["interest_num"] == 2 and config["MAX_ITEM_LIST_LENGTH"] == 10
    assert config["training_score"] == preset_keys()["training_score"]  # the rest of the preset stays
    assert "preset" not in config.final_config_dict


@pytest.mark.parametrize("args, message", [
    (["--preset=recomended"], "unknown preset 'recomended': did you mean 'recommended'? presets: recommended"),
    (["--preset=fast"], "unknown preset 'fast': presets: recommended"),
    (["--preset=properties/presets/MIND-recommended.yaml"], "a YAML file of your own goes to --config_files"),
    (["--preset=recommended", "--model=SASRec"],
     "preset 'recommended' sets MIND's keys (MIND-recommended.yaml) and the model is SASRec"),
    (["--preset=recommended", "--tune=space.yaml", "--model=SASRec"], "and the model is SASRec"),
])
def test_an_unknown_preset_or_another_model_is_refused_before_any_work(in_tmp_dir, capsys, config_seen,
                                                                       args, message):
    (in_tmp_dir / "space.yaml").write_text("choice:\n  hidden_size: [32]\n")
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert config_seen == [] and sorted(path.name for path in in_tmp_dir.iterdir()) == ["space.yaml"]


def test_the_api_refuses_an_unknown_preset_and_another_model(in_tmp_dir, capsys, config_seen):
    with pytest.raises(ValueError, match=r"unknown preset 'recomended': did you mean 'recommended'\? presets: "):
        build_config("MIND", "ml-100k", preset="recomended")
    with pytest.raises(ValueError, match="sets MIND's keys .* and the model is SASRec"):
        quick_start.run_recbole_mind("SASRec", "ml-100k", preset="recommended")
    with pytest.raises(ValueError, match="and the model is SASRec"):
        quick_start.run(model="SASRec", preset="recommended")
    (in_tmp_dir / "sasrec.yaml").write_text("model: SASRec\n")  # a config file's model, no --model
    assert main(["--preset=recommended", "--config_files=sasrec.yaml"]) == 2
    assert "and the model is SASRec" in capsys.readouterr().err
    assert config_seen == []


@pytest.mark.parametrize("where", ["config_dict", "file", "command line file"])
def test_preset_as_a_config_key_points_to_the_flag(in_tmp_dir, capsys, where):
    (in_tmp_dir / "mine.yaml").write_text("preset: recommended\n")
    message = "preset is not a config key: give it as --preset=recommended"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # refused, not first warned about as an unknown key
        if where == "command line file":
            assert main(["--config_files=mine.yaml"]) == 2
            assert f"error: mine.yaml: {message}" in capsys.readouterr().err
            return
        with pytest.raises(ValueError, match=message):
            if where == "file":
                build_config("MIND", "ml-100k", config_file_list=["mine.yaml"])
            else:
                build_config("MIND", "ml-100k", config_dict={"preset": "recommended"})


def test_help_lists_the_presets_with_their_one_line_description():
    import os

    from recbole_mind.settings.presets import preset_file

    with open(preset_file("recommended"), encoding="utf-8") as file:
        first_comment = file.readline().lstrip("#").strip()
    text = build_parser("recbole-mind").format_help()
    assert "--preset NAME" in text
    (line,) = [line for line in text.splitlines() if line.strip().startswith("recommended ")]
    assert line.split(None, 1)[1] == first_comment and first_comment
    assert os.path.basename(preset_file("recommended")) == "MIND-recommended.yaml"


def test_a_search_with_a_preset_puts_it_under_the_searched_keys(in_tmp_dir, monkeypatch, config_seen, capsys):
    import recbole_mind.run.cli as cli

    (in_tmp_dir / "space.yaml").write_text("choice:\n  interest_num: [3]\n")

    def one_trial(objective, space, output, config_files, algo, max_evals):
        with pytest.raises(Stop):
            objective({"interest_num": 3}, config_files)
        return {"trials": [{"params": {"interest_num": 3}, "best_valid_score": 0.5}],
                "best_valid_score": 0.5, "best_params": {"interest_num": 3}}

    monkeypatch.setattr(cli, "tune", one_trial)
    assert main(["--preset=recommended", "--tune=space.yaml", "--state=WARNING"]) == 0
    (config,) = config_seen
    assert config["interest_num"] == 3  # searched, over the preset's 4
    assert config["MAX_ITEM_LIST_LENGTH"] == preset_keys()["MAX_ITEM_LIST_LENGTH"]
    assert "run it with --preset=recommended --config_files=space.best.yaml" in capsys.readouterr().out


def test_an_unknown_key_is_reported_from_the_command_line_a_file_and_config_dict(in_tmp_dir, monkeypatch,
                                                                                 config_seen):
    monkeypatch.setattr(sys, "argv", ["recbole-mind", "--my_key=1"])
    with pytest.warns(UserWarning, match=f"the command line: key 'my_key' {UNKNOWN_KEY}"):
        with pytest.raises(Stop):
            main(["--my_key=1", "--state=WARNING"])
    (in_tmp_dir / "mine.yaml").write_text("my_key: 1\n")
    with pytest.warns(UserWarning, match=f"mine.yaml: key 'my_key' {UNKNOWN_KEY}"):
        build_config("MIND", "ml-100k", config_file_list=["mine.yaml"], config_dict={"state": "WARNING"})
    with pytest.warns(UserWarning, match=f"config_dict: key 'my_key' {UNKNOWN_KEY}"):
        build_config("MIND", "ml-100k", config_dict={"my_key": 1, "state": "WARNING"})

import os
import subprocess
import sys

import pytest
import yaml

from recbole_mind.training.config import build_config
from recbole_mind.run.quick_start import run_recbole_mind
from recbole_mind.run.tuning import load_search_space, tune

from conftest import REPO_ROOT, TINY


def write(tmp_path, text, name="space.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_shipped_mind_space_is_valid():
    space = load_search_space(os.path.join(REPO_ROOT, "properties", "hyper", "MIND.yaml"))
    assert "interest_num" in space["choice"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("choice: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("gaussian:\n  learning_rate: [0, 1]\n", "unknown distribution 'gaussian'"),
        ("choice:\n  interest_num: []\n", "choice of 'interest_num' must be a non-empty list"),
        ("uniform:\n  dropout_prob: [0.3, 0.1]\n", "uniform of 'dropout_prob' must be [low, high]"),
        ("loguniform:\n  learning_rate: [-8]\n", "loguniform of 'learning_rate' must be [low, high]"),
        ("quniform:\n  x: [0, 4, 0]\n", "q > 0"),
        ("choice:\n  interest_num: [1, 2]\nuniform:\n  interest_num: [1, 2]\n", "more than one distribution"),
        ("choice: 3\n", "'choice' must map config keys to values"),
    ],
)
def test_bad_space_file_is_named_with_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        load_search_space(path)
    assert path in str(error.value) and message in str(error.value)


def test_missing_space_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_search_space(str(tmp_path / "nope.yaml"))


def test_two_trials_end_to_end_write_a_loadable_best_config(in_tmp_dir):
    space = write(in_tmp_dir, "choice:\n  interest_num: [1, 3]\n  attention_power: [1.0, .inf]\n")
    seen = []

    def objective(config_dict, config_file_list):
        seen.append(dict(config_dict))
        result = run_recbole_mind("MIND", "ml-100k", config_file_list, {**TINY, "user_inter_num_interval": "[20,30]", **config_dict})
        return {**result, "model": "MIND"}

    outcome = tune(objective, space, "best.yaml", algo="random", max_evals=2)
    assert len(seen) == 2 and len(outcome["trials"]) == 2
    best = yaml.safe_load(open("best.yaml"))
    assert set(best) == {"interest_num", "attention_power"}
    assert best["interest_num"] in (1, 3)
    scores = [trial["best_valid_score"] for trial in outcome["trials"]]
    assert outcome["best_valid_score"] == max(scores)
    config = build_config("MIND", "ml-100k", config_file_list=["best.yaml"])
    assert config["interest_num"] == best["interest_num"]


def fake_objective(calls):
    """Scores a trial without training: the search logic alone is under test."""

    def objective(config_dict, config_file_list):
        calls.append(dict(config_dict))
        score = config_dict["a"] * 10 + config_dict["b"]
        return {"best_valid_score": score, "valid_score_bigger": True,
                "best_valid_result": {}, "test_result": {}, "model": "fake"}

    return objective


def test_exhaustive_search_visits_every_grid_point_once(tmp_path):
    space = write(tmp_path, "choice:\n  a: [1, 2, 3]\n  b: [5, 0]\n")
    calls = []
    outcome = tune(fake_objective(calls), space, str(tmp_path / "best.yaml"), algo="exhaustive", max_evals=1)
    assert sorted((c["a"], c["b"]) for c in calls) == [(a, b) for a in (1, 2, 3) for b in (0, 5)]
    assert outcome["best_params"] == {"a": 3, "b": 5}
    assert yaml.safe_load(open(tmp_path / "best.yaml")) == {"a": 3, "b": 5}


def test_exhaustive_search_needs_a_grid(tmp_path):
    space = write(tmp_path, "choice:\n  a: [1, 2]\nuniform:\n  b: [0, 1]\n")
    with pytest.raises(ValueError, match="exhaustive search needs a grid"):
        tune(fake_objective([]), space, str(tmp_path / "best.yaml"), algo="exhaustive")


def test_search_is_reproducible_with_its_seed(tmp_path):
    space = write(tmp_path, "choice:\n  a: [1, 2, 3, 4]\nuniform:\n  b: [0, 1]\n")
    runs = []
    for _ in range(2):
        calls = []
        tune(fake_objective(calls), space, str(tmp_path / "best.yaml"), algo="random", max_evals=3, seed=7)
        runs.append(calls)
    assert runs[0] == runs[1]


def test_cli_refuses_a_key_both_searched_and_fixed(tmp_path):
    space = write(tmp_path, "choice:\n  interest_num: [1, 3]\n")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_recbole_mind.py"), f"--tune={space}", "--interest_num=2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0
    assert "interest_num set on the command line and searched in" in done.stderr


def test_cli_rejects_bad_space_file(tmp_path):
    space = write(tmp_path, "gaussian:\n  x: [0, 1]\n")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_recbole_mind.py"), f"--tune={space}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0 and "unknown distribution 'gaussian'" in done.stderr


def test_a_cli_search_scores_the_validation_split_only(tmp_path):
    # issue 16: no test evaluation inside a search (RecBole's HyperTuning prints test_result)
    space = write(tmp_path, "choice:\n  interest_num: [1, 2]\n")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_recbole_mind.py"), f"--tune={space}",
         "--tune_algo=exhaustive", "--epochs=1", "--MAX_ITEM_LIST_LENGTH=10", "--state=ERROR",
         "--show_progress=False", "--user_inter_num_interval=[20,30]"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not evaluated (validation-only run" in done.stdout
    assert "ndcg@10" in done.stdout  # validation results are printed
    assert "best valid score:" in done.stdout and (tmp_path / "space.best.yaml").is_file()
    assert not list(tmp_path.glob("saved/*.pth"))  # no checkpoint per trial


@pytest.mark.parametrize(
    "text, message",
    [
        ("uniform:\n  dropout_prob: [0.0, 1.05]\n",
         "uniform of 'dropout_prob' can draw 1.05, which dropout_prob does not allow: dropout_prob must be"),
        ("uniform:\n  learning_rate: [-0.1, 0.01]\n", "learning_rate must be a finite number > 0, got -0.1"),
        ("choice:\n  dropout_prob: [0.1, 1.5]\n", "choice of 'dropout_prob' can draw 1.5"),
        ("uniform:\n  embedding_size: [32, 128]\n",
         "uniform of 'embedding_size' draws floats (e.g. 32.0) and embedding_size takes integers"),
        ("quniform:\n  interest_num: [1, 8, 1]\n", "quniform of 'interest_num' draws floats"),
        ("loguniform:\n  learning_rate: [0.0001, 0.01]\n",
         "loguniform of 'learning_rate' takes natural-log bounds, so [0.0001, 0.01] draws 1 .. 1.01"),
        ("loguniform:\n  dropout_prob: [-5, 0.5]\n", "loguniform of 'dropout_prob' can draw 1.6487"),
    ],
)
def test_a_space_drawing_a_value_its_key_refuses_stops_before_the_first_trial(tmp_path, text, message):
    space = write(tmp_path, text)
    calls = []
    with pytest.raises(ValueError) as error:
        tune(fake_objective(calls), space, str(tmp_path / "best.yaml"), algo="random", max_evals=3)
    assert message in str(error.value) and space in str(error.value)
    assert calls == []


def test_the_shipped_space_draws_only_allowed_values():
    from recbole_mind.run.tuning import check_drawn_values

    path = os.path.join(REPO_ROOT, "properties", "hyper", "MIND.yaml")
    check_drawn_values(path, load_search_space(path))


def test_a_failing_trial_keeps_the_trials_finished_before_it(tmp_path):
    space = write(tmp_path, "choice:\n  a: [1, 2, 3]\n  b: [5, 0]\n")
    output = tmp_path / "best.yaml"
    calls = []
    scored = fake_objective(calls)

    def third_fails(config_dict, config_file_list):
        if len(calls) == 2:
            raise RuntimeError("out of memory in trial 3")
        return scored(config_dict, config_file_list)

    with pytest.raises(RuntimeError, match="trial 3"):
        tune(third_fails, space, str(output), algo="exhaustive")
    text = output.read_text()
    assert "Best of 2 finished trials" in text and text.count("\n#   ") == 2
    best = max(calls, key=lambda c: c["a"] * 10 + c["b"])
    assert yaml.safe_load(text) == best


def test_tune_output_in_a_missing_folder_is_created(tmp_path):
    space = write(tmp_path, "choice:\n  a: [1, 2]\n  b: [0]\n")
    output = tmp_path / "new" / "deeper" / "best.yaml"
    tune(fake_objective([]), space, str(output), algo="exhaustive")
    assert yaml.safe_load(output.read_text()) == {"a": 2, "b": 0}


@pytest.mark.parametrize("kind", ["folder", "under_a_file", "unwritable"])
def test_a_bad_tune_output_is_named_before_the_first_trial(tmp_path, kind):
    space = write(tmp_path, "choice:\n  a: [1, 2]\n  b: [0]\n")
    (tmp_path / "a_file").write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    output, message = {
        "folder": (tmp_path, "is a folder, not a file"),
        "under_a_file": (tmp_path / "a_file" / "best.yaml", "is a file, so no file can be made under it"),
        "unwritable": (locked / "best.yaml", "cannot write in"),
    }[kind]
    if kind == "unwritable":
        if os.geteuid() == 0:
            pytest.skip("root writes to any folder")
        locked.chmod(0o500)
    calls = []
    with pytest.raises(ValueError) as error:
        tune(fake_objective(calls), space, str(output), algo="exhaustive")
    assert str(output) in str(error.value) and message in str(error.value)
    assert calls == []


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--nproc", "2"], "cannot honour --nproc: drop it"),
        (["--resume", "x.pth"], "cannot honour --resume: drop it"),
        (["--tune_output", "."], "--tune_output . is a folder"),
    ],
)
def test_cli_search_refuses_flags_it_would_ignore(tmp_path, monkeypatch, capsys, flags, message):
    from recbole_mind.run.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.pth").write_bytes(b"")
    space = write(tmp_path, "choice:\n  interest_num: [1, 3]\n")
    args = [f"--tune={space}", *flags]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_a_tune_output_onto_the_space_or_a_config_file_is_refused_before_the_first_trial(tmp_path, monkeypatch):
    space = write(tmp_path, "choice:\n  a: [1, 2]\n  b: [0]\n")
    fixed = write(tmp_path, "epochs: 1\n", name="fixed.yaml")
    os.symlink(space, tmp_path / "link.yaml")
    monkeypatch.chdir(tmp_path)
    for output, config_files in [(space, None), ("space.yaml", None), (str(tmp_path / "link.yaml"), None),
                                 (f"{tmp_path}/../{tmp_path.name}/fixed.yaml", [fixed])]:
        calls = []
        with pytest.raises(ValueError, match=r"^tune output: .* is an input of this command"):
            tune(fake_objective(calls), space, output, config_files, algo="exhaustive")
        assert calls == []
    assert open(space).read() == "choice:\n  a: [1, 2]\n  b: [0]\n" and open(fixed).read() == "epochs: 1\n"


def test_cli_refuses_a_tune_output_onto_its_space_file(tmp_path, monkeypatch, capsys):
    from recbole_mind.run.cli import main

    monkeypatch.chdir(tmp_path)
    space = write(tmp_path, "choice:\n  interest_num: [1, 3]\n")
    args = [f"--tune={space}", "--tune_output=space.yaml"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "error: --tune_output: space.yaml is an input of this command" in error
    assert open(space).read() == "choice:\n  interest_num: [1, 3]\n"


def test_a_link_at_the_old_temporary_name_is_not_written_through(tmp_path):
    space = write(tmp_path, "choice:\n  a: [1, 2]\n  b: [0]\n")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    os.symlink(victim, tmp_path / "best.yaml.partial")
    tune(fake_objective([]), space, str(tmp_path / "best.yaml"), algo="exhaustive")
    assert victim.read_text() == "keep me" and yaml.safe_load(open(tmp_path / "best.yaml")) == {"a": 2, "b": 0}
    assert sorted(os.listdir(tmp_path)) == ["best.yaml", "best.yaml.partial", "space.yaml", "victim"]

import os
import shutil
import subprocess
import sys

import pytest

from recbole_mind.run.cli import main

from conftest import REPO_ROOT, run_cli


def test_cli_trains_one_epoch_and_prints_test_result(tmp_path):
    done = run_cli(
        ["--epochs=1", "--MAX_ITEM_LIST_LENGTH=10", "--show_progress=False", "--state=WARNING"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("test result:")]
    assert len(lines) == 1 and "ndcg@10" in lines[0]
    assert "protocol: RecBole's eval_args split" in done.stdout
    saved = list((tmp_path / "saved").glob("MIND-*.pth"))
    assert len(saved) == 1 and f"checkpoint: saved/{saved[0].name}" in done.stdout.splitlines()


def test_cli_bad_key_value_exits_non_zero_naming_the_key(tmp_path):
    done = run_cli(["--interest_num=0"], tmp_path)
    assert done.returncode != 0
    assert "interest_num must be an integer >= 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_unknown_model_lists_models(tmp_path):
    done = run_cli(["--model=NoSuchModel"], tmp_path)
    assert done.returncode != 0
    assert "Unknown model 'NoSuchModel'" in done.stderr and "SASRec" in done.stderr


def test_cli_help_lists_flags(tmp_path):
    done = run_cli(["--help"], tmp_path)
    assert done.returncode == 0
    for flag in ("--model", "--dataset", "--config_files"):
        assert flag in done.stdout


MIND_KEYS = ("embedding_size = 128", "interest_num = 2", "routing_times = 3", "attention_power = inf",
             "loss_type = CE", "user_profile_fields = []", "diversity_lambda = 0.0", "multi_target_topk = [20, 50]")


def test_python_dash_m_help_lists_flags_and_mind_keys_with_defaults(tmp_path):
    done = subprocess.run([sys.executable, "-m", "recbole_mind", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": REPO_ROOT})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: python -m recbole_mind")
    for text in ("--model", "--config_files", "--tune", *MIND_KEYS):
        assert text in done.stdout
    from recbole_mind.settings.table import SETTINGS

    assert [name for name in SETTINGS if f"    {name} = " not in done.stdout] == []  # the table, whole


def test_console_script_is_installed_and_lists_mind_keys(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "recbole-mind")
    assert os.path.isfile(script), "pip install -e . installs the recbole-mind console script"
    done = subprocess.run([script, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for text in ("--model", *MIND_KEYS):
        assert text in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epoch=1"], "the command line: unknown key 'epoch'; did you mean 'epochs'"),
        (["--interest_nums=4"], "did you mean 'interest_num'"),
        (["--tune_max_eval=3"], "did you mean 'tune_max_evals'"),  # no silent abbreviation
        (["--epochs", "5"], "unexpected argument '--epochs': config keys are given as --key=value"),
        (["stray"], "unexpected argument 'stray'"),
        (["--load_col=a=b"], "with a single '='"),
        (["--epochs=1", "--epochs=2"], "--epochs is given twice, as '1' and '2'"),
        (["--topk=ten"], "the command line: topk must be an integer >= 1"),
        (["--metrics=['Recal']"], "metrics has no metric 'Recal'. Did you mean 'Recall'"),
        (["--MAX_ITEM_LIST_LENGTH=2.5"], "MAX_ITEM_LIST_LENGTH must be an integer >= 1, got 2.5"),
        (["--seed=abc"], "seed must be an integer in [0, 2**32), got 'abc'"),
        (["--nproc", "2", "--world_size", "1"], "--world_size must be -1 (= nproc) or at least --nproc (2)"),
        (["--nproc", "2", "--port", "99999"], "--port must be an integer in [1, 65535], got '99999'"),
        (["--resume", "no/such.pth"], "--resume: checkpoint not found: no/such.pth"),
        (["--model=MIMD"], "Unknown model 'MIMD'. Did you mean 'MIND'"),
        (["--dataset=../x"], "dataset must be a plain name such as ml-100k, got '../x'"),
        (["--dataset=a/b"], "dataset must be a plain name"),
        (["--data_path=" + os.path.abspath(__file__)], "is a file: point it at the folder that holds ml-100k/ml-100k.inter"),
        (["--config_files=" + os.path.dirname(os.path.abspath(__file__))], "is a folder: give the YAML files in it"),
    ],
)
def test_cli_odd_arguments_stop_before_any_work_without_traceback(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])  # as the shell: RecBole's Config reads it
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written: no log/, no saved/


SLICE_ARGS = ["--MAX_ITEM_LIST_LENGTH=10", "--show_progress=False", "--state=WARNING",
              "--user_inter_num_interval=[20,30]"]


def test_ctrl_c_during_training_says_where_the_checkpoint_is_and_how_to_resume(tmp_path, monkeypatch, capsys):
    from recbole.trainer import Trainer

    train_epoch, epochs_begun = Trainer._train_epoch, []

    def second_epoch_interrupted(self, *args, **kwargs):
        epochs_begun.append(1)
        if len(epochs_begun) == 2:
            raise KeyboardInterrupt
        return train_epoch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", second_epoch_interrupted)
    monkeypatch.chdir(tmp_path)
    args = ["--epochs=3", *SLICE_ARGS]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    (saved,) = (tmp_path / "saved").glob("MIND-*.pth")
    path = os.path.join("saved", saved.name)
    assert err[-1] == (f"interrupted during training: the last checkpoint is {path} (epoch 0, the best so far); "
                       f"continue it with --resume={path} and the same keys")


def test_model_and_dataset_in_a_config_file_are_not_overridden_by_the_flags_defaults(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "mine.yaml"
    config.write_text("model: MIMD\nepochs: 1\nMAX_ITEM_LIST_LENGTH: 10\nshow_progress: False\n"
                      "state: WARNING\nuser_inter_num_interval: '[20,30]'\n")
    args = [f"--config_files={config}"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2  # the file's model, not --model's default MIND
    assert "Unknown model 'MIMD'. Did you mean 'MIND'" in capsys.readouterr().err


def test_dataset_and_data_path_in_a_config_file_are_used(tmp_path, monkeypatch, capsys):
    from recbole_mind.training.checkpoint import load_checkpoint
    from recbole_mind.training.config import build_config

    bundled = build_config("MIND", "ml-100k")["data_path"]
    (tmp_path / "data" / "mine").mkdir(parents=True)
    shutil.copy(os.path.join(bundled, "ml-100k.inter"), tmp_path / "data" / "mine" / "mine.inter")
    config = tmp_path / "mine.yaml"
    config.write_text(f"dataset: mine\ndata_path: {tmp_path / 'data'}\nepochs: 1\nMAX_ITEM_LIST_LENGTH: 10\n"
                      "show_progress: False\nstate: WARNING\nuser_inter_num_interval: '[20,30]'\n")
    monkeypatch.chdir(tmp_path)
    args = [f"--config_files={config}"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 0, capsys.readouterr().err
    (checkpoint,) = (tmp_path / "saved").glob("MIND-*.pth")
    saved = load_checkpoint(str(checkpoint))["config"]
    assert saved["dataset"] == "mine" and saved["data_path"] == os.path.join(str(tmp_path / "data"), "mine")


def test_a_data_path_holding_the_users_own_ml100k_is_used(tmp_path):
    from recbole_mind.training.config import build_config

    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "ml-100k.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n")
    config = build_config("MIND", "ml-100k", config_dict={"data_path": str(tmp_path)})
    assert config["data_path"] == os.path.join(str(tmp_path), "ml-100k")  # not RecBole's bundled copy


def test_a_data_path_without_ml100k_warns_that_the_bundled_copy_is_used(tmp_path):
    from recbole_mind.training.config import build_config

    with pytest.warns(UserWarning, match=f"data_path {tmp_path} holds no ml-100k/ml-100k.inter"):
        config = build_config("MIND", "ml-100k", config_dict={"data_path": str(tmp_path)})
    assert not config["data_path"].startswith(str(tmp_path))


@pytest.mark.parametrize("args, asked", [(["--gpu_id=0"], "gpu_id=0"), (["--device=cuda"], "device='cuda'")])
def test_asking_for_a_gpu_without_one_is_refused(tmp_path, monkeypatch, capsys, args, asked):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    args = [*args, "--epochs=1", *SLICE_ARGS]  # without the check: a quick run on the CPU
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{asked} asks for a GPU, and torch finds none" in err and "use_gpu=False" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user_profile_fields=[age,", "gender]"],
         "'--user_profile_fields=[age, gender]' reached the program split at its spaces: write a list without "
         "spaces, names quoted, e.g. --user_profile_fields=\"['age','gender']\""),
        (["--user_profile_fields=[age,gender]"],
         "on the command line quote the names: --user_profile_fields=\"['age','gender']\""),
    ],
)
def test_a_list_written_as_in_yaml_shows_the_command_line_form(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_the_help_shows_how_to_write_a_list(tmp_path):
    from recbole_mind.run.cli import build_parser

    assert "--user_profile_fields=\"['age','gender']\"" in build_parser().format_help().replace("\n", " ")

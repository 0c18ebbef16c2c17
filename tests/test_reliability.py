"""Long-run dependability: determinism, resuming, corrupt checkpoints, bad YAML, distributed training."""

import os
import re
import subprocess
import sys

import pytest

from recbole_mind import run_recbole_mind
from recbole_mind.training.checkpoint import load_checkpoint, load_data_and_model
from recbole_mind.training.config import build_config

from conftest import REPO_ROOT, SLICE_CONFIG, free_port

SLICE = {**SLICE_CONFIG, "interest_num": 4}


def test_same_seed_gives_identical_metrics_and_another_seed_differs(in_tmp_dir):
    first = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE, "seed": 7}, saved=False)
    again = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE, "seed": 7}, saved=False)
    other = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE, "seed": 8}, saved=False)
    assert dict(first["test_result"]) == dict(again["test_result"])
    assert first["best_valid_score"] == again["best_valid_score"]
    assert dict(first["test_result"]) != dict(other["test_result"])


def test_resume_continues_from_the_saved_epoch(in_tmp_dir):
    first = run_recbole_mind("MIND", "ml-100k", config_dict=SLICE)
    assert load_checkpoint(first["checkpoint"])["epoch"] == 0
    resumed = run_recbole_mind(
        "MIND", "ml-100k", config_dict={**SLICE, "epochs": 3},
        resume_checkpoint=first["checkpoint"],
    )
    assert len(resumed["train_epoch_seconds"]) == 2  # epochs 1 and 2; epoch 0 came from the checkpoint
    assert load_checkpoint(resumed["checkpoint"])["epoch"] in (1, 2)  # best of the resumed epochs


def test_resume_refuses_a_checkpoint_of_another_dataset_or_a_corrupt_one(in_tmp_dir):
    first = run_recbole_mind("MIND", "ml-100k", config_dict=SLICE)
    data = open(first["checkpoint"], "rb").read()
    truncated = in_tmp_dir / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="Cannot read checkpoint .*truncated.pth .*truncated or corrupt"):
        run_recbole_mind("MIND", "ml-100k", config_dict=SLICE, resume_checkpoint=str(truncated))
    with pytest.raises(ValueError, match="Cannot read checkpoint"):
        load_data_and_model(str(truncated))
    not_a_checkpoint = in_tmp_dir / "weights.pth"
    import torch

    torch.save({"weights": torch.zeros(2)}, not_a_checkpoint)
    with pytest.raises(ValueError, match="is not a RecBole checkpoint"):
        load_checkpoint(str(not_a_checkpoint))
    with pytest.raises(ValueError, match="was trained with model='MIND'; this run has model='GRU4Rec'"):
        run_recbole_mind("GRU4Rec", "ml-100k", config_dict={**SLICE, "hidden_size": 8},
                         resume_checkpoint=first["checkpoint"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("interest_num: [4\n", "is not valid YAML"),
        ("- interest_num\n- 4\n", "must hold 'key: value' lines, got a list"),
        ("", "holds no keys"),
        ("epoch: 1\n", "unknown key 'epoch'; did you mean 'epochs'"),
        ("MAX_ITEM_LIST_LENGTH: 0\n", "MAX_ITEM_LIST_LENGTH must be an integer >= 1, got 0"),
        ("metrics: [Recal]\n", "metrics has no metric 'Recal'"),
        ("topk: ten\n", "topk must be an integer >= 1"),
    ],
)
def test_bad_yaml_file_is_named(tmp_path, content, message):
    path = tmp_path / "mine.yaml"
    path.write_text(content)
    with pytest.raises(ValueError) as error:
        build_config("MIND", "ml-100k", config_file_list=[str(path)])
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_binary_file_given_as_yaml_is_named(tmp_path):
    path = tmp_path / "picture.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ValueError) as error:
        build_config("MIND", "ml-100k", config_file_list=[str(path)])
    assert str(path) in str(error.value) and "is not a UTF-8 text (YAML) file" in str(error.value)


def test_distributed_training_on_cpu_with_two_processes(tmp_path):
    overrides = [f"--{key}={value}" for key, value in SLICE.items()]
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_recbole_mind.py"), "--nproc", "2",
         "--port", str(free_port()), *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("test result:")]
    assert len(lines) == 1 and "ndcg@10" in lines[0]
    ndcg = float(lines[0].split("ndcg@10:")[1].split(",")[0])
    assert 0 < ndcg < 1
    assert len(list((tmp_path / "saved").glob("MIND-*.pth"))) == 1  # only rank 0 saves


def run_cli_in_process(monkeypatch, args):
    """cli.main as the shell runs it: RecBole's Config reads --key=value from sys.argv itself."""
    from recbole_mind.run.cli import main

    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    return main(args)


TINY_RUN = ["--epochs=1", "--state=ERROR", "--show_progress=False", "--MAX_ITEM_LIST_LENGTH=5"]


def test_generated_dataset_runs_with_the_command_the_generator_prints(in_tmp_dir, monkeypatch, capsys):
    # issue 13, item 1: no load_col given, so the files' own columns (timestamp too) are loaded
    from recbole_mind.data.synthetic import main as synthetic_main

    assert synthetic_main(["synth", "--users", "60", "--items", "100", "--interactions", "1200",
                           "--clusters", "4", "--interests_per_user", "2"]) == 0
    assert "--dataset=synthetic --data_path=synth" in capsys.readouterr().out
    assert run_cli_in_process(monkeypatch, ["--dataset=synthetic", "--data_path=synth", *TINY_RUN]) == 0
    assert "test result: recall@10:" in capsys.readouterr().out
    checkpoint = next((in_tmp_dir / "saved").glob("MIND-*.pth"))

    # issue 13, item 3: a resumed run in which no epoch beats the checkpoint's best score
    import torch

    saved = load_checkpoint(str(checkpoint))
    saved["best_valid_score"] = float("inf")
    unbeatable = in_tmp_dir / "unbeatable.pth"
    torch.save(saved, unbeatable)
    args = ["--dataset=synthetic", "--data_path=synth", f"--resume={unbeatable}", *TINY_RUN]
    args[args.index("--epochs=1")] = "--epochs=2"
    before = unbeatable.read_bytes()
    assert run_cli_in_process(monkeypatch, args) == 0
    output = capsys.readouterr().out
    assert "best valid: no resumed epoch beat the checkpoint's best valid score" in output
    assert "test result: recall@10:" in output
    # issue 45: the resumed checkpoint is only read; the run names its own, complete, file
    assert unbeatable.read_bytes() == before
    line = next(line for line in output.splitlines() if line.startswith("checkpoint: "))
    assert line.endswith(f"(a copy of its weights: no resumed epoch beat them); resumed from {unbeatable}, "
                         "left unchanged")
    assert load_checkpoint(line.split()[1])["best_valid_score"] == float("inf")


@pytest.mark.parametrize("protocol_files, message", [
    ([], r"the train, valid and test splits are empty .*30 interactions of 30 users .*at least 4 interactions for a sequential model"),
    (["--config_files=properties/protocols/multi_target.yaml"],
     r"the train split is empty \(train 0 samples\); the 24 train users hold 24 interactions"),
])
def test_a_dataset_too_small_to_split_names_the_empty_split(in_tmp_dir, monkeypatch, capsys, protocol_files, message):
    # One interaction per user: RecBole would stop in torch's sampler with "num_samples=0".
    from recbole_mind.data.synthetic import main as synthetic_main

    assert synthetic_main(["synth", "--users", "30", "--items", "200", "--interactions", "30"]) == 0
    capsys.readouterr()
    if protocol_files:
        os.symlink(os.path.join(REPO_ROOT, "properties"), in_tmp_dir / "properties")
    assert run_cli_in_process(monkeypatch, ["--dataset=synthetic", "--data_path=synth", *protocol_files, *TINY_RUN]) == 2
    error = capsys.readouterr().err
    assert re.search(f"error: dataset 'synthetic': {message}", error), error
    assert "num_samples" not in error

"""Checking a checkpoint before resuming from it: a run must have epochs left to train."""

import pytest
import torch

from recbole_mind import run_recbole_mind
from recbole_mind.training.checkpoint import check_resumable, load_checkpoint
from recbole_mind.training.config import build_config

from conftest import SLICE_CONFIG, file_sha256

SLICE = {**SLICE_CONFIG, "interest_num": 4}  # the trained_mind fixture's run


@pytest.mark.parametrize(
    "saved_epoch, epochs, trained",
    [(0, 1, 1), (4, 5, 5), (4, 3, 5), (0, 2, None), (4, 6, None), (-1, 1, None)],
)
def test_resuming_needs_epochs_beyond_those_the_checkpoint_trained(trained_mind, tmp_path, saved_epoch, epochs,
                                                                   trained):
    saved = load_checkpoint(trained_mind[0])
    saved["epoch"] = saved_epoch  # RecBole resumes at saved_epoch + 1
    path = tmp_path / "saved.pth"
    torch.save(saved, path)
    config = build_config("MIND", "ml-100k", config_dict={**SLICE, "epochs": epochs})
    if trained is None:
        check_resumable(str(path), config)
        return
    with pytest.raises(ValueError) as error:
        check_resumable(str(path), config)
    message = str(error.value)
    assert message.startswith(f"{path} holds {trained} trained epoch")
    assert f"this run has epochs={epochs}: no epoch would be left to train" in message
    assert message.endswith(f"set epochs > {trained} to continue it")


def test_a_run_resuming_beyond_its_budget_stops_before_training(trained_mind, in_tmp_dir):
    # trained_mind trained one epoch (saved as epoch 0): epochs=1 leaves none
    with pytest.raises(ValueError, match="holds 1 trained epoch and this run has epochs=1"):
        run_recbole_mind("MIND", "ml-100k", config_dict=SLICE, resume_checkpoint=trained_mind[0])
    assert load_checkpoint(trained_mind[0])["epoch"] == 0  # not re-saved as epoch -1
    assert not (in_tmp_dir / "saved").exists() or not any((in_tmp_dir / "saved").iterdir())


def test_a_checkpoint_written_before_newer_keys_loads_with_them_off(in_trained_dir, tmp_path):
    from recbole_mind.training.checkpoint import load_data_and_model

    checkpoint_file, _, _, trained_model, _ = in_trained_dir
    checkpoint = load_checkpoint(checkpoint_file)
    for key in ("cosine_temperature", "short_term_loss_weight"):  # keys an earlier release lacked
        del checkpoint["config"].final_config_dict[key]
    older = tmp_path / "older.pth"
    torch.save(checkpoint, older)
    config, model, *_ = load_data_and_model(str(older))
    assert config["cosine_temperature"] == 0 and config["short_term_loss_weight"] == 0
    for name, value in trained_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_resuming_with_another_architecture_is_refused_by_name(trained_mind):
    # without the check RecBole fails inside load_state_dict with a size-mismatch traceback
    config = build_config("MIND", "ml-100k", config_dict={**SLICE, "epochs": 2, "embedding_size": 64})
    with pytest.raises(ValueError) as error:
        check_resumable(trained_mind[0], config)
    message = str(error.value)
    assert message.startswith(f"{trained_mind[0]} cannot resume with changed embedding_size")
    assert "embedding_size 128 -> 64" in message and "without --resume" in message


def test_resuming_with_another_valid_metric_is_refused(trained_mind):
    config = build_config("MIND", "ml-100k",
                          config_dict={**SLICE, "epochs": 2, "valid_metric": "Recall@10"})
    with pytest.raises(ValueError, match="cannot resume with changed valid_metric"):
        check_resumable(trained_mind[0], config)


def test_a_resumed_run_trains_with_its_own_learning_rate_and_says_what_changed(trained_mind, in_tmp_dir, caplog):
    from recbole_mind.training.checkpoint import resume_training
    from recbole_mind.training.pipeline import build_trainer, prepare

    config = build_config("MIND", "ml-100k", config_dict={**SLICE, "epochs": 3, "learning_rate": 0.01})
    dataset, _, _, _, model = prepare(config)
    trainer = build_trainer(config, model)
    assert check_resumable(trained_mind[0], config) == {"epochs": (1, 3), "learning_rate": (0.001, 0.01)}
    resume_training(trainer, trained_mind[0], config, dataset)
    # RecBole restores the checkpoint's optimizer state, whose step size was 0.001
    assert [group["lr"] for group in trainer.optimizer.param_groups] == [0.01]
    assert "changed keys (checkpoint -> this run): epochs 1 -> 3, learning_rate 0.001 -> 0.01" in caplog.text


def _resumable_copy(trained_mind, folder, best_valid_score: float) -> str:
    """The trained checkpoint saved anew with another best score, so that a resumed epoch surely
    beats it (-inf) or surely does not (inf)."""
    saved = load_checkpoint(trained_mind[0])
    saved["best_valid_score"] = best_valid_score
    path = str(folder / f"resumed-from-{best_valid_score}.pth")
    torch.save(saved, path)
    return path


def test_a_resumed_run_saves_its_better_epochs_to_a_new_file_and_leaves_the_checkpoint_as_it_was(
        trained_mind, in_tmp_dir):
    original = _resumable_copy(trained_mind, in_tmp_dir, float("-inf"))
    before = file_sha256(original)
    result = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE, "epochs": 2}, resume_checkpoint=original)
    assert result["best_valid_result"] is not None  # the resumed epoch beat -inf, and was saved
    assert file_sha256(original) == before
    assert result["resumed_from"] == original and result["checkpoint"] != original
    assert load_checkpoint(result["checkpoint"])["epoch"] == 1


def test_a_resumed_run_no_epoch_of_which_is_better_still_names_a_complete_new_file(trained_mind, in_tmp_dir):
    original = _resumable_copy(trained_mind, in_tmp_dir, float("inf"))
    before = file_sha256(original)
    result = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE, "epochs": 2}, resume_checkpoint=original)
    assert result["best_valid_result"] is None
    assert file_sha256(original) == before
    assert result["checkpoint"] != original
    copy, resumed = load_checkpoint(result["checkpoint"]), load_checkpoint(original)
    assert copy["epoch"] == resumed["epoch"] and copy["best_valid_score"] == float("inf")
    assert all(torch.equal(copy["state_dict"][name], value) for name, value in resumed["state_dict"].items())

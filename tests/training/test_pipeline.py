"""recbole_mind.training.pipeline: the splits prepare builds, and what an empty one says."""

import pytest

from recbole_mind.training.config import build_config
from recbole_mind.training.pipeline import EmptySplitError, prepare


def write_users(root, name, interactions_each, users=5, items=12):
    """``users`` users with ``interactions_each`` interactions each, in time order."""
    folder = root / "data" / name
    folder.mkdir(parents=True)
    rows = "".join(f"u{user}\ti{(user + step) % items}\t{100 * user + step}\n"
                   for user in range(users) for step in range(interactions_each))
    (folder / f"{name}.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + rows)


@pytest.mark.parametrize("model, minimum", [("MIND", 4), ("BPR", 3)])
def test_leave_one_out_states_the_true_minimum_of_interactions_per_user(in_tmp_dir, model, minimum):
    leave_one_out = {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"}
    for each in (minimum - 1, minimum):
        write_users(in_tmp_dir, f"n{each}", each)
    config = build_config(model, f"n{minimum}", config_dict={"data_path": "data", "state": "ERROR",
                                                             "eval_args": leave_one_out})
    _, train, valid, test, _ = prepare(config, build_model=False)
    assert (len(train._dataset), len(valid._dataset), len(test._dataset)) == (5, 5, 5)  # enough
    short = build_config(model, f"n{minimum - 1}", config_dict={"data_path": "data", "state": "ERROR",
                                                                "eval_args": leave_one_out})
    with pytest.raises(EmptySplitError) as error:
        prepare(short, build_model=False)
    message = str(error.value)
    assert "the valid split is empty (train 5, valid 0, test 5 samples)" in message, message
    assert f"leave-one-out needs users with at least {minimum} interactions" in message
    assert "5 of 5 users have fewer" in message and f"[{minimum},inf)" in message


def test_topk_beyond_the_catalogue_is_refused_before_any_epoch(in_tmp_dir, monkeypatch):
    from recbole.trainer import Trainer

    from recbole_mind import run_recbole_mind

    write_users(in_tmp_dir, "tiny", 8, users=30, items=20)  # 20 items
    monkeypatch.setattr(Trainer, "_train_epoch", lambda *args, **kwargs: pytest.fail("an epoch ran"))
    keys = {"data_path": "data", "state": "ERROR", "show_progress": False, "epochs": 1,
            "topk": [10, 50], "valid_metric": "NDCG@10"}
    with pytest.raises(ValueError, match=r"^topk \[10, 50\] asks for 50 items but dataset tiny has 20 items: "
                                         r"use topk <= 20$"):
        run_recbole_mind("MIND", "tiny", config_dict=keys)
    # the whole catalogue (padding excluded) is a list RecBole can rank
    config = build_config("MIND", "tiny", config_dict={**keys, "topk": [20], "valid_metric": "NDCG@20"})
    assert prepare(config).dataset.item_num == 21


def test_the_command_line_reports_topk_beyond_the_catalogue(in_tmp_dir, monkeypatch, capsys):
    import sys

    from recbole_mind.run.cli import main

    write_users(in_tmp_dir, "tiny", 8, users=30, items=20)
    args = ["--dataset=tiny", "--data_path=data", "--state=ERROR", "--show_progress=False", "--topk=[10,2000]"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])
    assert main(args) == 2
    assert "error: topk [10, 2000] asks for 2000 items but dataset tiny has 20 items" in capsys.readouterr().err

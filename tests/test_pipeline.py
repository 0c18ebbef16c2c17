"""recbole_mind.pipeline: the splits prepare builds, and what an empty one says."""

import pytest

from recbole_mind.config import build_config
from recbole_mind.pipeline import EmptySplitError, prepare


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

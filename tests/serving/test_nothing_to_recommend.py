"""Users with nothing to recommend are told so: no history, or every item seen with exclude_seen."""

import os

import numpy as np
import pytest

from recbole_mind.serving.cli import main
from recbole_mind.serving.explain import explain
from recbole_mind.serving.export import export_vectors, load_vectors, retrieve_for_users
from recbole_mind.serving.users import NO_HISTORY_NOTE

ITEMS = 30


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A MIND trained one epoch on generated data where user 'all' has seen every item, 'ghost'
    is in the .user file only and every interaction of 'fell' is removed by the rating filter."""
    from recbole_mind.run.quick_start import run_recbole_mind

    run_dir = tmp_path_factory.mktemp("tiny_run")
    folder = run_dir / "data" / "tiny"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(30):
        for step, item in enumerate(rng.choice(ITEMS, int(rng.integers(6, 15)), replace=False)):
            lines.append(f"u{user}\ti{item}\t4\t{1000 * user + step}")
    lines += [f"all\ti{item}\t5\t{item}" for item in range(ITEMS)]
    lines += [f"fell\ti{item}\t1\t{item}" for item in range(5)]
    (folder / "tiny.inter").write_text("\n".join(lines) + "\n")
    users = [f"u{user}" for user in range(30)] + ["all", "fell", "ghost"]
    (folder / "tiny.user").write_text("user_id:token\tage:float\n" + "".join(f"{user}\t30\n" for user in users))
    old_cwd = os.getcwd()
    os.chdir(run_dir)
    try:
        result = run_recbole_mind("MIND", "tiny", config_dict={
            "data_path": str(run_dir / "data"), "MAX_ITEM_LIST_LENGTH": 20, "interest_num": 4, "epochs": 1,
            "embedding_size": 16, "metrics": ["Recall"], "topk": [5], "valid_metric": "Recall@5",
            "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"], "user": ["user_id", "age"]},
            "val_interval": {"rating": "[3,5]"}, "show_progress": False, "state": "ERROR",
        })
    finally:
        os.chdir(old_cwd)
    return os.path.abspath(os.path.join(run_dir, result["checkpoint"]))


def test_users_without_history_or_unseen_items_get_a_note_not_a_list(tiny_checkpoint):
    found = retrieve_for_users(tiny_checkpoint, ["u1", "all", "fell", "ghost"], n=5, exclude_seen=True)
    assert len(found["u1"]) == 5 and found["u1"].note is None
    assert found["all"] == [] and found["all"].note == f"no items left to recommend: all {ITEMS} items are already seen"
    for user in ("fell", "ghost"):  # known to the dataset, no interaction left: no arbitrary list
        assert found[user] == [] and found[user].note == NO_HISTORY_NOTE
    for kind in ("ivf", "hnsw"):
        assert retrieve_for_users(tiny_checkpoint, ["ghost"], n=5, index_kind=kind)["ghost"] == []
    without_exclusion = retrieve_for_users(tiny_checkpoint, ["all", "ghost"], n=5)
    assert len(without_exclusion["all"]) == 5 and without_exclusion["ghost"].note == NO_HISTORY_NOTE


def test_the_command_line_says_why_a_user_has_no_or_fewer_items(tiny_checkpoint, capsys):
    assert main(["retrieve", tiny_checkpoint, "--users", "u1", "all", "ghost", "--n", "5", "--exclude_seen"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("u1: ") and lines[0].count("(") == 5
    assert lines[1] == f"all: no items left to recommend: all {ITEMS} items are already seen"
    assert lines[2] == f"ghost: {NO_HISTORY_NOTE}"
    assert main(["retrieve", tiny_checkpoint, "--users", "u1", "--n", str(ITEMS + 2)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f" -- only {ITEMS} items in the catalogue")


def test_export_marks_users_without_history(tiny_checkpoint, tmp_path):
    export_vectors(tiny_checkpoint, str(tmp_path), ["u1", "ghost", "all", "fell"])
    vectors = load_vectors(str(tmp_path))
    assert vectors["users"].tolist() == ["u1", "ghost", "all", "fell"]
    assert vectors["has_history"].tolist() == [True, False, True, False]
    assert set(vectors["user_tokens"]) == {"u1", "all"}  # no interest rows made of padding alone


def test_explain_says_a_user_has_no_history(tiny_checkpoint, capsys, tmp_path):
    explained = explain(tiny_checkpoint, "ghost")
    assert explained["history"] == [] and explained["interests"] == [] and explained["note"] == NO_HISTORY_NOTE
    assert explain(tiny_checkpoint, "u1")["note"] is None
    assert main(["explain", tiny_checkpoint, "--user", "ghost", "--plot", str(tmp_path / "ghost.png")]) == 2
    captured = capsys.readouterr()
    assert NO_HISTORY_NOTE in captured.out and captured.err.startswith("error: no routing weights to plot")

"""``python -m recbole_mind.retrieval retrieve --diversity_lambda --category_field`` on a tiny
checkpoint trained with ml-100k's genres (``class``) loaded."""

import os

import pytest

from conftest import SLICE_CONFIG

LOAD_CLASS = {"load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"], "item": ["item_id", "class"]}}


@pytest.fixture(scope="module")
def genre_checkpoint(tmp_path_factory):
    """(checkpoint, run folder, a user token) of MIND (4 interests), one epoch, genres loaded."""
    from recbole_mind.run.quick_start import run_recbole_mind

    run_dir = tmp_path_factory.mktemp("genre_mind")
    old_cwd = os.getcwd()
    os.chdir(run_dir)
    try:
        result = run_recbole_mind("MIND", "ml-100k", config_dict={**SLICE_CONFIG, **LOAD_CLASS, "interest_num": 4})
        checkpoint = os.path.abspath(result["checkpoint"])
    finally:
        os.chdir(old_cwd)
    return checkpoint, run_dir


def lists(output: str) -> dict[str, list[str]]:
    found = {}
    for line in output.strip().splitlines():
        user, items = line.split(": ", 1)
        found[user] = [entry.split(" (")[0] for entry in items.split(", ")]
    return found


def test_retrieve_with_diversity_from_the_command_line(genre_checkpoint, monkeypatch, capsys):
    from recbole_mind.serving.cli import main

    checkpoint, run_dir = genre_checkpoint
    monkeypatch.chdir(run_dir)
    users = ["--users", "166", "50", "--n", "5", "--exclude_seen"]
    assert main(["retrieve", checkpoint, *users]) == 0
    plain = lists(capsys.readouterr().out)
    assert main(["retrieve", checkpoint, *users, "--diversity_lambda", "0", "--category_field", "class"]) == 0
    assert lists(capsys.readouterr().out) == plain  # lambda 0: today's lists
    assert main(["retrieve", checkpoint, *users, "--diversity_lambda", "5", "--category_field", "class"]) == 0
    diverse = lists(capsys.readouterr().out)
    assert set(diverse) == {"166", "50"} and all(len(items) == 5 == len(set(items)) for items in diverse.values())
    assert all(diverse[user][0] == plain[user][0] for user in plain)  # the best item first
    assert diverse != plain


def test_genre_counts_grow_with_lambda(genre_checkpoint, monkeypatch):
    from recbole_mind.serving.export import retrieve_for_users
    from recbole_mind.serving.users import load_mind

    checkpoint, run_dir = genre_checkpoint
    monkeypatch.chdir(run_dir)
    _, _, dataset = load_mind(checkpoint)
    genres = dataset.get_item_feature()["class"]

    def distinct_genres(found):
        ids = [dataset.token2id(dataset.iid_field, item) for items in found.values() for item, _ in items]
        return len(set(genres[ids].flatten().tolist()) - {0})

    users = [str(token) for token in dataset.id2token(dataset.uid_field, list(range(1, 11)))]
    plain = retrieve_for_users(checkpoint, users, n=10)
    diverse = retrieve_for_users(checkpoint, users, n=10, diversity_lambda=10.0, category_field="class")
    per_user = [
        len(set(genres[[dataset.token2id(dataset.iid_field, item) for item, _ in found[user]]].flatten().tolist()) - {0})
        for found in (plain, diverse) for user in users
    ]
    assert sum(per_user[len(users):]) > sum(per_user[: len(users)])
    assert distinct_genres(diverse) >= distinct_genres(plain)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--diversity_lambda", "-1", "--category_field", "class"], "diversity_lambda must be a finite number >= 0"),
        (["--diversity_lambda", "1"], "needs category_field (--category_field)"),
        (["--diversity_lambda", "1", "--category_field", "clas"],
         "category_field 'clas' is no item field of dataset 'ml-100k'; token or token_seq item fields loaded: ['class']"),
        (["--diversity_lambda", "1", "--category_field", "release_year"],
         "category_field 'release_year' is in ml-100k.item but was not loaded"),
    ],
)
def test_bad_diversity_arguments_are_refused(genre_checkpoint, monkeypatch, capsys, args, message):
    from recbole_mind.serving.cli import main

    checkpoint, run_dir = genre_checkpoint
    monkeypatch.chdir(run_dir)
    assert main(["retrieve", checkpoint, "--users", "166", *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error

import collections
import filecmp
import os

import pytest
from recbole.data import create_dataset

from recbole_mind.data.synthetic import main, write_multi_interest_dataset
from recbole_mind.training.config import build_config

SMALL = dict(n_users=50, n_items=200, n_interactions=1000, n_clusters=8, interests_per_user=3)


def read(folder, name, suffix):
    lines = open(f"{folder}/{name}.{suffix}", encoding="utf-8").read().splitlines()
    return [line.split("\t") for line in lines[1:]]


def test_each_user_mixes_exactly_its_interests(tmp_path):
    folder = write_multi_interest_dataset(str(tmp_path), **SMALL, seed=1)
    cluster = dict(read(folder, "synthetic", "item"))
    assert len(cluster) == 200 and len(set(cluster.values())) == 8
    inter = read(folder, "synthetic", "inter")
    assert len(inter) == 1000
    clusters_of_user = collections.defaultdict(set)
    for user, item, _ in inter:
        clusters_of_user[user].add(cluster[item])
    assert len(clusters_of_user) == 50
    assert all(len(clusters) == 3 for clusters in clusters_of_user.values())


def test_popular_items_lead_their_cluster(tmp_path):
    folder = write_multi_interest_dataset(str(tmp_path), **{**SMALL, "n_interactions": 20_000}, seed=2)
    counts = collections.Counter(item for _, item, _ in read(folder, "synthetic", "inter"))
    # rank 1 of cluster 0 (item i0) is drawn far more often than rank 20 (item i19)
    assert counts["i0"] > 5 * counts["i19"]


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    first = write_multi_interest_dataset(str(tmp_path / "a"), **SMALL, seed=3)
    second = write_multi_interest_dataset(str(tmp_path / "b"), **SMALL, seed=3)
    third = write_multi_interest_dataset(str(tmp_path / "c"), **SMALL, seed=4)
    assert filecmp.cmp(f"{first}/synthetic.inter", f"{second}/synthetic.inter", shallow=False)
    assert not filecmp.cmp(f"{first}/synthetic.inter", f"{third}/synthetic.inter", shallow=False)


def test_recbole_reads_the_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_multi_interest_dataset(str(tmp_path / "data"), **SMALL)
    config = build_config("MIND", "synthetic", config_dict={
        "data_path": str(tmp_path / "data"), "state": "WARNING",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "cluster"]},
    })
    dataset = create_dataset(config)
    assert dataset.user_num == 51 and dataset.inter_num == 1000  # ids + padding


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"n_users": 0}, "--users must be an integer >= 1, got 0"),
        ({"n_items": -5}, "--items must be an integer >= 1, got -5"),
        ({"n_clusters": 300}, "--clusters 300 must not exceed --items 200"),
        ({"interests_per_user": 9}, "--interests_per_user 9 must not exceed --clusters 8"),
        ({"seed": -1}, "--seed must be an integer >= 0, got -1"),
    ],
)
def test_bad_arguments_are_named(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        write_multi_interest_dataset(str(tmp_path), **{**SMALL, **overrides})


def test_cli_writes_and_reports_errors(tmp_path, capsys):
    assert main([str(tmp_path), "--users", "5", "--items", "20", "--interactions", "40", "--clusters", "4",
                 "--interests_per_user", "2"]) == 0
    assert (tmp_path / "synthetic" / "synthetic.inter").exists()
    assert main([str(tmp_path), "--clusters", "0"]) == 2
    assert "error: --clusters must be an integer >= 1, got 0\n" == capsys.readouterr().err


def test_stickiness_keeps_consecutive_interactions_in_one_interest(tmp_path):
    def same_cluster_share(stickiness):
        folder = write_multi_interest_dataset(
            str(tmp_path / str(stickiness)), **{**SMALL, "n_interactions": 5000}, seed=4, stickiness=stickiness
        )
        cluster = dict(read(folder, "synthetic", "item"))
        inter = read(folder, "synthetic", "inter")
        pairs = [(a, b) for a, b in zip(inter, inter[1:]) if a[0] == b[0]]
        return sum(cluster[a[1]] == cluster[b[1]] for a, b in pairs) / len(pairs)

    # independent draws among 3 interests: about 1/3 of consecutive pairs share one
    assert abs(same_cluster_share(0.0) - 1 / 3) < 0.05
    assert abs(same_cluster_share(0.8) - (0.8 + 0.2 / 3)) < 0.05


@pytest.mark.parametrize("stickiness", [-0.1, 1.0, "high"])
def test_bad_stickiness_is_named(tmp_path, stickiness):
    with pytest.raises(ValueError, match="--stickiness must be a number in"):
        write_multi_interest_dataset(str(tmp_path), **SMALL, stickiness=stickiness)
@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_a_name_that_is_not_a_plain_folder_name_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="name must be a plain dataset name"):
        write_multi_interest_dataset(str(tmp_path), name=name, **SMALL)
    assert not list(tmp_path.iterdir())


def test_cli_output_folder_blocked_by_a_file_writes_nothing(tmp_path, capsys):
    (tmp_path / "out").write_text("")
    assert main([str(tmp_path / "out"), "--users", "5", "--items", "20", "--interactions", "40",
                 "--clusters", "4", "--interests_per_user", "2"]) == 2
    assert "error:" in capsys.readouterr().err and (tmp_path / "out").read_text() == ""


def test_an_interrupted_write_leaves_no_partial_files(tmp_path, monkeypatch):
    import builtins

    real_open = builtins.open

    def failing_open(path, mode="r", *args, **kwargs):
        if ".synthetic.item." in str(path) and str(path).endswith(".part"):
            raise KeyboardInterrupt  # Ctrl-C after the .inter file was written
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing_open)
    with pytest.raises(KeyboardInterrupt):
        write_multi_interest_dataset(str(tmp_path / "out"), **SMALL)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("users, interactions, present", [(60, 30, 30), (1000, 1001, 501), (3, 4, 2)])
def test_counts_that_leave_users_without_interactions_are_refused(tmp_path, capsys, users, interactions, present):
    # users take ceil(interactions / users) each, in order: the last users would be missing from the files
    assert main([str(tmp_path), "--users", str(users), "--interactions", str(interactions), "--items", "20",
                 "--clusters", "4", "--interests_per_user", "2"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --interactions {interactions} gives the users ") and error.count("\n") == 1
    assert f"enough for only {present} of --users {users}: give a multiple of --users" in error
    assert not list(tmp_path.iterdir())


def test_cli_messages_name_the_flags_not_the_keywords(tmp_path, capsys):
    for flags, message in [
        (["--items", "-3"], "--items must be an integer >= 1, got -3"),
        (["--users", "0"], "--users must be an integer >= 1, got 0"),
        (["--interactions", "0"], "--interactions must be an integer >= 1, got 0"),
        (["--items", "10", "--clusters", "11"], "--clusters 11 must not exceed --items 10"),
        (["--clusters", "3", "--interests_per_user", "4"], "--interests_per_user 4 must not exceed --clusters 3"),
    ]:
        assert main([str(tmp_path), *flags]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: {message}") and "n_" not in error, error


def test_a_link_at_the_old_temporary_name_is_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    target = tmp_path / "out" / "synthetic"
    target.mkdir(parents=True)
    for name in ("synthetic.inter.part", "synthetic.item.part"):
        os.symlink(victim, target / name)
    write_multi_interest_dataset(str(tmp_path / "out"), **SMALL)
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(target)) == [
        "synthetic.inter", "synthetic.inter.part", "synthetic.item", "synthetic.item.part"
    ]

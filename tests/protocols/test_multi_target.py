import math
import os
import warnings

import numpy as np
import pytest
import torch

from recbole_mind import run_recbole_mind
from recbole_mind.training.config import build_config
from recbole_mind.protocols.multi_target import evaluate_held_out_users, prepare_multi_target
from recbole_mind.settings.protocol import PROTOCOL_FILE, read_multi_target_params
from recbole_mind.protocols.targets import (
    build_held_out_users,
    history_length,
    multi_target_metrics,
    rank_catalogue,
    split_users,
)
from recbole_mind.settings.properties import properties_path

from conftest import QUIET, REPO_ROOT, file_sha256, tiny_config

# The file users pass on the command line, from a checkout.
PROTOCOL_YAML = os.path.join(REPO_ROOT, "properties", "protocols", "multi_target.yaml")


def log2_discount(rank: int) -> float:
    return 1 / math.log2(rank + 1)


# ------------------------------------------------------------------ metrics computed by hand


def test_metrics_match_a_hand_computation():
    ranked = np.array([[5, 3, 9, 2], [1, 4, 6, 8]])
    targets = [np.array([3, 2, 7]), np.array([8])]
    result = multi_target_metrics(ranked, targets, topk=[2, 4])

    # User A: hits at ranks 2 and 4 of its 3 targets; user B: its 1 target at rank 4.
    recall_2 = (1 / 3 + 0) / 2
    recall_4 = (2 / 3 + 1) / 2
    ndcg_a_2 = log2_discount(2) / (log2_discount(1) + log2_discount(2))
    ndcg_a_4 = (log2_discount(2) + log2_discount(4)) / (log2_discount(1) + log2_discount(2) + log2_discount(3))
    ndcg_b_4 = log2_discount(4) / log2_discount(1)
    assert list(result) == ["recall@2", "recall@4", "ndcg@2", "ndcg@4", "hitrate@2", "hitrate@4"]
    assert result["recall@2"] == pytest.approx(recall_2)
    assert result["recall@4"] == pytest.approx(recall_4)
    assert result["ndcg@2"] == pytest.approx(ndcg_a_2 / 2)
    assert result["ndcg@4"] == pytest.approx((ndcg_a_4 + ndcg_b_4) / 2)
    assert result["hitrate@2"] == pytest.approx(0.5)
    assert result["hitrate@4"] == pytest.approx(1.0)


def test_history_and_targets_of_a_hand_built_user_table():
    sequences = {
        1: np.array([10, 11, 12, 13, 14]),  # 4 history items (80% of 5), 1 target
        2: np.array([1, 2, 1, 3, 2]),  # history [1, 2, 1]; target 2 is in the history: only 3
        3: np.array([7]),  # no room for a history and a target
        4: np.array([5, 6, 5, 6, 5]),  # every later item already in the history
    }
    users = build_held_out_users(sequences, [1, 2, 3, 4], history_ratio=0.8, max_item_list_length=3,
                                 exclude_history=True)
    # user 2: history [1, 2, 1, 3] (4 of 5), its one later item (2) is in it: no target left
    assert users.user_ids.tolist() == [1]
    assert users.skipped_users == 3
    assert users.histories[0].tolist() == [10, 11, 12, 13]
    assert users.targets[0].tolist() == [14]
    assert users.item_seq.tolist() == [[11, 12, 13]] and users.item_seq_len.tolist() == [3]
    # with a 0.6 ratio, user 2's history is [1, 2, 1] and its targets [3] (2 is in the history)
    users = build_held_out_users(sequences, [2], history_ratio=0.6, max_item_list_length=3, exclude_history=True)
    assert users.histories[0].tolist() == [1, 2, 1]
    assert users.targets[0].tolist() == [3]
    kept_twice = build_held_out_users(sequences, [2], 0.6, 3, exclude_history=False)
    assert kept_twice.targets[0].tolist() == [3, 2]  # distinct, in order of first appearance
    # the model sees the most recent items, left-aligned and 0-padded, as RecBole's item_id_list
    long_history = build_held_out_users({9: np.arange(1, 11)}, [9], 0.8, 3, True)
    assert long_history.item_seq.tolist() == [[6, 7, 8]]
    assert long_history.item_seq_len.tolist() == [3]
    assert long_history.targets[0].tolist() == [9, 10]
    short_history = build_held_out_users({9: np.array([4, 5, 6])}, [9], 0.8, 3, True)
    assert short_history.item_seq.tolist() == [[4, 5, 0]] and short_history.item_seq_len.tolist() == [2]


def test_user_4_with_all_targets_in_history_is_skipped():
    users = build_held_out_users({4: np.array([5, 6, 5, 6, 5])}, [4], 0.6, 3, exclude_history=True)
    assert len(users) == 0 and users.skipped_users == 1


def test_history_length_keeps_a_history_and_a_target():
    assert history_length(10, 0.8) == 8
    assert history_length(5, 0.8) == 4
    assert history_length(2, 0.8) == 1
    assert history_length(2, 0.1) == 1
    assert history_length(3, 0.99) == 2


# --------------------------------------------------------------------- scorers on a catalogue


def held_out_table(n_users=2000, n_items=1000, history=8, future=4, seed=0):
    rng = np.random.default_rng(seed)
    sequences = {
        user: rng.choice(np.arange(1, n_items), size=history + future, replace=False) for user in range(n_users)
    }
    ratio = (history + 0.5) / (history + future)  # floor(n * ratio) == history, whatever the rounding
    return build_held_out_users(sequences, list(sequences), ratio, 5, exclude_history=True)


def oracle_scorer(users, n_items, history_bonus=0.0):
    """Scores 1 for the targets of each user and ``history_bonus`` for its history items."""
    rows = {int(user): row for row, user in enumerate(users.user_ids)}

    def scorer(interaction):
        user_ids = interaction["user_id"].tolist()
        scores = torch.zeros(len(user_ids), n_items)
        for batch_row, user in enumerate(user_ids):
            row = rows[user]
            scores[batch_row, torch.as_tensor(users.histories[row])] = history_bonus
            scores[batch_row, torch.as_tensor(users.targets[row])] = 1.0
        return scores

    return scorer


def test_a_scorer_that_knows_the_targets_scores_one():
    users = held_out_table(n_users=50, n_items=200)
    params = read_multi_target_params({"seed": 1})
    result = evaluate_held_out_users(oracle_scorer(users, 200), users, 200, params, batch_size=16)
    assert result == pytest.approx({f"{m}@{n}": 1.0 for m in ("recall", "ndcg", "hitrate") for n in (20, 50)})


def test_history_items_are_excluded_from_the_ranking():
    users = held_out_table(n_users=50, n_items=200, history=30, future=4)
    n_items = 200
    scorer = oracle_scorer(users, n_items, history_bonus=2.0)  # history ranked above the targets
    excluded = rank_catalogue(scorer, users, n_items, 50, batch_size=16, exclude_history=True)
    for row, history in zip(excluded, users.histories):
        assert not np.isin(row, history).any()
        assert 0 not in row  # nor the padding id
    params = read_multi_target_params({"seed": 1})
    assert evaluate_held_out_users(scorer, users, n_items, params, 16)["recall@20"] == pytest.approx(1.0)
    ranked_with_history = rank_catalogue(scorer, users, n_items, 50, batch_size=16, exclude_history=False)
    # 30 history items outrank the targets: none of them reaches the top 20
    assert multi_target_metrics(ranked_with_history, users.targets, [20])["recall@20"] == 0.0


def crafted_users(histories):
    """Held-out users 1.. with these histories (targets and inputs do not matter to the ranking)."""
    return build_held_out_users({user: np.r_[history, 99] for user, history in enumerate(histories, start=1)},
                                list(range(1, len(histories) + 1)), 0.99, 4, exclude_history=True)


def test_the_top_n_never_holds_the_padding_or_a_history_item_whatever_their_scores():
    # 10 items (ids 1..10); user 1 had items 1, 2, 3 (3 twice), user 2 item 4
    users = crafted_users([[1, 2, 3, 3], [4]])
    assert [h.tolist() for h in users.histories] == [[1, 2, 3, 3], [4]]
    n_items = 11
    scores = torch.tensor([
        # padding and history on top; candidates 8..10 at -inf and NaN, tied with the excluded
        [1e9, 1e8, torch.inf, 1e7, 5, 4, 3, 2, -torch.inf, torch.nan, -torch.inf],
        [torch.inf, 1, 2, 3, 1e9, 6, 7, 8, 9, 10, -torch.inf],
    ])

    def unmasking(batch, masked):  # a re-ranker that puts excluded items back on top
        return torch.where(torch.isfinite(masked), masked, 1e12)

    for rerank in (None, unmasking):
        # 7 candidates for user 1 (10 items less 3 distinct history items): all of them, no more
        ranked = rank_catalogue(lambda batch: scores, users, n_items, 7, batch_size=2, rerank=rerank)
        assert sorted(ranked[0].tolist()) == [4, 5, 6, 7, 8, 9, 10]
        if rerank is None:
            assert ranked[0, :4].tolist() == [4, 5, 6, 7]  # the finite candidates first, in score order
            assert ranked[1].tolist() == [9, 8, 7, 6, 5, 3, 2]
        for row, history in zip(ranked, users.histories):
            assert 0 not in row and not np.isin(row, history).any(), (rerank, ranked)
    with pytest.raises(ValueError, match=r"multi_target_topk \[8\] asks for 8 items but the catalogue has 10 "
                       r"items and a held-out user's history excludes up to 3 of them, so only 7 candidates "
                       r"remain for that user: use multi_target_topk <= 7 \(or exclude_history: False\)"):
        rank_catalogue(lambda batch: scores, users, n_items, 8, batch_size=2)
    # without exclusion the whole catalogue but the padding can be listed, never the padding
    ranked = rank_catalogue(lambda batch: scores, users, n_items, 10, batch_size=2, exclude_history=False)
    assert all(sorted(row) == list(range(1, 11)) for row in ranked.tolist())
    with pytest.raises(ValueError, match=r"asks for 11 items but the catalogue has 10 items: use multi_target_topk <= 10$"):
        rank_catalogue(lambda batch: scores, users, n_items, 11, batch_size=2, exclude_history=False)


def test_a_random_scorer_lands_near_n_over_catalogue_size():
    n_items, history, future = 500, 8, 4
    users = held_out_table(n_users=1000, n_items=n_items, history=history, future=future)
    generator = torch.Generator().manual_seed(0)
    params = read_multi_target_params({"seed": 1, "multi_target_topk": [20, 50]})
    result = evaluate_held_out_users(
        lambda batch: torch.rand(len(batch), n_items, generator=generator), users, n_items, params, 256
    )
    candidates = n_items - 1 - history  # the padding id and the history are never ranked
    for n in (20, 50):
        expected = n / candidates
        assert result[f"recall@{n}"] == pytest.approx(expected, rel=0.25)
        miss_all = math.comb(candidates - future, n) / math.comb(candidates, n)
        assert result[f"hitrate@{n}"] == pytest.approx(1 - miss_all, rel=0.25)


# ------------------------------------------------------------------------------ config keys


def test_shipped_protocol_file_is_installed_and_read():
    assert os.path.isfile(properties_path(PROTOCOL_FILE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its keys are known keys, not "read by no model"
        config = build_config("MIND", "ml-100k", config_file_list=[PROTOCOL_YAML])
    params = read_multi_target_params(config)
    assert params.user_split == pytest.approx((0.8, 0.1, 0.1))
    assert params.user_split_seed == config["seed"]
    assert params.history_ratio == 0.8 and params.exclude_history
    assert params.topk == (20, 50) and params.metrics == ("Recall", "NDCG", "HitRate")
    assert params.valid_metric == "recall@50"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"user_split": [0.8, 0.2]}, "user_split must be 3 numbers > 0"),
        ({"user_split": [0.8, 0.2, 0]}, "user_split must be 3 numbers > 0"),
        ({"history_ratio": 1.0}, "history_ratio must be a number in (0, 1)"),
        ({"history_ratio": "0.8"}, "history_ratio must be a number in (0, 1)"),
        ({"exclude_history": "yes"}, "exclude_history must be True or False"),
        ({"multi_target_topk": [0, 20]}, "multi_target_topk must be a non-empty list of integers >= 1"),
        ({"multi_target_metrics": ["MRR"]}, "multi_target_metrics must be a non-empty list of"),
        ({"multi_target_valid_metric": "Recall@10"}, "multi_target_valid_metric must be one of"),
        ({"user_split_seed": 1.5}, "user_split_seed must be an integer"),
    ],
)
def test_bad_keys_are_named_with_what_is_allowed(overrides, message):
    with pytest.raises(ValueError) as error:
        read_multi_target_params({"seed": 1, **overrides})
    assert message in str(error.value)
    assert repr(list(overrides.values())[0]) in str(error.value)


def test_a_bad_key_fails_before_the_data_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="history_ratio"):
        # no such dataset on disk: the key is checked first
        run_recbole_mind("MIND", "no-such-dataset", [PROTOCOL_YAML], {"history_ratio": 1.5, **QUIET})
    with pytest.raises(ValueError, match="multi_target must be True or False"):
        run_recbole_mind("MIND", "no-such-dataset", [PROTOCOL_YAML], {"multi_target": "yes", **QUIET})


# ------------------------------------------------------------------------- data and a run


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """40 users with 30 distinct items each, in time order, over 120 items: each user draws
    from two of four item groups, so that the history says something about the future."""
    data_path = tmp_path_factory.mktemp("multi_target_data")
    folder = data_path / "tiny"
    folder.mkdir()
    rng = np.random.default_rng(0)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    stamp = 0
    for user in range(40):
        groups = rng.choice(4, size=2, replace=False)
        pool = np.concatenate([np.arange(30 * group, 30 * group + 30) for group in groups])
        for item in rng.choice(pool, size=30, replace=False):
            lines.append(f"u{user}\ti{item}\t{stamp}")
            stamp += 1
    (folder / "tiny.inter").write_text("\n".join(lines) + "\n")
    return str(data_path)


# the tiny dataset's keys under the protocol: tiny_config(data_path=..., **MULTI_TARGET_TINY, ...)
MULTI_TARGET_TINY = {"config_files": [PROTOCOL_YAML], "defaults": {
    "MAX_ITEM_LIST_LENGTH": 10, "epochs": 1, "train_batch_size": 256, "eval_batch_size": 16,
    "multi_target_topk": [5, 20], "multi_target_valid_metric": "Recall@20",
    "load_col": {"inter": ["user_id", "item_id", "timestamp"]}}}


def test_a_top_n_beyond_some_users_candidates_is_refused_before_training(tiny_data, tmp_path, monkeypatch):
    # 120 items; a held-out user's history holds 24 distinct items (80% of 30): 96 candidates remain
    monkeypatch.chdir(tmp_path)
    config = tiny_config(data_path=tiny_data, **MULTI_TARGET_TINY,
                         multi_target_topk=[20, 97], multi_target_valid_metric="Recall@20")
    with pytest.raises(ValueError, match=r"multi_target_topk \[20, 97\] asks for 97 items but the catalogue has "
                       r"120 items and a valid user's history excludes up to 24 of them, so only 96 candidates"):
        prepare_multi_target(config, read_multi_target_params(config), build_model=False)
    config = tiny_config(data_path=tiny_data, **MULTI_TARGET_TINY,
                         multi_target_topk=[20, 96], multi_target_valid_metric="Recall@20")
    prepare_multi_target(config, read_multi_target_params(config), build_model=False)
    config = tiny_config(data_path=tiny_data, **MULTI_TARGET_TINY,
                         multi_target_topk=[121], multi_target_valid_metric="Recall@121", exclude_history=False)
    with pytest.raises(ValueError, match=r"asks for 121 items but the catalogue has 120 items: use multi_target_topk <= 120$"):
        prepare_multi_target(config, read_multi_target_params(config), build_model=False)


def test_user_split_is_seeded_disjoint_and_complete():
    users = np.arange(1, 101)
    train, valid, test = split_users(users, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(valid), len(test)) == (80, 10, 10)
    assert sorted(np.concatenate([train, valid, test]).tolist()) == users.tolist()
    again = split_users(users, (0.8, 0.1, 0.1), seed=3)
    assert all((a == b).all() for a, b in zip((train, valid, test), again))
    assert not (split_users(users, (0.8, 0.1, 0.1), seed=4)[2] == test).all()
    with pytest.raises(ValueError, match="leaves no train users"):
        split_users([1, 2], (0.8, 0.1, 0.1), seed=0)


def test_no_held_out_user_reaches_training(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(data_path=tiny_data, **MULTI_TARGET_TINY)
    params = read_multi_target_params(config)
    prepared = prepare_multi_target(config, params, build_model=False)
    assert prepared.user_counts == {"train": 32, "valid": 4, "test": 4}
    train_inter = prepared.train_data._dataset.inter_feat
    train_users = set(train_inter["user_id"].tolist())
    held_out = set(prepared.valid_users.user_ids.tolist()) | set(prepared.test_users.user_ids.tolist())
    assert len(train_users) == 32 and len(held_out) == 8
    assert not train_users & held_out
    # RecBole's augmentation: every behaviour but each user's first is a training target
    assert len(train_inter) == 32 * (30 - 1)
    # the model is built on (and reads its popularity counts from) this held-out-free dataset
    assert prepared.train_data._dataset is prepared.dataset
    # the held-out users' histories are 80% of their 30 behaviours, truncated to 10
    assert all(len(history) == 24 for history in prepared.test_users.histories)
    assert prepared.test_users.item_seq_len.tolist() == [10] * 4


def quick_start_run(data_path, model, overrides, resume_checkpoint=None):
    config_dict = {
        "data_path": data_path, "MAX_ITEM_LIST_LENGTH": 10, "epochs": 1, "train_batch_size": 256,
        "eval_batch_size": 16, "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        **QUIET, **overrides,
    }
    return run_recbole_mind(model, "tiny", [PROTOCOL_YAML], config_dict, resume_checkpoint=resume_checkpoint)


@pytest.fixture(scope="module")
def mind_run(tiny_data, tmp_path_factory):
    old_cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("mind_multi_target_run"))
    try:
        yield quick_start_run(tiny_data, "MIND", {"embedding_size": 16})
    finally:
        os.chdir(old_cwd)


def check_run_result(result, model):
    assert result["protocol"] == "multi_target" and result["history_excluded"] is True
    assert result["users"] == {"train": 32, "valid": 4, "test": 4}
    assert result["test_users"] == 4 and result["valid_users"] == 4
    expected_keys = [f"{m}@{n}" for m in ("recall", "ndcg", "hitrate") for n in (20, 50)]
    assert list(result["test_result"]) == expected_keys
    assert list(result["best_valid_result"]) == expected_keys
    assert all(0 <= value <= 1 for value in result["test_result"].values())
    assert result["best_valid_score"] == result["best_valid_result"]["recall@50"]
    assert len(result["train_epoch_seconds"]) == 1
    assert len(result["valid_curve"]) == 1  # [training seconds, validation score] per epoch
    assert result["valid_curve"][0][1] == pytest.approx(result["best_valid_score"])
    assert os.path.isfile(result["checkpoint"])
    assert os.path.basename(result["checkpoint"]).startswith(f"{model}-")


def test_mind_one_epoch_through_the_quick_start(mind_run):
    check_run_result(mind_run, "MIND")


def test_a_resumed_run_writes_a_new_checkpoint_and_leaves_the_resumed_one_as_it_was(mind_run, tiny_data, tmp_path,
                                                                                      monkeypatch):
    original = os.path.abspath(mind_run["checkpoint"])
    before = file_sha256(original)
    monkeypatch.chdir(tmp_path)
    resumed = quick_start_run(tiny_data, "MIND", {"embedding_size": 16, "epochs": 2}, resume_checkpoint=original)
    assert file_sha256(original) == before
    assert resumed["resumed_from"] == original and os.path.isfile(resumed["checkpoint"])
    assert os.path.abspath(resumed["checkpoint"]) != original


def test_the_best_checkpoint_reproduces_the_test_result(mind_run):
    from recbole_mind.training.checkpoint import load_checkpoint, restore_model
    from recbole_mind.data.token_maps import check_token_maps, saved_token_maps

    checkpoint = load_checkpoint(mind_run["checkpoint"])
    config = checkpoint["config"]
    trained_maps = saved_token_maps(checkpoint)  # every user's id, held-out users' too
    params = read_multi_target_params(config)
    prepared = prepare_multi_target(config, params)
    assert len(trained_maps["user"]["tokens"]) == 1 + 40 and len(trained_maps["item"]["tokens"]) > 1
    check_token_maps(trained_maps, prepared.dataset, mind_run["checkpoint"])
    restore_model(prepared.model, checkpoint)
    prepared.model.eval()
    with torch.no_grad():
        result = evaluate_held_out_users(
            prepared.model.full_sort_predict, prepared.test_users, prepared.model.n_items, params, 16
        )
    assert dict(result) == pytest.approx(dict(mind_run["test_result"]))


@pytest.mark.parametrize(
    "model, overrides",
    [
        ("SASRec", {"n_layers": 1, "n_heads": 1, "hidden_size": 16, "inner_size": 32}),
        ("GRU4Rec", {"embedding_size": 16, "hidden_size": 16}),
    ],
)
def test_recbole_models_one_epoch_through_the_quick_start(tiny_data, in_tmp_dir, model, overrides):
    check_run_result(quick_start_run(tiny_data, model, overrides), model)


def test_pop_ranks_by_the_train_users_popularity(tiny_data, in_tmp_dir):
    # Pop needs no history: the floor every retrieval model of the benchmark must clear
    check_run_result(quick_start_run(tiny_data, "Pop", {}), "Pop")


def test_general_models_that_score_user_ids_are_refused(tiny_data, in_tmp_dir):
    with pytest.raises(ValueError, match="BPR is a GENERAL model"):
        quick_start_run(tiny_data, "BPR", {})


def test_the_command_line_says_which_protocol_produced_the_numbers(tiny_data, in_tmp_dir, monkeypatch, capsys):
    import sys

    from recbole_mind.run.cli import main

    args = ["--dataset=tiny", f"--data_path={tiny_data}", f"--config_files={PROTOCOL_YAML}", "--epochs=1",
            "--MAX_ITEM_LIST_LENGTH=10", "--embedding_size=16", "--state=ERROR", "--show_progress=False"]
    monkeypatch.setattr(sys, "argv", ["run_recbole_mind.py", *args])  # RecBole's Config reads it
    assert main(args) == 0
    output = capsys.readouterr().out
    assert "protocol: multi_target (4 validation and 4 test users, several targets each; history items excluded)" in output
    assert "test result: recall@20:" in output


def test_few_held_out_users_are_warned_about(tiny_data, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)

    def few_user_warnings(user_split):
        caplog.clear()
        config = tiny_config(data_path=tiny_data, **MULTI_TARGET_TINY, user_split=user_split)
        prepare_multi_target(config, read_multi_target_params(config), build_model=False)
        return [record.getMessage() for record in caplog.records if "users are evaluated" in record.getMessage()]

    assert few_user_warnings([0.8, 0.1, 0.1]) == [  # 40 users: 4 valid, 4 test
        f"multi_target: only 4 {name} users are evaluated: one user moves each metric by 1/4, so differences "
        "are mostly noise; use more users or a larger user_split share" for name in ("valid", "test")]
    assert few_user_warnings([0.5, 0.25, 0.25]) == []  # 10 each

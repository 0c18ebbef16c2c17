import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction

from recbole_mind import retrieval, run_recbole_mind
from recbole_mind.layers import dynamic_interest_num

from conftest import REPO_ROOT, SLICE_CONFIG

SLICE = {**SLICE_CONFIG, "interest_num": 4}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(checkpoint, run folder, config, model, dataset) of a tiny trained MIND."""
    run_dir = tmp_path_factory.mktemp("retrieval")
    old_cwd = os.getcwd()
    os.chdir(run_dir)
    try:
        checkpoint = os.path.abspath(run_recbole_mind("MIND", "ml-100k", config_dict=SLICE)["checkpoint"])
        config, model, dataset = retrieval.load_mind(checkpoint)
    finally:
        os.chdir(old_cwd)
    return checkpoint, run_dir, config, model, dataset


@pytest.fixture
def in_run_dir(trained, monkeypatch):
    monkeypatch.chdir(trained[1])
    return trained


def torch_scores(model, dataset, user_ids):
    """full_sort_predict on the users' latest histories: (U, n_items - 1), padding dropped."""
    histories = retrieval.latest_histories(dataset, user_ids, model.max_seq_length)
    batch = Interaction({
        dataset.uid_field: histories.user_ids,
        model.ITEM_SEQ: histories.item_seq,
        model.ITEM_SEQ_LEN: histories.item_seq_len,
    })
    with torch.no_grad():
        return model.eval().full_sort_predict(batch)[:, 1:].numpy(), histories


def test_exported_vectors_reload_and_reproduce_the_models_scores(in_run_dir, tmp_path):
    checkpoint, _, _, model, dataset = in_run_dir
    retrieval.export_vectors(checkpoint, str(tmp_path))
    vectors = retrieval.load_vectors(str(tmp_path))
    users = np.unique(vectors["user_tokens"])
    assert len(users) == dataset.user_num - 1
    assert list(vectors["item_tokens"]) == list(dataset.id2token(dataset.iid_field, np.arange(1, dataset.item_num)))
    user_ids = retrieval.user_ids_of(dataset, users[:50])
    expected, histories = torch_scores(model, dataset, user_ids)
    for row, user in enumerate(users[:50]):
        mine = vectors["user_tokens"] == user
        active = int(dynamic_interest_num(histories.item_seq_len[row : row + 1], 4))
        assert mine.sum() == active  # inactive capsules are not exported
        assert sorted(vectors["interest_index"][mine]) == list(range(active))
        scores = (vectors["item_vectors"] @ vectors["interest_vectors"][mine].T).max(axis=1)
        np.testing.assert_allclose(scores, expected[row], rtol=1e-4, atol=1e-5)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["interest_rows"] == len(vectors["user_tokens"])


@pytest.mark.parametrize("with_faiss", [True, False])
def test_exact_retrieval_equals_torch_max_over_interests_top_n(in_run_dir, with_faiss, monkeypatch):
    _, _, _, model, dataset = in_run_dir
    if not with_faiss:
        monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    index = retrieval.build_index(retrieval.item_vectors(model), "flat")
    assert isinstance(index, retrieval.ExactIndex) != with_faiss
    user_ids = np.arange(1, dataset.user_num)
    expected, histories = torch_scores(model, dataset, user_ids)
    interests, mask, _ = retrieval.user_interests(model, dataset, histories)
    owners, capsules = mask.nonzero(as_tuple=True)
    found = retrieval.retrieve(index, interests[owners, capsules].numpy(), owners.numpy(), len(user_ids), 20)
    torch_top = np.argsort(-expected, axis=1, kind="stable")[:, :20]
    for row, items in enumerate(found):
        assert [item for item, _ in items] == list(torch_top[row])
        np.testing.assert_allclose([score for _, score in items], expected[row, torch_top[row]], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kind, options, least_overlap",
    [("hnsw", {}, 0.95), ("ivf", {"ivf_lists": 8, "ivf_probes": 2}, 0.3), ("ivf", {"ivf_lists": 8, "ivf_probes": 8}, 1.0)],
)
def test_approximate_indexes_agree_with_exact_on_a_small_catalogue(in_run_dir, kind, options, least_overlap):
    _, _, _, model, dataset = in_run_dir
    vectors = retrieval.item_vectors(model)
    user_ids = np.arange(1, dataset.user_num)
    histories = retrieval.latest_histories(dataset, user_ids, model.max_seq_length)
    interests, mask, _ = retrieval.user_interests(model, dataset, histories)
    owners, capsules = mask.nonzero(as_tuple=True)
    queries, owners = interests[owners, capsules].numpy(), owners.numpy()
    exact = retrieval.retrieve(retrieval.build_index(vectors, "flat"), queries, owners, len(user_ids), 10)
    approx = retrieval.retrieve(retrieval.build_index(vectors, kind, **options), queries, owners, len(user_ids), 10)
    overlap = np.mean([len({i for i, _ in a} & {i for i, _ in e}) / 10 for a, e in zip(approx, exact)])
    assert overlap >= least_overlap  # IVF scanning every cell is exact


def test_merge_keeps_an_item_found_by_two_interests_once_with_its_best_score():
    scores = np.array([[0.9, 0.5, 0.1], [0.7, 0.6, 0.2], [0.3, 0.2, 0.1]], dtype=np.float32)
    items = np.array([[4, 7, 1], [7, 4, 2], [5, 6, -1]])
    owners = np.array([0, 0, 1])
    merged = retrieval.merge_interest_results(scores, items, owners, users=2, n=3)
    assert [item for item, _ in merged[0]] == [4, 7, 2]
    assert dict(merged[0])[7] == pytest.approx(0.7) and dict(merged[0])[4] == pytest.approx(0.9)
    assert merged[1] == [(5, pytest.approx(0.3)), (6, pytest.approx(0.2))]  # -1 = no result
    without_seen = retrieval.merge_interest_results(scores, items, owners, 2, 3, exclude=[np.array([4]), np.array([])])
    assert [item for item, _ in without_seen[0]] == [7, 2, 1]


def test_retrieve_for_users_drops_seen_items_and_still_returns_n(in_run_dir):
    checkpoint, _, _, model, dataset = in_run_dir
    users = [str(token) for token in dataset.id2token(dataset.uid_field, [1, 2, 3])]
    found = retrieval.retrieve_for_users(checkpoint, users, n=15, exclude_seen=True)
    histories = retrieval.latest_histories(dataset, np.array([1, 2, 3]), model.max_seq_length)
    for user, seen in zip(users, histories.seen):
        seen_tokens = set(dataset.id2token(dataset.iid_field, seen))
        assert len(found[user]) == 15 and len({item for item, _ in found[user]}) == 15
        assert not seen_tokens & {item for item, _ in found[user]}
        assert [score for _, score in found[user]] == sorted((score for _, score in found[user]), reverse=True)


def test_explanation_weights_sum_per_behaviour_and_padding_never_appears(in_run_dir):
    checkpoint, _, _, model, dataset = in_run_dir
    short_user = str(dataset.id2token(dataset.uid_field, 1))
    explanation = retrieval.explain(checkpoint, short_user, n=5)
    history = explanation["history"]
    assert 0 < len(history) <= model.max_seq_length
    assert all(entry["item"] != "[PAD]" for entry in history)
    assert any(entry["title"] for entry in history)  # ml-100k movie titles
    weights = np.array([interest["routing_weights"] for interest in explanation["interests"]])
    assert weights.shape == (len(explanation["interests"]), len(history))
    assert explanation["routing_softmax_axis"] == "interest"
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-5)  # each behaviour spread over interests
    for interest in explanation["interests"]:
        assert len(interest["retrieves"]) == 5 and len(interest["top_behaviours"]) == 5


def test_bad_requests_fail_with_clear_messages(in_run_dir, tmp_path, monkeypatch):
    checkpoint, *_ = in_run_dir
    with pytest.raises(ValueError, match=r"Unknown user token\(s\) \['no-such-user'\]"):
        retrieval.retrieve_for_users(checkpoint, ["no-such-user"], n=5)
    with pytest.raises(ValueError, match="n .* must be an integer >= 1, got 0"):
        retrieval.retrieve_for_users(checkpoint, None, n=0)
    other = tmp_path / "SASRec.pth"
    torch.save({"config": {"model": "SASRec"}, "state_dict": {}}, other)
    with pytest.raises(ValueError, match="holds a SASRec model.*need a MIND checkpoint"):
        retrieval.export_vectors(str(other), str(tmp_path / "out"))
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="index 'hnsw' needs faiss: pip install faiss-cpu"):
        retrieval.build_index(np.ones((10, 4), dtype=np.float32), "hnsw")


def test_command_line_export_retrieve_explain(in_run_dir, tmp_path):
    checkpoint, run_dir, _, _, dataset = in_run_dir
    user = str(dataset.id2token(dataset.uid_field, 1))
    env = {**os.environ, "PYTHONPATH": REPO_ROOT}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recbole_mind.retrieval", *args], cwd=run_dir,
                              capture_output=True, text=True, timeout=600, env=env)

    done = cli("export", checkpoint, "--out", str(tmp_path / "vectors"), "--users", user)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "vectors" / "interests.npz").is_file()
    done = cli("retrieve", checkpoint, "--users", user, "--n", "3", "--index", "hnsw", "--exclude_seen")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"{user}: ") and done.stdout.count("(") == 3
    done = cli("explain", checkpoint, "--user", user, "--plot", str(tmp_path / "heat.png"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "formed by (routing weight)" in done.stdout and (tmp_path / "heat.png").stat().st_size > 0
    done = cli("retrieve", checkpoint, "--users", "nobody", "--n", "3")
    assert done.returncode == 2 and "Unknown user token" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("token", ["[PAD]", "no-such-user"])
def test_the_padding_token_and_unknown_users_are_refused_by_name(token):
    from types import SimpleNamespace

    dataset = SimpleNamespace(
        uid_field="user_id", dataset_name="tiny", user_num=3,
        field2token_id={"user_id": {"[PAD]": 0, "u1": 1, "u2": 2}},
        field2id_token={"user_id": ["[PAD]", "u1", "u2"]},
    )
    with pytest.raises(ValueError, match=rf"Unknown user token\(s\) \['{re.escape(token)}'\] .*'\[PAD\]' is the padding token"):
        retrieval.user_ids_of(dataset, [token])
    assert list(retrieval.user_ids_of(dataset, ["u2", "u1"])) == [2, 1]

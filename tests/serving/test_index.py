import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from recbole_mind.serving import index as serving_index
from recbole_mind.serving.index import (
    ExactIndex,
    active_interest_rows,
    build_index,
    merge_interest_results,
    retrieve,
)
from recbole_mind.serving.users import item_vectors, latest_histories, user_interests

from conftest import REPO_ROOT, full_sort_scores

# Loads index.py by its path, as a service holding exported vectors would, with torch and
# RecBole made unimportable: it must need numpy (and faiss) only.
STANDALONE_INDEX = """
import importlib.util, sys
sys.modules["torch"] = None
sys.modules["recbole"] = None
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index)
import numpy as np
vectors = np.eye(4, dtype=np.float32)
rows = index.active_interest_rows(np.stack([vectors[:2], vectors[2:]]), np.array([[True, True], [True, False]]))
print(index.retrieve(index.build_index(vectors, "flat"), rows, users=2, n=1))
print(sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "recbole") and sys.modules[name] is not None))
"""


def test_index_module_needs_neither_torch_nor_recbole():
    done = subprocess.run(
        [sys.executable, "-c", STANDALONE_INDEX, os.path.join(REPO_ROOT, "recbole_mind", "serving", "index.py")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found, imported = done.stdout.strip().splitlines()
    assert found == "[[(0, 1.0)], [(2, 1.0)]]" and imported == "[]"


def test_active_interest_rows_keep_users_and_capsules_in_order():
    interests = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[True, True, False], [True, False, False]])
    rows = active_interest_rows(interests, mask)
    assert rows.owners.tolist() == [0, 0, 1] and rows.capsules.tolist() == [0, 1, 0]
    np.testing.assert_array_equal(rows.vectors, interests[[0, 0, 1], [0, 1, 0]])
    assert rows.vectors.dtype == np.float32 and rows.vectors.flags["C_CONTIGUOUS"]


def test_merge_keeps_an_item_found_by_two_interests_once_with_its_best_score():
    scores = np.array([[0.9, 0.5, 0.1], [0.7, 0.6, 0.2], [0.3, 0.2, 0.1]], dtype=np.float32)
    items = np.array([[4, 7, 1], [7, 4, 2], [5, 6, -1]])
    owners = np.array([0, 0, 1])
    merged = merge_interest_results(scores, items, owners, users=2, n=3)
    assert [item for item, _ in merged[0]] == [4, 7, 2]
    assert dict(merged[0])[7] == pytest.approx(0.7) and dict(merged[0])[4] == pytest.approx(0.9)
    assert merged[1] == [(5, pytest.approx(0.3)), (6, pytest.approx(0.2))]  # -1 = no result
    without_seen = merge_interest_results(scores, items, owners, 2, 3, exclude=[np.array([4]), np.array([])])
    assert [item for item, _ in without_seen[0]] == [7, 2, 1]


def test_default_ivf_cells_are_about_twice_sqrt_n_and_trainable():
    assert serving_index.IVF_LISTS_PER_SQRT_N == 2
    assert serving_index.default_ivf_lists(1_000_000) == 2000
    assert serving_index.default_ivf_lists(100_000) == 632
    assert serving_index.default_ivf_lists(1682) == 43  # 2 sqrt(N) = 82, capped at N / 39
    assert serving_index.default_ivf_lists(10) == 1


def test_approximate_kinds_without_faiss_fail_clearly(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with pytest.raises(ImportError, match="index 'hnsw' needs faiss: pip install faiss-cpu"):
        build_index(np.ones((10, 4), dtype=np.float32), "hnsw")
    with pytest.raises(ValueError, match="n .* must be an integer >= 1, got 0"):
        retrieve(ExactIndex(np.ones((3, 2))), active_interest_rows(np.ones((1, 1, 2)), np.ones((1, 1), bool)), 1, 0)


def model_rows(model, dataset):
    """Interest rows of every user's latest history."""
    user_ids = np.arange(1, dataset.user_num)
    histories = latest_histories(dataset, user_ids, model.max_seq_length)
    interests, mask, _ = user_interests(model, dataset, histories)
    return active_interest_rows(interests.numpy(), mask.numpy()), len(user_ids)


@pytest.mark.parametrize("with_faiss", [True, False])
def test_exact_retrieval_equals_torch_max_over_interests_top_n(in_trained_dir, with_faiss, monkeypatch):
    _, _, _, model, dataset = in_trained_dir
    if not with_faiss:
        monkeypatch.setitem(sys.modules, "faiss", None)
    index = build_index(item_vectors(model), "flat")
    assert isinstance(index, ExactIndex) != with_faiss
    expected, _ = full_sort_scores(model, dataset, np.arange(1, dataset.user_num))
    rows, users = model_rows(model, dataset)
    found = retrieve(index, rows, users, 20)
    torch_top = np.argsort(-expected, axis=1, kind="stable")[:, :20]
    for row, items in enumerate(found):
        assert [item for item, _ in items] == list(torch_top[row])
        np.testing.assert_allclose([score for _, score in items], expected[row, torch_top[row]], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kind, options, least_overlap",
    [("hnsw", {}, 0.95), ("ivf", {"ivf_lists": 8, "ivf_probes": 2}, 0.3), ("ivf", {"ivf_lists": 8, "ivf_probes": 8}, 1.0)],
)
def test_approximate_indexes_agree_with_exact_on_a_small_catalogue(in_trained_dir, kind, options, least_overlap):
    _, _, _, model, dataset = in_trained_dir
    vectors = item_vectors(model)
    rows, users = model_rows(model, dataset)
    exact = retrieve(build_index(vectors, "flat"), rows, users, 10)
    approx = retrieve(build_index(vectors, kind, **options), rows, users, 10)
    overlap = np.mean([len({i for i, _ in a} & {i for i, _ in e}) / 10 for a, e in zip(approx, exact)])
    assert overlap >= least_overlap  # IVF scanning every cell is exact

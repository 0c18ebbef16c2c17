"""Diversity and CategoryCoverage in the multi-target protocol, and diversity_lambda there."""

import numpy as np
import pytest
import torch

from recbole_mind import run_recbole_mind
from recbole_mind.settings.protocol import read_multi_target_params
from recbole_mind.protocols.targets import HeldOutUsers, multi_target_metrics, rank_catalogue
from recbole_mind.diversity.greedy import ItemCategories

from conftest import SLICE_CONFIG

# items 0..5: 0 padding, 1 and 2 genre 0, 3 genre 1, 4 genres 0 and 1, 5 genre 2
GENRES = ItemCategories.from_lists([[], [0], [0], [1], [0, 1], [2]], n_categories=3)


def test_metrics_by_hand():
    ranked = np.array([[1, 2, 3], [3, 4, 5]])
    targets = [np.array([3, 5]), np.array([1])]
    result = multi_target_metrics(ranked, targets, [2, 3], ["Recall", "Diversity", "CategoryCoverage"], GENRES)
    # user 0 @2: g(1,2)=0; @3: 0, 1, 1 -> 2/3.  user 1 @2: g(3,4)=.5; @3: .5, 1, 1 -> 2.5/3
    assert result["diversity@2"] == pytest.approx(0.25)
    assert result["diversity@3"] == pytest.approx((2 / 3 + 2.5 / 3) / 2)
    # user 0 wants genres {1, 2}: @2 none, @3 genre 1 -> 1/2; user 1 wants {0}: @2 found (item 4)
    assert result["categorycoverage@2"] == pytest.approx(0.5)
    assert result["categorycoverage@3"] == pytest.approx(0.75)
    assert list(result) == ["recall@2", "recall@3", "diversity@2", "diversity@3",
                            "categorycoverage@2", "categorycoverage@3"]
    with pytest.raises(ValueError, match="need the items' categories"):
        multi_target_metrics(ranked, targets, [2], ["Diversity"])


def test_the_protocol_accepts_the_metrics_with_a_category_field_only():
    keys = {"seed": 1, "multi_target_metrics": ["Recall", "diversity"], "multi_target_valid_metric": "Diversity@20"}
    with pytest.raises(ValueError, match=r"metrics \['Diversity'\] compare the items' categories"):
        read_multi_target_params(keys)
    params = read_multi_target_params({**keys, "diversity_category_field": "class", "diversity_lambda": 0.5})
    assert params.metrics == ("Recall", "Diversity") and params.valid_metric == "diversity@20"
    assert params.diversity_lambda == 0.5 and params.category_field == "class"
    with pytest.raises(ValueError, match="diversity_lambda must be a finite number >= 0"):
        read_multi_target_params({**keys, "diversity_category_field": "class", "diversity_lambda": -1})


def test_rank_catalogue_reranks_after_the_history_is_excluded():
    users = HeldOutUsers(
        user_ids=np.array([1]), histories=[np.array([1])], targets=[np.array([5])],
        item_seq=torch.tensor([[1]]), item_seq_len=torch.tensor([1]),
        uid_field="user_id", item_seq_field="item_id_list", item_seq_len_field="item_length",
    )
    scores = torch.tensor([[0.0, 9.0, 5.0, 4.0, 3.0, 2.0]])  # item 1 is history
    seen = []

    def rerank(batch, masked):
        seen.append(masked.clone())
        return torch.where(torch.isfinite(masked), -masked, -1e9)  # reversed: the hook decides

    ranked = rank_catalogue(lambda batch: scores, users, 6, 3, 8, rerank=rerank)
    assert torch.isinf(seen[0][0, :2]).all()  # padding and history already excluded
    assert ranked.tolist() == [[5, 4, 3]]


def test_a_multi_target_run_with_diversity(in_tmp_dir):
    keys = {
        **SLICE_CONFIG, "multi_target": True, "interest_num": 4,
        "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"], "item": ["item_id", "class"]},
        "diversity_category_field": "class", "diversity_lambda": 0.5, "multi_target_topk": [10],
        "multi_target_metrics": ["Recall", "Diversity", "CategoryCoverage"], "multi_target_valid_metric": "Recall@10",
    }
    result = run_recbole_mind("MIND", "ml-100k", config_dict=keys, saved=False)
    for part in (result["best_valid_result"], result["test_result"]):
        assert list(part) == ["recall@10", "diversity@10", "categorycoverage@10"]
        assert 0 <= part["diversity@10"] <= 1 and 0 < part["categorycoverage@10"] <= 1

"""Diversity@N and CategoryCoverage@N in RecBole's metric tables, collector and evaluator."""

import numpy as np
import pytest
import torch
from recbole.evaluator.collector import DataStruct

import recbole_mind  # noqa: F401  (registers the metrics)
from recbole_mind.integration.metrics import CATEGORIES, TARGET_CATEGORIES, CategoryCollector, CategoryCoverage, Diversity
from recbole_mind.diversity.greedy import ItemCategories

# item 0 is padding; 1, 2: genre 1; 3: genre 2; 4: genres 1 and 2; 5: none
CATEGORY_IDS = np.array([[0, 0], [1, 0], [1, 0], [2, 0], [1, 2], [0, 0]])


def config(**keys):
    base = {"topk": [2, 3], "metric_decimal_place": 4, "diversity_category_field": "class",
            "metrics": ["Recall", "Diversity", "CategoryCoverage"], "eval_args": {"mode": "full"}, "device": "cpu"}
    return {**base, **keys}


def test_the_metrics_are_in_recboles_tables_and_its_trainer_builds_our_collector():
    import recbole.trainer.trainer as trainer_module
    from recbole.evaluator.register import metric_information, metric_types, metrics_dict

    assert metrics_dict["diversity"] is Diversity and metrics_dict["categorycoverage"] is CategoryCoverage
    assert TARGET_CATEGORIES in metric_information["categorycoverage"] and "diversity" in metric_types
    assert trainer_module.Collector is CategoryCollector


def test_metric_values_by_hand():
    data = DataStruct()
    data.set(CATEGORIES, torch.as_tensor(ItemCategories.from_token_ids(CATEGORY_IDS).matrix))
    data.set("rec.items", torch.tensor([[1, 3, 4], [1, 2, 5]]))
    # user 0's targets carry genres 1 and 2; user 1's none (skipped by CategoryCoverage)
    data.set(TARGET_CATEGORIES, torch.tensor([[False, True, True], [False, False, False]]))
    diversity = Diversity(config()).calculate_metric(data)
    # user 0: g(1,3)=1, g(1,4)=.5, g(3,4)=.5 -> @2: 1, @3: 2/3; user 1: g(1,2)=0, g(1,5)=g(2,5)=1 -> @2: 0, @3: 2/3
    assert diversity == {"diversity@2": pytest.approx(0.5), "diversity@3": pytest.approx(2 / 3, abs=1e-4)}
    coverage = CategoryCoverage(config()).calculate_metric(data)
    assert coverage == {"categorycoverage@2": 1.0, "categorycoverage@3": 1.0}
    data.set("rec.items", torch.tensor([[1, 2, 3], [1, 2, 5]]))
    assert CategoryCoverage(config()).calculate_metric(data) == {"categorycoverage@2": 0.5, "categorycoverage@3": 1.0}


def test_the_collector_gathers_each_users_target_categories():
    collector = CategoryCollector(config())
    collector.set_categories(ItemCategories.from_token_ids(CATEGORY_IDS))
    scores = torch.rand(3, 6)
    # user 0: targets 1 and 3 (genres 1, 2); user 1: target 5 (none); user 2: target 4 (1, 2)
    collector.eval_batch_collect(scores, None, torch.tensor([0, 0, 1, 2]), torch.tensor([1, 3, 5, 4]))
    struct = collector.get_data_struct()
    assert struct[TARGET_CATEGORIES][:, 1:].tolist() == [[True, True], [False, False], [True, True]]
    assert struct["rec.items"].shape == (3, 3)
    assert TARGET_CATEGORIES not in collector.data_struct  # the next evaluation starts afresh
    assert CATEGORIES in collector.data_struct


def test_without_these_metrics_the_collector_collects_what_recbole_does():
    collector = CategoryCollector(config(metrics=["Recall"]))
    collector.eval_batch_collect(torch.rand(2, 6), None, torch.tensor([0, 1]), torch.tensor([1, 2]))
    assert sorted(collector.get_data_struct()._data_dict) == ["rec.topk"]


def test_the_metrics_refuse_a_config_without_a_category_field():
    with pytest.raises(ValueError, match="metric Diversity compares the items' categories: set diversity_category_field"):
        Diversity(config(diversity_category_field=None))

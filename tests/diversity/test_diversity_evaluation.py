"""diversity_lambda in evaluation: key checks, item categories from a dataset, the re-ranking of
full-sort scores (MIND's per-interest candidates, other models' top-M) and end-to-end runs."""


import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction

from conftest import SLICE_CONFIG, build_mind, prepared_ml100k
from recbole_mind.diversity.categories import item_categories
from recbole_mind.diversity.evaluation import DiversityReranker
from recbole_mind.settings.diversity import DiversityParams, read_diversity_params
from recbole_mind.diversity.greedy import DIVERSITY_CANDIDATE_FACTOR, greedy_select, list_diversity

LOAD_CLASS = {"load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"], "item": ["item_id", "class"]}}
CLASS_SLICE = {**SLICE_CONFIG, **LOAD_CLASS}


def test_a_config_without_the_keys_takes_the_shipped_defaults():
    assert read_diversity_params({}) == DiversityParams(0.0, None)


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"diversity_lambda": -0.5}, "diversity_lambda must be a finite number >= 0"),
        ({"diversity_lambda": float("nan")}, "diversity_lambda must be a finite number >= 0"),
        ({"diversity_lambda": 0.5}, "diversity_lambda 0.5 > 0 re-ranks by category difference: set diversity_category_field"),
        ({"diversity_category_field": 3}, "diversity_category_field must be an item field name"),
    ],
)
def test_bad_diversity_keys_are_refused(keys, message):
    with pytest.raises(ValueError, match=message):
        read_diversity_params(keys)


def test_the_diversity_metrics_need_a_category_field():
    assert read_diversity_params({}) == read_diversity_params({"diversity_lambda": 0})
    with pytest.raises(ValueError, match=r"metrics \['Diversity'\] compare the items' categories"):
        read_diversity_params({}, ["Recall", "Diversity"])
    assert read_diversity_params({"diversity_category_field": "class"}, ["Diversity"]).category_field == "class"


def test_a_run_config_is_checked_before_any_data_loads():
    from recbole_mind.training.config import build_config
    from recbole_mind.settings.keys import UnknownKeyError

    with pytest.raises(ValueError, match=r"diversity_lambda must be a finite number >= 0 \(0: rank by score alone\), got -1"):
        build_config("MIND", "ml-100k", config_dict={**SLICE_CONFIG, "diversity_lambda": -1})
    with pytest.raises(ValueError, match="CategoryCoverage.*set diversity_category_field"):
        build_config("SASRec", "ml-100k", config_dict={**SLICE_CONFIG, "metrics": ["NDCG", "CategoryCoverage"]})
    with pytest.raises(UnknownKeyError, match="did you mean 'diversity_lambda'"):
        build_config("MIND", "ml-100k", config_dict={**SLICE_CONFIG, "diversity_lamda": 1.0})


@pytest.fixture(scope="module")
def class_data(tmp_path_factory):
    """(config, dataset, train, valid, test) of the ml-100k slice with the item genres loaded."""
    return prepared_ml100k(tmp_path_factory.mktemp("class_slice"), CLASS_SLICE)


def test_categories_come_from_the_field_and_bad_fields_name_the_allowed_ones(class_data, tmp_path):
    dataset = class_data[1]
    categories = item_categories(dataset, "class")
    assert len(categories) == dataset.item_num and not categories.matrix[0].any()  # padding item
    toy_story = dataset.token2id(dataset.iid_field, "1")  # Animation Children's Comedy
    genres = dataset.field2id_token["class"][np.flatnonzero(categories.matrix[toy_story])]
    assert sorted(genres) == ["Animation", "Children's", "Comedy"]
    with pytest.raises(ValueError, match=r"'clas' is no item field of dataset 'ml-100k'.*loaded: \['class'\]"):
        item_categories(dataset, "clas")
    with pytest.raises(ValueError, match=r"'release_year' is in ml-100k.item but was not loaded: add it to load_col"):
        item_categories(dataset, "release_year")
    without_items = prepared_ml100k(tmp_path, SLICE_CONFIG)[1]
    with pytest.raises(ValueError, match=r"'class' is in ml-100k.item but was not loaded.*loaded: none"):
        item_categories(without_items, "class")


def _batch_and_scores(data, model, users=12):
    """A test batch's interaction and its full-sort scores, padding and history at -inf."""
    interaction = next(iter(data[4]))[0]
    interaction = interaction[torch.arange(min(users, len(interaction)))]
    with torch.no_grad():
        scores = model.eval().full_sort_predict(interaction).clone()
    scores[:, 0] = -torch.inf
    history = interaction[model.ITEM_SEQ]
    scores[torch.arange(len(history)).unsqueeze(1).expand_as(history), history] = -torch.inf
    return interaction, scores


def test_lambda_zero_keeps_the_ranking_and_the_greedy_path_reproduces_it(class_data):
    model = build_mind(class_data, interest_num=4)
    categories = item_categories(class_data[1], "class")
    interaction, scores = _batch_and_scores(class_data, model)
    assert (model.active_interest_num[interaction[model.ITEM_SEQ_LEN]] > 1).all()  # several interests
    reranker = DiversityReranker(model, categories, 0.0, list_length=10)
    assert reranker(interaction, scores) is scores  # lambda 0: today's scores, untouched
    forced = reranker.rerank(interaction, scores, 0.0)  # the greedy path, lambda 0
    assert torch.equal(torch.topk(forced, 10).indices, torch.topk(scores, 10).indices)


def test_mind_candidates_are_the_union_of_each_interests_top_m(class_data):
    model = build_mind(class_data, interest_num=4)
    interaction, scores = _batch_and_scores(class_data, model)
    reranker = DiversityReranker(model, item_categories(class_data[1], "class"), 1.0, list_length=4)
    m = 4 * DIVERSITY_CANDIDATE_FACTOR
    with torch.no_grad():
        interests, mask = model(interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN])
        per_interest = torch.einsum("bkd,nd->bkn", interests, model.catalogue_vectors())
    for row, (items, values) in enumerate(reranker.candidates(interaction, scores)):
        expected = set()
        for k in np.flatnonzero(mask[row].numpy()):
            allowed = per_interest[row, k].masked_fill(~torch.isfinite(scores[row]), -torch.inf)
            expected |= set(torch.topk(allowed, m).indices.tolist())
        assert set(items.tolist()) == expected
        assert len(expected) > m  # the interests disagree: more candidates than one list
        assert np.allclose(values, scores[row, items].numpy())  # the max over interests
        assert set(torch.topk(scores[row], 4).indices.tolist()) <= expected


def test_a_positive_lambda_ranks_the_greedy_list_first_and_never_an_excluded_item(class_data):
    model = build_mind(class_data, interest_num=4)
    categories = item_categories(class_data[1], "class")
    interaction, scores = _batch_and_scores(class_data, model)
    reranker = DiversityReranker(model, categories, 2.0, list_length=10)
    reranked = reranker(interaction, scores)
    top = torch.topk(reranked, 10).indices.numpy()
    for row, (items, values) in enumerate(reranker.candidates(interaction, scores)):
        assert top[row].tolist() == greedy_select(items, values, categories, 10, 2.0).tolist()
    assert torch.isfinite(scores.gather(1, torch.as_tensor(top))).all()
    plain = torch.topk(scores, 10).indices.numpy()
    assert (top[:, 0] == plain[:, 0]).all()  # the best item first, whatever lambda
    assert list_diversity(top, categories).mean() > list_diversity(plain, categories).mean()
    order = torch.argsort(reranked, dim=1, descending=True)[:, 10:30]
    assert torch.equal(order, torch.argsort(scores.masked_fill(torch.zeros_like(scores, dtype=torch.bool).scatter(
        1, torch.as_tensor(top), True), -torch.inf), dim=1, descending=True)[:, :20])  # the rest keep their order


def test_other_models_take_the_top_m_of_their_scores():
    class SingleVector(torch.nn.Module):
        pass

    categories = item_categories.__globals__["ItemCategories"].from_lists([[i % 3] for i in range(40)], 3)
    scores = torch.linspace(1, 0, 40).repeat(2, 1)
    scores[1, :5] = -torch.inf
    reranker = DiversityReranker(SingleVector(), categories, 1.0, list_length=2, candidate_factor=3)
    found = reranker.candidates(Interaction({}), scores)
    assert found[0][0].tolist() == list(range(6)) and found[1][0].tolist() == list(range(5, 11))


@pytest.mark.parametrize("model", ["MIND", "SASRec"])
def test_leave_one_out_run_with_diversity(in_tmp_dir, model):
    from recbole_mind.run.quick_start import run_recbole_mind

    keys = {**CLASS_SLICE, "metrics": ["Recall", "NDCG", "Diversity", "CategoryCoverage"], "diversity_lambda": 0.5,
            "diversity_category_field": "class", "interest_num": 4}
    if model != "MIND":
        keys.pop("interest_num")
    result = run_recbole_mind(model, "ml-100k", config_dict=keys, saved=False)
    for part in (result["best_valid_result"], result["test_result"]):
        assert {"recall@10", "diversity@10", "categorycoverage@10"} <= set(part)
        assert 0 <= part["diversity@10"] <= 1 and 0 < part["categorycoverage@10"] <= 1


def test_a_bad_category_field_stops_a_run_before_training(in_tmp_dir):
    from recbole_mind.run.quick_start import run_recbole_mind

    with pytest.raises(ValueError, match=r"diversity_category_field 'genre' is no item field.*loaded: \['class'\]"):
        run_recbole_mind("MIND", "ml-100k", config_dict={**CLASS_SLICE, "diversity_lambda": 1.0,
                                                         "diversity_category_field": "genre", "epochs": 50})

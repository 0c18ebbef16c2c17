import pytest
import torch

from recbole_mind import run_recbole_mind

from conftest import FEATURE_CONFIG, build_mind


make_model = build_mind


@pytest.fixture(scope="module")
def batch(ml100k_feature_data):
    return next(iter(ml100k_feature_data[2]))


def test_item_table_rows_are_indexed_by_item_id(ml100k_feature_data):
    dataset = ml100k_feature_data[1]
    table = dataset.get_item_feature()
    assert torch.equal(table["item_id"], torch.arange(dataset.item_num))


def test_profile_and_item_features_change_the_scores(ml100k_feature_data, batch):
    model = make_model(ml100k_feature_data).eval()
    with torch.no_grad():
        before = model.full_sort_predict(batch)
        model.user_profile.embeddings["occupation"].weight.add_(1.0)
        after_profile = model.full_sort_predict(batch)
        model.item_encoder.field_embedding.embeddings["class"].weight.mul_(3.0)
        after_items = model.full_sort_predict(batch)  # the cached item vectors are renewed
    assert not torch.allclose(before, after_profile)
    assert not torch.allclose(after_profile, after_items)


def test_cosine_temperature_normalises_the_pooled_item_vectors(ml100k_feature_data, batch):
    model = make_model(ml100k_feature_data, cosine_temperature=0.2).eval()
    with torch.no_grad():
        items = model.catalogue_vectors()
        looked_up = model.item_encoder(batch["item_id"])
    assert torch.allclose(items[1:].norm(dim=-1), torch.ones(()), atol=1e-5)
    assert torch.allclose(looked_up, items[batch["item_id"]], atol=1e-6)


def test_cached_item_vectors_follow_loaded_weights_and_stay_out_of_the_state_dict(ml100k_feature_data, batch):
    model = make_model(ml100k_feature_data).eval()
    other = make_model(ml100k_feature_data, seed=7)
    torch.nn.init.normal_(other.item_encoder.field_embedding.embeddings["class"].weight)
    with torch.no_grad():
        model.full_sort_predict(batch)  # fills the cache
        model.load_state_dict(other.state_dict())
        reloaded = model.full_sort_predict(batch)
        expected = other.eval().full_sort_predict(batch)
    assert torch.allclose(reloaded, expected, atol=1e-5)
    assert not any("cache" in key or "vectors" in key for key in model.state_dict())


def test_feature_embeddings_are_trained(ml100k_feature_data, batch):
    model = make_model(ml100k_feature_data).train()
    model.calculate_loss(batch).backward()
    for field in ("age", "gender", "occupation"):
        assert model.user_profile.embeddings[field].weight.grad.abs().sum() > 0, field
    for field in ("class", "release_year"):
        assert model.item_encoder.field_embedding.embeddings[field].weight.grad.abs().sum() > 0, field


def test_full_sort_is_max_over_interests_of_pooled_item_vectors(ml100k_feature_data, batch):
    model = make_model(ml100k_feature_data).eval()
    with torch.no_grad():
        interests, mask = model(batch["item_id_list"], batch["item_length"], batch)
        scores = model.full_sort_predict(batch)
        items = model.item_encoder.all_items()
        pointwise = model.predict(batch)
    expected = (interests @ items.t()).masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values
    assert torch.allclose(scores, expected, atol=1e-5)
    assert torch.allclose(pointwise, scores.gather(1, batch["item_id"].unsqueeze(1)).squeeze(1), atol=1e-5)
    # a genre token_seq is the mean of its tokens: item 1 (Toy Story) pools id, genres and year
    encoder = model.item_encoder
    genres = encoder.table_class[1]
    genre_vectors = encoder.field_embedding.embeddings["class"](genres[genres != 0]).mean(0)
    year_vector = encoder.field_embedding.embeddings["release_year"](encoder.table_release_year[1])
    manual = (encoder.id_embedding.weight[1] + genre_vectors + year_vector) / 3
    assert torch.allclose(items[1], manual, atol=1e-6)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("user_profile_fields", ["agee"], "field 'agee' is not among the dataset's user features (age, gender, occupation)"),
        ("item_feature_fields", ["genre"], "field 'genre' is not among the dataset's item features (class, release_year)"),
    ],
)
def test_unknown_field_is_named_with_the_fields_that_exist(ml100k_feature_data, key, value, message):
    with pytest.raises(ValueError) as error:
        make_model(ml100k_feature_data, **{key: value})
    assert message in str(error.value)


def test_field_without_a_loaded_file_lists_none(ml100k_data):
    with pytest.raises(ValueError, match=r"user features \(none loaded\)"):
        make_model(ml100k_data, user_profile_fields=["age"])


@pytest.mark.parametrize("features", [False, True])
def test_id_only_and_feature_configs_train_one_epoch_end_to_end(in_tmp_dir, features):
    config = dict(FEATURE_CONFIG) if features else {**FEATURE_CONFIG, "user_profile_fields": [], "item_feature_fields": []}
    result = run_recbole_mind("MIND", "ml-100k", config_dict={**config, "epochs": 1})
    assert 0 < result["test_result"]["ndcg@10"] < 1

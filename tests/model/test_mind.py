import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import build_mind, preset_keys


make_model = build_mind
PRESET_KEYS = preset_keys()  # MAX_ITEM_LIST_LENGTH: 20, as the fixtures' histories


@pytest.fixture(scope="module")
def batch(ml100k_data):
    _, _, train, _, _ = ml100k_data
    # training prefixes: histories of every length from 1 to MAX_ITEM_LIST_LENGTH
    interaction = next(iter(train))
    assert interaction["item_length"].min() < 4 and interaction["item_length"].max() >= 16
    return interaction


def expected_active(lengths, interest_num):
    return [max(1, min(interest_num, math.floor(math.log2(n)))) for n in lengths.tolist()]


def test_full_sort_predict_is_max_over_active_interests(ml100k_data, batch):
    model = make_model(ml100k_data).eval()
    with torch.no_grad():
        interests, capsule_mask = model(batch["item_id_list"], batch["item_length"])
        scores = model.full_sort_predict(batch)
    active = expected_active(batch["item_length"], model.interest_num)
    assert capsule_mask.sum(1).tolist() == active
    items = model.item_encoder.all_items()
    assert scores.shape == (len(batch), model.n_items)
    for row in range(0, len(batch), 37):
        per_interest = interests[row, : active[row]] @ items.t()  # (K'_u, N)
        assert torch.allclose(scores[row], per_interest.max(0).values, atol=1e-5)
        # inactive interests are zero vectors
        assert (interests[row, active[row] :] == 0).all()


def test_predict_agrees_with_full_sort_predict(ml100k_data, batch):
    model = make_model(ml100k_data).eval()
    with torch.no_grad():
        full = model.full_sort_predict(batch)
        pointwise = model.predict(batch)
    expected = full.gather(1, batch["item_id"].unsqueeze(1)).squeeze(1)
    assert torch.allclose(pointwise, expected, atol=1e-5)


def test_eval_scores_are_deterministic_training_draws_are_not(ml100k_data, batch):
    model = make_model(ml100k_data).eval()
    with torch.no_grad():
        first = model.full_sort_predict(batch)
        torch.manual_seed(99)
        second = model.full_sort_predict(batch)
        assert torch.equal(first, second)
        model.train()
        train_a, _ = model(batch["item_id_list"], batch["item_length"])
        train_b, _ = model(batch["item_id_list"], batch["item_length"])
    assert not torch.allclose(train_a, train_b)


def test_fixed_interest_count_when_dynamic_interest_is_off(ml100k_data, batch):
    model = make_model(ml100k_data, dynamic_interest=False, interest_num=3).eval()
    with torch.no_grad():
        _, capsule_mask = model(batch["item_id_list"], batch["item_length"])
    assert capsule_mask.all() and capsule_mask.shape[1] == 3


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"attention_power": 1.0},
        {"attention_power": math.inf, "interest_num": 4},
        {"interest_mlp_hidden_sizes": [32], "dropout_prob": 0.2},
        {"routing_softmax_axis": "behaviour", "interest_num": 1},
        {"loss_type": "SSM", "num_negatives": 50},
        {"loss_type": "SSM", "negative_sampler": "uniform", "logq_correction": False},
        {"interest_num": 4, "short_term_window": 3},
        {"interest_num": 4, "training_score": "max"},
        {"interest_num": 4, "training_score": "max", "loss_type": "SSM"},
        {"interest_num": 4, "short_term_window": 3, "training_score": "max", "short_term_loss_weight": 1.0},
        {"interest_num": 4, "short_term_window": 3, "short_term_loss_weight": 0.5, "loss_type": "SSM"},
        {"interest_num": 4, "cosine_temperature": 0.1},
        {"interest_num": 4, "short_term_window": 3, "cosine_temperature": 0.1, "loss_type": "SSM"},
    ],
)
def test_loss_is_finite_and_trains_every_part(ml100k_data, batch, overrides):
    model = make_model(ml100k_data, **overrides).train()
    loss = model.calculate_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    for name in ("item_encoder.id_embedding.weight", "routing.bilinear.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    for layer in model.interest_mlp:
        if isinstance(layer, torch.nn.Linear):
            assert layer.weight.grad.abs().sum() > 0
    assert "eval_routing_logits" not in dict(model.named_parameters())
    for name in ("short_term_weights.weight", "short_term_mlp.0.weight"):
        if name in dict(model.named_parameters()):
            grad = dict(model.named_parameters())[name].grad
            assert grad is not None and grad.abs().sum() > 0, name


def test_learned_short_term_weights_start_as_the_plain_short_term_interest(ml100k_data, batch):
    plain = make_model(ml100k_data, interest_num=4, short_term_window=3).eval()
    weighted = make_model(ml100k_data, interest_num=4, short_term_window=3, short_term_recency_weights=True).eval()
    state = {**plain.state_dict(), "short_term_weights.weight": torch.ones(3)}
    weighted.load_state_dict(state)
    with torch.no_grad():
        expected = plain(batch["item_id_list"], batch["item_length"])[0]
        assert torch.allclose(weighted(batch["item_id_list"], batch["item_length"])[0], expected)
        weighted.short_term_weights.weight.copy_(torch.tensor([1.0, 0.0, 0.0]))  # the latest alone
        interests = weighted(batch["item_id_list"], batch["item_length"])[0]
    latest = batch["item_id_list"][0, int(batch["item_length"][0]) - 1]
    with torch.no_grad():
        capsule = squash_of(weighted, latest)
    assert torch.allclose(interests[0, 0], weighted.short_term_mlp(capsule), atol=1e-5)
    assert torch.allclose(interests[:, 1:], expected[:, 1:])  # the routed interests are untouched


def squash_of(model, items):
    from recbole_mind.model.layers import squash

    return squash(model.routing.bilinear(model.item_encoder(items)).reshape(-1, model.embedding_size).sum(0))


def test_short_term_interest_pools_the_latest_behaviours(ml100k_data, batch):
    from recbole_mind.model.layers import squash

    model = make_model(ml100k_data, interest_num=4, short_term_window=3).eval()
    with torch.no_grad():
        interests, capsule_mask, weights = model.interests_and_routing_weights(
            batch["item_id_list"], batch["item_length"]
        )
        assert capsule_mask.sum(1).tolist() == expected_active(batch["item_length"], 4)
        for row in range(0, len(batch), 41):
            length = int(batch["item_length"][row])
            latest = batch["item_id_list"][row, max(0, length - 3): length]
            capsule = squash(model.routing.bilinear(model.item_encoder(latest)).sum(0))
            assert torch.allclose(interests[row, 0], model.short_term_mlp(capsule), atol=1e-5)
            assert weights[row, 0].sum() == min(3, length)
    # a single interest is the short-term one alone, whatever the history's length
    single = make_model(ml100k_data, interest_num=1, short_term_window=3).eval()
    with torch.no_grad():
        interests, capsule_mask = single(batch["item_id_list"], batch["item_length"])
    assert interests.shape[1] == 1 and capsule_mask.all()


def test_state_dict_holds_parameters_and_the_eval_routing_draw_only(ml100k_data, batch):
    model = make_model(ml100k_data).eval()
    with torch.no_grad():
        model.full_sort_predict(batch)  # fills the eval-mode item cache
    expected = {name for name, _ in model.named_parameters()} | {"routing.eval_routing_logits"}
    assert set(model.state_dict()) == expected


def test_model_survives_deepcopy_with_identical_scores(ml100k_data, batch):
    model = make_model(ml100k_data).eval()
    clone = copy.deepcopy(model)
    with torch.no_grad():
        assert torch.equal(model.full_sort_predict(batch), clone.full_sort_predict(batch))


@pytest.mark.parametrize("change", ["double", "data_write_then_eval", "in_place_step", "train_then_eval"])
def test_eval_item_cache_never_serves_stale_vectors(ml100k_data, batch, change):
    model = make_model(ml100k_data).eval()
    weight = model.item_encoder.id_embedding.weight
    with torch.no_grad():
        model.full_sort_predict(batch)  # fills the cache
        if change == "double":
            model.double()  # new parameter tensors, new dtype
        elif change == "data_write_then_eval":
            weight.data.mul_(2)  # bumps no version counter ...
            model.eval()  # ... so, as RecBole's evaluate does, eval() starts afresh
        elif change == "in_place_step":
            weight.mul_(2)  # as an optimizer step does
        else:
            model.train()
            weight.mul_(2)
            model.eval()
        served = model.full_sort_predict(batch)
        model._item_vectors_cache = None
        fresh = model.full_sort_predict(batch)
    assert served.dtype == (torch.float64 if change == "double" else torch.float32)
    assert torch.equal(served, fresh)


def test_bad_key_fails_when_the_model_is_built(ml100k_data):
    with pytest.raises(ValueError, match="routing_times must be an integer >= 1, got 0"):
        make_model(ml100k_data, routing_times=0)


def test_several_interests_beat_one_on_multi_interest_data(tmp_path, monkeypatch):
    # Users mixing 4 of 50 item clusters; same seed, same budget, only interest_num differs.
    # The margin (0.07 Recall@50) is the claim; the test prints both figures when it fails.
    from recbole_mind import run_recbole_mind
    from recbole_mind.data.synthetic import write_multi_interest_dataset

    monkeypatch.chdir(tmp_path)
    write_multi_interest_dataset(
        str(tmp_path / "data"), n_users=500, n_items=1000, n_interactions=20_000,
        n_clusters=50, interests_per_user=4, seed=0,
    )
    recall = {}
    for interest_num in (4, 1):
        result = run_recbole_mind("MIND", "synthetic", config_dict={
            "data_path": str(tmp_path / "data"), "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
            "MAX_ITEM_LIST_LENGTH": 20, "interest_num": interest_num, "epochs": 8, "learning_rate": 0.005,
            "metrics": ["Recall"], "topk": [50], "valid_metric": "Recall@50",
            "show_progress": False, "state": "WARNING",
        })
        recall[interest_num] = result["test_result"]["recall@50"]
    assert recall[4] - recall[1] > 0.07, recall


@settings(max_examples=25)
@given(
    data=st.data(),
    batch_size=st.integers(1, 5),
    interest_num=st.integers(1, 8),  # up to 8: more than log2 of any history of <= 20
    attention_power=st.sampled_from([1e-6, 1e-2, 1.0, 30.0, 1e6, math.inf]),
    identical_items=st.booleans(),
    zero_embeddings=st.booleans(),
    additions=st.sampled_from([
        {},
        PRESET_KEYS,  # the recommended preset's exact combination, read from its YAML
        {"short_term_window": 1},
        {"short_term_window": 3, "cosine_temperature": 0.05, "training_score": "max"},
        {"cosine_temperature": 0.01},
    ]),
)
def test_degenerate_histories_keep_loss_gradients_and_scores_finite(
    ml100k_data, data, batch_size, interest_num, attention_power, identical_items, zero_embeddings, additions
):
    from recbole.data.interaction import Interaction

    config, _, _, _, _ = ml100k_data
    max_length, n_items = config["MAX_ITEM_LIST_LENGTH"], ml100k_data[2]._dataset.item_num
    model = make_model(ml100k_data, **{"interest_num": interest_num, "attention_power": attention_power, **additions})
    lengths = data.draw(st.lists(st.integers(1, max_length), min_size=batch_size, max_size=batch_size))
    item_seq = torch.zeros(batch_size, max_length, dtype=torch.long)
    for row, length in enumerate(lengths):
        if identical_items:
            item_seq[row, :length] = data.draw(st.integers(1, n_items - 1))
        else:
            item_seq[row, :length] = torch.tensor(data.draw(
                st.lists(st.integers(1, n_items - 1), min_size=length, max_size=length)))
    if zero_embeddings:
        with torch.no_grad():
            model.item_encoder.id_embedding.weight[item_seq.flatten()] = 0.0
    batch = Interaction({
        model.ITEM_SEQ: item_seq,
        model.ITEM_SEQ_LEN: torch.tensor(lengths),
        model.POS_ITEM_ID: torch.randint(1, n_items, (batch_size,)),
    })
    loss = model.train().calculate_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    with torch.no_grad():
        model.eval()
        assert torch.isfinite(model.full_sort_predict(batch)).all()
        assert torch.isfinite(model.predict(batch)).all()


def test_catalogue_mapping_equals_mapping_every_behaviour(ml100k_data, batch):
    model = make_model(ml100k_data)
    item_seq = batch["item_id_list"]
    assert model.n_items <= item_seq.numel()  # the catalogue path is taken
    expected = model.routing.bilinear(model.item_encoder(item_seq))
    assert torch.allclose(model._mapped_behaviours(item_seq), expected, atol=1e-5)


def test_max_training_score_is_cross_entropy_of_the_serving_scores(ml100k_data, batch):
    model = make_model(ml100k_data, interest_num=4, training_score="max").eval()
    with torch.no_grad():
        loss = model.calculate_loss(batch)
        serving = model.full_sort_predict(batch)
    expected = torch.nn.functional.cross_entropy(serving, batch["item_id"])
    assert torch.allclose(loss, expected, atol=1e-5)


def test_sparse_item_table_keeps_sparse_gradients_on_a_small_catalogue(ml100k_data, batch):
    model = make_model(
        ml100k_data, loss_type="SSM", sparse_item_embedding=True, interest_num=4, short_term_window=3
    ).train()
    model.calculate_loss(batch).backward()
    assert model.item_encoder.id_embedding.weight.grad.is_sparse


@pytest.mark.parametrize("training_score", ["attention", "max"])
def test_short_term_loss_adds_the_short_term_interests_own_softmax(ml100k_data, batch, training_score):
    config = dict(interest_num=4, short_term_window=3, training_score=training_score)
    plain = make_model(ml100k_data, **config).train()
    weighted = make_model(ml100k_data, **config, short_term_loss_weight=0.5).train()
    weighted.load_state_dict(plain.state_dict())
    torch.manual_seed(3)  # the same routing draws for both
    base = plain.calculate_loss(batch)
    torch.manual_seed(3)
    total = weighted.calculate_loss(batch)
    torch.manual_seed(3)
    interests, capsule_mask = plain(batch["item_id_list"], batch["item_length"])
    short_term_logits = interests[:, 0] @ plain.item_encoder.all_items().t()
    own = torch.nn.functional.cross_entropy(short_term_logits, batch["item_id"])
    assert own > 0 and torch.allclose(total, base + 0.5 * own, rtol=1e-5)
    assert make_model(ml100k_data).short_term_loss_weight == 0.0  # off by default: the paper's loss
    # a single interest is the short-term one: the ablation of a preset that sets the weight is
    # the single-interest model as it was
    single = make_model(ml100k_data, interest_num=1, short_term_window=3, short_term_loss_weight=0.5)
    assert single.short_term_loss_weight == 0.0


@pytest.mark.parametrize("training_score", ["attention", "max"])
def test_short_term_loss_under_ssm_scores_the_main_losss_negatives(ml100k_data, batch, training_score):
    from recbole_mind.model.sampling import sampled_softmax_loss

    config = dict(interest_num=4, short_term_window=3, training_score=training_score, loss_type="SSM")
    plain = make_model(ml100k_data, **config).train()
    weighted = make_model(ml100k_data, **config, short_term_loss_weight=0.5).train()
    weighted.load_state_dict(plain.state_dict())
    torch.manual_seed(3)  # the same routing and negative draws for both
    base = plain.calculate_loss(batch)
    torch.manual_seed(3)
    total = weighted.calculate_loss(batch)
    torch.manual_seed(3)
    interests, _ = plain(batch["item_id_list"], batch["item_length"])
    negatives = plain.negative_sampler(plain.num_negatives)  # one draw, after the routing's
    positives = batch["item_id"]
    log_q = plain.negative_sampler.log_q(positives), plain.negative_sampler.log_q(negatives)
    own = sampled_softmax_loss(
        interests[:, 0], plain.item_encoder(positives), positives, plain.item_encoder(negatives), negatives, *log_q
    )
    assert own > 0 and torch.allclose(total, base + 0.5 * own, rtol=1e-5)


def test_cosine_temperature_scores_unit_vectors_and_divides_trainings_logits(ml100k_data, batch):
    model = make_model(ml100k_data, interest_num=4, training_score="max", cosine_temperature=0.1).eval()
    with torch.no_grad():
        interests, capsule_mask = model(batch["item_id_list"], batch["item_length"])
        items = model.catalogue_vectors()
        loss = model.calculate_loss(batch)
        serving = model.full_sort_predict(batch)
    norms = interests.norm(dim=-1)
    assert torch.allclose(norms[capsule_mask], torch.ones(()), atol=1e-5)
    assert (norms[~capsule_mask] == 0).all()
    assert torch.allclose(items[1:].norm(dim=-1), torch.ones(()), atol=1e-5)
    assert serving.max() <= 1 + 1e-5
    # training's logits are the serving cosines over the temperature
    expected = torch.nn.functional.cross_entropy(serving / 0.1, batch["item_id"])
    assert torch.allclose(loss, expected, atol=1e-4)


def test_cosine_temperature_off_scores_by_unnormalised_inner_products(ml100k_data, batch):
    model = make_model(ml100k_data, interest_num=4).eval()
    assert model.cosine_temperature == 0 and not model.item_encoder.normalize
    with torch.no_grad():
        interests, capsule_mask = model(batch["item_id_list"], batch["item_length"])
    assert not torch.allclose(interests.norm(dim=-1)[capsule_mask], torch.ones(()), atol=1e-2)
    assert torch.equal(model.catalogue_vectors(), model.item_encoder.id_embedding.weight)


# MIND.yaml's keys: the paper's (with RecBole's history, batch and sampling keys), and every other
# one with the value that switches it off, which must be its default (paper MIND).
PAPER_KEYS = {
    "embedding_size", "interest_num", "routing_times", "dynamic_interest", "routing_logit_std",
    "routing_softmax_axis", "attention_power", "interest_mlp_hidden_sizes", "dropout_prob", "loss_type",
    "num_negatives", "negative_sampler", "logq_correction", "user_profile_fields", "item_feature_fields",
    "MAX_ITEM_LIST_LENGTH", "train_batch_size", "train_neg_sample_args",
}
OFF = {
    "sparse_item_embedding": False,
    "short_term_window": 0,
    "short_term_recency_weights": False,
    "training_score": "attention",
    "short_term_loss_weight": 0.0,
    "cosine_temperature": 0.0,
}


def mind_defaults() -> dict:
    import yaml

    from conftest import REPO_ROOT

    with open(f"{REPO_ROOT}/properties/MIND.yaml", encoding="utf-8") as file:
        return yaml.safe_load(file)


def test_every_default_key_is_the_papers_or_has_an_off_value():
    assert set(mind_defaults()) == PAPER_KEYS | set(OFF)


@pytest.mark.parametrize("key", sorted(OFF))
def test_every_non_paper_key_is_off_by_default(ml100k_data, key):
    assert mind_defaults()[key] == OFF[key]
    model = make_model(ml100k_data)  # MIND.yaml's defaults
    assert model.short_term_weights is None and model.short_term_mlp is None
    assert model.loss_weights == (1.0,) and model.logit_temperature == 1.0
    assert not any(name.startswith("short_term") for name in model.state_dict())

import math

import pytest

from recbole_mind.params import read_mind_params

VALID = {
    "embedding_size": 64,
    "interest_num": 4,
    "routing_times": 3,
    "dynamic_interest": True,
    "routing_logit_std": 1.0,
    "routing_softmax_axis": "interest",
    "attention_power": 1.0,
    "interest_mlp_hidden_sizes": [],
    "dropout_prob": 0.0,
    "loss_type": "CE",
    "num_negatives": 100,
    "negative_sampler": "popularity",
    "logq_correction": True,
    "sparse_item_embedding": False,
    "user_profile_fields": [],
    "item_feature_fields": ["class"],
    "recency_embedding": False,
    "routing_recency_prior": False,
    "short_term_window": 0,
    "short_term_recency_weights": False,
    "short_term_attention": False,
    "short_term_order_mlp": False,
    "routing_gradient": False,
    "routing_regularization": 0.0,
    "training_score": "attention",
    "future_targets": 0,
    "hard_negative_beta": 0.0,
    "short_term_loss_weight": 0.0,
    "cosine_temperature": 0.0,
}


def test_valid_config_is_read():
    params = read_mind_params(VALID)
    assert params.interest_num == 4 and params.interest_mlp_hidden_sizes == ()


@pytest.mark.parametrize("value", [math.inf, "inf", "Infinity"])
def test_attention_power_accepts_infinity(value):
    assert math.isinf(read_mind_params({**VALID, "attention_power": value}).attention_power)


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("interest_num", 0, ">= 1"),
        ("interest_num", 2.5, "integer"),
        ("interest_num", True, "integer"),
        ("interest_num", "4", "integer"),
        ("routing_times", 0, ">= 1"),
        ("embedding_size", -8, ">= 1"),
        ("attention_power", 0, "> 0"),
        ("attention_power", -2.0, "> 0"),
        ("attention_power", "soft", "> 0"),
        ("attention_power", float("nan"), "> 0"),
        ("routing_logit_std", 0.0, "> 0"),
        ("routing_logit_std", math.inf, "finite"),
        ("dynamic_interest", "yes", "True or False"),
        ("routing_softmax_axis", "items", "interest"),
        ("interest_mlp_hidden_sizes", [64, 0], "list of integers"),
        ("interest_mlp_hidden_sizes", 64, "list of integers"),
        ("dropout_prob", 1.0, "[0, 1)"),
        ("dropout_prob", -0.1, "[0, 1)"),
        ("loss_type", "BPR", "CE"),
        ("num_negatives", 0, ">= 1"),
        ("negative_sampler", "zipf", "uniform"),
        ("logq_correction", 1, "True or False"),
        ("sparse_item_embedding", "yes", "True or False"),
        ("sparse_item_embedding", True, "needs loss_type: SSM"),
        ("user_profile_fields", "age", "list of field names"),
        ("item_feature_fields", [3], "list of field names"),
        ("interest_num", None, "missing"),
        ("recency_embedding", "no", "True or False"),
        ("routing_recency_prior", 1, "True or False"),
        ("short_term_window", -1, ">= 0"),
        ("short_term_window", 2.5, "integer"),
        ("short_term_recency_weights", "yes", "True or False"),
        ("short_term_attention", "on", "True or False"),
        ("short_term_order_mlp", 1, "True or False"),
        ("routing_gradient", 0, "True or False"),
        ("routing_regularization", -0.1, ">= 0"),
        ("routing_regularization", math.nan, ">= 0"),
        ("routing_regularization", "strong", ">= 0"),
        ("routing_regularization", 0.5, "needs routing_gradient: True"),
        ("training_score", "maximum", "attention"),
        ("future_targets", -1, ">= 0"),
        ("future_targets", 1.5, "integer"),
        ("future_targets", 3, "needs training_score: max and loss_type: CE"),
        ("hard_negative_beta", -1.0, ">= 0"),
        ("hard_negative_beta", math.inf, ">= 0"),
        ("hard_negative_beta", "hard", ">= 0"),
        ("hard_negative_beta", True, ">= 0"),
        ("short_term_loss_weight", -0.5, ">= 0"),
        ("short_term_loss_weight", math.nan, ">= 0"),
        ("short_term_loss_weight", "half", ">= 0"),
        ("short_term_loss_weight", 1.0, "set short_term_window > 0 too"),
        ("cosine_temperature", -0.1, ">= 0"),
        ("cosine_temperature", math.inf, ">= 0"),
        ("cosine_temperature", "cold", ">= 0"),
        ("cosine_temperature", 0.001, "at least 0.01"),
    ],
)
def test_bad_value_names_key_value_and_allowed_range(key, value, allowed):
    with pytest.raises(ValueError) as error:
        read_mind_params({**VALID, key: value})
    message = str(error.value)
    assert key in message and allowed in message
    if value is not None:
        assert repr(value) in message


def test_short_term_recency_weights_need_a_short_term_window():
    with pytest.raises(ValueError, match="short_term_recency_weights: True .* set short_term_window > 0"):
        read_mind_params({**VALID, "short_term_recency_weights": True})
    params = read_mind_params({**VALID, "short_term_recency_weights": True, "short_term_window": 3})
    assert params.short_term_recency_weights and params.short_term_window == 3


def test_short_term_order_mlp_needs_a_short_term_window_and_combines_with_either_weighing():
    with pytest.raises(ValueError, match="short_term_order_mlp: True .* set short_term_window > 0"):
        read_mind_params({**VALID, "short_term_order_mlp": True})
    for weighing in ("short_term_attention", "short_term_recency_weights"):
        params = read_mind_params({**VALID, "short_term_order_mlp": True, "short_term_window": 3, weighing: True})
        assert params.short_term_order_mlp and getattr(params, weighing)


def test_short_term_attention_needs_a_short_term_window_and_excludes_the_weights():
    with pytest.raises(ValueError, match="short_term_attention: True .* set short_term_window > 0"):
        read_mind_params({**VALID, "short_term_attention": True})
    both = {**VALID, "short_term_window": 3, "short_term_attention": True, "short_term_recency_weights": True}
    with pytest.raises(ValueError, match="short_term_attention and short_term_recency_weights .* one of them"):
        read_mind_params(both)
    params = read_mind_params({**VALID, "short_term_attention": True, "short_term_window": 3})
    assert params.short_term_attention and not params.short_term_recency_weights


def test_short_term_window_must_fit_the_history_window():
    with pytest.raises(ValueError, match=r"short_term_window \(30\) must not exceed MAX_ITEM_LIST_LENGTH \(20\)"):
        read_mind_params({**VALID, "short_term_window": 30, "MAX_ITEM_LIST_LENGTH": 20})
    assert read_mind_params({**VALID, "short_term_window": 20, "MAX_ITEM_LIST_LENGTH": 20}).short_term_window == 20


def test_routing_regularization_needs_the_routing_gradient_and_routed_interests():
    on = {**VALID, "routing_regularization": 0.5, "routing_gradient": True}
    assert read_mind_params(on).routing_regularization == 0.5
    with pytest.raises(ValueError, match="regularises routed interests, and there are none"):
        read_mind_params({**on, "interest_num": 1, "short_term_window": 3})
    assert read_mind_params({**on, "interest_num": 2, "short_term_window": 3}).routing_regularization == 0.5


def test_future_targets_need_the_max_score_and_the_full_softmax():
    on = {**VALID, "future_targets": 4, "training_score": "max"}
    assert read_mind_params(on).future_targets == 4
    with pytest.raises(ValueError, match="got training_score: max, loss_type: SSM"):
        read_mind_params({**on, "loss_type": "SSM"})


def test_hard_negatives_need_a_single_target_per_example():
    on = {**VALID, "hard_negative_beta": 2.0}
    assert read_mind_params(on).hard_negative_beta == 2.0
    future = {**on, "future_targets": 3, "training_score": "max"}
    with pytest.raises(ValueError, match="hard_negative_beta: 2.0 .* set future_targets: 0 \\(got 3\\)"):
        read_mind_params(future)


def test_short_term_loss_needs_a_short_term_interest():
    on = {**VALID, "short_term_loss_weight": 0.5, "short_term_window": 3}
    assert read_mind_params(on).short_term_loss_weight == 0.5
    assert read_mind_params({**on, "interest_num": 1}).short_term_loss_weight == 0.5  # the model skips it
    with pytest.raises(ValueError, match="short_term_loss_weight: 0.5 .* set short_term_window > 0 too"):
        read_mind_params({**on, "short_term_window": 0})


def test_cosine_temperature_is_off_at_zero_and_read_as_a_float():
    assert read_mind_params(VALID).cosine_temperature == 0.0
    assert read_mind_params({**VALID, "cosine_temperature": 0.1}).cosine_temperature == 0.1
    assert read_mind_params({**VALID, "cosine_temperature": 1}).cosine_temperature == 1.0

import math

import pytest

from recbole_mind.model.params import read_mind_params

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
    "short_term_window": 0,
    "short_term_recency_weights": False,
    "training_score": "attention",
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
        ("interest_num", None, "integer >= 1"),
        ("short_term_window", -1, ">= 0"),
        ("short_term_window", 2.5, "integer"),
        ("short_term_recency_weights", "yes", "True or False"),
        ("training_score", "maximum", "attention"),
        ("short_term_loss_weight", -0.5, ">= 0"),
        ("short_term_loss_weight", math.nan, ">= 0"),
        ("short_term_loss_weight", "half", ">= 0"),
        ("short_term_loss_weight", 1.0, "set short_term_window > 0 too"),
        ("cosine_temperature", -0.1, "0 (off) or a finite number of at least 0.01"),
        ("cosine_temperature", math.inf, "0 (off) or a finite number of at least 0.01"),
        ("cosine_temperature", "cold", "0 (off) or a finite number of at least 0.01"),
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


def test_short_term_window_must_fit_the_history_window():
    with pytest.raises(ValueError, match=r"short_term_window \(30\) must not exceed MAX_ITEM_LIST_LENGTH \(20\)"):
        read_mind_params({**VALID, "short_term_window": 30, "MAX_ITEM_LIST_LENGTH": 20})
    assert read_mind_params({**VALID, "short_term_window": 20, "MAX_ITEM_LIST_LENGTH": 20}).short_term_window == 20


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

"""MIND's configuration keys: one place that reads, type-checks and range-checks them.

Every check raises ``ValueError`` naming the key, the bad value and what is allowed, when the
model is built, so a typo in a YAML file fails before any training starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from recbole_mind.model.layers import ROUTING_SOFTMAX_AXES
from recbole_mind.model.removed import check_removed_keys
from recbole_mind.model.sampling import SAMPLER_DISTRIBUTIONS

LOSS_TYPES = ("CE", "SSM")
TRAINING_SCORES = ("attention", "max")
MIN_COSINE_TEMPERATURE = 0.01


@dataclass(frozen=True)
class MINDParams:
    embedding_size: int
    interest_num: int
    routing_times: int
    dynamic_interest: bool
    routing_logit_std: float
    routing_softmax_axis: str
    attention_power: float
    interest_mlp_hidden_sizes: tuple[int, ...]
    dropout_prob: float
    loss_type: str
    num_negatives: int
    negative_sampler: str
    logq_correction: bool
    sparse_item_embedding: bool
    user_profile_fields: tuple[str, ...]
    item_feature_fields: tuple[str, ...]
    short_term_window: int
    short_term_recency_weights: bool
    training_score: str
    short_term_loss_weight: float
    cosine_temperature: float


def _value(config: Mapping[str, Any], key: str) -> Any:
    # RecBole's Config answers None for a key it does not hold.
    value = config[key] if key in config else None
    if value is None:
        raise ValueError(f"MIND config key '{key}' is missing (defaults: properties/MIND.yaml)")
    return value


def _int(config: Mapping[str, Any], key: str, minimum: int) -> int:
    value = _value(config, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _bool(config: Mapping[str, Any], key: str) -> bool:
    value = _value(config, key)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be True or False, got {value!r}")
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
        return math.inf
    return None


def _weight(config: Mapping[str, Any], key: str) -> float:
    """A finite number >= 0 of a key whose 0 switches its term off."""
    value = _number(_value(config, key))
    if value is None or not 0 <= value < math.inf:
        raise ValueError(f"{key} must be a finite number >= 0 (0: off), got {config[key]!r}")
    return value


def _names(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = _value(config, key)
    if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) for name in value):
        hint = ""
        if isinstance(value, str) and value.startswith("["):  # --key=[age,gender]: names unquoted
            names = ",".join(repr(name.strip()) for name in value.strip("[] ").split(",") if name.strip())
            hint = f"; on the command line quote the names: --{key}=\"[{names}]\""
        raise ValueError(f"{key} must be a list of field names ([] for none), got {value!r}{hint}")
    return tuple(value)


def _choice(config: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = _value(config, key)
    if value not in allowed:
        raise ValueError(f"{key} must be one of {list(allowed)}, got {value!r}")
    return value


def read_mind_params(config: Mapping[str, Any]) -> MINDParams:
    """Validate MIND's keys in a RecBole ``Config`` (or any mapping) and return them."""
    check_removed_keys(config)
    attention_power = _number(_value(config, "attention_power"))
    if attention_power is None or math.isnan(attention_power) or attention_power <= 0:
        raise ValueError(
            "attention_power must be a number > 0 (or inf for hard attention), "
            f"got {config['attention_power']!r}"
        )
    logit_std = _number(_value(config, "routing_logit_std"))
    if logit_std is None or not 0 < logit_std < math.inf:
        raise ValueError(
            f"routing_logit_std must be a finite number > 0, got {config['routing_logit_std']!r}"
        )
    dropout_prob = _number(_value(config, "dropout_prob"))
    if dropout_prob is None or not 0 <= dropout_prob < 1:
        raise ValueError(f"dropout_prob must be a number in [0, 1), got {config['dropout_prob']!r}")
    hidden_sizes = _value(config, "interest_mlp_hidden_sizes")
    if not isinstance(hidden_sizes, (list, tuple)) or any(
        isinstance(size, bool) or not isinstance(size, int) or size < 1 for size in hidden_sizes
    ):
        raise ValueError(
            "interest_mlp_hidden_sizes must be a list of integers >= 1 (empty list: one linear "
            f"layer), got {hidden_sizes!r}"
        )
    loss_type = _choice(config, "loss_type", LOSS_TYPES)
    sparse_item_embedding = _bool(config, "sparse_item_embedding")
    if sparse_item_embedding and loss_type != "SSM":
        raise ValueError(
            f"sparse_item_embedding: True needs loss_type: SSM, got loss_type: {loss_type} "
            "(a full softmax reads every item's vector, so the table's gradient is dense anyway)"
        )
    short_term_window = _int(config, "short_term_window", 0)
    max_length = config["MAX_ITEM_LIST_LENGTH"] if "MAX_ITEM_LIST_LENGTH" in config else None
    if isinstance(max_length, int) and short_term_window > max_length:
        raise ValueError(
            f"short_term_window ({short_term_window}) must not exceed MAX_ITEM_LIST_LENGTH "
            f"({max_length}): the short-term interest pools behaviours of the history window"
        )
    short_term_recency_weights = _bool(config, "short_term_recency_weights")
    if short_term_recency_weights and not short_term_window:
        raise ValueError(
            "short_term_recency_weights: True weighs the short-term window's behaviours: set "
            "short_term_window > 0 too (it is 0, so there is no short-term interest)"
        )
    short_term_loss_weight = _weight(config, "short_term_loss_weight")
    if short_term_loss_weight > 0 and not short_term_window:
        raise ValueError(
            f"short_term_loss_weight: {short_term_loss_weight} trains the short-term interest on its own: "
            "set short_term_window > 0 too (it is 0, so there is no short-term interest)"
        )
    # 0 switches cosine scoring off. Below 0.01 the logits (cosines / T) pass +-100 and the softmax
    # is a hard max whose gradient reaches the top items only; 0.1 already lost Recall@50 (grid 34).
    cosine_temperature = _weight(config, "cosine_temperature")
    if 0 < cosine_temperature < MIN_COSINE_TEMPERATURE:
        raise ValueError(
            f"cosine_temperature must be 0 (off) or at least {MIN_COSINE_TEMPERATURE} (cosine scores "
            f"divided by it are training's logits), got {cosine_temperature!r}"
        )
    return MINDParams(
        embedding_size=_int(config, "embedding_size", 1),
        interest_num=_int(config, "interest_num", 1),
        routing_times=_int(config, "routing_times", 1),
        dynamic_interest=_bool(config, "dynamic_interest"),
        routing_logit_std=logit_std,
        routing_softmax_axis=_choice(config, "routing_softmax_axis", ROUTING_SOFTMAX_AXES),
        attention_power=attention_power,
        interest_mlp_hidden_sizes=tuple(hidden_sizes),
        dropout_prob=dropout_prob,
        loss_type=loss_type,
        num_negatives=_int(config, "num_negatives", 1),
        negative_sampler=_choice(config, "negative_sampler", SAMPLER_DISTRIBUTIONS),
        logq_correction=_bool(config, "logq_correction"),
        sparse_item_embedding=sparse_item_embedding,
        user_profile_fields=_names(config, "user_profile_fields"),
        item_feature_fields=_names(config, "item_feature_fields"),
        short_term_window=short_term_window,
        short_term_recency_weights=short_term_recency_weights,
        training_score=_choice(config, "training_score", TRAINING_SCORES),
        short_term_loss_weight=short_term_loss_weight,
        cosine_temperature=cosine_temperature,
    )

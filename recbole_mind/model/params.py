"""MIND's keys as the model reads them: each checked by its rule in the settings table
(``settings.table``), then the rules between them.

Every check raises ``ValueError`` naming the key, the bad value and what is allowed, when the
config is built, so a typo in a YAML file fails before any data loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from recbole_mind.settings.removed import check_removed_keys
from recbole_mind.settings.table import checked


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


def read_mind_params(config: Mapping[str, Any]) -> MINDParams:
    """Validate MIND's keys in a RecBole ``Config`` (or any mapping) and return them."""
    check_removed_keys(config)
    values = {name: checked(config, name) for name in MINDParams.__dataclass_fields__}
    if values["sparse_item_embedding"] and values["loss_type"] != "SSM":
        raise ValueError(
            f"sparse_item_embedding: True needs loss_type: SSM, got loss_type: {values['loss_type']} "
            "(a full softmax reads every item's vector, so the table's gradient is dense anyway)"
        )
    short_term_window = values["short_term_window"]
    max_length = config["MAX_ITEM_LIST_LENGTH"] if "MAX_ITEM_LIST_LENGTH" in config else None
    if isinstance(max_length, int) and short_term_window > max_length:
        raise ValueError(
            f"short_term_window ({short_term_window}) must not exceed MAX_ITEM_LIST_LENGTH "
            f"({max_length}): the short-term interest pools behaviours of the history window"
        )
    if values["short_term_recency_weights"] and not short_term_window:
        raise ValueError(
            "short_term_recency_weights: True weighs the short-term window's behaviours: set "
            "short_term_window > 0 too (it is 0, so there is no short-term interest)"
        )
    if values["short_term_loss_weight"] > 0 and not short_term_window:
        raise ValueError(
            f"short_term_loss_weight: {values['short_term_loss_weight']} trains the short-term interest on its "
            "own: set short_term_window > 0 too (it is 0, so there is no short-term interest)"
        )
    return MINDParams(**values)

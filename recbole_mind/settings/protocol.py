"""Keys of the multi-interest protocol (``properties/protocols/multi_target.yaml``), checked
before any data loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from recbole.data.interaction import Interaction

from recbole_mind.settings.diversity import read_diversity_params
from recbole_mind.settings.table import DIVERSITY_METRICS, MULTI_TARGET_METRICS, checked

PROTOCOL_NAME = "multi_target"
PROTOCOL_FILE = "protocols/multi_target.yaml"
METRICS = MULTI_TARGET_METRICS
# read with the items' categories (diversity_category_field): recbole_mind.diversity.evaluation
ALLOWED_METRICS = METRICS + DIVERSITY_METRICS

# A scorer maps a batch of held-out users to one score per catalogue item: (B, n_items).
Scorer = Callable[[Interaction], torch.Tensor]


# ----------------------------------------------------------------------------- config keys


@dataclass(frozen=True)
class MultiTargetParams:
    """The protocol's keys, validated (``properties/protocols/multi_target.yaml``)."""

    user_split: tuple[float, float, float]
    user_split_seed: int
    history_ratio: float
    exclude_history: bool
    topk: tuple[int, ...]
    metrics: tuple[str, ...]
    valid_metric: str  # lower case, as RecBole's trainer keys results: "recall@50"
    diversity_lambda: float = 0.0  # > 0: ranked lists are ComiRec's greedy choice (diversity.py)
    category_field: str | None = None  # diversity_category_field


def is_multi_target(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` selects this protocol (``multi_target: True``)."""
    if ("multi_target" in config) and config["multi_target"] is None:
        return False  # RecBole's Config answers None for a key no layer set
    return checked(config, "multi_target")


def read_multi_target_params(config: Mapping[str, Any]) -> MultiTargetParams:
    """Validate the protocol's keys in a RecBole ``Config`` (or any mapping).

    Keys the config does not hold take the shipped file's values. Each error names the key,
    the bad value and what is allowed.
    """
    user_split = checked(config, "user_split")
    total = float(sum(user_split))
    seed = checked(config, "user_split_seed")
    if seed is None:
        seed = config["seed"] if "seed" in config and config["seed"] is not None else 2020
    history_ratio = checked(config, "history_ratio")
    exclude_history = checked(config, "exclude_history")
    topk = checked(config, "multi_target_topk")
    metrics = checked(config, "multi_target_metrics")
    diversity = read_diversity_params(config, metrics)
    valid_metric = checked(config, "multi_target_valid_metric")
    allowed = [f"{name}@{n}" for name in metrics for n in topk]
    if valid_metric.lower() not in [name.lower() for name in allowed]:
        raise ValueError(f"multi_target_valid_metric must be one of {allowed}, got {valid_metric!r}")
    if "single_spec" in config and config["single_spec"] is False:
        raise ValueError(
            "multi_target: True runs in one process; distributed training (nproc > 1) is not supported yet"
        )
    return MultiTargetParams(
        user_split=tuple(share / total for share in user_split),
        user_split_seed=seed,
        history_ratio=history_ratio,
        exclude_history=exclude_history,
        topk=topk,
        metrics=metrics,
        valid_metric=valid_metric.lower(),
        diversity_lambda=diversity.diversity_lambda,
        category_field=diversity.category_field,
    )

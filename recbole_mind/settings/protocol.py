"""Keys of the multi-interest protocol (``properties/protocols/multi_target.yaml``), checked
before any data loads."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import yaml
from recbole.data.interaction import Interaction

from recbole_mind.settings.diversity import DIVERSITY_METRICS, read_diversity_params
from recbole_mind.settings.properties import properties_path

PROTOCOL_NAME = "multi_target"
PROTOCOL_FILE = "protocols/multi_target.yaml"
METRICS = ("Recall", "NDCG", "HitRate")
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


@functools.lru_cache(maxsize=None)
def protocol_defaults() -> dict[str, Any]:
    """The keys of the shipped protocol file: defaults for keys a config leaves out."""
    with open(properties_path(PROTOCOL_FILE), encoding="utf-8") as file:
        return yaml.safe_load(file)


def _get(config: Mapping[str, Any], key: str) -> Any:
    # RecBole's Config answers None for a key it does not hold; a key set to ~ is kept as None.
    return config[key] if key in config else protocol_defaults()[key]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_multi_target(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` selects this protocol (``multi_target: True``)."""
    value = config["multi_target"] if "multi_target" in config else None
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"multi_target must be True or False, got {value!r}")
    return value


def read_multi_target_params(config: Mapping[str, Any]) -> MultiTargetParams:
    """Validate the protocol's keys in a RecBole ``Config`` (or any mapping).

    Keys the config does not hold take the shipped file's values. Each error names the key,
    the bad value and what is allowed.
    """
    user_split = _get(config, "user_split")
    if (
        not isinstance(user_split, (list, tuple))
        or len(user_split) != 3
        or not all(_is_number(share) and share > 0 for share in user_split)
    ):
        raise ValueError(
            "user_split must be 3 numbers > 0 (shares of train, validation and test users, "
            f"e.g. [0.8, 0.1, 0.1]), got {user_split!r}"
        )
    total = float(sum(user_split))
    seed = _get(config, "user_split_seed")
    if seed is None:
        seed = config["seed"] if "seed" in config and config["seed"] is not None else 2020
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"user_split_seed must be an integer or ~ (use seed), got {seed!r}")
    history_ratio = _get(config, "history_ratio")
    if not _is_number(history_ratio) or not 0 < history_ratio < 1:
        raise ValueError(
            f"history_ratio must be a number in (0, 1) (share of behaviours used as history), got {history_ratio!r}"
        )
    exclude_history = _get(config, "exclude_history")
    if not isinstance(exclude_history, bool):
        raise ValueError(f"exclude_history must be True or False, got {exclude_history!r}")
    topk = _get(config, "multi_target_topk")
    if isinstance(topk, int) and not isinstance(topk, bool):
        topk = [topk]
    if (
        not isinstance(topk, (list, tuple))
        or not topk
        or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in topk)
    ):
        raise ValueError(f"multi_target_topk must be a non-empty list of integers >= 1, got {topk!r}")
    metrics = _get(config, "multi_target_metrics")
    canonical = {name.lower(): name for name in ALLOWED_METRICS}
    if isinstance(metrics, str):
        metrics = [metrics]
    if (
        not isinstance(metrics, (list, tuple))
        or not metrics
        or any(not isinstance(name, str) or name.lower() not in canonical for name in metrics)
    ):
        raise ValueError(f"multi_target_metrics must be a non-empty list of {list(ALLOWED_METRICS)}, got {metrics!r}")
    metrics = tuple(dict.fromkeys(canonical[name.lower()] for name in metrics))
    diversity = read_diversity_params(config, metrics)
    topk = tuple(sorted(set(topk)))
    valid_metric = _get(config, "multi_target_valid_metric")
    allowed = [f"{name}@{n}" for name in metrics for n in topk]
    if not isinstance(valid_metric, str) or valid_metric.lower() not in [name.lower() for name in allowed]:
        raise ValueError(f"multi_target_valid_metric must be one of {allowed}, got {valid_metric!r}")
    if "single_spec" in config and config["single_spec"] is False:
        raise ValueError(
            "multi_target: True runs in one process; distributed training (nproc > 1) is not supported yet"
        )
    return MultiTargetParams(
        user_split=tuple(share / total for share in user_split),
        user_split_seed=seed,
        history_ratio=float(history_ratio),
        exclude_history=exclude_history,
        topk=topk,
        metrics=metrics,
        valid_metric=valid_metric.lower(),
        diversity_lambda=diversity.diversity_lambda,
        category_field=diversity.category_field,
    )

"""The diversity keys (``properties/diversity.yaml``), checked before any data loads.

``diversity_lambda`` is ComiRec's lambda (0 = rank by score alone); ``diversity_category_field``
the item field holding the categories. :func:`read_diversity_params` yields the frozen
:class:`DiversityParams` that evaluation, the protocols and serving read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import yaml

from recbole_mind.settings.properties import properties_path

def check_diversity_lambda(diversity_lambda: Any) -> float:
    """``diversity_lambda`` as a float; a ValueError naming it unless a finite number >= 0."""
    if (
        isinstance(diversity_lambda, (bool, np.bool_))
        or not isinstance(diversity_lambda, (int, float, np.integer, np.floating))
        or not math.isfinite(diversity_lambda)
        or diversity_lambda < 0
    ):
        raise ValueError(
            f"diversity_lambda must be a finite number >= 0 (0: rank by score alone), got {diversity_lambda!r}"
        )
    return float(diversity_lambda)


DIVERSITY_METRICS = ("Diversity", "CategoryCoverage")


@dataclass(frozen=True)
class DiversityParams:
    diversity_lambda: float
    category_field: str | None

    @property
    def reranks(self) -> bool:
        return self.diversity_lambda > 0


@functools.lru_cache(maxsize=None)
def diversity_defaults() -> dict[str, Any]:
    """The keys of ``properties/diversity.yaml``: defaults for keys a config leaves out."""
    with open(properties_path("diversity.yaml"), encoding="utf-8") as file:
        return yaml.safe_load(file)


def _get(config: Mapping[str, Any], key: str) -> Any:
    # RecBole's Config answers None for a key no layer sets: the default then.
    value = config[key] if key in config else None
    return diversity_defaults()[key] if value is None else value


def diversity_metrics_in(metrics: Any) -> list[str]:
    """The diversity metrics among ``metrics`` (a name or a list of names), as written."""
    names = [metrics] if isinstance(metrics, str) else list(metrics or [])
    wanted = {name.lower() for name in DIVERSITY_METRICS}
    return [name for name in names if isinstance(name, str) and name.lower() in wanted]


def read_diversity_params(config: Mapping[str, Any], metrics: Any = ()) -> DiversityParams:
    """Check ``diversity_lambda`` and ``diversity_category_field`` (and that ``metrics`` asking
    for Diversity or CategoryCoverage have a category field), before any data loads."""
    diversity_lambda = check_diversity_lambda(_get(config, "diversity_lambda"))
    field = _get(config, "diversity_category_field")
    if field is not None and (not isinstance(field, str) or not field):
        raise ValueError(
            f"diversity_category_field must be an item field name (a token or token_seq field, e.g. "
            f"class on ml-100k, genre on ml-1m) or ~, got {field!r}"
        )
    if diversity_lambda > 0 and field is None:
        raise ValueError(
            f"diversity_lambda {diversity_lambda} > 0 re-ranks by category difference: set "
            "diversity_category_field to the item field holding the categories (a token or token_seq "
            "field, e.g. class on ml-100k, genre on ml-1m, loaded with load_col)"
        )
    asked = diversity_metrics_in(metrics)
    if asked and field is None:
        raise ValueError(
            f"metrics {asked} compare the items' categories: set diversity_category_field to the item "
            "field holding them (a token or token_seq field, e.g. class on ml-100k, genre on ml-1m, "
            "loaded with load_col)"
        )
    return DiversityParams(diversity_lambda, field)

"""The diversity keys (``properties/diversity.yaml``), checked before any data loads.

``diversity_lambda`` is ComiRec's lambda (0 = rank by score alone); ``diversity_category_field``
the item field holding the categories. :func:`read_diversity_params` yields the frozen
:class:`DiversityParams` that evaluation, the protocols and serving read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from recbole_mind.settings.table import DIVERSITY_METRICS, SETTINGS, checked


def check_diversity_lambda(diversity_lambda: Any) -> float:
    """``diversity_lambda`` as a float; a ValueError naming it unless its rule allows it."""
    return SETTINGS["diversity_lambda"].rule.check("diversity_lambda", diversity_lambda)


@dataclass(frozen=True)
class DiversityParams:
    diversity_lambda: float
    category_field: str | None

    @property
    def reranks(self) -> bool:
        return self.diversity_lambda > 0


def diversity_metrics_in(metrics: Any) -> list[str]:
    """The diversity metrics among ``metrics`` (a name or a list of names), as written."""
    names = [metrics] if isinstance(metrics, str) else list(metrics or [])
    wanted = {name.lower() for name in DIVERSITY_METRICS}
    return [name for name in names if isinstance(name, str) and name.lower() in wanted]


def read_diversity_params(config: Mapping[str, Any], metrics: Any = ()) -> DiversityParams:
    """Check ``diversity_lambda`` and ``diversity_category_field`` (and that ``metrics`` asking
    for Diversity or CategoryCoverage have a category field), before any data loads."""
    diversity_lambda = checked(config, "diversity_lambda")
    field = checked(config, "diversity_category_field")
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

"""Diversity@N and CategoryCoverage@N as RecBole metrics (``metrics: [Recall, Diversity, ...]``).

- ``Diversity@N``: mean category difference g over the pairs of the top-N list,
  ``2 / (N (N - 1)) * sum_{i < j} g(i, j)`` (ComiRec), averaged over users; g as
  ``serving.diversity`` defines it (Jaccard distance of the category sets).
- ``CategoryCoverage@N``: share of the categories of the user's target items (the union of
  their sets) that the top-N items carry, averaged over the users whose targets have a
  category (the others are skipped).

Both read the item categories of ``diversity_category_field``. ``register_metrics`` (run by
``registration.register`` on ``import recbole_mind``) adds them to RecBole's metric tables and
puts :class:`CategoryCollector` where RecBole's trainer builds its ``Collector``: it collects
the categories (from the training data, or set by ``diversity.DiverseFullSort``) and, per user,
the union of the positive items' categories. Without those metrics it is RecBole's collector.
"""

from __future__ import annotations

import torch
from recbole.evaluator.base_metric import AbstractMetric
from recbole.evaluator.collector import Collector
from recbole.utils import EvaluatorType

from recbole_mind.diversity.categories import item_categories
from recbole_mind.diversity.greedy import ItemCategories, category_coverage, list_diversity, mean_over_users

CATEGORIES = "data.item_categories"
TARGET_CATEGORIES = "rec.target_categories"


def _require_field(config, metric: str) -> str:
    field = config["diversity_category_field"] if "diversity_category_field" in config else None
    if not isinstance(field, str) or not field:
        raise ValueError(
            f"metric {metric} compares the items' categories: set diversity_category_field to the item "
            "field holding them (a token or token_seq field, e.g. class on ml-100k, genre on ml-1m, "
            "loaded with load_col)"
        )
    return field


class _CategoryMetric(AbstractMetric):
    metric_type = EvaluatorType.RANKING
    smaller = False

    def __init__(self, config):
        super().__init__(config)
        _require_field(config, type(self).__name__)
        self.topk = config["topk"] if isinstance(config["topk"], list) else [config["topk"]]

    def _categories(self, dataobject) -> ItemCategories:
        return ItemCategories(dataobject.get(CATEGORIES).numpy())

    def _result(self, name: str, values_at) -> dict[str, float]:
        return {f"{name}@{k}": round(mean_over_users(values_at(k)), self.decimal_place) for k in self.topk}


class Diversity(_CategoryMetric):
    r"""Mean pairwise category difference of the top-N list (ComiRec):
    :math:`\frac{2}{N(N-1)}\sum_{i<j} g(i, j)`, averaged over users."""

    metric_need = ["rec.items", CATEGORIES]

    def calculate_metric(self, dataobject):
        items, categories = dataobject.get("rec.items").numpy(), self._categories(dataobject)
        return self._result("diversity", lambda k: list_diversity(items[:, :k], categories))


class CategoryCoverage(_CategoryMetric):
    """Share of the target items' categories found among the top-N items' categories."""

    metric_need = ["rec.items", CATEGORIES, TARGET_CATEGORIES]

    def calculate_metric(self, dataobject):
        items, categories = dataobject.get("rec.items").numpy(), self._categories(dataobject)
        targets = dataobject.get(TARGET_CATEGORIES).numpy()
        return self._result("categorycoverage", lambda k: category_coverage(items[:, :k], targets, categories))


METRIC_CLASSES = (Diversity, CategoryCoverage)


class CategoryCollector(Collector):
    """RecBole's ``Collector`` that also collects what :data:`METRIC_CLASSES` need."""

    def set_categories(self, categories: ItemCategories) -> None:
        if self.register.need(CATEGORIES):
            self.data_struct.set(CATEGORIES, torch.as_tensor(categories.matrix))

    def data_collect(self, train_data):
        super().data_collect(train_data)
        if self.register.need(CATEGORIES) and CATEGORIES not in self.data_struct:
            field = _require_field(self.config, "Diversity or CategoryCoverage")
            self.set_categories(item_categories(train_data.dataset, field))

    def eval_batch_collect(self, scores_tensor, interaction, positive_u, positive_i):
        super().eval_batch_collect(scores_tensor, interaction, positive_u, positive_i)
        if self.register.need(TARGET_CATEGORIES):
            if CATEGORIES not in self.data_struct:
                raise ValueError(
                    "CategoryCoverage has no item categories: the trainer's fit (or recbole_mind's "
                    "attach_diversity) collects them from the dataset before evaluating"
                )
            categories = self.data_struct[CATEGORIES].to(positive_u.device)
            counts = torch.zeros((scores_tensor.shape[0], categories.shape[1]), dtype=torch.int32,
                                 device=positive_u.device)
            counts.index_put_((positive_u,), categories[positive_i].int(), accumulate=True)
            self.data_struct.update_tensor(TARGET_CATEGORIES, counts > 0)

    def get_data_struct(self):
        returned = super().get_data_struct()
        if TARGET_CATEGORIES in self.data_struct:
            del self.data_struct[TARGET_CATEGORIES]
        return returned


def register_metrics() -> None:
    """Add :data:`METRIC_CLASSES` to RecBole's metric tables and :class:`CategoryCollector` to
    its trainer; safe to call more than once."""
    import recbole.trainer.trainer as trainer_module
    from recbole.evaluator import register

    for metric in METRIC_CLASSES:
        name = metric.__name__.lower()
        register.metrics_dict[name] = metric
        register.metric_information[name] = metric.metric_need
        register.metric_types[name] = metric.metric_type
    if not (isinstance(trainer_module.Collector, type) and issubclass(trainer_module.Collector, CategoryCollector)):
        trainer_module.Collector = CategoryCollector

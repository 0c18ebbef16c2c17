"""Make RecBole's own lookups find MIND; run once on ``import recbole_mind``.

Two small hooks, no copy of RecBole's code:

- ``recbole.utils.get_model(name)`` imports ``recbole.model.<type>.<name.lower()>`` and reads
  the class from it. We put a module named ``recbole.model.sequential_recommender.mind`` that
  holds our class into ``sys.modules``, so ``get_model("MIND")``, ``run_recbole(model="MIND")``,
  ``load_data_and_model`` and ``run_hyper.py`` all find it. ``get_trainer`` looks for
  ``recbole.trainer.<name>Trainer`` first: we add ``MINDTrainer`` there (RecBole's ``Trainer``
  plus lazy Adam for ``sparse_item_embedding``).
- RecBole's ``Config`` reads a model's defaults from ``recbole/properties/model/<name>.yaml``
  inside RecBole's own folder. After it has read its internal defaults we add the settings
  table's defaults (``settings.table.defaults_for``) at the same (lowest) priority: MIND's keys
  for our models, the diversity, protocol and download keys for every model, so each of our
  keys has a value in every config, and user files, dicts and ``--key=value`` still override them.
- ``recbole_mind.integration.metrics.register_metrics`` adds the Diversity and CategoryCoverage metrics to
  RecBole's metric tables, and a collector that feeds them the item categories.
"""

from __future__ import annotations

import functools
import importlib.machinery
import sys
import types

from recbole_mind.model.mind import MIND
from recbole_mind.settings.table import defaults_for

PLUGIN_MODELS: dict[str, type] = {"MIND": MIND}

MODEL_PACKAGE = "recbole.model.sequential_recommender"


def _register_model_modules() -> None:
    for name, model_class in PLUGIN_MODELS.items():
        module_name = f"{MODEL_PACKAGE}.{name.lower()}"
        module = types.ModuleType(module_name, f"RecBole's name for recbole_mind's {name}.")
        setattr(module, name, model_class)
        module.__spec__ = importlib.machinery.ModuleSpec(module_name, loader=None)
        sys.modules.setdefault(module_name, module)


def _load_plugin_defaults(load_internal_config_dict):
    @functools.wraps(load_internal_config_dict)
    def wrapper(self, model, model_class, dataset):
        load_internal_config_dict(self, model, model_class, dataset)
        ours = isinstance(model_class, type) and issubclass(model_class, tuple(PLUGIN_MODELS.values()))
        self.internal_config_dict.update(defaults_for(ours))

    wrapper._recbole_mind_registration = True
    return wrapper


def register() -> None:
    """Register our models with RecBole; safe to call more than once."""
    import recbole.trainer
    from recbole.config import Config

    from recbole_mind.integration.metrics import register_metrics
    from recbole_mind.model.trainer import MINDTrainer

    _register_model_modules()
    register_metrics()  # Diversity and CategoryCoverage in RecBole's metric tables
    if not hasattr(recbole.trainer, "MINDTrainer"):
        recbole.trainer.MINDTrainer = MINDTrainer
    if not getattr(Config._load_internal_config_dict, "_recbole_mind_registration", False):
        Config._load_internal_config_dict = _load_plugin_defaults(Config._load_internal_config_dict)

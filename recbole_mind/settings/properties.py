"""What this package adds to RecBole's defaults: its models, and the YAML files it ships.

``properties_path`` finds a file of the top-level ``properties/`` folder of the repository,
installed inside the package (``recbole_mind.properties``), the same way from a checkout or a
wheel. ``PLUGIN_MODELS`` maps the model names this package adds to their classes.
"""

from __future__ import annotations

from importlib import resources

from recbole_mind.model.mind import MIND

PLUGIN_MODELS: dict[str, type] = {"MIND": MIND}


def properties_path(name: str) -> str:
    """Path of a YAML file shipped in ``properties/`` (``MIND.yaml``, ``ml-1m.yaml``, ...)."""
    return str(resources.files("recbole_mind.properties").joinpath(name))

"""The YAML files this package ships.

``properties_path`` finds a file of the top-level ``properties/`` folder of the repository,
installed inside the package (``recbole_mind.properties``), the same way from a checkout or a
wheel.
"""

from __future__ import annotations

from importlib import resources


def properties_path(name: str) -> str:
    """Path of a YAML file shipped in ``properties/`` (``MIND.yaml``, ``ml-1m.yaml``, ...)."""
    return str(resources.files("recbole_mind.properties").joinpath(name))

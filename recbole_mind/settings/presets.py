"""Presets by name: the YAML files of ``properties/presets/`` (``MIND-<name>.yaml``), shipped as
package data, so ``--preset=recommended`` (``preset="recommended"`` in Python) works from an
installed wheel and from any folder.

A preset's keys sit above our defaults (``properties/MIND.yaml``, ``properties/<dataset>.yaml``)
and below the user's files, ``config_dict`` and ``--key=value`` (``config.build_config``). The
first comment line of each file is its one-line description (``--help`` lists them).
"""

from __future__ import annotations

import difflib
import os

from recbole_mind.settings.properties import properties_path

PRESETS_FOLDER = "presets"
PRESET_MODEL = "MIND"  # every preset sets MIND's keys: its files are named MIND-<name>.yaml


def presets_folder() -> str:
    return properties_path(PRESETS_FOLDER)


def preset_names() -> list[str]:
    """The names of the packaged presets (``MIND-<name>.yaml`` -> ``<name>``), sorted."""
    prefix, suffix = f"{PRESET_MODEL}-", ".yaml"
    folder = presets_folder()
    files = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(name[len(prefix): -len(suffix)] for name in files
                  if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix))


def preset_file(name: str) -> str:
    """Path of the packaged preset ``name``; an unknown name is refused with the list."""
    names = preset_names()
    if name in names:
        return os.path.join(presets_folder(), f"{PRESET_MODEL}-{name}.yaml")
    listed = ", ".join(names) or "none are installed"
    if isinstance(name, str) and (name.endswith((".yaml", ".yml")) or os.sep in name or "/" in name):
        raise ValueError(
            f"unknown preset {name!r}: a preset is given by name (presets: {listed}); a YAML file "
            "of your own goes to --config_files (config_file_list in Python)"
        )
    by_lower = {known.lower(): known for known in names}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=3, cutoff=0.6)
    hint = f": did you mean {' or '.join(repr(by_lower[match]) for match in close)}?" if close else ":"
    raise ValueError(f"unknown preset {name!r}{hint} presets: {listed}")


def preset_description(name: str) -> str:
    """The first comment line of the preset's YAML (its one-line description), else ''."""
    with open(preset_file(name), encoding="utf-8") as file:
        for line in file:
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return ""


def check_preset_model(name: str, model_class: type) -> None:
    """A preset sets MIND's keys: with another model (``--model=SASRec``, a config file's
    ``model``) it is refused, naming both."""
    # by name along the class's bases: settings sit below the model, so they do not import it
    if PRESET_MODEL not in {base.__name__ for base in model_class.__mro__}:
        model = model_class.__name__
        raise ValueError(
            f"preset {name!r} sets {PRESET_MODEL}'s keys ({PRESET_MODEL}-{name}.yaml) and the model is "
            f"{model}: drop the preset to run {model}, or run {PRESET_MODEL}"
        )


def presets_help() -> str:
    """``--help``'s list of the presets: each name and its one-line description."""
    names = preset_names()
    lines = ["presets (--preset=NAME; its keys sit under your config files and --key=value):"]
    width = max((len(name) for name in names), default=0)
    lines += [f"  {name.ljust(width)}  {preset_description(name)}" for name in names]
    return "\n".join(lines)

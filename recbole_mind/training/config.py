"""Config building: which model a name means, and the layers of defaults under the user's keys.

RecBole's ``Config`` reads its own defaults; ours go underneath the user's files, dict and
command line (docs/configuration.md). MIND's keys are checked here, before any data loads.
"""

from __future__ import annotations

import difflib
import os
import warnings
from typing import Any

import yaml

import recbole
from recbole.config import Config
from recbole.utils import ModelType, get_model

from recbole_mind.settings.keys import user_config
from recbole_mind.settings.keys import check_config_file_keys, read_config_file
from recbole_mind.settings.literals import ConfigYamlLoader, literal_values
from recbole_mind.settings.prerun import check_run_config
from recbole_mind.model.mind import MIND
from recbole_mind.model.params import read_mind_params
from recbole_mind.integration.registration import PLUGIN_MODELS
from recbole_mind.settings.presets import check_preset_model, preset_file
from recbole_mind.settings.properties import properties_path
from recbole_mind.settings.table import validated_once

# Where RecBole keeps the defaults YAML of each of its built-in models.
RECBOLE_MODEL_PROPERTIES = os.path.join(os.path.dirname(recbole.__file__), "properties", "model")


def recbole_model_names() -> list[str]:
    """Names of RecBole's built-in models (one defaults YAML each ships with RecBole)."""
    return sorted(
        name[: -len(".yaml")] for name in os.listdir(RECBOLE_MODEL_PROPERTIES) if name.endswith(".yaml")
    )


def recbole_default(model_class: type, key: str) -> Any:
    """Value of ``key`` in the defaults YAML RecBole ships for a built-in model, else None."""
    path = os.path.join(RECBOLE_MODEL_PROPERTIES, f"{model_class.__name__}.yaml")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        return (yaml.safe_load(file) or {}).get(key)


def resolve_model(model: str | type) -> type:
    """Model class for ``"MIND"``, a RecBole model name such as ``"SASRec"``, or a class."""
    if isinstance(model, type):
        return model
    if model in PLUGIN_MODELS:
        return PLUGIN_MODELS[model]
    builtin = recbole_model_names()
    if model in builtin:
        return get_model(model)
    known = sorted(PLUGIN_MODELS) + builtin
    close = [name for name in known if name.lower() == str(model).lower()]
    close = close or difflib.get_close_matches(str(model), known, n=3, cutoff=0.7)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ValueError(
        f"Unknown model {model!r}.{hint} Available models: {', '.join(known)}"
    )


def check_config_file(path: str) -> None:
    """A user's YAML file must exist, parse, and hold ``key: value`` pairs."""
    if os.path.isdir(path):
        raise ValueError(f"Config file {path} is a folder: give the YAML files in it, e.g. {path}/my.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: {path}")
    with open(path, encoding="utf-8") as file:
        try:
            content = yaml.load(file, Loader=ConfigYamlLoader)
        except yaml.YAMLError as error:
            raise ValueError(f"Config file {path} is not valid YAML: {error}") from error
        except UnicodeDecodeError as error:
            raise ValueError(f"Config file {path} is not a UTF-8 text (YAML) file: {error}") from error
    if content is not None and not isinstance(content, dict):
        raise ValueError(
            f"Config file {path} must hold 'key: value' lines, got a {type(content).__name__}"
        )
    refuse_preset_key(content, path)
    check_config_file_keys(path)


def use_users_ml100k(config: Config) -> None:
    """ml-100k from the user's ``data_path`` when that folder holds ``ml-100k/ml-100k.inter``.

    RecBole's Config points ml-100k at the copy it bundles whatever ``data_path`` says.
    """
    data_path = user_config(config).get("data_path")
    if config["dataset"] != "ml-100k" or not isinstance(data_path, str) or not os.path.isdir(data_path):
        return  # a data_path that is a file is refused by prerun.check_dataset_location
    folder = os.path.join(data_path, "ml-100k")
    if os.path.isfile(os.path.join(folder, "ml-100k.inter")):
        config["data_path"] = folder
    else:
        warnings.warn(
            f"data_path {data_path} holds no ml-100k/ml-100k.inter: using the ml-100k bundled with RecBole",
            UserWarning, stacklevel=3,
        )


def config_file_setting(key: str, config_file_list: list[str] | None) -> str | None:
    """``key``'s value in the last of the user's YAML files that sets it, else None."""
    value = None
    for path in config_file_list or []:
        check_config_file(path)
        value = read_config_file(path).get(key, value)
    return None if value is None else str(value)


def refuse_preset_key(values: dict[str, Any] | None, source: str) -> None:
    """``preset`` is an argument, not a config key: set as one it would be ignored."""
    if values and "preset" in values:
        name = values["preset"]
        raise ValueError(
            f"{source}: preset is not a config key: give it as --preset={name} on the command line "
            f"or preset={name!r} in Python (run_recbole_mind, run, build_config)"
        )


def build_config(
    model: str | type = "MIND",
    dataset: str = "ml-100k",
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    command_line: dict[str, Any] | None = None,
    preset: str | None = None,
) -> Config:
    """RecBole ``Config`` with our defaults underneath the user's files, dict and command line.

    Priority, lowest first: RecBole's defaults with ``properties/MIND.yaml`` for MIND (see
    ``registration``), ``properties/sequential_ce.yaml`` (RecBole's sequential models trained
    with CE), ``properties/<dataset>.yaml``, the preset ``preset`` names
    (``properties/presets/MIND-<preset>.yaml``, MIND only), ``config_file_list``,
    ``config_dict``, ``command_line``.

    ``command_line`` is the ``--key=value`` keys the command line (``cli.main``) has parsed;
    the process's ``sys.argv`` is never read, so a script calling this with flags of its own
    gets the config its arguments say. A string in ``config_dict`` is read as a literal
    (``literals.literal_value``), never evaluated.
    """
    model_class = resolve_model(model)
    presets = []
    if preset is not None:
        presets = [preset_file(preset)]  # an unknown name is refused with the list
        check_preset_model(preset, model_class)
    for path in config_file_list or []:
        check_config_file(path)
    refuse_preset_key(config_dict, "config_dict")
    refuse_preset_key(command_line, "the command line")
    names = [f"{dataset}.yaml"]
    if model_class.type == ModelType.SEQUENTIAL and recbole_default(model_class, "loss_type") == "CE":
        names.insert(0, "sequential_ce.yaml")
    defaults = [properties_path(name) for name in names if os.path.isfile(properties_path(name))]
    defaults += presets
    config = _config_from_arguments(
        model_class, dataset, defaults + list(config_file_list or []), config_dict, command_line or {}
    )
    use_users_ml100k(config)
    if model_class is MIND:
        validated_once(config, read_mind_params)  # fail on a bad key before the data is loaded
    check_run_config(config)
    return config


def _config_from_arguments(model_class: type, dataset: str, config_file_list: list[str],
                           config_dict: dict[str, Any] | None, command_line: dict[str, Any]) -> Config:
    """RecBole's ``Config`` built from these arguments only.

    RecBole's ``Config.__init__`` reads ``--key=value`` from ``sys.argv`` (``_load_cmd_line``)
    and passes those strings and ``config_dict``'s to ``eval()`` (``_convert_config_dict``): a
    value could run code, and a script's own flags became config keys. Both methods are
    shadowed on this one instance while it is built, so the object stays a plain RecBole
    ``Config`` (checkpoints pickle it) and other ``Config`` objects are left alone.
    ``command_line`` is used as given: ``cli.main`` has read it as literals already, and reading
    a quoted text twice would change it (``"'saved(2)'"`` -> ``saved(2)`` -> refused as a call).
    """
    config = Config.__new__(Config)
    config._load_cmd_line = lambda: dict(command_line)
    config._convert_config_dict = lambda values: literal_values(values, "config_dict")
    config._build_yaml_loader = lambda: ConfigYamlLoader  # files give plain data (literals.py)
    try:
        Config.__init__(config, model=model_class, dataset=dataset, config_file_list=config_file_list,
                        config_dict=config_dict)
    finally:
        del config._load_cmd_line, config._convert_config_dict, config._build_yaml_loader
    # Every YAML was read by now; checkpoints pickle this attribute, so it names a loader any
    # reader has (PyYAML's own), not a class of this package.
    config.yaml_loader = yaml.SafeLoader
    return config

"""Dataset lookup: RecBole's ``create_dataset`` with clear errors for unknown, missing or bad data.

The atomic files themselves are checked by ``data/atomic.py`` before RecBole reads them.
"""

from __future__ import annotations

import difflib
import os
import urllib.error

import yaml

import recbole
from recbole.config import Config
from recbole.data import create_dataset
from recbole.data.dataset import Dataset

from recbole_mind.data.atomic import check_dataset_files
from recbole_mind.data.coverage import catalogue_warnings
from recbole_mind.prerun import silence_third_party_deprecations

# RecBole's list of the datasets it can download (name -> url).
RECBOLE_DATASET_URLS = os.path.join(os.path.dirname(recbole.__file__), "properties", "dataset", "url.yaml")


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is neither on disk nor downloadable from here."""


def downloadable_datasets() -> list[str]:
    """Dataset names RecBole knows how to download."""
    with open(RECBOLE_DATASET_URLS, encoding="utf-8") as file:
        return sorted(yaml.safe_load(file) or {})


def local_datasets(data_path: str) -> list[str]:
    """Subfolders of ``data_path``'s parent that hold a ``<name>/<name>.inter`` file."""
    parent = os.path.dirname(os.path.normpath(data_path)) or "."
    if not os.path.isdir(parent):
        return []
    return sorted(
        name for name in os.listdir(parent)
        if os.path.isfile(os.path.join(parent, name, f"{name}.inter"))
    )


def load_dataset(config: Config) -> Dataset:
    """RecBole's ``create_dataset``, with clear errors for unknown, missing or malformed data."""
    dataset, data_path = config["dataset"], config["data_path"]
    known = downloadable_datasets()
    if not os.path.isdir(data_path) and dataset not in known:
        local = local_datasets(data_path)
        close = difflib.get_close_matches(dataset, known + local, n=3)
        raise DatasetNotFoundError(
            f"Unknown dataset {dataset!r}: no folder {os.path.abspath(data_path)} and not a name RecBole "
            f"can download.{' Did you mean ' + ', '.join(map(repr, close)) + '?' if close else ''} "
            f"Datasets on disk next to it: {', '.join(local) or 'none'}; "
            f"ml-100k ships with RecBole; RecBole can download {len(known)} more "
            f"(names in {RECBOLE_DATASET_URLS})"
        )
    check_dataset_files(config)
    # Here, not only in check_run_config: serving rebuilds data from a checkpoint's config,
    # which that check never sees, and RecBole's dataset code is what warns.
    silence_third_party_deprecations()
    try:
        dataset = create_dataset(config)
    except urllib.error.URLError as error:
        data_path = os.path.abspath(data_path)
        converter = (
            " From the raw MovieLens-1M files (ratings.dat, users.dat, movies.dat): "
            "python -m recbole_mind.data.movielens RAW_DIR DIR, then --data_path=DIR."
            if dataset == "ml-1m"
            else ""
        )
        raise DatasetNotFoundError(
            f"Dataset {dataset!r} is not on disk at {data_path} and could not be downloaded "
            f"({error.reason}). Put RecBole atomic files there ({dataset}.inter, and "
            f"{dataset}.user / {dataset}.item if your config loads them), or point "
            f"--data_path=DIR at a folder that holds a '{dataset}' subfolder.{converter}"
        ) from error
    except ValueError as error:
        if "Some feat is empty" not in str(error):
            raise
        raise ValueError(
            f"No interactions of dataset {dataset!r} are left after RecBole's filters "
            "(user_inter_num_interval, item_inter_num_interval, val_interval, load_col, ...): "
            "loosen them"
        ) from error
    catalogue_warnings(dataset)
    return dataset

"""Dataset lookup: RecBole's ``create_dataset`` with clear errors for unknown, missing or bad data.

The atomic files themselves are checked by ``data/atomic.py`` before RecBole reads them.
"""

from __future__ import annotations

import difflib
import os

from recbole.config import Config
from recbole.data import create_dataset
from recbole.data.dataset import Dataset

from recbole_mind.data.dataset_files import check_dataset_files
from recbole_mind.data.coverage import catalogue_warnings
from recbole_mind.data.download import (
    RECBOLE_DATASET_URLS, DatasetNotFoundError, downloadable_datasets, fetch_missing_dataset,
)
from recbole_mind.settings.prerun import silence_third_party_deprecations

__all__ = ["DatasetNotFoundError", "load_dataset", "local_datasets"]


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
    fetch_dataset(config)
    check_dataset_files(config)
    # Here, not only in check_run_config: serving rebuilds data from a checkpoint's config,
    # which that check never sees, and RecBole's dataset code is what warns.
    silence_third_party_deprecations()
    try:
        loaded = create_dataset(config)
    except ValueError as error:
        if "Some feat is empty" not in str(error):
            raise
        raise ValueError(
            f"No interactions of dataset {dataset!r} are left after RecBole's filters "
            "(user_inter_num_interval, item_inter_num_interval, val_interval, load_col, ...): "
            "loosen them"
        ) from error
    catalogue_warnings(loaded)
    return loaded


def fetch_dataset(config: Config) -> None:
    """Download ``config``'s dataset when its folder is missing (``data.download``)."""
    fetch_missing_dataset(
        config["dataset"], config["data_path"], confirm_large=bool(config["download_confirm"]),
        show_progress=bool(config["show_progress"]), local_rank=config["local_rank"] or 0,
    )

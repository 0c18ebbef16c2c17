"""Item categories from a RecBole dataset: a token or token_seq item field as ``ItemCategories``
(``serving.diversity``), rows indexed by internal item id (0, RecBole's padding item, has none),
and the errors naming the fields that could hold them."""

from __future__ import annotations

import os

import numpy as np
import torch
from recbole.utils import FeatureSource, FeatureType

from recbole_mind.diversity.greedy import ItemCategories

CATEGORY_TYPES = (FeatureType.TOKEN, FeatureType.TOKEN_SEQ)


def category_fields(dataset) -> list[str]:
    """The loaded token and token_seq item fields of ``dataset`` (the item id excluded)."""
    return sorted(
        field for field, source in dataset.field2source.items()
        if source == FeatureSource.ITEM and field != dataset.iid_field
        and dataset.field2type.get(field) in CATEGORY_TYPES
    )


def file_category_fields(dataset) -> list[str]:
    """The token and token_seq columns of the dataset's ``.item`` file, loaded or not."""
    path = os.path.join(dataset.config["data_path"], f"{dataset.dataset_name}.item")
    if not os.path.isfile(path):
        return []
    with open(path, encoding=dataset.config["encoding"] or "utf-8") as file:
        header = file.readline().rstrip("\n").split(dataset.config["field_separator"] or "\t")
    columns = [column.split(":") for column in header if ":" in column]
    return sorted(name for name, kind in columns if kind in ("token", "token_seq") and name != dataset.iid_field)


def item_categories(dataset, field: str, key: str = "diversity_category_field") -> ItemCategories:
    """The categories of every item of ``dataset`` from its item field ``field``, by item id.

    ``key`` names the setting in errors (``--category_field`` in serving). Raises ValueError
    when ``field`` is not a loaded token or token_seq item field, naming the allowed ones.
    """
    loaded = category_fields(dataset)
    if field not in loaded:
        in_file = file_category_fields(dataset)
        where = f"dataset {dataset.dataset_name!r}"
        if dataset.field2type.get(field) is not None and dataset.field2source.get(field) == FeatureSource.ITEM:
            reason = f"{key} {field!r} is a {dataset.field2type[field].value} item field of {where}; categories need a token or token_seq field"
        elif field in in_file:
            reason = (
                f"{key} {field!r} is in {dataset.dataset_name}.item but was not loaded: add it to load_col, "
                f"e.g. load_col: {{inter: [...], item: [{dataset.iid_field}, {field}]}} (for a checkpoint, "
                "train with it loaded: loading the item file afterwards can change the item ids)"
            )
        else:
            reason = f"{key} {field!r} is no item field of {where}"
        raise ValueError(
            f"{reason}; token or token_seq item fields loaded: {loaded or 'none'}"
            + (f", in {dataset.dataset_name}.item: {in_file}" if in_file else "")
        )
    values = dataset.get_item_feature()[field]
    values = values.cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    return ItemCategories.from_token_ids(values, padding=0)

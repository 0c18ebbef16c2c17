"""Which atomic files a run reads and with which columns, checked before RecBole reads them.

:func:`check_dataset_files` runs :func:`recbole_mind.data.atomic.check_atomic_file` on the
dataset's ``.inter``, ``.user`` and ``.item`` files with the run's separators and fields. When
the user sets no ``load_col``, RecBole loads only the user and item id columns, so a dataset
whose protocol orders by time fails with "[timestamp] is not exist in interaction": then every
column the files have is loaded (``load_col: ~``).
"""

from __future__ import annotations

import os

import yaml

from recbole_mind.data.atomic import ORDERED_BY_TIME, AtomicFileError, check_atomic_file
from recbole_mind.data.download import incomplete_folder_message
from recbole_mind.settings.keys import user_config


def _recbole_dataset_default(dataset: str, key: str) -> bool:
    """Whether RecBole ships a YAML for ``dataset`` that sets ``key`` (ml-100k sets load_col)."""
    import recbole

    path = os.path.join(os.path.dirname(recbole.__file__), "properties", "dataset", f"{dataset}.yaml")
    if not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as file:
        return key in (yaml.safe_load(file) or {})


def use_natural_columns(config) -> bool:
    """With no ``load_col`` from the user, load every column of the files; returns whether it did."""
    if "load_col" in user_config(config) or _recbole_dataset_default(config["dataset"], "load_col"):
        return False
    config["load_col"] = None
    return True


def check_dataset_files(config) -> None:
    """Check the atomic files RecBole is about to read for ``config``'s dataset.

    Also chooses the natural columns (:func:`use_natural_columns`) when the user chose none.
    """
    folder, name = config["data_path"], config["dataset"]
    separator = config["field_separator"] or "\t"
    encoding = config["encoding"] or "utf-8"
    seq_separator = config["seq_separator"] or " "
    inter = os.path.join(folder, f"{name}.inter")
    incomplete = incomplete_folder_message(name, folder)
    if incomplete is not None:
        raise AtomicFileError(incomplete)
    if not os.path.isfile(inter):
        return  # not on disk: RecBole downloads it, or load_dataset explains
    use_natural_columns(config)
    ids = tuple(field for field in (config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]) if field)
    load_col, time_field = config["load_col"], config["TIME_FIELD"]
    time_loaded = load_col is None or time_field in load_col.get("inter", [])
    ordered = _orders_by_time(config)
    columns = {"inter": check_atomic_file(
        inter, separator, required=ids, encoding=encoding,
        time_field=time_field if time_loaded else None, time_ordered=ordered,
        duplicate_rows_allowed=config["rm_dup_inter"] is not None, seq_separator=seq_separator,
    )}
    for suffix, id_field in (("user", config["USER_ID_FIELD"]), ("item", config["ITEM_ID_FIELD"])):
        path = os.path.join(folder, f"{name}.{suffix}")
        if os.path.isfile(path):
            columns[suffix] = check_atomic_file(path, separator, required=(id_field,) if id_field else (),
                                                encoding=encoding, unique_field=id_field,
                                                seq_separator=seq_separator)
    _check_load_col(config, folder, name, columns)
    if ordered and time_field not in columns["inter"]:
        raise AtomicFileError(
            f"{inter} has no {time_field} column, but this run orders each user's interactions by "
            f"time ({ORDERED_BY_TIME}); its columns: "
            f"{', '.join(columns['inter'])}. Add the column, or set TIME_FIELD to the one that holds times"
        )
    if ordered and not time_loaded:
        raise AtomicFileError(
            f"load_col loads {load_col.get('inter', [])} from {inter} without the time field "
            f"{time_field!r} (TIME_FIELD), but this run orders each user's interactions by time "
            f"({ORDERED_BY_TIME}): add {time_field!r} to load_col's inter list"
        )


def _orders_by_time(config) -> bool:
    from recbole.utils import ModelType

    from recbole_mind.settings.protocol import is_multi_target

    eval_args = config["eval_args"] or {}
    return config["MODEL_TYPE"] == ModelType.SEQUENTIAL or eval_args.get("order") == "TO" or is_multi_target(config)


def _check_load_col(config, folder: str, name: str, columns: dict[str, list[str]]) -> None:
    """Every column ``load_col`` names is in its file: RecBole skips a misspelt one silently."""
    from recbole_mind.settings.keys import close_keys

    for suffix, wanted in (config["load_col"] or {}).items():
        path = os.path.join(folder, f"{name}.{suffix}")
        if suffix not in columns:
            if suffix in ("user", "item") and not os.path.isfile(path):
                raise AtomicFileError(f"load_col loads the .{suffix} file, but {path} does not exist")
            continue  # other suffixes (kg, link, ...): RecBole checks them
        for column in wanted:
            if column not in columns[suffix]:
                close = close_keys(column, columns[suffix])
                hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise AtomicFileError(
                    f"load_col names {column!r} for {path}, which has no such column.{hint} "
                    f"Its columns: {', '.join(columns[suffix])}"
                )

"""Checks of RecBole atomic files before RecBole reads them.

RecBole 1.2.1 reports a header without ``:type`` as "not enough values to unpack", a missing
user or item column as ``KeyError``, reads rows with too few or too many cells without a word
(missing cells become NaN), and calls an empty file "Some feat is empty". We read each file
once, in a streaming pass, and name the file, line and column instead.
"""

from __future__ import annotations

import os

FEATURE_TYPES = ("token", "float", "token_seq", "float_seq")


class AtomicFileError(ValueError):
    """An atomic file that RecBole would misread or fail on."""


def check_atomic_file(path: str, separator: str = "\t", required: tuple[str, ...] = ()) -> list[str]:
    """Validate one atomic file; returns its field names.

    Args:
        path: ``<dataset>.inter``, ``.user``, ``.item``, ...
        separator: RecBole's ``field_separator``.
        required: fields that must be in the header (e.g. the user and item id fields).

    Raises:
        AtomicFileError: header not ``name:type`` with a known type, a required field
            missing, a row whose cell count differs from the header's, or no rows at all.
    """
    with open(path, encoding="utf-8") as file:
        header = file.readline().rstrip("\r\n")
        if not header:
            raise AtomicFileError(f"{path} is empty: its first line must be a header like user_id:token")
        fields = []
        for column in header.split(separator):
            name, colon, kind = column.partition(":")
            if not colon or not name:
                raise AtomicFileError(
                    f"{path}, line 1: header column {column!r} is not name:type "
                    f"(type one of {', '.join(FEATURE_TYPES)}; separator {separator!r})"
                )
            if kind not in FEATURE_TYPES:
                raise AtomicFileError(
                    f"{path}, line 1: column {name!r} has type {kind!r}; allowed: {', '.join(FEATURE_TYPES)}"
                )
            fields.append(name)
        missing = [field for field in required if field not in fields]
        if missing:
            raise AtomicFileError(f"{path} has no {', '.join(missing)} column; its columns: {', '.join(fields)}")
        rows = 0
        for line_number, line in enumerate(file, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            cells = line.count(separator) + 1
            if cells != len(fields):
                raise AtomicFileError(
                    f"{path}, line {line_number}: {cells} cells, but the header has {len(fields)} "
                    f"({', '.join(fields)})"
                )
            rows += 1
    if rows == 0:
        raise AtomicFileError(f"{path} has a header but no rows")
    return fields


def check_dataset_files(config) -> None:
    """Check the atomic files RecBole is about to read for ``config``'s dataset."""
    folder, name = config["data_path"], config["dataset"]
    separator = config["field_separator"] or "\t"
    inter = os.path.join(folder, f"{name}.inter")
    if os.path.isdir(folder) and not os.path.isfile(inter):
        present = sorted(entry for entry in os.listdir(folder) if not entry.startswith("."))
        raise AtomicFileError(
            f"{inter} does not exist; {folder} holds: {', '.join(present) or 'nothing'}. "
            f"A RecBole dataset needs at least {name}.inter"
        )
    if not os.path.isfile(inter):
        return  # not on disk: RecBole downloads it, or load_dataset explains
    ids = tuple(field for field in (config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]) if field)
    check_atomic_file(inter, separator, required=ids)
    for suffix, id_field in (("user", config["USER_ID_FIELD"]), ("item", config["ITEM_ID_FIELD"])):
        path = os.path.join(folder, f"{name}.{suffix}")
        if os.path.isfile(path):
            check_atomic_file(path, separator, required=(id_field,) if id_field else ())

"""What the commands writing a dataset derived from another share: finding the source, reading
its interactions, and checking the new dataset's folder before anything is written.

Used by ``data.subsample`` (user sub-samples) and ``data.mixed`` (mixed accounts). A source is a
folder holding ``<folder name>.inter`` or the name of a dataset shipped inside the recbole
wheel (ml-100k); the new dataset is ``<out_dir>/<name>/<name>.*``, written through
``data.output.all_or_nothing``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from recbole_mind.data.output import check_dataset_name, check_output_path, refuse_output_onto_input

ATOMIC_SUFFIXES = ("inter", "user", "item")
# Files a derived dataset may hold: one left by an earlier dataset of that name and not written
# again is removed (RecBole would read its .user / .item with the new .inter).
DERIVED_SUFFIXES = (*ATOMIC_SUFFIXES, "members")


def source_folder(source: str) -> str:
    """``source`` when it is a folder, else the dataset of that name inside the recbole wheel."""
    if os.path.isdir(source):
        return source
    import recbole

    bundled = os.path.join(os.path.dirname(recbole.__file__), "dataset_example", source)
    if not os.path.isdir(bundled):
        raise FileNotFoundError(f"no dataset folder {source!r}, nor a dataset of that name inside recbole")
    return bundled


@dataclass
class Interactions:
    """The lines of a source's ``.inter`` file: its header, the column names, the rows (without
    empty lines), and where its ``user_id`` column is."""

    path: str
    header: str
    columns: list[str]
    rows: list[str]
    user_column: int

    def column(self, name: str, purpose: str) -> int:
        """Where column ``name`` is; ``ValueError`` naming the file and ``purpose`` without it."""
        if name not in self.columns:
            raise ValueError(f"{self.path}: {purpose} needs a {name} column (the header has {self.columns})")
        return self.columns.index(name)


def source_files(folder: str) -> tuple[str, list[str]]:
    """The dataset name of a source ``folder`` and which of its ``.user`` / ``.item`` files exist."""
    dataset = os.path.basename(os.path.normpath(folder))
    inter_path = os.path.join(folder, f"{dataset}.inter")
    if not os.path.isfile(inter_path):
        raise FileNotFoundError(f"{inter_path} does not exist: the source folder needs a {dataset}.inter file")
    return dataset, [suffix for suffix in ("user", "item") if os.path.isfile(os.path.join(folder, f"{dataset}.{suffix}"))]


def read_interactions(folder: str) -> Interactions:
    """Read ``<folder>/<folder name>.inter``; ``ValueError`` naming it when it is not UTF-8 text,
    is empty or has no ``user_id`` column."""
    dataset = os.path.basename(os.path.normpath(folder))
    path = os.path.join(folder, f"{dataset}.inter")
    try:
        with open(path, encoding="utf-8") as file:
            header, *rows = [line for line in file.read().splitlines() if line]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not a text file of interactions (not UTF-8: {error.reason})") from None
    except ValueError:  # no line to unpack
        raise ValueError(f"{path} is empty: it needs a header line and interactions") from None
    columns = [field.split(":")[0] for field in header.split("\t")]
    if "user_id" not in columns:
        raise ValueError(f"{path}: the header has no user_id column (it has {columns})")
    return Interactions(path, header, columns, rows, columns.index("user_id"))


def check_target(folder: str, out_dir: str, name: str, inputs: list[str], outputs: list[str],
                 overwrite: bool) -> tuple[str, list[str]]:
    """The new dataset's folder and the paths of its files ``<name>.<suffix>`` for ``outputs``.

    Refused (``ValueError``), before anything is written: a ``name`` that is not a plain name, a
    folder or file that is the source ``folder`` or one of its ``inputs`` (however spelt), a folder
    nothing can be written in, and a ``name`` whose folder already holds files unless ``overwrite``.
    """
    check_dataset_name(name)
    target = os.path.join(out_dir, name)
    paths = [os.path.join(target, f"{name}.{suffix}") for suffix in outputs]
    # the folder too: a dataset written inside its source's folder would mix two datasets' files
    refuse_output_onto_input([target, *paths], [folder, *inputs], f"--name {name}")
    check_output_path(target, f"--name {name}:", folder=True)
    if os.path.isdir(target) and os.listdir(target) and not overwrite:
        held = sorted(os.listdir(target))
        raise ValueError(
            f"--name {name}: {target} already exists and holds {', '.join(held[:3])}"
            f"{', ...' if len(held) > 3 else ''}: pass --overwrite to replace it, or choose another --name"
        )
    return target, paths


def remove_stale(target: str, name: str, written: list[str]) -> None:
    """Remove the files of an earlier dataset of that ``name`` that this one did not write again."""
    for suffix in DERIVED_SUFFIXES:
        stale = os.path.join(target, f"{name}.{suffix}")
        if suffix not in written and os.path.isfile(stale):
            os.remove(stale)


def derived_dataset_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The command line every derived dataset shares: ``SOURCE OUT_DIR --name NAME``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("source", help="dataset folder, or the name of a dataset inside recbole (ml-100k)")
    parser.add_argument("out_dir", help="folder to write <name>/ into; then run with --data_path=OUT_DIR")
    parser.add_argument("--name", required=True, help="name of the new dataset")
    return parser

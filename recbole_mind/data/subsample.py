"""User sub-samples of a RecBole atomic dataset, to choose settings on more than one dataset.

Keeps a subset of users with every interaction of each, and copies the user and item files as
they are (RecBole ignores rows of users and items that no interaction names)::

    # half of ml-100k's users, drawn with a seed
    python -m recbole_mind.data.subsample ml-100k data --name ml-100k-half --users_fraction 0.5
    # only the users with long histories (as most of ml-1m's are)
    python -m recbole_mind.data.subsample ml-100k data --name ml-100k-long --min_interactions 100
    # every user without their latest interactions: a leave-one-out split of this copy holds none
    # of the source's test items, and its test split is a validation-era item
    python -m recbole_mind.data.subsample ml-100k data --name ml-100k-past --drop_latest

The source is a folder holding ``<folder name>.inter`` or the name of a dataset shipped inside
the recbole wheel (ml-100k). An existing ``--name`` is replaced only with ``--overwrite``; the
source itself never (``data.output.refuse_output_onto_input``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from collections import Counter
from typing import Sequence

from recbole_mind.data.output import (
    all_or_nothing, check_dataset_name, check_output_path, refuse_output_onto_input, report_written,
)

ATOMIC_SUFFIXES = ("inter", "user", "item")


def source_folder(source: str) -> str:
    """``source`` when it is a folder, else the dataset of that name inside the recbole wheel."""
    if os.path.isdir(source):
        return source
    import recbole

    bundled = os.path.join(os.path.dirname(recbole.__file__), "dataset_example", source)
    if not os.path.isdir(bundled):
        raise FileNotFoundError(f"no dataset folder {source!r}, nor a dataset of that name inside recbole")
    return bundled


def kept_users(counts: Counter, users_fraction: float, min_interactions: int, seed: int) -> set[str]:
    """The users with at least ``min_interactions`` interactions, then a seeded ``users_fraction`` of them."""
    eligible = sorted(user for user, count in counts.items() if count >= min_interactions)
    return set(random.Random(seed).sample(eligible, round(len(eligible) * users_fraction)))


def without_latest(rows: list[str], user_column: int, time_column: int) -> list[str]:
    """``rows`` without each user's interactions at that user's latest timestamp.

    All of them, not one: RecBole's leave-one-out test item is one of a user's latest, and which
    one of several tied at the same second depends on its sort, so only dropping every tied row
    is sure to drop it. Raises ``ValueError`` naming the row whose timestamp is not a number.
    """
    parsed = []
    for row in rows:
        fields = row.split("\t")
        try:
            parsed.append((fields[user_column], float(fields[time_column]), row))
        except (ValueError, IndexError):
            raise ValueError(f"the timestamp of this row is not a number: {row!r}") from None
    latest: dict[str, float] = {}
    for user, time, _ in parsed:
        latest[user] = max(time, latest.get(user, time))
    return [row for user, time, row in parsed if time < latest[user]]


def subsample(
    source: str,
    out_dir: str,
    name: str,
    users_fraction: float = 1.0,
    min_interactions: int = 0,
    seed: int = 0,
    drop_latest: bool = False,
    overwrite: bool = False,
) -> tuple[str, int, int]:
    """Write ``out_dir/name/name.*``; returns that folder and the numbers of users and interactions kept.

    Refused before anything is written: an output folder that is the source's (however spelt),
    and a ``name`` whose folder already holds files unless ``overwrite`` (``--overwrite``), which
    then also removes that dataset's ``.user`` / ``.item`` file when the source has none.
    """
    if not 0 < users_fraction <= 1:
        raise ValueError(f"--users_fraction must be in (0, 1], got {users_fraction!r}")
    check_dataset_name(name)
    folder = source_folder(source)
    dataset = os.path.basename(os.path.normpath(folder))
    inter_path = os.path.join(folder, f"{dataset}.inter")
    if not os.path.isfile(inter_path):
        raise FileNotFoundError(f"{inter_path} does not exist: the source folder needs a {dataset}.inter file")
    target = os.path.join(out_dir, name)
    copies = [suffix for suffix in ("user", "item") if os.path.isfile(os.path.join(folder, f"{dataset}.{suffix}"))]
    paths = [os.path.join(target, f"{name}.{suffix}") for suffix in ("inter", *copies)]
    sources = [folder, *(os.path.join(folder, f"{dataset}.{suffix}") for suffix in ("inter", *copies))]
    # the folder too: a sub-sample inside its source's folder would mix two datasets' files
    refuse_output_onto_input([target, *paths], sources, f"--name {name}")
    check_output_path(target, f"--name {name}:", folder=True)
    if os.path.isdir(target) and os.listdir(target) and not overwrite:
        held = sorted(os.listdir(target))
        raise ValueError(
            f"--name {name}: {target} already exists and holds {', '.join(held[:3])}"
            f"{', ...' if len(held) > 3 else ''}: pass --overwrite to replace it, or choose another --name"
        )
    try:
        with open(inter_path, encoding="utf-8") as file:
            header, *rows = [line for line in file.read().splitlines() if line]
    except UnicodeDecodeError as error:
        raise ValueError(f"{inter_path} is not a text file of interactions (not UTF-8: {error.reason})") from None
    except ValueError:  # no line to unpack
        raise ValueError(f"{inter_path} is empty: it needs a header line and interactions") from None
    columns = [field.split(":")[0] for field in header.split("\t")]
    if "user_id" not in columns:
        raise ValueError(f"{inter_path}: the header has no user_id column (it has {columns})")
    user_column = columns.index("user_id")
    counts = Counter(row.split("\t")[user_column] for row in rows)
    users = kept_users(counts, users_fraction, min_interactions, seed)
    if not users:
        raise ValueError(
            f"no user of {dataset} is kept: {sum(c >= min_interactions for c in counts.values())} users have "
            f"{min_interactions} interactions or more, of which users_fraction {users_fraction} keeps none"
        )
    kept = [row for row in rows if row.split("\t")[user_column] in users]
    if drop_latest:
        if "timestamp" not in columns:
            raise ValueError(f"{inter_path}: --drop_latest needs a timestamp column (the header has {columns})")
        try:
            kept = without_latest(kept, user_column, columns.index("timestamp"))
        except ValueError as error:
            raise ValueError(f"{inter_path}: --drop_latest: {error}") from None
    with all_or_nothing(paths) as partial:
        with open(partial[0], "w", encoding="utf-8") as file:
            file.write("\n".join([header, *kept]) + "\n")
        for suffix, path in zip(copies, partial[1:]):
            shutil.copyfile(os.path.join(folder, f"{dataset}.{suffix}"), path)
    for suffix in ATOMIC_SUFFIXES:  # an earlier sub-sample's .user / .item RecBole would read with this one
        stale = os.path.join(target, f"{name}.{suffix}")
        if suffix not in ("inter", *copies) and os.path.isfile(stale):
            os.remove(stale)
    return target, len(users), len(kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_mind.data.subsample",
        description="Write a user sub-sample of a RecBole atomic dataset.",
    )
    parser.add_argument("source", help="dataset folder, or the name of a dataset inside recbole (ml-100k)")
    parser.add_argument("out_dir", help="folder to write <name>/ into; then run with --data_path=OUT_DIR")
    parser.add_argument("--name", required=True, help="name of the new dataset")
    parser.add_argument("--users_fraction", type=float, default=1.0, help="share of the eligible users kept")
    parser.add_argument("--min_interactions", type=int, default=0, help="only users with this many or more")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--drop_latest", action="store_true",
        help="drop each user's interactions at their latest timestamp (a copy without the source's test items)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that --name")
    args = parser.parse_args(argv)

    def write() -> str:
        target, users, interactions = subsample(
            args.source, args.out_dir, args.name, args.users_fraction, args.min_interactions, args.seed,
            args.drop_latest, args.overwrite,
        )
        return (
            f"wrote {target}: {users} users, {interactions} interactions; "
            f"run: python run_recbole_mind.py --dataset={args.name} --data_path={args.out_dir}"
        )

    return report_written(write, (ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())

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

import os
import random
import shutil
import sys
from collections import Counter
from typing import Sequence

from recbole_mind.data.derived import (
    check_target, derived_dataset_parser, read_interactions, remove_stale, source_files, source_folder,
)
from recbole_mind.data.output import all_or_nothing, check_dataset_name, report_written


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
    dataset, copies = source_files(folder)
    inputs = [os.path.join(folder, f"{dataset}.{suffix}") for suffix in ("inter", *copies)]
    target, paths = check_target(folder, out_dir, name, inputs, ["inter", *copies], overwrite)
    inter = read_interactions(folder)
    header, rows, user_column = inter.header, inter.rows, inter.user_column
    counts = Counter(row.split("\t")[user_column] for row in rows)
    users = kept_users(counts, users_fraction, min_interactions, seed)
    if not users:
        raise ValueError(
            f"no user of {dataset} is kept: {sum(c >= min_interactions for c in counts.values())} users have "
            f"{min_interactions} interactions or more, of which users_fraction {users_fraction} keeps none"
        )
    kept = [row for row in rows if row.split("\t")[user_column] in users]
    if drop_latest:
        time_column = inter.column("timestamp", "--drop_latest")
        try:
            kept = without_latest(kept, user_column, time_column)
        except ValueError as error:
            raise ValueError(f"{inter.path}: --drop_latest: {error}") from None
    with all_or_nothing(paths) as partial:
        with open(partial[0], "w", encoding="utf-8") as file:
            file.write("\n".join([header, *kept]) + "\n")
        for suffix, path in zip(copies, partial[1:]):
            shutil.copyfile(os.path.join(folder, f"{dataset}.{suffix}"), path)
    remove_stale(target, name, ["inter", *copies])  # an earlier sub-sample's .user / .item
    return target, len(users), len(kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = derived_dataset_parser(
        "python -m recbole_mind.data.subsample", "Write a user sub-sample of a RecBole atomic dataset."
    )
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

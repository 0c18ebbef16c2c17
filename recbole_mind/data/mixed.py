"""Mixed accounts: several users of an atomic dataset merged into one account, as when a
household shares a login. MIND's several interests are meant for users whose histories mix
interests; a mixed account is a controlled case of it, whose members are known::

    python -m recbole_mind.data.mixed ml-100k DIR --name ml-100k-mixed   # pairs; --group_size, --seed

Users are shuffled with ``--seed`` and cut into groups of ``--group_size``; a last incomplete
group is dropped (and reported). Each group becomes one account, ``m1``, ``m2``, ... (``mm1``,
... if the source already has a user of such a name), whose history interleaves its members'
by timestamp: each member keeps its own order, ties go to the member listed first, then to the
file's order. Every column of the ``.inter`` file is kept but the user's; the ``.item`` file is
copied; the ``.user`` file is not (an account has no single profile, and RecBole would drop
the interactions of every account such a file does not list). ``<name>.members``, a TSV
with the header line ``account``, ``user_id``, ``member``, gives each account's source users,
``member`` 1 to ``--group_size`` in the order ties follow. The source needs a ``timestamp`` column.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from dataclasses import dataclass
from typing import Sequence

from recbole_mind.data.derived import (
    check_target, derived_dataset_parser, read_interactions, remove_stale, source_files, source_folder,
)
from recbole_mind.data.output import all_or_nothing, check_dataset_name, report_written

MEMBERS_HEADER = "account\tuser_id\tmember"


@dataclass
class MixSummary:
    """What :func:`mix_accounts` wrote: the folder, its files, the counts and the users left out."""

    folder: str
    files: list[str]
    accounts: int
    users: int
    interactions: int
    dropped: list[str]
    dropped_interactions: int


def groups_of(users: list[str], group_size: int, seed: int) -> tuple[list[list[str]], list[str]]:
    """``users`` (sorted, so the file's order does not matter) shuffled with ``seed`` and cut into
    groups of ``group_size``; the last incomplete group is returned apart."""
    shuffled = sorted(users)
    random.Random(seed).shuffle(shuffled)
    whole = len(shuffled) - len(shuffled) % group_size
    return [shuffled[start:start + group_size] for start in range(0, whole, group_size)], shuffled[whole:]


def account_names(count: int, users: set[str]) -> list[str]:
    """``m1`` ... ``m<count>``, with the prefix lengthened (``mm1``, ...) until no source user has one of them."""
    prefix = "m"
    while any(f"{prefix}{number}" in users for number in range(1, count + 1)):
        prefix += "m"
    return [f"{prefix}{number}" for number in range(1, count + 1)]


def interleaved(histories: list[list[tuple[float, list[str]]]]) -> list[list[str]]:
    """The rows of the members' ``(time, row)`` histories in time order; a tie goes to the member
    listed first, then to the file's order (a stable sort)."""
    timed = [(time, member, row) for member, history in enumerate(histories) for time, row in history]
    return [row for _, _, row in sorted(timed, key=lambda entry: (entry[0], entry[1]))]


def mix_accounts(source: str, out_dir: str, name: str, group_size: int = 2, seed: int = 2020,
                 overwrite: bool = False) -> MixSummary:
    """Write ``out_dir/name/name.{inter,item,members}``: the mixed accounts of ``source``.

    Refused before anything is written (``ValueError``): ``group_size`` under 2 or over the
    number of users, a source without a ``timestamp`` column or with a timestamp that is not a
    number, an output onto the source (however spelt) and a ``name`` whose folder already holds
    files unless ``overwrite``.
    """
    if group_size < 2:
        raise ValueError(f"--group_size must be 2 or more (a group of one user is that user's own account), "
                         f"got {group_size}")
    check_dataset_name(name)
    folder = source_folder(source)
    dataset, copies = source_files(folder)
    copies = [suffix for suffix in copies if suffix != "user"]  # an account has no single profile
    inputs = [os.path.join(folder, f"{dataset}.{suffix}") for suffix in ("inter", *copies)]
    outputs = ["inter", *copies, "members"]
    target, paths = check_target(folder, out_dir, name, inputs, outputs, overwrite)
    inter = read_interactions(folder)
    time_column = inter.column("timestamp", "mixing accounts (their histories are interleaved by time)")
    histories: dict[str, list[tuple[float, list[str]]]] = {}
    for row in inter.rows:
        cells = row.split("\t")
        try:
            time = float(cells[time_column])
        except (ValueError, IndexError):
            raise ValueError(f"{inter.path}: the timestamp of this row is not a number: {row!r}") from None
        histories.setdefault(cells[inter.user_column], []).append((time, cells))
    if group_size > len(histories):
        raise ValueError(f"--group_size {group_size} is more than the {len(histories)} users of {inter.path}: "
                         f"not one group could be filled")
    groups, dropped = groups_of(list(histories), group_size, seed)
    accounts = account_names(len(groups), set(histories))
    rows, members = [], [MEMBERS_HEADER]
    for account, group in zip(accounts, groups):
        for cells in interleaved([histories[user] for user in group]):
            rows.append("\t".join([*cells[:inter.user_column], account, *cells[inter.user_column + 1:]]))
        members.extend(f"{account}\t{user}\t{index}" for index, user in enumerate(group, start=1))
    with all_or_nothing(paths) as partial:
        with open(partial[0], "w", encoding="utf-8") as file:
            file.write("\n".join([inter.header, *rows]) + "\n")
        for suffix, path in zip(copies, partial[1:-1]):
            shutil.copyfile(os.path.join(folder, f"{dataset}.{suffix}"), path)
        with open(partial[-1], "w", encoding="utf-8") as file:
            file.write("\n".join(members) + "\n")
    remove_stale(target, name, outputs)
    return MixSummary(target, [os.path.basename(path) for path in paths], len(groups), len(groups) * group_size,
                      len(rows), dropped, sum(len(histories[user]) for user in dropped))


def describe(summary: MixSummary, group_size: int, out_dir: str, name: str) -> str:
    """What a run of the command prints."""
    lines = [
        f"wrote {summary.folder}: {', '.join(summary.files)} (no .user file: a mixed account has no single profile)",
        f"{summary.accounts} accounts of {group_size} users each ({summary.users} users), "
        f"{summary.interactions} interactions",
    ]
    if summary.dropped:
        lines.append(
            f"dropped {len(summary.dropped)} user(s) left over after the last whole group of {group_size}, with "
            f"their {summary.dropped_interactions} interactions: {', '.join(summary.dropped)}"
        )
    lines.append(f"run: python run_recbole_mind.py --dataset={name} --data_path={out_dir}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = derived_dataset_parser(
        "python -m recbole_mind.data.mixed",
        "Write a dataset whose accounts each merge the histories of several users of an atomic dataset.",
    )
    parser.add_argument("--group_size", type=int, default=2, help="users per account (2: pairs)")
    parser.add_argument("--seed", type=int, default=2020, help="seed of the shuffle that forms the groups")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that --name")
    args = parser.parse_args(argv)

    def write() -> str:
        summary = mix_accounts(args.source, args.out_dir, args.name, args.group_size, args.seed, args.overwrite)
        return describe(summary, args.group_size, args.out_dir, args.name)

    return report_written(write, (ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())

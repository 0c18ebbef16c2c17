"""Sub-samples of a RecBole atomic dataset, for tuning on more than one dataset.

Keeps a subset of users, every interaction of each kept user, and the user and item files
as they are (RecBole ignores rows of users and items that no interaction names):

    # half of ml-100k's users, drawn with a seed
    python benchmarks/subsample.py ml-100k /work/grids/data --name ml-100k-half --users_fraction 0.5
    # the users with long histories (the kind a dataset like ml-1m is full of)
    python benchmarks/subsample.py ml-100k /work/grids/data --name ml-100k-long --min_interactions 100

The source is a folder holding ``<dataset>.inter`` or, by default, the dataset of that name
inside the recbole wheel (ml-100k ships there).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from collections import Counter
from typing import Sequence


def source_folder(source: str) -> str:
    """``source`` itself when it is a folder, else the dataset of that name in the recbole wheel."""
    if os.path.isdir(source):
        return source
    import recbole

    bundled = os.path.join(os.path.dirname(recbole.__file__), "dataset_example", source)
    if not os.path.isdir(bundled):
        raise FileNotFoundError(f"no dataset folder {source!r}, nor a dataset of that name inside recbole")
    return bundled


def kept_users(counts: Counter, users_fraction: float, min_interactions: int, seed: int) -> set[str]:
    """Users with at least ``min_interactions`` interactions, then a seeded ``users_fraction`` of them."""
    eligible = sorted(user for user, count in counts.items() if count >= min_interactions)
    keep = round(len(eligible) * users_fraction)
    return set(random.Random(seed).sample(eligible, keep))


def subsample(source: str, out_root: str, name: str, users_fraction: float = 1.0,
              min_interactions: int = 0, seed: int = 0) -> dict[str, int]:
    """Write ``out_root/name/name.*``; returns the numbers of users and interactions kept."""
    if not 0 < users_fraction <= 1:
        raise ValueError(f"users_fraction must be in (0, 1], got {users_fraction!r}")
    folder = source_folder(source)
    dataset = os.path.basename(os.path.normpath(folder))
    inter_path = os.path.join(folder, f"{dataset}.inter")
    if not os.path.isfile(inter_path):
        raise FileNotFoundError(f"{inter_path} does not exist: the source needs a {dataset}.inter file")
    with open(inter_path, encoding="utf-8") as file:
        header, *rows = file.read().splitlines()
    user_column = [field.split(":")[0] for field in header.split("\t")].index("user_id")
    rows = [row for row in rows if row]
    counts = Counter(row.split("\t")[user_column] for row in rows)
    users = kept_users(counts, users_fraction, min_interactions, seed)
    if not users:
        raise ValueError(f"no user of {dataset} has {min_interactions} interactions or more")
    out_dir = os.path.join(out_root, name)
    os.makedirs(out_dir, exist_ok=True)
    kept = [row for row in rows if row.split("\t")[user_column] in users]
    with open(os.path.join(out_dir, f"{name}.inter"), "w", encoding="utf-8") as file:
        file.write("\n".join([header, *kept]) + "\n")
    for suffix in ("user", "item"):
        path = os.path.join(folder, f"{dataset}.{suffix}")
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(out_dir, f"{name}.{suffix}"))
    return {"users": len(users), "interactions": len(kept)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="dataset folder, or the name of a dataset inside recbole (ml-100k)")
    parser.add_argument("out_root", help="folder to write <name>/ into (use it as --data_path)")
    parser.add_argument("--name", required=True, help="name of the new dataset")
    parser.add_argument("--users_fraction", type=float, default=1.0)
    parser.add_argument("--min_interactions", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        kept = subsample(args.source, args.out_root, args.name, args.users_fraction, args.min_interactions, args.seed)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {os.path.join(args.out_root, args.name)}: {kept['users']} users, {kept['interactions']} interactions")
    return 0


if __name__ == "__main__":
    sys.exit(main())

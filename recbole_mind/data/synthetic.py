"""Synthetic multi-interest data in RecBole's atomic format, for tests and scale benchmarks.

Items are split into ``n_clusters`` equal clusters (latent interests). Each user holds
``interests_per_user`` distinct clusters and every interaction picks one of them at random,
then an item inside it with Zipf-like popularity (rank r drawn with weight 1 / r). Users
therefore mix several disjoint interests, which a single user vector cannot cover well. With
``stickiness`` s > 0 a user stays in the interest of their previous interaction with
probability s (sessions: recent behaviours then predict the next one, as on real data); with
s = 0 (default) interests are drawn independently and order carries no signal.

Files written in ``<out_dir>/<name>/``:

- ``<name>.inter``: ``user_id:token item_id:token timestamp:float``
- ``<name>.item``: ``item_id:token cluster:token`` (the latent interest of each item)

Usage::

    python -m recbole_mind.data.synthetic OUT_DIR --users 1000 --items 100000 --interactions 50000
    python run_recbole_mind.py --dataset=synthetic --data_path=OUT_DIR
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import numpy as np

from recbole_mind.data.output import all_or_nothing, check_dataset_name, report_written


# keyword -> the command's flag: messages name the flag, how most people call this
FLAGS = {
    "n_users": "--users", "n_items": "--items", "n_interactions": "--interactions", "n_clusters": "--clusters",
    "interests_per_user": "--interests_per_user", "seed": "--seed", "stickiness": "--stickiness",
}


def write_multi_interest_dataset(
    out_dir: str,
    name: str = "synthetic",
    n_users: int = 1000,
    n_items: int = 10_000,
    n_interactions: int = 50_000,
    n_clusters: int = 20,
    interests_per_user: int = 4,
    seed: int = 0,
    stickiness: float = 0.0,
) -> str:
    """Write the atomic files; returns the dataset folder. Same arguments, same files.

    Errors name the command's flags (``--items`` for ``n_items``, :data:`FLAGS`).
    """
    for key, value in (
        ("n_users", n_users), ("n_items", n_items), ("n_interactions", n_interactions),
        ("n_clusters", n_clusters), ("interests_per_user", interests_per_user), ("seed", seed),
    ):
        minimum = 0 if key == "seed" else 1  # numpy refuses a negative seed
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{FLAGS[key]} must be an integer >= {minimum}, got {value!r}")
    if isinstance(stickiness, bool) or not isinstance(stickiness, (int, float)) or not 0 <= stickiness < 1:
        raise ValueError(f"--stickiness must be a number in [0, 1), got {stickiness!r}")
    check_dataset_name(name)
    if n_clusters > n_items:
        raise ValueError(
            f"--clusters {n_clusters} must not exceed --items {n_items}: "
            "every cluster needs an item"
        )
    if interests_per_user > n_clusters:
        raise ValueError(
            f"--interests_per_user {interests_per_user} must not exceed --clusters {n_clusters}: "
            "a user's interests are distinct clusters"
        )
    per_user = -(-n_interactions // n_users)
    present = -(-n_interactions // per_user)
    if present < n_users:
        # users take ceil(interactions / users) interactions each, in order: the users after the
        # last full share would have none and be missing from the files, fewer users than asked.
        # Dealt otherwise, the files of every accepted count would change: same arguments, same files.
        raise ValueError(
            f"--interactions {n_interactions} gives the users {per_user} each, in order, enough for only {present} of "
            f"--users {n_users}: give a multiple of --users, e.g. {per_user * n_users}"
        )
    rng = np.random.default_rng(seed)
    cluster_of_item = np.arange(n_items) * n_clusters // n_items  # contiguous, near-equal clusters
    starts = np.searchsorted(cluster_of_item, np.arange(n_clusters))
    sizes = np.bincount(cluster_of_item, minlength=n_clusters)

    users = np.repeat(np.arange(n_users), per_user)[:n_interactions]
    user_interests = np.argsort(rng.random((n_users, n_clusters)), axis=1)[:, :interests_per_user]
    chosen = user_interests[users, rng.integers(0, interests_per_user, n_interactions)]
    # Zipf-like rank inside the cluster: P(rank r) proportional to 1 / r, by inverse CDF.
    uniform = rng.random(n_interactions)
    if stickiness > 0:  # drawn last, so stickiness 0 writes the same files as before it existed
        stay = rng.random(n_interactions) < stickiness
        for index in range(1, n_interactions):
            if stay[index] and users[index] == users[index - 1]:
                chosen[index] = chosen[index - 1]
    ranks = np.floor(np.exp(uniform * np.log(sizes[chosen] + 1))).astype(np.int64) - 1
    items = starts[chosen] + np.minimum(ranks, sizes[chosen] - 1)
    timestamps = np.arange(n_interactions, dtype=np.int64)  # each user's draws in order

    folder = os.path.join(out_dir, name)
    paths = [os.path.join(folder, f"{name}.inter"), os.path.join(folder, f"{name}.item")]
    with all_or_nothing(paths) as (inter_path, item_path):
        with open(inter_path, "w", encoding="utf-8") as file:
            file.write("user_id:token\titem_id:token\ttimestamp:float\n")
            for user, item, stamp in zip(users.tolist(), items.tolist(), timestamps.tolist()):
                file.write(f"u{user}\ti{item}\t{stamp}\n")
        with open(item_path, "w", encoding="utf-8") as file:
            file.write("item_id:token\tcluster:token\n")
            for item, cluster in enumerate(cluster_of_item.tolist()):
                file.write(f"i{item}\tc{cluster}\n")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_mind.data.synthetic",
        description="Write a synthetic multi-interest dataset as RecBole atomic files.",
    )
    parser.add_argument("out_dir")
    parser.add_argument("--name", default="synthetic")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--interests_per_user", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stickiness", type=float, default=0.0,
                        help="probability of staying in the previous interaction's interest (0: independent draws)")
    args = parser.parse_args(argv)

    def write() -> str:
        folder = write_multi_interest_dataset(
            args.out_dir, args.name, args.users, args.items, args.interactions,
            args.clusters, args.interests_per_user, args.seed, args.stickiness,
        )
        return f"wrote {folder}; run: python run_recbole_mind.py --dataset={args.name} --data_path={args.out_dir}"

    return report_written(write, (ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())

"""Where a trained MIND row's top-N comes from: which interest wins each slot, and how many slots
go to items the user has already had.

A diagnostic for the question the benchmark leaves open (issue 14): why the preset's routed
interests do not pay on ml-100k's next item when they do on long synthetic histories. It trains a
benchmark row (``benchmarks/rows.py``'s names, its protocol and overrides) on one seed, keeps the
best-validation weights, and reads the **validation split only** (leave-one-out; the test split is
never scored), recording per user:

- recall@N of the serving rule (the max over active interests), of the short-term interest alone
  (interest 0, when the row has one) and of the routed interests alone;
- the share of the top-N slots each interest wins, and the share of the hits;
- the share of the top-N slots taken by items of the user's own history (the model's window, and
  every earlier interaction): RecBole's leave-one-out full sort does not remove them, and on
  MovieLens no one rates a film twice, so every such slot is a certain miss.

::

    python -m benchmarks.diagnostics.interest_share --rows "MIND preset" "MIND preset K=1" --seed 2020

writes ``docs/interest_share.json`` (``--out``) and prints the table of :func:`markdown_table`, which
``benchmarks/figures.py`` keeps in docs/tuning.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

import numpy as np
import torch

from benchmarks.rows import MODELS, ROOT, row_config


def user_histories(dataset) -> dict[int, list[int]]:
    """Each user's item ids in time order (RecBole's ``order: TO``: a stable sort on time)."""
    uids = dataset.inter_feat[dataset.uid_field].numpy()
    items = dataset.inter_feat[dataset.iid_field].numpy()
    times = dataset.inter_feat[dataset.time_field].numpy()
    order = np.lexsort((np.arange(len(uids)), times, uids))
    histories: dict[int, list[int]] = {}
    for uid, item in zip(uids[order], items[order]):
        histories.setdefault(int(uid), []).append(int(item))
    return histories


def train_best(row: str, dataset_name: str, seed: int, epochs: int, data_path: str | None, checkpoint_dir: str):
    """The row's model at its best validation epoch of at most ``epochs``, with its prepared data."""
    from recbole_mind.training.checkpoint import load_checkpoint, restore_model
    from recbole_mind.training.pipeline import build_trainer, prepare

    config = row_config(row, dataset_name, "leave_one_out", seed, data_path,
                                epochs=epochs, checkpoint_dir=checkpoint_dir)
    prepared = prepare(config)
    trainer = build_trainer(config, prepared.model)
    _, best_result = trainer.fit(prepared.train_data, prepared.valid_data, saved=True, show_progress=False)
    restore_model(prepared.model, load_checkpoint(trainer.saved_model_file))
    prepared.model.eval()
    return config, prepared, {key: float(value) for key, value in best_result.items()}


@torch.no_grad()
def interest_share(model, valid_data, histories: dict[int, list[int]], top_n: int, has_short_term: bool) -> dict[str, Any]:
    """The per-user figures of the module docstring, averaged over validation users."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(name: str, values: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(values.float().sum())
        counts[name] = counts.get(name, 0) + int(values.numel())

    catalogue = model.catalogue_vectors()
    mismatched_targets = 0
    for batch in valid_data:
        interaction = batch[0]
        item_seq = interaction[model.ITEM_SEQ]
        targets = interaction[model.POS_ITEM_ID]
        interests, capsule_mask = model(item_seq, interaction[model.ITEM_SEQ_LEN], interaction)
        per_interest = torch.matmul(interests, catalogue.T)  # (B, K, N)
        per_interest[:, :, 0] = float("-inf")  # the padding item, as RecBole's evaluator does
        per_interest = per_interest.masked_fill(~capsule_mask.unsqueeze(-1), float("-inf"))
        best, winner = per_interest.max(dim=1)  # (B, N)
        top = best.topk(top_n, dim=1).indices  # (B, top_n)
        top_winner = winner.gather(1, top)
        hit = (top == targets.unsqueeze(1)).any(dim=1)
        add("recall", hit)
        add("active_interests", capsule_mask.sum(dim=1))

        window = torch.zeros_like(best, dtype=torch.bool).scatter_(1, item_seq, True)
        window[:, 0] = False
        earlier = torch.zeros_like(window)
        for row_index, (uid, target) in enumerate(zip(interaction[model.USER_ID].tolist(), targets.tolist())):
            history = histories[uid]
            position = len(history) - 2  # leave-one-out: the validation target is the second last
            if history[position] != target:
                mismatched_targets += 1
            earlier[row_index, history[:position]] = True
        add("top_in_window", window.gather(1, top))
        add("top_in_history", earlier.gather(1, top))

        if has_short_term:
            routed_users = capsule_mask[:, 1:].any(dim=1)
            add("users_with_routed", routed_users)
            add("top_won_by_short_term", top_winner == 0)
            hit_winner = top_winner[top == targets.unsqueeze(1)]
            add("hits_won_by_short_term", hit_winner == 0)
            short_top = per_interest[:, 0].topk(top_n, dim=1).indices
            add("recall_short_term_alone", (short_top == targets.unsqueeze(1)).any(dim=1))
            if routed_users.any():
                routed = per_interest[routed_users, 1:].max(dim=1).values
                routed_top = routed.topk(top_n, dim=1).indices
                add("recall_routed_alone", (routed_top == targets[routed_users].unsqueeze(1)).any(dim=1))
                add("routed_top_in_history", earlier[routed_users].gather(1, routed_top))
                add("short_top_in_history_same_users", earlier[routed_users].gather(1, short_top[routed_users]))
    figures = {name: sums[name] / counts[name] for name in sums}
    figures["validation_users"] = counts["recall"]
    figures["mismatched_targets"] = mismatched_targets
    return figures


TABLE_COLUMNS = [  # (header, key): shares and recalls of one record
    ("recall@N (max rule)", "recall"),
    ("short-term alone", "recall_short_term_alone"),
    ("routed alone", "recall_routed_alone"),
    ("slots won by short-term", "top_won_by_short_term"),
    ("hits won by short-term", "hits_won_by_short_term"),
    ("slots in window", "top_in_window"),
    ("slots in history", "top_in_history"),
]


def markdown_table(records: list[dict[str, Any]]) -> str:
    """One row per record: the figures of :data:`TABLE_COLUMNS` (``-`` where a row has no such
    interest), to 4 places."""
    lines = ["| row | dataset | seed | N | " + " | ".join(header for header, _ in TABLE_COLUMNS) + " |",
             "|---" * (4 + len(TABLE_COLUMNS)) + "|"]
    for record in records:
        cells = [f"{record[key]:.4f}" if key in record else "-" for _, key in TABLE_COLUMNS]
        lines.append(f"| {record['row']} | {record['dataset']} | {record['seed']} | {record['top_n']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=["MIND preset", "MIND preset K=1"],
                        help="MIND rows of benchmarks/rows.py")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/ (as benchmarks.compare's)")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--epochs", type=int, default=20, help="epoch budget (the benchmark's: 20)")
    parser.add_argument("--top_n", type=int, default=50)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "interest_share.json"))
    args = parser.parse_args(argv)
    unknown = [row for row in args.rows if row not in MODELS]
    if unknown:
        parser.error(f"unknown row(s) {unknown}; rows: {sorted(MODELS)}")
    not_mind = [row for row in args.rows if MODELS[row][0] != "MIND"]
    if not_mind:
        parser.error(f"not MIND rows: {not_mind}; the diagnostic reads MIND's interests")

    import recbole_mind  # noqa: F401  (registration, compat)

    records = []
    for row in args.rows:
        with tempfile.TemporaryDirectory(prefix="interest_share_") as checkpoint_dir:
            config, prepared, best_valid = train_best(row, args.dataset, args.seed, args.epochs, args.data_path,
                                                      checkpoint_dir)
        figures = interest_share(prepared.model, prepared.valid_data, user_histories(prepared.dataset),
                                 args.top_n, has_short_term=config["short_term_window"] > 0)
        records.append({"row": row, "dataset": args.dataset, "seed": args.seed, "epochs": args.epochs, "top_n": args.top_n,
                        "best_valid": best_valid, **figures})
        print(json.dumps(records[-1]), flush=True)
    existing = []
    if os.path.isfile(args.out):
        with open(args.out, encoding="utf-8") as file:
            existing = json.load(file)
    keys = {(record["row"], record["dataset"], record["seed"], record["top_n"]) for record in records}
    kept = [record for record in existing if (record["row"], record["dataset"], record["seed"], record["top_n"]) not in keys]
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump(kept + records, file, indent=1)
        file.write("\n")
    print(markdown_table(kept + records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

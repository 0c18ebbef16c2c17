"""Training cost of MIND with full softmax (CE) vs sampled softmax (SSM) as the catalogue grows.

Per catalogue size, a synthetic dataset of the same interactions; one epoch per loss, each in a
fresh process, recording its seconds and peak resident memory into a markdown table::

    python -m benchmarks.scale                                  # 10k, 100k, 1M items
    python -m benchmarks.scale --items 1000 5000 --interactions 2000 --out /tmp/scale.md
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
from typing import Any

from benchmarks.run import run_in_fresh_process

# name -> MIND keys: full softmax, sampled softmax with RecBole's dense Adam, and sampled softmax
# with the sparse item table and lazy Adam (sparse_item_embedding).
LOSSES = {
    "CE": {"loss_type": "CE"},
    "SSM": {"loss_type": "SSM"},
    "SSM sparse": {"loss_type": "SSM", "sparse_item_embedding": True},
}


def train_one_epoch(task: dict[str, Any]) -> dict[str, Any]:
    """Executed in a fresh spawned process: RSS then belongs to this run alone."""
    sys.argv = sys.argv[:1]
    os.chdir(task["work_dir"])
    from recbole_mind.training.config import build_config
    from recbole_mind.training.pipeline import build_trainer, prepare

    config = build_config("MIND", task["name"], config_dict=task["config_dict"])
    _, train_data, _, _, model = prepare(config)
    trainer = build_trainer(config, model)
    trainer.fit(train_data, None, saved=False, show_progress=config["show_progress"])
    seconds = trainer.epoch_seconds[0]
    table_bytes = model.item_encoder.id_embedding.weight.numel() * 4
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # the table, its gradient and Adam's two moments: 4 float32 copies
        "embedding_state_mb": 4 * table_bytes / 2**20,
        "train_rows": len(train_data.dataset),
        "catalogue": model.n_items - 1,  # the padding id 0 is not an item
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--num_negatives", type=int, default=100)
    parser.add_argument("--train_batch_size", type=int, default=512)
    parser.add_argument("--embedding_size", type=int, default=64)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "scale.md"))
    args = parser.parse_args(argv)

    from recbole_mind.data.synthetic import write_multi_interest_dataset

    rows = []
    # the generated catalogues are only needed while their epochs run
    with tempfile.TemporaryDirectory(prefix="recbole_mind_scale_") as work_dir:
        for n_items in args.items:
            name = f"synthetic_{n_items}"
            write_multi_interest_dataset(
                os.path.join(work_dir, "data"), name, n_users=args.users, n_items=n_items,
                n_interactions=args.interactions, n_clusters=20, interests_per_user=4,
            )
            for loss in LOSSES:
                config_dict = {
                    "data_path": os.path.join(work_dir, "data"), "epochs": 1, **LOSSES[loss],
                    "num_negatives": args.num_negatives, "train_batch_size": args.train_batch_size,
                    "embedding_size": args.embedding_size, "show_progress": False, "state": "WARNING",
                    # the .item file lists the whole catalogue, items never interacted with included
                    "load_col": {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id"]},
                }
                print(f"[scale] {n_items:,} items, {loss} ...", flush=True)
                run = run_in_fresh_process(
                    train_one_epoch, {"name": name, "work_dir": work_dir, "config_dict": config_dict}
                )
                rows.append((n_items, loss, run))
                print(f"[scale]   {run['seconds']:.3f} s, peak RSS {run['peak_rss_mb']:.0f} MB", flush=True)

    base = {loss: next(run for n, l, run in rows if l == loss) for loss in LOSSES}
    lines = [
        "# Training cost vs catalogue size: CE vs sampled softmax",
        "",
        f"One epoch of MIND on synthetic multi-interest data (`recbole_mind.data.synthetic`), "
        f"{args.interactions:,} interactions of {args.users:,} users at every size, "
        f"`train_batch_size: {args.train_batch_size}`, `embedding_size: {args.embedding_size}`, "
        f"SSM with {args.num_negatives} shared negatives (popularity sampler, log-q correction), "
        "trained by RecBole's Adam (dense update of the whole item table at every step) or, for "
        "'SSM sparse', with `sparse_item_embedding: True` (sparse table gradient, lazy Adam). "
        "Each run in a fresh process, one at a time. Peak RSS covers the whole process (data "
        "loading included); 'embedding state' is the item table with its gradient and Adam's two "
        "moments (4 float32 copies), the part that must grow with the catalogue.",
        "",
        "| items | loss | s / epoch | x smallest | peak RSS MB | embedding state MB | items in the model |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n_items, loss, run in rows:
        lines.append(
            f"| {n_items:,} | {loss} | {run['seconds']:.3f} | {run['seconds'] / base[loss]['seconds']:.2f} "
            f"| {run['peak_rss_mb']:.0f} | {run['embedding_state_mb']:.0f} | {run['catalogue']:,} |"
        )
    command = "python -m benchmarks.scale " + " ".join(argv if argv is not None else sys.argv[1:])
    import torch

    lines += ["", f"Command: `{command.strip()}`", "",
              f"torch {torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs.", ""]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as file:
        file.write("\n".join(lines))
    print(f"[scale] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

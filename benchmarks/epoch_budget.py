"""MIND and SASRec after a fixed epoch budget, through the same entry point.

Runs each model for each budget on ml-100k with RecBole's sequential protocol (leave-one-out,
time order, full sort, validation every epoch, test on the best-validation checkpoint) and
writes a markdown table. Run by hand, one torch process at a time:

    python benchmarks/epoch_budget.py --models MIND SASRec --epochs 1 20 --out docs/epoch_budget.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import recbole
import torch

from recbole_mind import __version__, run_recbole_mind

METRICS = ["Recall", "NDCG"]
TOPK = [10, 50]


def run(model: str, epochs: int, dataset: str) -> dict:
    config = {
        "epochs": epochs,
        "metrics": METRICS,
        "topk": TOPK,
        "valid_metric": "NDCG@10",
        "show_progress": False,
        "state": "WARNING",
    }
    start = time.perf_counter()
    result = run_recbole_mind(model, dataset, config_dict=config)
    result["wall_seconds"] = time.perf_counter() - start
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["MIND", "SASRec"])
    parser.add_argument("--epochs", nargs="+", type=int, default=[1, 20])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--out", default="docs/epoch_budget.md")
    args = parser.parse_args()
    out = os.path.abspath(args.out)

    rows = []
    os.chdir(tempfile.mkdtemp(prefix="epoch_budget_"))  # RecBole writes log/ and saved/ here
    for model in args.models:
        for epochs in args.epochs:
            print(f"[epoch_budget] {model}, {epochs} epoch(s) ...", flush=True)
            result = run(model, epochs, args.dataset)
            test = result["test_result"]
            rows.append(
                f"| {model} | {epochs} | {test['recall@10']:.4f} | {test['ndcg@10']:.4f} | "
                f"{test['recall@50']:.4f} | {test['ndcg@50']:.4f} | "
                f"{statistics.mean(result['train_epoch_seconds']):.1f} | "
                f"{result['test_users'] / result['test_seconds']:.0f} | {result['wall_seconds']:.0f} |"
            )
            print(rows[-1], flush=True)

    lines = [
        f"# Fixed epoch budgets on {args.dataset}",
        "",
        "RecBole's sequential protocol (leave-one-out `LS: valid_and_test`, `order: TO`, full sort,",
        "`MAX_ITEM_LIST_LENGTH: 50`), each model with its default config, validation on NDCG@10",
        "every epoch, test metrics from the best-validation checkpoint. Seconds per epoch are",
        "training only; eval users/s is the full-sort test evaluation. Measured one process at a",
        "time on one machine.",
        "",
        "| model | epochs | test Recall@10 | test NDCG@10 | test Recall@50 | test NDCG@50 | s / train epoch | eval users/s | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Command: `python benchmarks/epoch_budget.py --models {' '.join(args.models)} "
        f"--epochs {' '.join(map(str, args.epochs))} --dataset {args.dataset}`",
        "",
        f"Versions: recbole-mind {__version__}, recbole {recbole.__version__}, torch {torch.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}.",
        "",
    ]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as file:
        file.write("\n".join(lines))
    print(f"[epoch_budget] wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

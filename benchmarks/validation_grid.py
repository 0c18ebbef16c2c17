"""Validation-only grids: every point x seed of a model trained under the benchmark's protocol.

Each trial trains on the training split and is scored on the validation split only: the test
split is never evaluated (no test numbers exist to peek at). Every finished trial is appended
as one JSON line (params, seed, best validation metrics, seconds) to ``--log``, so a grid
resumes where it stopped and docs/tuning.md's tables are regenerated from the committed logs:

    python benchmarks/validation_grid.py run GRID.yaml --log docs/tuning_runs/NAME.jsonl
    python benchmarks/validation_grid.py table docs/tuning_runs/NAME.jsonl

A grid file holds ``model`` (optional, MIND by default; any RecBole model: the baselines get the
same levers as MIND), ``dataset`` (and optionally ``data_path``), ``fixed`` keys for every
point, ``points``: a list of ``{label: {key: value}}`` and ``seeds``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL = os.path.join(HERE, "protocol.yaml")


def trial_key(label: str, seed: int, dataset: str) -> str:
    return f"{dataset}|{label}|{seed}"


def finished_trials(log_path: str) -> dict[str, dict[str, Any]]:
    if not os.path.isfile(log_path):
        return {}
    trials = {}
    with open(log_path, encoding="utf-8") as file:
        for line in file:
            if line.strip():
                record = json.loads(line)
                trials[trial_key(record["label"], record["seed"], record["dataset"])] = record
    return trials


def run_trial(dataset: str, config_dict: dict[str, Any], model_name: str = "MIND") -> dict[str, Any]:
    """Train ``model_name`` with ``config_dict``; best validation result, epochs and seconds."""
    from recbole.utils import init_logger

    import recbole_mind  # noqa: F401  (registration, compat)
    from recbole_mind.config import build_config
    from recbole_mind.pipeline import build_trainer, prepare

    config = build_config(model_name, dataset, [PROTOCOL], config_dict)
    init_logger(config)
    _, train_data, valid_data, _, model = prepare(config)
    trainer = build_trainer(config, model)
    epoch_seconds = trainer.epoch_seconds
    start = time.perf_counter()
    _, best_valid = trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    return {
        "valid": {key: float(value) for key, value in best_valid.items()},
        "epochs_run": len(epoch_seconds),
        "valid_curve": trainer.valid_curve,
        "train_epoch_seconds": epoch_seconds,
        "total_seconds": time.perf_counter() - start,
    }


def run_grid(grid_path: str, log_path: str) -> None:
    with open(grid_path, encoding="utf-8") as file:
        grid = yaml.safe_load(file)
    dataset = grid["dataset"]
    model_name = grid.get("model", "MIND")
    fixed = dict(grid.get("fixed") or {})
    if grid.get("data_path"):
        fixed["data_path"] = grid["data_path"]
    done = finished_trials(log_path)
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    for point in grid["points"]:
        (label, keys), = point.items()
        for seed in grid["seeds"]:
            if trial_key(label, seed, dataset) in done:
                continue
            config_dict = {**fixed, **(keys or {}), "seed": seed}
            print(f"[{time.strftime('%H:%M:%S')}] {dataset} {label} seed {seed}", flush=True)
            result = run_trial(dataset, config_dict, model_name)
            record = {
                "model": model_name, "dataset": dataset, "label": label, "seed": seed,
                "params": {**(keys or {})}, "fixed": fixed, **result,
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            with open(log_path, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")
            valid = result["valid"]
            print(
                f"    valid ndcg@10 {valid.get('ndcg@10', math.nan):.4f} recall@50 "
                f"{valid.get('recall@50', math.nan):.4f} ({result['epochs_run']} epochs, "
                f"{result['total_seconds']:.0f} s)", flush=True,
            )


def mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def table(log_paths: list[str], metrics: tuple[str, ...] = ("ndcg@10", "recall@50")) -> str:
    """Markdown table: one row per (dataset, label), mean +- std over seeds, in log order."""
    rows: dict[tuple[str, str], list[dict]] = {}
    for path in log_paths:
        for record in finished_trials(path).values():
            rows.setdefault((record["dataset"], record["label"]), []).append(record)
    header = "| dataset | configuration | seeds | " + " | ".join(f"valid {m}" for m in metrics) + " | s/epoch |"
    lines = [header, "|" + " --- |" * (4 + len(metrics))]
    for (dataset, label), records in rows.items():
        cells = []
        for metric in metrics:
            mean, std = mean_std([r["valid"][metric] for r in records])
            cells.append(f"{mean:.4f} ± {std:.4f}")
        epoch = sorted(s for r in records for s in r["train_epoch_seconds"])
        median = epoch[len(epoch) // 2] if epoch else math.nan
        lines.append(f"| {dataset} | {label} | {len(records)} | " + " | ".join(cells) + f" | {median:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a grid (validation only), appending to the log")
    run.add_argument("grid")
    run.add_argument("--log", required=True)
    run.add_argument("--threads", type=int, default=0,
                     help="torch threads (0: torch's default); two 1-thread grids use 2 cores better than one")
    show = commands.add_parser("table", help="mean +- std per point from one or more logs")
    show.add_argument("logs", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        run_grid(args.grid, args.log)
    else:
        print(table(args.logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

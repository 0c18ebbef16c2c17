"""Validation-only grids: every point x seed of a model trained under the benchmark's protocol.

Each trial scores the validation split only (the test split is never evaluated) and is appended
as one JSON line to ``--log``, so a grid resumes where it stopped and the tuning pages' tables
regenerate from the committed logs; ``--paired`` judges A against B by the noise rule::

    python -m benchmarks.validation_grid run GRID.yaml --log docs/tuning_runs/NAME.jsonl
    python -m benchmarks.validation_grid table docs/tuning_runs/NAME.jsonl --paired "POINT A" "POINT B"

A grid file holds ``model`` (MIND by default; any RecBole model), ``dataset`` (and optionally
``data_path``), ``fixed`` keys, ``points`` (a list of ``{label: {key: value}}``), ``seeds`` and
optionally ``config_files`` layered after the protocol (e.g. the multi-target protocol's).
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

from benchmarks import stats
from benchmarks.rows import PROTOCOL, ROOT


# metrics printed per trial and tabled by default: leave-one-out's and multi_target's
SHOWN = ("ndcg@10", "recall@50")


def trial_key(label: str, seed: int, dataset: str) -> str:
    return f"{dataset}|{label}|{seed}"


def finished_trials(log_path: str) -> dict[str, dict[str, Any]]:
    if not os.path.isfile(log_path):
        return {}
    with open(log_path, encoding="utf-8") as file:
        records = [json.loads(line) for line in file if line.strip()]
    return {trial_key(record["label"], record["seed"], record["dataset"]): record for record in records}


def run_trial(
    dataset: str, config_dict: dict[str, Any], model_name: str = "MIND", config_files: list[str] = ()
) -> dict[str, Any]:
    """Train ``model_name`` with ``config_dict`` as any run does, scoring validation only:
    best validation result, epochs and seconds. ``config_files`` come after the benchmark's
    protocol (``properties/protocols/multi_target.yaml`` validates on held-out users)."""
    import recbole_mind  # noqa: F401  (registration, compat)
    from recbole_mind.run.quick_start import run_recbole_mind

    start = time.perf_counter()
    result = run_recbole_mind(model_name, dataset, [PROTOCOL, *config_files], config_dict, saved=False,
                              evaluate_test=False)
    return {
        "valid": {key: float(value) for key, value in result["best_valid_result"].items()},
        "epochs_run": len(result["train_epoch_seconds"]),
        "valid_curve": result["valid_curve"],
        "train_epoch_seconds": result["train_epoch_seconds"],
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
    # relative to the repository, so a grid runs from any folder
    config_files = [os.path.join(ROOT, path) for path in grid.get("config_files") or []]
    done = finished_trials(log_path)
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    for point in grid["points"]:
        (label, keys), = point.items()
        for seed in grid["seeds"]:
            if trial_key(label, seed, dataset) in done:
                continue
            config_dict = {**fixed, **(keys or {}), "seed": seed}
            print(f"[{time.strftime('%H:%M:%S')}] {dataset} {label} seed {seed}", flush=True)
            result = run_trial(dataset, config_dict, model_name, config_files)
            record = {
                "model": model_name, "dataset": dataset, "label": label, "seed": seed,
                "params": {**(keys or {})}, "fixed": fixed,
                **({"config_files": grid["config_files"]} if config_files else {}), **result,
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            with open(log_path, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")
            scores = " ".join(f"{key} {value:.4f}" for key, value in result["valid"].items() if key in SHOWN)
            print(f"    valid {scores} ({result['epochs_run']} epochs, {result['total_seconds']:.0f} s)", flush=True)


def trials_by_point(log_paths: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The finished trials of the logs grouped by ``(dataset, label)``, in log order."""
    points: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in log_paths:
        for record in finished_trials(path).values():
            points.setdefault((record["dataset"], record["label"]), []).append(record)
    return points


def table(log_paths: list[str], metrics: tuple[str, ...] = SHOWN) -> str:
    """Markdown table: one row per (dataset, label), mean +- std over seeds, in log order
    ("–" for a metric the trials did not record)."""
    rows = trials_by_point(log_paths)
    header = "| dataset | configuration | seeds | " + " | ".join(f"valid {m}" for m in metrics) + " | s/epoch |"
    lines = [header, "|" + " --- |" * (4 + len(metrics))]
    for (dataset, label), records in rows.items():
        values = [[r["valid"][metric] for r in records if metric in r["valid"]] for metric in metrics]
        cells = ["{:.4f} ± {:.4f}".format(*stats.mean_std(v)) if v else "–" for v in values]
        epoch = sorted(s for r in records for s in r["train_epoch_seconds"])
        median = epoch[len(epoch) // 2] if epoch else math.nan
        lines.append(f"| {dataset} | {label} | {len(records)} | " + " | ".join(cells) + f" | {median:.1f} |")
    return "\n".join(lines)


def by_seed(records: list[dict[str, Any]], metric: str) -> dict[int, float]:
    """``{seed: validation metric}`` of one point's trials (those that recorded the metric)."""
    return {record["seed"]: record["valid"][metric] for record in records if metric in record["valid"]}


def verdict_cell(a: dict[int, float], b: dict[int, float]) -> str:
    """``a - b`` under the noise rule (benchmarks/stats.py), or, when the rows are too few seeds
    for it, their difference at the one seed they share and "no verdict"."""
    if stats.has_verdict(a, b):
        return stats.describe(stats.compare_seeds(a, b))
    shared = sorted(set(a) & set(b))
    if not shared:
        return "no seed in common: no verdict"
    seed = shared[0]
    return f"{a[seed] - b[seed]:+.4f} (seed {seed} only): no verdict"


def paired_table(log_paths: list[str], pairs: list[tuple[str, str]], metrics: tuple[str, ...] = SHOWN,
                 one_seed_rows: bool = False, datasets: tuple[str, ...] | None = None) -> str:
    """Markdown table of ``a - b`` for each ``(a, b)`` of ``pairs`` and each dataset where both
    points ran, with the verdict of the noise rule (benchmarks/stats.py): paired per seed both
    points ran (mean ± std of the differences, on how many seeds ``a`` was higher). A seed fixes
    the data split for both points, so the paired difference removes the split's share of the
    spread that mean ± std of each point carries. Rows the rule cannot judge (one seed) are left
    out unless ``one_seed_rows``; ``datasets`` keeps only those datasets' rows."""
    points = trials_by_point(log_paths)
    shown = [dataset for dataset in dict.fromkeys(dataset for dataset, _ in points)
             if datasets is None or dataset in datasets]
    lines = ["| dataset | a - b | " + " | ".join(f"valid {m}" for m in metrics) + " |", "|" + " --- |" * (2 + len(metrics))]
    for a, b in pairs:
        for dataset in shown:
            if (dataset, a) not in points or (dataset, b) not in points:
                continue
            rows = [(by_seed(points[dataset, a], metric), by_seed(points[dataset, b], metric)) for metric in metrics]
            if not one_seed_rows and not any(stats.has_verdict(*row) for row in rows):
                continue
            cells = [verdict_cell(*row) if row[0] and row[1] else "–" for row in rows]
            lines.append(f"| {dataset} | {a} - {b} | " + " | ".join(cells) + " |")
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
    show.add_argument("--paired", nargs=2, action="append", metavar=("A", "B"), default=[],
                      help="also print the per-seed difference A - B of two points and its verdict "
                           "under the noise rule of benchmarks/stats.py (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        run_grid(args.grid, args.log)
    else:
        print(table(args.logs))
        if args.paired:
            print("\n" + paired_table(args.logs, [tuple(pair) for pair in args.paired]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

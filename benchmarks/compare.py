"""Benchmark MIND against RecBole's SASRec, GRU4Rec, SINE and Pop under one protocol.

Every row (``benchmarks/rows.py``) runs through ``run_recbole_mind`` with the same protocol files,
epoch budget and seeds, one training process at a time, under both protocols by default
(RecBole's leave-one-out and the multi-target one). Each finished run is kept as JSON in
``<out_dir>/benchmark_runs/`` (an interrupted benchmark resumes; ``--rerun`` trains again), and
the report (``report.py``) is written from them. Run from the repository's root::

    python -m benchmarks.compare                       # full run, ml-100k, 3 seeds
    python -m benchmarks.compare --datasets ml-100k ml-1m --data_path DIR
    python -m benchmarks.compare --quick --out_dir /tmp/bench   # smoke test, about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from typing import Any

from benchmarks.report import missing_runs, write_report
from benchmarks.rows import MODELS, PROTOCOLS, ROOT, dataset_available, protocol_files, section_name
from benchmarks.run import run_in_fresh_process, run_one


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, choices=list(MODELS), metavar="MODEL",
                        help=f"rows to run, from: {', '.join(MODELS)} (default: each protocol's rows)")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=list(PROTOCOLS),
                        help="evaluation protocols, one report section each (default: all)")
    parser.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-1m"],
                        help="datasets; any but ml-100k is skipped when its files are absent")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/ subfolders")
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--epochs", type=int, default=20, help="epoch budget for every model")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 seed, a small slice of ml-100k")
    parser.add_argument("--out_dir", default=os.path.join(ROOT, "docs"))
    parser.add_argument("--report_only", action="store_true",
                        help="write the report from the runs finished so far, train nothing")
    parser.add_argument("--rerun", action="store_true",
                        help="train again runs whose results are already in <out_dir>/benchmark_runs/")
    return parser


def planned_tasks(args: argparse.Namespace, datasets: list[str], work_dir: str) -> list[dict[str, Any]]:
    """One training run per protocol, dataset, seed and row, in the order they run."""
    tasks = []
    for protocol in args.protocols:
        for dataset in datasets:
            for seed in args.seeds:
                for row in args.models or PROTOCOLS[protocol].rows:
                    model, extra_files, overrides = MODELS[row]
                    config_dict = {**overrides, "seed": seed, "epochs": args.epochs}
                    if args.data_path:
                        config_dict["data_path"] = os.path.abspath(args.data_path)
                    tasks.append({
                        "row": row, "model": model, "dataset": dataset, "work_dir": work_dir, "protocol": protocol,
                        "config_files": protocol_files(dataset, args.quick, extra_files, protocol),
                        "config_dict": config_dict,
                    })
    return tasks


def run_record_path(runs_dir: str, task: dict[str, Any], epochs: int) -> str:
    """The JSON file that keeps a finished run: an interrupted benchmark resumes where it stopped."""
    prefix = "" if task["protocol"] == "leave_one_out" else task["protocol"] + "_"
    return os.path.join(runs_dir, f"{prefix}{task['dataset']}_{task['row'].replace(' ', '').replace('=', '')}"
                        f"_seed{task['config_dict']['seed']}_epochs{epochs}.json")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.datasets = args.seeds[:1], 1, ["ml-100k"]
    datasets = []
    for dataset in args.datasets:
        if dataset_available(dataset, args.data_path):
            datasets.append(dataset)
        else:
            print(f"[compare] skipping {dataset}: no {dataset}.inter under {args.data_path or 'dataset'}/{dataset}/")
    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    # RecBole's log/ and saved/ of every run, removed when the benchmark ends
    with tempfile.TemporaryDirectory(prefix="recbole_mind_bench_") as work_dir:
        tasks = planned_tasks(args, datasets, work_dir)
        runs_dir = os.path.join(out_dir, "benchmark_runs" + ("_quick" if args.quick else ""))
        os.makedirs(runs_dir, exist_ok=True)
        runs = []
        started = time.perf_counter()
        trained = 0
        for index, task in enumerate(tasks, start=1):
            section = section_name(task["dataset"], task["protocol"])
            label = f"{section} {task['row']} seed {task['config_dict']['seed']}"
            cache = run_record_path(runs_dir, task, args.epochs)
            if os.path.isfile(cache) and not args.rerun:
                with open(cache, encoding="utf-8") as file:
                    runs.append(json.load(file))
                print(f"[compare] {index}/{len(tasks)} {label}: done earlier ({os.path.basename(cache)})", flush=True)
                continue
            if args.report_only:
                print(f"[compare] {index}/{len(tasks)} {label}: not run yet, left out of the report", flush=True)
                continue
            print(f"[compare] {index}/{len(tasks)} {label} ...", flush=True)
            run = run_in_fresh_process(run_one, task)  # one run at a time
            with open(cache, "w", encoding="utf-8") as file:
                json.dump(run, file, indent=1)
            runs.append(run)
            trained += 1
            elapsed = time.perf_counter() - started
            remaining = elapsed / trained * (len(tasks) - index)
            headline = PROTOCOLS[task["protocol"]].headline[0]
            print(
                f"[compare]   test {headline} {run['test_result'][headline]:.4f}, "
                f"{statistics.median(run['train_epoch_seconds']):.1f} s/epoch, {run['wall_seconds']:.0f} s; "
                f"about {remaining / 60:.0f} min left",
                flush=True,
            )
        if not runs:
            hint = "run without --report_only first" if args.report_only else "no dataset or model left to run"
            print(f"[compare] error: no finished runs in {runs_dir}, so there is no report to write ({hint})",
                  file=sys.stderr)
            return 1
        command = "python -m benchmarks.compare " + shlex.join(argv if argv is not None else sys.argv[1:])
        report = write_report(runs, args, out_dir, command.strip(), planned=len(tasks),
                              unstarted=missing_runs(tasks, runs))
        print(f"[compare] wrote {report}")
        return 0


if __name__ == "__main__":
    sys.exit(main())

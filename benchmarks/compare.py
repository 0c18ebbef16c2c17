"""Benchmark MIND against RecBole's SASRec, GRU4Rec, SINE and Pop under one protocol.

Every model runs through ``run_recbole_mind`` with the same protocol file
(``benchmarks/protocol.yaml``), the same epoch budget and the same seeds, one training process
at a time (each run in a fresh subprocess). Writes a markdown report and a PNG plot; each
finished run is kept as JSON in ``<out_dir>/benchmark_runs/``, so an interrupted benchmark
resumes where it stopped (``--rerun`` trains everything again):

    python benchmarks/compare.py                       # full run, ml-100k, 3 seeds
    python benchmarks/compare.py --datasets ml-100k ml-1m --data_path DIR
    python benchmarks/compare.py --quick --out_dir /tmp/bench   # smoke test, about a minute
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL = os.path.join(HERE, "protocol.yaml")
QUICK = os.path.join(HERE, "quick.yaml")

# row name -> (model, YAML files after the protocol's, config overrides)
PRESET = os.path.join(os.path.dirname(HERE), "properties", "presets", "MIND-recommended.yaml")
MODELS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "MIND": ("MIND", [], {}),
    "MIND preset": ("MIND", [PRESET], {}),
    "MIND preset K=1": ("MIND", [PRESET], {"interest_num": 1}),
    "MIND preset L=5": ("MIND", [PRESET], {"MAX_ITEM_LIST_LENGTH": 5}),
    "SASRec": ("SASRec", [], {}),
    "GRU4Rec": ("GRU4Rec", [], {}),
    "SINE": ("SINE", [], {}),
    "Pop": ("Pop", [], {}),
}
REPORTED = ["recall@10", "mrr@10", "ndcg@10", "hit@10", "recall@50", "mrr@50", "ndcg@50", "hit@50"]


def protocol_files(dataset: str, quick: bool, row_files: list[str] = ()) -> list[str]:
    """The protocol, the dataset's protocol file, the row's own files, then --quick's slice."""
    files = [PROTOCOL]
    dataset_file = os.path.join(HERE, f"protocol_{dataset}.yaml")
    if os.path.isfile(dataset_file):
        files.append(dataset_file)
    files += row_files
    if quick:
        files.append(QUICK)
    return files


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """One training run; executed in a fresh spawned process."""
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    os.chdir(task["work_dir"])
    from recbole_mind import run_recbole_mind

    start = time.perf_counter()
    result = run_recbole_mind(
        task["model"],
        task["dataset"],
        config_file_list=task["config_files"],
        config_dict=task["config_dict"],
    )
    return {
        "row": task["row"],
        "dataset": task["dataset"],
        "seed": task["config_dict"]["seed"],
        "test_result": {key: float(value) for key, value in result["test_result"].items()},
        "best_valid_result": {
            key: float(value) for key, value in (result["best_valid_result"] or {}).items()
        },
        "train_epoch_seconds": result["train_epoch_seconds"],
        "eval_users_per_second": result["test_users"] / result["test_seconds"],
        "model_parameters": result["model_parameters"],
        "wall_seconds": time.perf_counter() - start,
        "valid_curve": result.get("valid_curve"),
    }


def dataset_available(dataset: str, data_path: str | None) -> bool:
    if dataset == "ml-100k":
        return True  # ships inside the recbole wheel
    folder = os.path.join(data_path or "dataset", dataset)
    return os.path.isfile(os.path.join(folder, f"{dataset}.inter"))


def mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(dataset, row) -> mean/std of every reported metric, seconds per epoch, throughput."""
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        entry = summary.setdefault((run["dataset"], run["row"]), {"runs": []})
        entry["runs"].append(run)
    for entry in summary.values():
        runs_here = entry.pop("runs")
        entry["seeds"] = len(runs_here)
        for metric in REPORTED:
            entry[metric] = mean_std([run["test_result"][metric] for run in runs_here])
        # the median epoch of each run: one epoch slowed by other load does not move it
        entry["epoch_seconds"] = mean_std(
            [statistics.median(run["train_epoch_seconds"]) for run in runs_here]
        )
        entry["epochs"] = mean_std([float(len(run["train_epoch_seconds"])) for run in runs_here])
        entry["eval_users_per_second"] = mean_std([run["eval_users_per_second"] for run in runs_here])
        entry["model_parameters"] = runs_here[0]["model_parameters"]
    return summary


def compare_rows(summary: dict, dataset: str, row: str, baseline: str, metric: str,
                 goal: float = 1.0, margin_stds: float = 1.0) -> tuple[float, str] | None:
    """Ratio of means and its verdict under the noise rule.

    A quality target "row >= goal x baseline" is **met** only when the ratio reaches the goal
    and the two means differ by more than ``margin_stds`` times the larger of the two seed
    standard deviations; **level** when they differ by less than that; **NOT met** otherwise.
    """
    entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
    if not entry or not base or not base[metric][0]:
        return None
    (mean, std), (base_mean, base_std) = entry[metric], base[metric]
    ratio = mean / base_mean
    if min(entry["seeds"], base["seeds"]) < 2:
        return ratio, "no verdict (one seed: no spread to compare with)"
    if abs(mean - base_mean) <= margin_stds * max(std, base_std):
        return ratio, "level"
    return ratio, "met" if ratio >= goal else "NOT met"


def target_lines(summary: dict, dataset: str) -> list[str]:
    """The targets of the benchmark, each with the measured ratio and its verdict."""
    checks = []

    def quality(row: str, baseline: str, metric: str, goal: float = 1.0, margin_stds: float = 1.0):
        verdict = compare_rows(summary, dataset, row, baseline, metric, goal, margin_stds)
        if verdict:
            rule = f">= {goal:g}, by > {margin_stds:g} std"
            checks.append(f"| {row} / {baseline} test {metric} | {verdict[0]:.3f} | {rule} | {verdict[1]} |")

    def cost(row: str, baseline: str, key: str, goal: float):
        entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
        if entry and base and base[key][0]:
            value = entry[key][0] / base[key][0]
            checks.append(f"| {row} / {baseline} {key} | {value:.3f} | <= {goal:g} | {'met' if value <= goal else 'NOT met'} |")

    for metric in ("ndcg@10", "recall@50"):
        quality("MIND preset", "SASRec", metric)
    quality("MIND preset", "MIND preset K=1", "recall@50", margin_stds=2.0)
    for metric in ("ndcg@10", "recall@50"):
        quality("MIND preset", "MIND", metric)
        quality("MIND", "GRU4Rec", metric)
    quality("MIND preset", "Pop", "ndcg@10")
    quality("MIND preset", "SINE", "ndcg@10")
    cost("MIND preset", "SASRec", "epoch_seconds", 0.1)
    cost("MIND", "SASRec", "epoch_seconds", 0.05)
    if not checks:
        return []
    return [
        "| target | measured ratio | goal | verdict |",
        "| --- | --- | --- | --- |",
        *checks,
        "",
        "Noise rule: a quality target is met only when the means differ by more than the stated "
        "number of standard deviations (the larger of the two rows' seed std) in the goal's "
        "direction; within that margin the rows are **level**.",
    ]


def write_plot(summary: dict, path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[compare] matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    datasets = sorted({dataset for dataset, _ in summary})
    panels = [("ndcg@10", "test NDCG@10"), ("recall@50", "test Recall@50"), ("epoch_seconds", "s / train epoch")]
    figure, axes = plt.subplots(
        len(datasets), len(panels), figsize=(5 * len(panels), 3.6 * len(datasets)), squeeze=False
    )
    for row_index, dataset in enumerate(datasets):
        rows = [row for row in MODELS if (dataset, row) in summary]
        for col_index, (key, title) in enumerate(panels):
            axis = axes[row_index][col_index]
            means = [summary[(dataset, row)][key][0] for row in rows]
            stds = [summary[(dataset, row)][key][1] for row in rows]
            colors = ["tab:red" if row.startswith("MIND") else "tab:gray" for row in rows]
            axis.bar(rows, means, yerr=stds, capsize=4, color=colors)
            axis.set_title(f"{dataset}: {title}")
            axis.tick_params(axis="x", rotation=30)
            if key == "epoch_seconds":
                axis.set_yscale("log")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_curve_plot(runs: list[dict[str, Any]], path: str) -> list[str]:
    """Time to quality: validation NDCG@10 against cumulative training seconds, one line per
    model (mean over its seeds, epoch by epoch), one panel per dataset. Returns the rows drawn;
    runs recorded before curves were kept (no ``valid_curve``) are left out."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    curves: dict[tuple[str, str], list[list[list[float]]]] = {}
    for run in runs:
        if run.get("valid_curve"):
            curves.setdefault((run["dataset"], run["row"]), []).append(run["valid_curve"])
    if not curves:
        return []
    datasets = sorted({dataset for dataset, _ in curves})
    figure, axes = plt.subplots(1, len(datasets), figsize=(7 * len(datasets), 4.5), squeeze=False)
    for index, dataset in enumerate(datasets):
        axis = axes[0][index]
        for row in MODELS:
            per_seed = curves.get((dataset, row))
            if not per_seed:
                continue
            epochs = min(len(curve) for curve in per_seed)  # early stopping may end seeds apart
            seconds = [statistics.mean(curve[e][0] for curve in per_seed) for e in range(epochs)]
            scores = [statistics.mean(curve[e][1] for curve in per_seed) for e in range(epochs)]
            axis.plot(seconds, scores, marker="o", markersize=3, label=row)
        axis.set_xscale("log")
        axis.set_xlabel("cumulative training seconds (log scale)")
        axis.set_ylabel("validation NDCG@10")
        axis.set_title(f"{dataset}: time to quality (mean over seeds)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return sorted({row for _, row in curves})


def format_cell(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_report(runs: list[dict], args: argparse.Namespace, out_dir: str, command: str, planned: int) -> str:
    import recbole
    import torch

    from recbole_mind import __version__

    summary = summarise(runs)
    plot_name = "benchmarks.png"
    has_plot = write_plot(summary, os.path.join(out_dir, plot_name))
    lines = [
        "# Benchmark: MIND vs SASRec, GRU4Rec, SINE and Pop",
        "",
        "Generated by `benchmarks/compare.py`"
        + (
            " in --quick mode: a smoke test, not a measurement (ml-100k users with 20 to 30 ratings, "
            "`MAX_ITEM_LIST_LENGTH: 20`, 1 epoch; `benchmarks/quick.yaml`)"
            if args.quick
            else ""
        )
        + ".",
        "",
        "Protocol (`benchmarks/protocol.yaml`, the same for every model): leave-one-out "
        "`LS: valid_and_test`, `order: TO`, full sort over all items, "
        "`MAX_ITEM_LIST_LENGTH: 50` for the baselines and MIND's tuned window for MIND "
        "(the `MIND L=50` row uses 50), "
        f"validation on NDCG@10 with early stopping (`stopping_step: 10`), at most {args.epochs} epochs, "
        f"seeds {', '.join(map(str, args.seeds))}; test metrics from the best-validation checkpoint, "
        "mean ± std over seeds. Each model otherwise uses its own defaults (RecBole's YAML for the "
        "baselines, `properties/MIND.yaml` for MIND). Seconds per epoch: the median training epoch of "
        "each run (validation excluded), mean ± std over seeds; eval users/s is the full-sort test "
        "evaluation; one training process at a time.",
        "",
        "Caveats: RecBole's full sort for sequential models does not mask already-seen items; Pop is a "
        "general model, and RecBole's full sort for general models does mask them. The baselines run "
        "with RecBole's default hyper-parameters; MIND's defaults were tuned on validation "
        "(docs/tuning.md). Finished runs are kept and reused, so rows may come from different "
        "invocations of this script on the same machine (delete a row's JSON files to run it again).",
        "",
    ]
    if len(runs) < planned:
        lines += [
            f"**Incomplete: {len(runs)} of {planned} planned runs have finished**; rows show the seeds "
            "done so far, and ratios compare rows with different numbers of seeds.",
            "",
        ]
    for dataset in sorted({run["dataset"] for run in runs}):
        lines += [
            f"## {dataset}",
            "",
            "| model | seeds | " + " | ".join(REPORTED) + " | epochs run | s / train epoch | eval users/s | parameters |",
            "| --- | --- | " + " | ".join("---" for _ in REPORTED) + " | --- | --- | --- | --- |",
        ]
        for row in MODELS:
            entry = summary.get((dataset, row))
            if not entry:
                continue
            cells = [format_cell(*entry[metric]) for metric in REPORTED]
            lines.append(
                f"| {row} | {entry['seeds']} | " + " | ".join(cells)
                + f" | {entry['epochs'][0]:.1f} | {format_cell(*entry['epoch_seconds'], digits=2)}"
                + f" | {entry['eval_users_per_second'][0]:.0f} | {entry['model_parameters']:,} |"
            )
        targets = target_lines(summary, dataset)
        if targets:
            lines += ["", "Targets (ratios of means, measured in this run):", "", *targets]
        lines.append("")
    if has_plot:
        lines += [f"![benchmark plot]({plot_name})", ""]
    curve_rows = write_curve_plot(runs, os.path.join(out_dir, "time_to_quality.png"))
    if curve_rows:
        missing = [row for row in MODELS if row not in curve_rows and any(run["row"] == row for run in runs)]
        lines += [
            "## Time to quality",
            "",
            "Validation NDCG@10 after each epoch against the cumulative training seconds of the "
            "same runs (mean over seeds; evaluation time excluded).",
            "",
            "![time to quality](time_to_quality.png)",
            "",
        ]
        if missing:
            lines += [
                f"Not drawn: {', '.join(missing)}: their kept runs predate per-epoch validation "
                "records (`valid_curve`); rerun them (`--rerun`, or delete their JSON files) to draw them.",
                "",
            ]
    lines += [
        f"Command: `{command.replace(' --report_only', '')}` (the report is rewritten from the runs "
        "kept in benchmark_runs/ by the same command with `--report_only`)",
        "",
        f"Versions: recbole-mind {__version__}, recbole {recbole.__version__}, torch {torch.__version__}, "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs ({platform.machine()}).",
        "",
    ]
    report = os.path.join(out_dir, "benchmarks.md")
    with open(report, "w", encoding="utf-8") as file:
        file.write("\n".join(lines))
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS), metavar="MODEL",
                        help=f"rows to run, from: {', '.join(MODELS)}")
    parser.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-1m"],
                        help="datasets; any but ml-100k is skipped when its files are absent")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/ subfolders")
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--epochs", type=int, default=20, help="epoch budget for every model")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 seed, a small slice of ml-100k")
    parser.add_argument("--out_dir", default=os.path.join(os.path.dirname(HERE), "docs"))
    parser.add_argument("--report_only", action="store_true",
                        help="write the report from the runs finished so far, train nothing")
    parser.add_argument("--rerun", action="store_true",
                        help="train again runs whose results are already in <out_dir>/benchmark_runs/")
    return parser


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
    work_dir = tempfile.mkdtemp(prefix="recbole_mind_bench_")  # RecBole's log/ and saved/
    tasks = []
    for dataset in datasets:
        for seed in args.seeds:
            for row in args.models:
                model, extra_files, overrides = MODELS[row]
                config_dict = {**overrides, "seed": seed, "epochs": args.epochs}
                if args.data_path:
                    config_dict["data_path"] = os.path.abspath(args.data_path)
                tasks.append({
                    "row": row, "model": model, "dataset": dataset, "work_dir": work_dir,
                    "config_files": protocol_files(dataset, args.quick, extra_files), "config_dict": config_dict,
                })
    runs_dir = os.path.join(out_dir, "benchmark_runs" + ("_quick" if args.quick else ""))
    os.makedirs(runs_dir, exist_ok=True)
    runs = []
    started = time.perf_counter()
    trained = 0
    context = multiprocessing.get_context("spawn")
    for index, task in enumerate(tasks, start=1):
        label = f"{task['dataset']} {task['row']} seed {task['config_dict']['seed']}"
        # One JSON file per finished run: an interrupted benchmark resumes where it stopped.
        cache = os.path.join(runs_dir, f"{task['dataset']}_{task['row'].replace(' ', '').replace('=', '')}"
                             f"_seed{task['config_dict']['seed']}_epochs{args.epochs}.json")
        if os.path.isfile(cache) and not args.rerun:
            with open(cache, encoding="utf-8") as file:
                runs.append(json.load(file))
            print(f"[compare] {index}/{len(tasks)} {label}: done earlier ({os.path.basename(cache)})", flush=True)
            continue
        if args.report_only:
            print(f"[compare] {index}/{len(tasks)} {label}: not run yet, left out of the report", flush=True)
            continue
        print(f"[compare] {index}/{len(tasks)} {label} ...", flush=True)
        with context.Pool(1) as pool:  # a fresh process per run, one at a time
            run = pool.apply(run_one, (task,))
        with open(cache, "w", encoding="utf-8") as file:
            json.dump(run, file, indent=1)
        runs.append(run)
        trained += 1
        elapsed = time.perf_counter() - started
        remaining = elapsed / trained * (len(tasks) - index)
        print(
            f"[compare]   test ndcg@10 {run['test_result']['ndcg@10']:.4f}, "
            f"{statistics.median(run['train_epoch_seconds']):.1f} s/epoch, {run['wall_seconds']:.0f} s; "
            f"about {remaining / 60:.0f} min left",
            flush=True,
        )
    command = "python benchmarks/compare.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = write_report(runs, args, out_dir, command.strip(), planned=len(tasks))
    print(f"[compare] wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark MIND against RecBole's SASRec, GRU4Rec, SINE and Pop under one protocol.

Every model runs through ``run_recbole_mind`` with the same protocol file
(``benchmarks/protocol.yaml``), the same epoch budget and the same seeds, one training process
at a time (each run in a fresh subprocess). Writes a markdown report and a PNG plot; each
finished run is kept as JSON in ``<out_dir>/benchmark_runs/``, so an interrupted benchmark
resumes where it stopped (``--rerun`` trains everything again):

    python benchmarks/compare.py                       # full run, ml-100k, 3 seeds
    python benchmarks/compare.py --datasets ml-100k ml-1m --data_path DIR
    python benchmarks/compare.py --quick --out_dir /tmp/bench   # smoke test, about a minute

A baseline whose validation grid beat RecBole's defaults (``benchmarks/baselines/<model>.yaml``)
also gets a ``<model> tuned`` row.

Two protocols (``--protocols``, both by default, one section each in the report): RecBole's
leave-one-out (``benchmarks/protocol.yaml``) and the multi-interest literature's held-out users
with several future items (``properties/protocols/multi_target.yaml`` layered on top).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL = os.path.join(HERE, "protocol.yaml")
QUICK = os.path.join(HERE, "quick.yaml")
PROPERTIES = os.path.join(os.path.dirname(HERE), "properties")

# row name -> (model, YAML files after the protocol's, config overrides)
PRESET = os.path.join(PROPERTIES, "presets", "MIND-recommended.yaml")
# A baseline's best validated batch size and learning rate (docs/tuning.md, grid 18), one YAML
# per model that beat RecBole's defaults; its row is "<model> tuned".
BASELINES = os.path.join(HERE, "baselines")
TUNED = " tuned"
MODELS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "MIND": ("MIND", [], {}),
    "MIND preset": ("MIND", [PRESET], {}),
    "MIND preset K=1": ("MIND", [PRESET], {"interest_num": 1}),
    "MIND preset L=5": ("MIND", [PRESET], {"MAX_ITEM_LIST_LENGTH": 5}),
    # the preset as it was before grid 35: inner products, not cosine scores
    "MIND preset dot": ("MIND", [PRESET], {"cosine_temperature": 0.0}),
    "SASRec": ("SASRec", [], {}),
    "GRU4Rec": ("GRU4Rec", [], {}),
    "SINE": ("SINE", [], {}),
    **{
        model + TUNED: (model, [os.path.join(BASELINES, f"{model}.yaml")], {})
        for model in ("SASRec", "GRU4Rec", "SINE")
        if os.path.isfile(os.path.join(BASELINES, f"{model}.yaml"))
    },
    "Pop": ("Pop", [], {}),
}
REPORTED = ["recall@10", "mrr@10", "ndcg@10", "hit@10", "recall@50", "mrr@50", "ndcg@50", "hit@50"]


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol of the benchmark: its YAML files (after ``protocol.yaml``), the
    rows it runs by default, the metrics its table reports and the two its plot draws."""

    files: tuple[str, ...]
    rows: tuple[str, ...]
    reported: tuple[str, ...]
    headline: tuple[str, str]  # (quality metric, recall metric) of the plot and the targets
    valid_metric: str  # what the validation curve holds
    description: str


PROTOCOLS: dict[str, Protocol] = {
    "leave_one_out": Protocol(
        files=(), rows=tuple(MODELS), reported=tuple(REPORTED), headline=("ndcg@10", "recall@50"),
        valid_metric="NDCG@10",
        description=(
            "RecBole's leave-one-out (`benchmarks/protocol.yaml`): `LS: valid_and_test`, `order: TO`, "
            "full sort over all items; every user's last item is the test target, the one before it "
            "the validation target."
        ),
    ),
    "multi_target": Protocol(
        files=(os.path.join(PROPERTIES, "protocols", "multi_target.yaml"),),
        rows=tuple(row for row in MODELS if row != "MIND preset L=5"),
        reported=("recall@20", "ndcg@20", "hitrate@20", "recall@50", "ndcg@50", "hitrate@50"),
        headline=("ndcg@50", "recall@50"), valid_metric="Recall@50",
        description=(
            "The multi-interest literature's protocol (ComiRec, REMI; "
            "`properties/protocols/multi_target.yaml` on top of `benchmarks/protocol.yaml`): users "
            "split 8:1:1 into train, validation and test users (seeded by the run's seed); models "
            "train on the train users' sequences; a held-out user's earliest 80% of behaviours are "
            "the history (truncated to the model's window), the distinct later items the targets; "
            "full sort over the catalogue with history items excluded; Recall@N = hits / targets, "
            "NDCG@N, HitRate@N averaged over users; early stopping on validation users' Recall@50."
        ),
    ),
}


def section_name(dataset: str, protocol: str) -> str:
    """The report section (and summary key) of a dataset under a protocol."""
    return dataset if protocol == "leave_one_out" else f"{dataset}, {protocol.replace('_', '-')} protocol"


def run_section(run: dict[str, Any]) -> str:
    # runs kept before the multi-target protocol existed carry no protocol: leave-one-out
    return section_name(run["dataset"], run.get("protocol", "leave_one_out"))


def protocol_files(dataset: str, quick: bool, row_files: list[str] = (), protocol: str = "leave_one_out") -> list[str]:
    """The protocol, the dataset's protocol file, the protocol's own files, the row's own
    files, then --quick's slice."""
    files = [PROTOCOL]
    dataset_file = os.path.join(HERE, f"protocol_{dataset}.yaml")
    if os.path.isfile(dataset_file):
        files.append(dataset_file)
    files += [*PROTOCOLS[protocol].files, *row_files]
    if quick:
        files.append(QUICK)
    return files


def row_config(row: str, dataset: str, protocol: str, seed: int, data_path: str | None = None, **keys: Any):
    """RecBole's ``Config`` of a benchmark row under ``protocol``, for the scripts that train or
    time one row in their own process (``data_path``: the folder holding ``<dataset>/``; ``keys``
    override the row's own)."""
    from recbole_mind.config import build_config

    model_name, row_files, overrides = MODELS[row]
    config_dict = {**overrides, "seed": seed, **keys}
    if data_path:
        config_dict["data_path"] = os.path.abspath(data_path)
    return build_config(model_name, dataset, protocol_files(dataset, False, row_files, protocol), config_dict)


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """One training run; executed in a fresh spawned process."""
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    os.chdir(task["work_dir"])
    from recbole_mind import run_recbole_mind

    environment = run_environment()
    start = time.perf_counter()
    result = run_recbole_mind(
        task["model"],
        task["dataset"],
        config_file_list=task["config_files"],
        config_dict=task["config_dict"],
    )
    import torch

    # RecBole 1.2.1's sine.py switches anomaly mode on when imported (recbole_mind.compat undoes
    # it): recorded because it slows training, not results, and differently per model.
    environment["anomaly_mode"] = torch.is_anomaly_enabled()
    return {
        "row": task["row"],
        "dataset": task["dataset"],
        "protocol": task["protocol"],
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
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment,
    }


def run_in_fresh_process(function: Callable[[Any], Any], argument: Any) -> Any:
    """``function(argument)`` in a new spawned process; the caller waits for its result.

    A SIGTERM to the caller (``kill PID``) stops the run too: by default the caller would die at
    once and leave the training process running as an orphan, competing for the cores with the
    next benchmark and spoiling its seconds.
    """
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the pool's exit, which terminates its worker

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(function, (argument,))
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_environment() -> dict[str, Any]:
    """Machine and versions of a run, kept in its record and printed by the report."""
    import recbole
    import torch

    from recbole_mind import __version__

    return {
        "recbole_mind": __version__, "recbole": recbole.__version__, "torch": torch.__version__,
        "python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
        "code": code_version(),
    }


CODE_PATHS = ["recbole_mind", "benchmarks", "properties"]


def code_version(root: str = os.path.dirname(HERE)) -> str | None:
    """The git commit of the checkout a run used, with ``+uncommitted`` when its code (package,
    benchmarks, properties) had edits; None outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short=10", "HEAD")
    if not commit:
        return None
    edits = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return commit + ("+uncommitted" if edits else "")


ANOMALY_MARK = "†"
ANOMALY_RECORD = os.path.join(os.path.dirname(HERE), "docs", "anomaly_mode.json")


def anomaly_record(path: str = ANOMALY_RECORD) -> dict[str, Any] | None:
    """The record ``benchmarks/anomaly_cost.py`` writes, or None when there is none."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            record = json.load(file)
        if not record["models"]:
            raise ValueError("it measured no model")
        for row in record["models"]:
            float(row["ratio"]), float(row["seconds_on"]), float(row["seconds_off"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} is not a record of benchmarks/anomaly_cost.py ({error!r}); run the script again to rewrite it"
        ) from error
    return record


def anomaly_ratios(path: str = ANOMALY_RECORD) -> str:
    """How much slower anomaly mode made each model's training steps, from the record
    ``benchmarks/anomaly_cost.py`` writes (e.g. ``"1.2x (SASRec) to 1.7x (GRU4Rec)"``)."""
    record = anomaly_record(path)
    if record is None:
        return "an unmeasured factor (run benchmarks/anomaly_cost.py)"
    rows = sorted(record["models"], key=lambda row: row["ratio"])
    cells = [f"{row['ratio']:.1f}x ({row['model']})" for row in rows]
    return cells[0] if len(cells) == 1 else f"{cells[0]} to {cells[-1]}"


def anomaly_note(path: str = ANOMALY_RECORD) -> str:
    """The report's note under a table with seconds marked :data:`ANOMALY_MARK`."""
    note = (
        f"{ANOMALY_MARK} Seconds of runs that trained in torch's anomaly mode, which RecBole 1.2.1's "
        "`sine.py` switches on when imported (RecBole's `get_model` imports it for every sequential "
        "model; MIND, registered by this plugin, and Pop never imported it). `recbole_mind.compat` "
        "now restores the mode after that import; before, the baselines recorded a Python stack for "
        "every autograd node. Marked seconds are not comparable with unmarked ones, and cost targets "
        "that use them get no verdict."
    )
    record = anomaly_record(path)
    if record is None:
        return note + " What the mode costs was not measured here (run benchmarks/anomaly_cost.py)."
    rows = record["models"]
    identical = all(row["losses_identical"] for row in rows)
    measured = ", ".join(
        f"{row['model']} {row['seconds_on']:.1f} s against {row['seconds_off']:.1f} s ({row['ratio']:.2f}x)"
        for row in rows
    )
    return note + (
        f" `benchmarks/anomaly_cost.py` measured it on {rows[0]['dataset']} ({record['finished'][:10]}, "
        f"docs/anomaly_mode.json): the first {rows[0]['batches']} training batches with anomaly mode on "
        f"against off, from the same initial weights: {measured}; "
        + ("every loss identical, so quality figures are unaffected."
           if identical else "the losses differed, so marked rows' quality figures may differ too.")
    )


EPOCH_COST_RECORDS = {
    protocol: os.path.join(os.path.dirname(HERE), "docs", "epoch_cost.json" if protocol == "leave_one_out"
                           else f"epoch_cost_{protocol}.json")
    for protocol in PROTOCOLS
}


def epoch_cost_ratio(row: str, baseline: str, section: str, path: str) -> tuple[float, str] | None:
    """``row``'s median training epoch over ``baseline``'s, both timed in turn in one run of
    ``benchmarks/epoch_cost.py`` (the record ``path``) on the dataset and protocol of the report
    ``section`` (:func:`section_name`), and that run's date; None when no record times both. The
    benchmark's own runs were made on different days, and this machine's speed drifts between
    them: a ratio of one run's epochs carries no drift."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            record = json.load(file)
        medians = {entry["row"]: float(entry["median_seconds"]) for entry in record["rows"]}
        finished = str(record["finished"])[:10]
        measured_on = section_name(str(record["dataset"]), str(record.get("protocol", "leave_one_out")))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} is not a record of benchmarks/epoch_cost.py ({error!r}); run the script again to rewrite it"
        ) from error
    if measured_on != section or row not in medians or not medians.get(baseline):
        return None
    return medians[row] / medians[baseline], finished


def epoch_cell(entry: dict[str, Any], digits: int) -> str:
    """Seconds per training epoch of a summary row, marked when any of its runs trained in
    anomaly mode."""
    mark = f" {ANOMALY_MARK}" if entry["anomaly_runs"] else ""
    return format_cell(*entry["epoch_seconds"], digits=digits) + mark


def section_has_anomaly_runs(summary: dict, section: str) -> bool:
    """Whether any row of a report section has a run that trained in anomaly mode."""
    return any(entry["anomaly_runs"] for (name, _), entry in summary.items() if name == section)


def trained_in_anomaly_mode(run: dict[str, Any]) -> bool:
    """Whether a run trained with torch's anomaly mode on (:func:`anomaly_note`).

    Runs recorded before the field existed did when RecBole imported its model (every row but
    MIND's, whose module this plugin registers, and Pop, a general model)."""
    environment = run.get("environment") or {}
    if "anomaly_mode" in environment:
        return bool(environment["anomaly_mode"])
    return not (run["row"].startswith("MIND") or run["row"] == "Pop")


def provenance_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Which machine, versions, code and dates the runs of a report section come from, with the
    rows each group of runs holds."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        env = run.get("environment")
        key = (
            f"{env['cpus']} CPUs, {env['platform']}; recbole-mind {env['recbole_mind']}, recbole "
            f"{env['recbole']}, torch {env['torch']}, Python {env['python']}; "
            + (f"code {env['code']}" if env.get("code") else "code commit not recorded")
            if env else "not recorded (runs kept before records carried their machine and date)"
        )
        groups.setdefault(key, []).append(run)
    lines = []
    for key, group in groups.items():
        known = sorted(run["finished"][:10] for run in group if run.get("finished"))
        when = f", finished {known[0]} to {known[-1]}" if known else ""
        rows: dict[str, int] = {}
        for run in group:
            rows[run["row"]] = rows.get(run["row"], 0) + 1
        held = ", ".join(f"{row} x{count}" for row, count in rows.items())
        plural = "s" if len(group) != 1 else ""
        lines.append(f"- {len(group)} run{plural}{when} ({held}): {key}")
    return lines


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
    """(section, row) -> mean/std of every reported metric, seconds per epoch, throughput;
    a section is a dataset under a protocol (:func:`section_name`)."""
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        entry = summary.setdefault((run_section(run), run["row"]), {"runs": []})
        entry["runs"].append(run)
    for entry in summary.values():
        runs_here = entry.pop("runs")
        entry["seeds"] = len(runs_here)
        entry["protocol"] = runs_here[0].get("protocol", "leave_one_out")
        entry["by_seed"] = {run["seed"]: run["test_result"] for run in runs_here}
        for metric in PROTOCOLS[entry["protocol"]].reported:
            entry[metric] = mean_std([run["test_result"][metric] for run in runs_here])
        # the median epoch of each run: one epoch slowed by other load does not move it
        entry["epoch_seconds"] = mean_std(
            [statistics.median(run["train_epoch_seconds"]) for run in runs_here]
        )
        entry["epochs"] = mean_std([float(len(run["train_epoch_seconds"])) for run in runs_here])
        entry["eval_users_per_second"] = mean_std([run["eval_users_per_second"] for run in runs_here])
        entry["model_parameters"] = runs_here[0]["model_parameters"]
        entry["anomaly_runs"] = sum(trained_in_anomaly_mode(run) for run in runs_here)
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


def paired_difference(summary: dict, dataset: str, row: str, baseline: str, metric: str) -> str:
    """Mean ± std over the seeds both rows ran of (row - baseline): a seed fixes the data split
    (and, under the multi-target protocol, the held-out users) for every row, so the
    per-seed difference removes the split's share of the spread."""
    entry, base = summary.get((dataset, row), {}), summary.get((dataset, baseline), {})
    seeds = sorted(set(entry.get("by_seed", {})) & set(base.get("by_seed", {})))
    if len(seeds) < 2:
        return "n/a"
    diffs = [entry["by_seed"][seed][metric] - base["by_seed"][seed][metric] for seed in seeds]
    better = sum(diff > 0 for diff in diffs)
    return f"{statistics.mean(diffs):+.4f} ± {statistics.stdev(diffs):.4f} ({better}/{len(seeds)} seeds higher)"


def target_lines(summary: dict, dataset: str, protocol: str = "leave_one_out",
                 epoch_cost_path: str | None = None) -> list[str]:
    """The targets of the benchmark under ``protocol``, each with the measured ratio and its
    verdict; ``dataset`` is the report section (:func:`section_name`). A cost target takes its
    ratio from ``epoch_cost_path`` (by default the protocol's record in :data:`EPOCH_COST_RECORDS`;
    :func:`epoch_cost_ratio`) when that record times both rows, and shows the benchmark runs' ratio
    beside it."""
    epoch_cost_path = epoch_cost_path or EPOCH_COST_RECORDS[protocol]
    checks = []
    timed_in_turn = False  # whether a cost target took its ratio from the epoch_cost record

    def best(baseline: str) -> str:
        # A tuned baseline replaces its RecBole-default row once it has run as many seeds.
        tuned, default = summary.get((dataset, baseline + TUNED)), summary.get((dataset, baseline))
        return baseline + TUNED if tuned and (not default or tuned["seeds"] >= default["seeds"]) else baseline

    def quality(row: str, baseline: str, metric: str, goal: float = 1.0, margin_stds: float = 1.0):
        verdict = compare_rows(summary, dataset, row, baseline, metric, goal, margin_stds)
        if verdict:
            rule = f">= {goal:g}, by > {margin_stds:g} std"
            paired = paired_difference(summary, dataset, row, baseline, metric)
            checks.append(f"| {row} / {baseline} test {metric} | {verdict[0]:.3f} | {rule} | {verdict[1]} | {paired} |")

    def cost(row: str, baseline: str, key: str, goal: float):
        nonlocal timed_in_turn
        entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
        one_run = epoch_cost_ratio(row, baseline, dataset, epoch_cost_path)
        if one_run:
            timed_in_turn = True
            value, finished = one_run
            runs = (f"the benchmark runs' seconds: {entry[key][0] / base[key][0]:.3f}"
                    if entry and base and base[key][0] else "")
            checks.append(f"| {row} / {baseline} {key}, timed in turn (benchmarks/epoch_cost.py, {finished}) "
                          f"| {value:.3f} | <= {goal:g} | {'met' if value <= goal else 'NOT met'} | {runs} |")
        elif entry and base and base[key][0]:
            value = entry[key][0] / base[key][0]
            verdict = "met" if value <= goal else "NOT met"
            if entry["anomaly_runs"] or base["anomaly_runs"]:
                verdict = f"no verdict ({ANOMALY_MARK}: seconds not comparable)"
            checks.append(f"| {row} / {baseline} {key} | {value:.3f} | <= {goal:g} | {verdict} | |")

    sasrec, gru4rec, sine = best("SASRec"), best("GRU4Rec"), best("SINE")
    if protocol == "multi_target":  # issue 15's targets
        for row in ("MIND preset", "MIND"):
            quality(row, sasrec, "recall@50")
            quality(row, gru4rec, "recall@50")
        quality("MIND preset", "MIND preset K=1", "recall@50", goal=1.05)
        quality("MIND preset", "Pop", "recall@50")
        cost("MIND preset", sasrec, "epoch_seconds", 0.1)
    else:
        for metric in ("ndcg@10", "recall@50"):
            quality("MIND preset", sasrec, metric)
        quality("MIND preset", "MIND preset K=1", "recall@50", margin_stds=2.0)
        for metric in ("ndcg@10", "recall@50"):
            quality("MIND preset", "MIND", metric)
            quality("MIND", gru4rec, metric)
        quality("MIND preset", "Pop", "ndcg@10")
        quality("MIND preset", sine, "ndcg@10")
        cost("MIND preset", sasrec, "epoch_seconds", 0.1)
        cost("MIND", sasrec, "epoch_seconds", 0.05)
    if not checks:
        return []
    return [
        "| target | measured ratio | goal | verdict | paired difference per seed |",
        "| --- | --- | --- | --- | --- |",
        *checks,
        "",
        "Noise rule: a quality target is met only when the means differ by more than the stated "
        "number of standard deviations (the larger of the two rows' seed std) in the goal's "
        "direction; within that margin the rows are **level**. The last column is information, "
        "not the rule: the difference of the two rows seed by seed (the same split and users), "
        "mean ± std, and how many seeds the first row was higher."
        + (" A cost target timed in turn divides the median training epochs of one run of "
           f"`benchmarks/epoch_cost.py` (`docs/{os.path.basename(epoch_cost_path)}`), which takes the rows "
           "in turn so that the machine's drift falls on both; its last column gives the ratio of the benchmark runs' "
           "seconds, which were made on different days." if timed_in_turn else ""),
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
    figure, axes = plt.subplots(len(datasets), 3, figsize=(15, 3.6 * len(datasets)), squeeze=False)
    for row_index, dataset in enumerate(datasets):
        rows = [row for row in MODELS if (dataset, row) in summary]
        quality, recall = PROTOCOLS[summary[(dataset, rows[0])]["protocol"]].headline
        panels = [(quality, f"test {quality}"), (recall, f"test {recall}"), ("epoch_seconds", "s / train epoch")]
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
    """Time to quality: the validation metric against cumulative training seconds, one line per
    model (mean over its seeds, epoch by epoch), one panel per dataset and protocol. Returns the rows drawn;
    runs recorded before curves were kept (no ``valid_curve``) are left out."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    curves: dict[tuple[str, str], list[list[list[float]]]] = {}
    valid_metrics: dict[str, str] = {}
    for run in runs:
        if run.get("valid_curve"):
            curves.setdefault((run_section(run), run["row"]), []).append(run["valid_curve"])
            valid_metrics[run_section(run)] = PROTOCOLS[run.get("protocol", "leave_one_out")].valid_metric
    if not curves:
        return []
    datasets = sorted({dataset for dataset, _ in curves})
    # one colour per row in every panel, so a reader can follow a model from panel to panel
    palette = [*plt.get_cmap("tab10").colors, "black"]  # 11 rows, 11 distinct colours
    colours = {row: palette[index % len(palette)] for index, row in enumerate(MODELS)}
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
            axis.plot(seconds, scores, marker="o", markersize=3, label=row, color=colours[row])
        axis.set_xscale("log")
        axis.set_xlabel("cumulative training seconds (log scale)")
        axis.set_ylabel(f"validation {valid_metrics[dataset]}")
        axis.set_title(f"{dataset}: time to quality (mean over seeds)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return sorted({row for _, row in curves})


def format_cell(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def missing_runs(tasks: list[dict], runs: list[dict]) -> tuple[str, ...]:
    """Each planned row with unfinished runs, and which seeds: ``"SASRec (ml-100k): seeds 2021, 2022"``."""
    finished = {(run_section(run), run["row"], run["seed"]) for run in runs}
    missing: dict[str, list[int]] = {}
    for task in tasks:
        section, seed = section_name(task["dataset"], task["protocol"]), task["config_dict"]["seed"]
        if (section, task["row"], seed) not in finished:
            missing.setdefault(f"{task['row']} ({section})", []).append(seed)
    return tuple(
        f"{label}: seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}" for label, seeds in missing.items()
    )


def write_report(runs: list[dict], args: argparse.Namespace, out_dir: str, command: str, planned: int,
                 unstarted: tuple[str, ...] = ()) -> str:
    """The markdown report of ``runs``; ``unstarted`` names the planned runs not finished (``missing_runs``)."""
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
        "Shared by every model and both protocols (`benchmarks/protocol.yaml`): "
        "`MAX_ITEM_LIST_LENGTH: 50` for the baselines and the row's own window for MIND "
        "(`properties/MIND.yaml`, or the preset's), "
        f"early stopping on validation (`stopping_step: 10`), at most {args.epochs} epochs, "
        f"seeds {', '.join(map(str, args.seeds))}; test metrics from the best-validation checkpoint, "
        "mean ± std over seeds. Each model otherwise uses its own defaults (RecBole's YAML for the "
        "baselines, `properties/MIND.yaml` for MIND). Seconds per epoch: the median training epoch of "
        "each run (validation excluded), mean ± std over seeds; eval users/s is the full-sort test "
        "evaluation; one training process at a time.",
        "",
        "Caveats: under leave-one-out, RecBole's full sort for sequential models does not mask "
        "already-seen items; Pop is a general model, and RecBole's full sort for general models does "
        "mask them (the multi-target protocol excludes history items for every model). The baseline rows "
        "named after their model run RecBole's default hyper-parameters; a row `<model> tuned` runs "
        "that baseline's best validated batch size and learning rate (`benchmarks/baselines/`, "
        "docs/tuning.md, grid 18) and replaces the default row in the targets once it has run as "
        "many seeds. MIND's defaults were tuned on validation (docs/tuning.md). Finished runs are kept and reused, so rows may come from different "
        "invocations of this script on the same machine (delete a row's JSON files to run it again).",
        "",
        "Why SINE can end below Pop: RecBole 1.2.1's SINE never reads the history length "
        "(`forward(item_seq, item_seq_len)` leaves `item_seq_len` unused) and masks no padded "
        "position, and its `_init_weights` re-draws the padding row of the item table "
        "(`xavier_normal_` after `padding_idx=0`), which `padding_idx` then freezes: every "
        "history shorter than `MAX_ITEM_LIST_LENGTH` (most of RecBole's augmented prefixes at 50) "
        "is pooled with copies of one fixed random vector. Changing only that padding row moves "
        "a 3-item history's user vector by more than half its norm (tests/test_benchmarks.py "
        "checks it), and the vector's norm is at most 1: SINE normalises each interest to unit "
        "length and mixes them, which bounds its logits under the CE loss. We run RecBole's SINE as shipped. "
        "Under the multi-target protocol SINE's row is far above Pop: that protocol also removes "
        "history items from the ranking, which leave-one-out (RecBole's sequential full sort) does not; "
        "whether SINE spends its top ranks on already-seen items there was not measured.",
        "",
    ]
    if len(runs) < planned:
        lines += [
            f"**Incomplete: {len(runs)} of {planned} planned runs have finished**; rows show the seeds "
            "done so far, and ratios compare rows with different numbers of seeds."
            + (f" Not run yet: {'; '.join(unstarted)}." if unstarted else ""),
            "",
        ]
    sections = {}  # report order: leave-one-out first, then the multi-target protocol
    for run in sorted(runs, key=lambda run: (list(PROTOCOLS).index(run.get("protocol", "leave_one_out")), run["dataset"])):
        sections.setdefault(run_section(run), run.get("protocol", "leave_one_out"))
    for dataset, protocol in sections.items():
        reported = PROTOCOLS[protocol].reported
        lines += [
            f"## {dataset}",
            "",
            f"Protocol: {PROTOCOLS[protocol].description}",
            "",
            "| model | seeds | " + " | ".join(reported) + " | epochs run | s / train epoch | eval users/s | parameters |",
            "| --- | --- | " + " | ".join("---" for _ in reported) + " | --- | --- | --- | --- |",
        ]
        for row in MODELS:
            entry = summary.get((dataset, row))
            if not entry:
                continue
            cells = [format_cell(*entry[metric]) for metric in reported]
            lines.append(
                f"| {row} | {entry['seeds']} | " + " | ".join(cells)
                + f" | {entry['epochs'][0]:.1f} | {epoch_cell(entry, digits=2)}"
                + f" | {entry['eval_users_per_second'][0]:.0f} | {entry['model_parameters']:,} |"
            )
        section_runs = [run for run in runs if run_section(run) == dataset]
        if section_has_anomaly_runs(summary, dataset):
            lines += ["", anomaly_note()]
        lines += ["", "Runs of this table (machine, versions, code commit, dates, and the rows each group holds):", "", *provenance_lines(section_runs)]
        targets = target_lines(summary, dataset, protocol)
        if targets:
            lines += ["", "Targets (ratios of means, measured in this run):", "", *targets]
        lines.append("")
    if has_plot:
        lines += [f"![benchmark plot]({plot_name})", ""]
    curve_rows = write_curve_plot(runs, os.path.join(out_dir, "time_to_quality.png"))
    if curve_rows:
        missing = sorted({run_section(run) + ": " + run["row"] for run in runs if not run.get("valid_curve")})
        lines += [
            "## Time to quality",
            "",
            "The validation metric after each epoch (NDCG@10 under leave-one-out, Recall@50 under "
            "the multi-target protocol) against the cumulative training seconds of the same runs "
            "(mean over seeds; evaluation time excluded). Rows whose table seconds carry "
            f"{ANOMALY_MARK} trained in anomaly mode: their lines run {anomaly_ratios()} too far right.",
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
    # RecBole's log/ and saved/ of every run, removed when the benchmark ends
    with tempfile.TemporaryDirectory(prefix="recbole_mind_bench_") as work_dir:
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
        runs_dir = os.path.join(out_dir, "benchmark_runs" + ("_quick" if args.quick else ""))
        os.makedirs(runs_dir, exist_ok=True)
        runs = []
        started = time.perf_counter()
        trained = 0
        for index, task in enumerate(tasks, start=1):
            section = section_name(task["dataset"], task["protocol"])
            label = f"{section} {task['row']} seed {task['config_dict']['seed']}"
            # One JSON file per finished run: an interrupted benchmark resumes where it stopped.
            prefix = "" if task["protocol"] == "leave_one_out" else task["protocol"] + "_"
            cache = os.path.join(runs_dir, f"{prefix}{task['dataset']}_{task['row'].replace(' ', '').replace('=', '')}"
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
        command = "python benchmarks/compare.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        report = write_report(runs, args, out_dir, command.strip(), planned=len(tasks),
                              unstarted=missing_runs(tasks, runs))
        print(f"[compare] wrote {report}")
        return 0


if __name__ == "__main__":
    sys.exit(main())

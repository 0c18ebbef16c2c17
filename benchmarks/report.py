"""The markdown report of the benchmark's runs: tables, notes, provenance, targets, and its plots
(headline metrics per row, validation quality against training time)."""

from __future__ import annotations

import argparse
import collections
import os
import platform
import statistics
from typing import Any

from benchmarks.rows import MODELS, PROTOCOLS, ROW_COLOURS, run_section, section_name
from benchmarks.summary import ANOMALY_MARK, anomaly_note, anomaly_ratios, format_cell, summarise, target_lines


def pyplot():
    """matplotlib's pyplot drawing to files, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def write_plot(summary: dict, path: str) -> bool:
    """Headline metrics and seconds per epoch of every row, a bar chart per dataset and protocol."""
    plt = pyplot()
    if plt is None:
        print("[compare] matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    datasets = sorted({dataset for dataset, _ in summary})
    most_rows = max(sum((dataset, row) in summary for row in MODELS) for dataset in datasets)
    # horizontal bars: each row's name is a line of its own, however many rows there are
    figure, axes = plt.subplots(len(datasets), 3, figsize=(16, (0.32 * most_rows + 1.2) * len(datasets)),
                                squeeze=False)
    for row_index, dataset in enumerate(datasets):
        rows = [row for row in MODELS if (dataset, row) in summary]
        quality, recall = PROTOCOLS[summary[(dataset, rows[0])]["protocol"]].headline
        panels = [(quality, f"test {quality}"), (recall, f"test {recall}"), ("epoch_seconds", "s / train epoch")]
        for col_index, (key, title) in enumerate(panels):
            axis = axes[row_index][col_index]
            means = [summary[(dataset, row)][key][0] for row in rows]
            stds = [summary[(dataset, row)][key][1] for row in rows]
            axis.barh(rows, means, xerr=stds, capsize=3, color=[ROW_COLOURS[row] for row in rows])
            axis.invert_yaxis()  # the table's order, top to bottom
            axis.set_title(f"{dataset}: {title}")
            if col_index:
                axis.set_yticklabels([])  # the names once per dataset, on the left
            if key == "epoch_seconds":
                axis.set_xscale("log")
    save(plt, figure, path)
    return True


def save(plt, figure, path: str) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_curve_plot(runs: list[dict[str, Any]], path: str) -> list[str]:
    """Time to quality: the validation metric against cumulative training seconds, one line per
    model (mean over its seeds, epoch by epoch), one panel per dataset and protocol. Returns the rows drawn;
    runs recorded before curves were kept (no ``valid_curve``) are left out."""
    plt = pyplot()
    if plt is None:
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
            axis.plot(seconds, scores, marker="o", markersize=3, label=row, color=ROW_COLOURS[row])
        axis.set_xscale("log")
        axis.set_xlabel("cumulative training seconds (log scale)")
        axis.set_ylabel(f"validation {valid_metrics[dataset]}")
        axis.set_title(f"{dataset}: time to quality (mean over seeds)")
        axis.legend(fontsize=8)
    save(plt, figure, path)
    return sorted({row for _, row in curves})


def epoch_cell(entry: dict[str, Any], digits: int) -> str:
    """Seconds per training epoch of a summary row, marked when any of its runs trained in
    anomaly mode."""
    mark = f" {ANOMALY_MARK}" if entry["anomaly_runs"] else ""
    return format_cell(*entry["epoch_seconds"], digits=digits) + mark


def section_has_anomaly_runs(summary: dict, section: str) -> bool:
    """Whether any row of a report section has a run that trained in anomaly mode."""
    return any(entry["anomaly_runs"] for (name, _), entry in summary.items() if name == section)


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
        held = ", ".join(f"{row} x{count}" for row, count in collections.Counter(run["row"] for run in group).items())
        lines.append(f"- {len(group)} run{'s' if len(group) != 1 else ''}{when} ({held}): {key}")
    return lines


def missing_runs(tasks: list[dict], runs: list[dict]) -> tuple[str, ...]:
    """Each planned row with unfinished runs, and which seeds: ``"SASRec (ml-100k): seeds 2021, 2022"``."""
    finished = {(run_section(run), run["row"], run["seed"]) for run in runs}
    missing: dict[str, list[int]] = {}
    for task in tasks:
        section, seed = section_name(task["dataset"], task["protocol"]), task["config_dict"]["seed"]
        if (section, task["row"], seed) not in finished:
            missing.setdefault(f"{task['row']} ({section})", []).append(seed)
    return tuple(f"{label}: seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                 for label, seeds in missing.items())


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
        "Generated by `benchmarks/compare.py`" + (
            " in --quick mode: a smoke test, not a measurement (ml-100k users with 20 to 30 ratings, "
            "`MAX_ITEM_LIST_LENGTH: 20`, 1 epoch; `benchmarks/quick.yaml`)" if args.quick else "") + ".",
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
        "docs/tuning_archive.md, grid 18) and replaces the default row in the targets once it has run as "
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
        lines += [f"**Incomplete: {len(runs)} of {planned} planned runs have finished**; rows show the seeds "
                  "done so far, and ratios compare rows with different numbers of seeds."
                  + (f" Not run yet: {'; '.join(unstarted)}." if unstarted else ""), ""]
    sections = {}  # report order: leave-one-out first, then the multi-target protocol
    for run in sorted(runs, key=lambda run: (list(PROTOCOLS).index(run.get("protocol", "leave_one_out")), run["dataset"])):
        sections.setdefault(run_section(run), run.get("protocol", "leave_one_out"))
    for dataset, protocol in sections.items():
        reported = PROTOCOLS[protocol].reported
        lines += [
            f"## {dataset}", "", f"Protocol: {PROTOCOLS[protocol].description}", "",
            "| model | seeds | " + " | ".join(reported) + " | epochs run | s / train epoch | eval users/s | parameters |",
            "| --- | --- | " + " | ".join("---" for _ in reported) + " | --- | --- | --- | --- |",
        ]
        for row, entry in ((row, summary[(dataset, row)]) for row in MODELS if (dataset, row) in summary):
            cells = [format_cell(*entry[metric]) for metric in reported]
            lines.append(f"| {row} | {entry['seeds']} | " + " | ".join(cells) + f" | {entry['epochs'][0]:.1f} | "
                         f"{epoch_cell(entry, digits=2)} | {entry['eval_users_per_second'][0]:.0f} | "
                         f"{entry['model_parameters']:,} |")
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
            "## Time to quality", "",
            "The validation metric after each epoch (NDCG@10 under leave-one-out, Recall@50 under "
            "the multi-target protocol) against the cumulative training seconds of the same runs "
            "(mean over seeds; evaluation time excluded). Rows whose table seconds carry "
            f"{ANOMALY_MARK} trained in anomaly mode: their lines run {anomaly_ratios()} too far right.", "",
            "![time to quality](time_to_quality.png)", "",
        ]
        if missing:
            lines += [f"Not drawn: {', '.join(missing)}: their kept runs predate per-epoch validation records "
                      "(`valid_curve`); rerun them (`--rerun`, or delete their JSON files) to draw them.", ""]
    lines += [
        f"Command: `{command.replace(' --report_only', '')}` (the report is rewritten from the runs "
        "kept in benchmark_runs/ by the same command with `--report_only`)", "",
        f"Versions: recbole-mind {__version__}, recbole {recbole.__version__}, torch {torch.__version__}, "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs ({platform.machine()}).", "",
    ]
    report = os.path.join(out_dir, "benchmarks.md")
    with open(report, "w", encoding="utf-8") as file:
        file.write("\n".join(lines))
    return report

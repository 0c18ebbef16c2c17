"""Statistics of the benchmark's runs and its targets: mean ± std per row, per-seed differences,
the noise rule's verdicts (:mod:`benchmarks.stats`), and the records the report quotes: which runs
trained in torch's anomaly mode and what it cost (``docs/anomaly_mode.json``), and the cost
targets' epochs timed in turn (``benchmarks/epoch_cost.py``'s ``docs/epoch_cost*.json``).
"""

from __future__ import annotations

import json
import math
import os
import statistics
from typing import Any

from benchmarks import stats
from benchmarks.rows import PROTOCOLS, ROOT, TUNED, run_section, section_name

ANOMALY_MARK = "†"
ANOMALY_RECORD = os.path.join(ROOT, "docs", "anomaly_mode.json")
# the one-off diagnostic that wrote ANOMALY_RECORD, removed after this commit (issue 46)
ANOMALY_SCRIPT = "`benchmarks/diagnostics/anomaly_cost.py` (removed; last in commit a98d198)"
EPOCH_COST_RECORDS = {
    protocol: os.path.join(ROOT, "docs", "epoch_cost.json" if protocol == "leave_one_out"
                           else f"epoch_cost_{protocol}.json")
    for protocol in PROTOCOLS
}


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def anomaly_ratios(path: str = ANOMALY_RECORD) -> str:
    """How much slower anomaly mode made each model's training steps (``"1.2x (SASRec) to 1.7x (GRU4Rec)"``)."""
    cells = [f"{row['ratio']:.1f}x ({row['model']})" for row in sorted(read_json(path)["models"], key=lambda row: row["ratio"])]
    return cells[0] if len(cells) == 1 else f"{cells[0]} to {cells[-1]}"


def anomaly_note(path: str = ANOMALY_RECORD) -> str:
    """The report's note under a table with seconds marked :data:`ANOMALY_MARK`, quoting the record."""
    record = read_json(path)
    rows = record["models"]
    measured = ", ".join(f"{row['model']} {row['seconds_on']:.1f} s against {row['seconds_off']:.1f} s "
                         f"({row['ratio']:.2f}x)" for row in rows)
    return (
        f"{ANOMALY_MARK} Seconds of runs that trained in torch's anomaly mode, which RecBole 1.2.1's "
        "`sine.py` switches on when imported (RecBole's `get_model` imports it for every sequential "
        "model; MIND, registered by this plugin, and Pop never imported it). `recbole_mind.integration.compat` "
        "now restores the mode after that import; before, the baselines recorded a Python stack for "
        "every autograd node. Marked seconds are not comparable with unmarked ones, and cost targets "
        f"that use them get no verdict. {ANOMALY_SCRIPT} measured it on {rows[0]['dataset']} "
        f"({record['finished'][:10]}, docs/anomaly_mode.json): the first {rows[0]['batches']} training batches "
        f"with anomaly mode on against off, from the same initial weights: {measured}; "
        + ("every loss identical, so quality figures are unaffected."
           if all(row["losses_identical"] for row in rows)
           else "the losses differed, so marked rows' quality figures may differ too.")
    )


def trained_in_anomaly_mode(run: dict[str, Any]) -> bool:
    """Whether a run trained with anomaly mode on. Runs recorded before the field existed did when
    RecBole imported its model (every row but MIND's, registered by this plugin, and Pop's)."""
    environment = run.get("environment") or {}
    if "anomaly_mode" in environment:
        return bool(environment["anomaly_mode"])
    return not (run["row"].startswith("MIND") or run["row"] == "Pop")


def epoch_cost_ratio(row: str, baseline: str, section: str, path: str) -> tuple[float, str] | None:
    """``row``'s median training epoch over ``baseline``'s, both timed in turn in one run of
    ``benchmarks/epoch_cost.py`` (the record ``path``) on the report ``section``, and that run's
    date; None when no record times both. A ratio of one run's epochs carries none of the
    machine's drift between the benchmark's runs, made on different days."""
    if not os.path.isfile(path):
        return None
    try:
        record = read_json(path)
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


def summarise(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(section, row) -> mean/std of every reported metric, seconds per epoch, throughput;
    a section is a dataset under a protocol (:func:`section_name`)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault((run_section(run), run["row"]), []).append(run)
    summary = {}
    for key, runs_here in grouped.items():
        protocol = runs_here[0].get("protocol", "leave_one_out")
        entry = {"seeds": len(runs_here), "protocol": protocol,
                 "by_seed": {run["seed"]: run["test_result"] for run in runs_here}}
        for metric in PROTOCOLS[protocol].reported:
            entry[metric] = stats.mean_std([run["test_result"][metric] for run in runs_here])
        # the median epoch of each run: one epoch slowed by other load does not move it
        entry["epoch_seconds"] = stats.mean_std([statistics.median(run["train_epoch_seconds"]) for run in runs_here])
        entry["epochs"] = stats.mean_std([float(len(run["train_epoch_seconds"])) for run in runs_here])
        entry["eval_users_per_second"] = stats.mean_std([run["eval_users_per_second"] for run in runs_here])
        entry["model_parameters"] = runs_here[0]["model_parameters"]
        entry["anomaly_runs"] = sum(trained_in_anomaly_mode(run) for run in runs_here)
        summary[key] = entry
    return summary


def seed_values(entry: dict[str, Any], metric: str) -> dict[int, float]:
    return {seed: result[metric] for seed, result in entry["by_seed"].items()}


def compare_rows(summary: dict, dataset: str, row: str, baseline: str, metric: str,
                 goal: float = 1.0) -> tuple[float, str] | None:
    """Ratio of means and the target's verdict (:func:`stats.target_verdict`) of "row >= goal x
    baseline" in the report section ``dataset``; None when either row (or the baseline's mean) is missing."""
    entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
    if not entry or not base or not base[metric][0]:
        return None
    ratio = entry[metric][0] / base[metric][0]
    a, b = seed_values(entry, metric), seed_values(base, metric)
    if not stats.has_verdict(a, b):
        return ratio, "no verdict (one seed: no spread to compare with)"
    return ratio, stats.target_verdict(stats.compare_seeds(a, b), ratio, goal)


# The rule as the report states it, under the targets table.
NOISE_RULE = (
    f"Noise rule (benchmarks/stats.py, the one behind every verdict): the difference of the two rows, "
    f"paired seed by seed where they share at least two seeds (Welch otherwise), is **ahead** or "
    f"**behind** when its t statistic passes the two-sided {stats.CONFIDENCE:.0%} critical value of Student's "
    f"t (4.30 at 3 seeds, 2.78 at 5) and **level** otherwise; "
    f"a quality target is met when the row is ahead and its ratio reaches the goal."
)


def paired_difference(summary: dict, dataset: str, row: str, baseline: str, metric: str) -> str:
    """The rule's comparison of (row - baseline) in words (:func:`stats.describe`); "n/a" when
    the rule cannot judge the rows."""
    entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
    if not entry or not base:
        return "n/a"
    a, b = seed_values(entry, metric), seed_values(base, metric)
    return stats.describe(stats.compare_seeds(a, b)) if stats.has_verdict(a, b) else "n/a"


def format_cell(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def target_lines(summary: dict, dataset: str, protocol: str = "leave_one_out",
                 epoch_cost_path: str | None = None) -> list[str]:
    """The targets of the benchmark under ``protocol``, each with the measured ratio and its
    verdict; ``dataset`` is the report section. A cost target takes its ratio from
    ``epoch_cost_path`` (by default the protocol's record, :data:`EPOCH_COST_RECORDS`) when that
    record times both rows, and shows the benchmark runs' ratio beside it."""
    epoch_cost_path = epoch_cost_path or EPOCH_COST_RECORDS[protocol]
    checks = []
    timed_in_turn = False  # whether a cost target took its ratio from the epoch_cost record

    def best(baseline: str) -> str:
        # A tuned baseline replaces its RecBole-default row once it has run as many seeds.
        tuned, default = summary.get((dataset, baseline + TUNED)), summary.get((dataset, baseline))
        return baseline + TUNED if tuned and (not default or tuned["seeds"] >= default["seeds"]) else baseline

    def quality(row: str, baseline: str, metric: str, goal: float = 1.0):
        verdict = compare_rows(summary, dataset, row, baseline, metric, goal)
        if verdict:
            paired = paired_difference(summary, dataset, row, baseline, metric)
            checks.append(f"| {row} / {baseline} test {metric} | {verdict[0]:.3f} | >= {goal:g}, ahead "
                          f"| {verdict[1]} | {paired} |")

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
        quality("MIND preset", "MIND preset K=1", "recall@50")
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
        "| target | measured ratio | goal | verdict | difference under the noise rule |",
        "| --- | --- | --- | --- | --- |",
        *checks,
        "",
        NOISE_RULE + " The last column is the rule's comparison: the difference of the two rows seed "
        "by seed (the same split and users), mean ± std, and how many seeds the first row was higher."
        + (" A cost target timed in turn divides the median training epochs of one run of "
           f"`benchmarks/epoch_cost.py` (`docs/{os.path.basename(epoch_cost_path)}`), which takes the rows "
           "in turn so that the machine's drift falls on both; its last column gives the ratio of the benchmark runs' "
           "seconds, which were made on different days." if timed_in_turn else ""),
    ]

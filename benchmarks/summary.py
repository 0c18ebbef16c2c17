"""Statistics of the benchmark's runs: mean ± std per row, per-seed differences, the noise rule.

The noise rule that turns two rows' numbers into a verdict is :func:`compare_rows`, and only it;
:data:`NOISE_RULE` and :func:`rule_cell` state it in the report.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from benchmarks.records import trained_in_anomaly_mode
from benchmarks.rows import PROTOCOLS, run_section


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


# TODO(issue 39) noise rule: see benchmarks/stats.py. The one place where two rows' seeds become a
# verdict (today: 1 std of the larger seed spread, not paired); switch it, NOISE_RULE and rule_cell
# together. Callers: targets.target_lines (the report's and README's targets).
def compare_rows(summary: dict, dataset: str, row: str, baseline: str, metric: str,
                 goal: float = 1.0, margin_stds: float = 1.0) -> tuple[float, str] | None:
    """Ratio of means and its verdict under the noise rule; None when either row (or the
    baseline's mean) is missing.

    ``summary`` is :func:`summarise`'s (its entries hold each row's mean, std, seed count and
    per-seed results); ``dataset`` is the report section. A quality target "row >= goal x
    baseline" is **met** only when the ratio reaches the goal and the two means differ by more
    than ``margin_stds`` times the larger of the two seed standard deviations; **level** when
    they differ by less than that; **NOT met** otherwise.
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


# The rule as the report states it: under the targets table, and in each target's goal cell.
NOISE_RULE = (
    "Noise rule: a quality target is met only when the means differ by more than the stated "
    "number of standard deviations (the larger of the two rows' seed std) in the goal's "
    "direction; within that margin the rows are **level**."
)


def rule_cell(goal: float, margin_stds: float) -> str:
    """A quality target's goal as the targets table states it (``>= 1, by > 1 std``)."""
    return f">= {goal:g}, by > {margin_stds:g} std"


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


def format_cell(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"

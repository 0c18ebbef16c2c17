"""Statistics of the benchmark's runs: mean ± std per row, per-seed differences, the noise rule.

Every verdict comes from the one noise rule of :mod:`benchmarks.stats`, through
:func:`compare_rows`; :data:`NOISE_RULE` and :func:`rule_cell` state it in the report.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from benchmarks import stats
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


def seed_values(entry: dict[str, Any], metric: str) -> dict[int, float]:
    """``{seed: metric}`` of a :func:`summarise` entry."""
    return {seed: result[metric] for seed, result in entry["by_seed"].items()}


def compare_rows(summary: dict, dataset: str, row: str, baseline: str, metric: str,
                 goal: float = 1.0) -> tuple[float, str] | None:
    """Ratio of means and the target's verdict under the noise rule (benchmarks/stats.py);
    None when either row (or the baseline's mean) is missing.

    ``summary`` is :func:`summarise`'s; ``dataset`` is the report section. A quality target
    "row >= goal x baseline" is **met** when the row is ahead of the baseline under the rule and
    the ratio reaches the goal, **level** when the rule calls them level, **NOT met** otherwise.
    """
    entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
    if not entry or not base or not base[metric][0]:
        return None
    ratio = entry[metric][0] / base[metric][0]
    a, b = seed_values(entry, metric), seed_values(base, metric)
    if not stats.has_verdict(a, b):
        return ratio, "no verdict (one seed: no spread to compare with)"
    return ratio, stats.target_verdict(stats.compare_seeds(a, b), ratio, goal)


# The rule as the report states it: under the targets table, and in each target's goal cell.
NOISE_RULE = (
    f"Noise rule (benchmarks/stats.py, the one behind every verdict): the difference of the two rows, "
    f"paired seed by seed where they share at least two seeds (Welch otherwise), is **ahead** or "
    f"**behind** when its t statistic passes the two-sided {stats.CONFIDENCE:.0%} critical value of Student's "
    f"t (4.30 at 3 seeds, 2.78 at 5) and **level** otherwise; "
    f"a quality target is met when the row is ahead and its ratio reaches the goal."
)


def rule_cell(goal: float) -> str:
    """A quality target's goal as the targets table states it (``>= 1, ahead``)."""
    return f">= {goal:g}, ahead"


def paired_difference(summary: dict, dataset: str, row: str, baseline: str, metric: str) -> str:
    """The rule's comparison of (row - baseline) in words (:func:`stats.describe`): paired, the
    mean ± std of the per-seed differences and how many seeds the row was higher; "n/a" when
    the rule cannot judge the rows."""
    entry, base = summary.get((dataset, row)), summary.get((dataset, baseline))
    if not entry or not base:
        return "n/a"
    a, b = seed_values(entry, metric), seed_values(base, metric)
    if not stats.has_verdict(a, b):
        return "n/a"
    return stats.describe(stats.compare_seeds(a, b))


def format_cell(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"

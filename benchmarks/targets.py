"""The benchmark's targets: each ratio against its goal, with the noise rule's verdict."""

from __future__ import annotations

import os

from benchmarks.records import ANOMALY_MARK, EPOCH_COST_RECORDS, epoch_cost_ratio
from benchmarks.rows import TUNED
from benchmarks.summary import NOISE_RULE, compare_rows, paired_difference, rule_cell


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

    def quality(row: str, baseline: str, metric: str, goal: float = 1.0):
        verdict = compare_rows(summary, dataset, row, baseline, metric, goal)
        if verdict:
            rule = rule_cell(goal)
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

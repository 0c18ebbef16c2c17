"""The diagnostics' records the report quotes: anomaly mode and epochs timed in turn.

RecBole 1.2.1's ``sine.py`` switches torch's anomaly mode on; which runs trained in it, and what it
cost (``docs/anomaly_mode.json``, written by ``benchmarks/diagnostics/anomaly_cost.py``), is
bookkept here. The cost targets' epoch ratios come from ``benchmarks/epoch_cost.py``'s records.
"""

from __future__ import annotations

import json
import os
from typing import Any

from benchmarks.rows import PROTOCOLS, ROOT, section_name

ANOMALY_MARK = "†"
ANOMALY_RECORD = os.path.join(ROOT, "docs", "anomaly_mode.json")


def anomaly_record(path: str = ANOMALY_RECORD) -> dict[str, Any] | None:
    """The record ``benchmarks/diagnostics/anomaly_cost.py`` writes, or None when there is none."""
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
            f"{path} is not a record of benchmarks/diagnostics/anomaly_cost.py ({error!r}); "
            "run the script again to rewrite it"
        ) from error
    return record


def anomaly_ratios(path: str = ANOMALY_RECORD) -> str:
    """How much slower anomaly mode made each model's training steps, from the record
    ``benchmarks/diagnostics/anomaly_cost.py`` writes (e.g. ``"1.2x (SASRec) to 1.7x (GRU4Rec)"``)."""
    record = anomaly_record(path)
    if record is None:
        return "an unmeasured factor (run python -m benchmarks.diagnostics.anomaly_cost)"
    rows = sorted(record["models"], key=lambda row: row["ratio"])
    cells = [f"{row['ratio']:.1f}x ({row['model']})" for row in rows]
    return cells[0] if len(cells) == 1 else f"{cells[0]} to {cells[-1]}"


def anomaly_note(path: str = ANOMALY_RECORD) -> str:
    """The report's note under a table with seconds marked :data:`ANOMALY_MARK`."""
    note = (
        f"{ANOMALY_MARK} Seconds of runs that trained in torch's anomaly mode, which RecBole 1.2.1's "
        "`sine.py` switches on when imported (RecBole's `get_model` imports it for every sequential "
        "model; MIND, registered by this plugin, and Pop never imported it). `recbole_mind.integration.compat` "
        "now restores the mode after that import; before, the baselines recorded a Python stack for "
        "every autograd node. Marked seconds are not comparable with unmarked ones, and cost targets "
        "that use them get no verdict."
    )
    record = anomaly_record(path)
    if record is None:
        return note + " What the mode costs was not measured here (run python -m benchmarks.diagnostics.anomaly_cost)."
    rows = record["models"]
    identical = all(row["losses_identical"] for row in rows)
    measured = ", ".join(
        f"{row['model']} {row['seconds_on']:.1f} s against {row['seconds_off']:.1f} s ({row['ratio']:.2f}x)"
        for row in rows
    )
    return note + (
        f" `benchmarks/diagnostics/anomaly_cost.py` measured it on {rows[0]['dataset']} ({record['finished'][:10]}, "
        f"docs/anomaly_mode.json): the first {rows[0]['batches']} training batches with anomaly mode on "
        f"against off, from the same initial weights: {measured}; "
        + ("every loss identical, so quality figures are unaffected."
           if identical else "the losses differed, so marked rows' quality figures may differ too.")
    )


def trained_in_anomaly_mode(run: dict[str, Any]) -> bool:
    """Whether a run trained with torch's anomaly mode on (:func:`anomaly_note`).

    Runs recorded before the field existed did when RecBole imported its model (every row but
    MIND's, whose module this plugin registers, and Pop, a general model)."""
    environment = run.get("environment") or {}
    if "anomaly_mode" in environment:
        return bool(environment["anomaly_mode"])
    return not (run["row"].startswith("MIND") or run["row"] == "Pop")


EPOCH_COST_RECORDS = {
    protocol: os.path.join(ROOT, "docs", "epoch_cost.json" if protocol == "leave_one_out"
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

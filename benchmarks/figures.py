"""Regenerate every benchmark and tuning figure quoted in README.md and docs/ from the records.

Generated blocks (``<!-- figures: NAME -->``, :data:`GENERATORS`) come from the committed runs
(``docs/benchmark_runs/*.json``) and trials (``docs/tuning_runs/*.jsonl``); ``--write`` rewrites
them and ``docs/benchmarks.md`` (``python -m benchmarks.compare --report_only``). The check also
reads the prose of every page: a metric (``.0577``) must be a value of a record or of a table,
seconds and ratios (``8.8 s``, ``0.086x``) one of :func:`record_quantities` or of a table, both
from the page itself or a page it names, and a verdict word must agree with the noise rule
(``benchmarks/prose_verdicts.py``)::

    python -m benchmarks.figures            # check: exit 1 and show what differs
    python -m benchmarks.figures --write    # rewrite the blocks and docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import statistics
import sys
from typing import Callable

from benchmarks import blocks, compare, frontier, prose_verdicts, validation_grid
from benchmarks import tuning_verdicts as tv
from benchmarks.report import epoch_cell, section_has_anomaly_runs
from benchmarks.rows import MODELS, PROTOCOLS, ROOT, run_section
from benchmarks.summary import anomaly_note, format_cell, read_json, summarise, target_lines

RUNS_DIR = os.path.join(ROOT, "docs", "benchmark_runs")
TUNING_RUNS = os.path.join(ROOT, "docs", "tuning_runs")
INTEREST_SHARE = os.path.join(ROOT, "docs", "interest_share.json")
DOCS = os.path.join(ROOT, "docs")
BLOCK = blocks.block_pattern("figures")


def kept_runs(runs_dir: str = RUNS_DIR) -> list[dict]:
    return [read_json(path) for path in sorted(glob.glob(os.path.join(runs_dir, "*.json")))]


def benchmark_block(runs: list[dict]) -> str:
    """Per report section: test headline metrics and epoch cost of every row, then the
    targets with their verdicts, all computed by compare.py's own summary."""
    summary = summarise(runs)
    lines = []
    sections = dict.fromkeys(run_section(run) for run in runs)
    for section in sections:
        protocol = next(entry["protocol"] for (name, _), entry in summary.items() if name == section)
        quality, recall = PROTOCOLS[protocol].headline
        lines += [
            f"**{section}** (test split, mean ± std over seeds; `docs/benchmarks.md` has every metric)",
            "",
            f"| model | seeds | {quality} | {recall} | s / train epoch |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in MODELS:
            entry = summary.get((section, row))
            if entry:
                lines.append(
                    f"| {row} | {entry['seeds']} | {format_cell(*entry[quality])} | "
                    f"{format_cell(*entry[recall])} | {epoch_cell(entry, digits=1)} |"
                )
        if section_has_anomaly_runs(summary, section):
            lines += ["", anomaly_note()]
        lines += ["", *target_lines(summary, section, protocol), ""]
    return "\n".join(lines)


# the README's headline table: benchmark row -> the name it shows
HEADLINE_SECTION = "ml-100k"
HEADLINE_ROWS = {
    "MIND": "MIND, the paper's (`properties/MIND.yaml`)",
    "MIND preset": "MIND, the preset",
    "MIND preset K=1": "the preset with K=1 (its ablation)",
    "SASRec tuned": "SASRec, tuned",
    "GRU4Rec tuned": "GRU4Rec, tuned",
    "Pop": "Pop",
}


def headline_block(runs: list[dict], section: str = HEADLINE_SECTION) -> str:
    """The README's short table: test NDCG@10 and Recall@50 of :data:`HEADLINE_ROWS` under
    leave-one-out, mean ± std over seeds, from compare.py's own summary."""
    summary = summarise(runs)
    missing = [row for row in HEADLINE_ROWS if (section, row) not in summary]
    if missing:
        raise KeyError(f"the headline table needs benchmark runs of {', '.join(missing)} on {section}")
    lines = ["| model | seeds | test NDCG@10 | test Recall@50 |", "| --- | --- | --- | --- |"]
    for row, shown in HEADLINE_ROWS.items():
        entry = summary[(section, row)]
        lines.append(f"| {shown} | {entry['seeds']} | {format_cell(*entry['ndcg@10'])} | "
                     f"{format_cell(*entry['recall@50'])} |")
    return "\n".join(lines) + "\n"


def tuning_block(pattern: str, metrics: tuple[str, ...] = validation_grid.SHOWN) -> str:
    return validation_grid.table(tuning_logs(pattern), metrics) + "\n"


# (header, key) of docs/interest_share.json's records, written by a one-off diagnostic (grid 30)
INTEREST_SHARE_COLUMNS = [
    ("recall@N (max rule)", "recall"), ("short-term alone", "recall_short_term_alone"),
    ("routed alone", "recall_routed_alone"), ("slots won by short-term", "top_won_by_short_term"),
    ("hits won by short-term", "hits_won_by_short_term"), ("slots in window", "top_in_window"),
    ("slots in history", "top_in_history"),
]


def interest_share_block(path: str = INTEREST_SHARE) -> str:
    """The table of docs/interest_share.json: a row per record, ``-`` where a row has no such interest."""
    records = read_json(path)
    lines = ["| row | dataset | seed | N | " + " | ".join(header for header, _ in INTEREST_SHARE_COLUMNS) + " |",
             "|---" * (4 + len(INTEREST_SHARE_COLUMNS)) + "|"]
    for record in records:
        cells = [f"{record[key]:.4f}" if key in record else "-" for _, key in INTEREST_SHARE_COLUMNS]
        lines.append(f"| {record['row']} | {record['dataset']} | {record['seed']} | {record['top_n']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tuning_logs(pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(TUNING_RUNS, pattern)))


# The levers' paired table (tuning_verdicts' labels: P13 the preset of grids 10-25, P26 of 26-29,
# P30 of 30-34, P35 since; K1/K1W its single interest without/with the short-term weights).
P13, P26, P30, P35, K1, K1W = tv.P13, tv.P26, tv.P30, tv.P35, tv.K1, tv.K1W
LEVER_PAIRS = [
    (P26, P13), (P26, K1W), (P13, tv.DEFAULTS),  # grids 14 and 16
    (P13 + " rgrad rr100", P13), (P13 + " rgrad rr10", P13),  # grid 17
    (P13 + " ft10", P13), (P13 + " ft10", K1 + " ft10"), (P13 + " ssm400", P13),  # grids 20 and 21
    (P13 + " ssm400 e60", P13), (P13 + " e60", P13), (P13 + " ssm400 e60", P13 + " e60"),  # grid 22
    (P13 + " ihn10.0", P13), (P13, K1), (tv.DEFAULTS, K1),  # grids 24 and 25
    (P26, tv.DEFAULTS), (K1W, K1), ("L50 K4 short5 max stw", P26),  # grids 26 and 27
    (P13 + " sta", P26), (P13 + " sta", K1W), (P13 + " sta", K1 + " sta"), (K1 + " sta", K1W),  # grid 29
    (P30, P26), (P30, K1W), (P26 + " stl0.5", P30), (P26 + " stl0.5", P26),  # grids 30 and 31
    (P30 + " som", P30), (P26 + " stl2", P30), (P26 + " stl2", K1W),  # grids 32 and 33
    (P35, P30 + " rerun"), (P35, P30), (P30 + " rerun", P30), (P35, K1W),  # grid 35, "rerun": its machine
    (P35, K1W + " cos.2"), (K1W + " cos.2", K1W),  # grid 36
]
# grids 15, 19 and 20 under the multi-target protocol (validation users' later items)
MULTI_TARGET_PAIRS = [(tv.mt(a), tv.mt(b)) for a, b in [
    (P26, P13), (P26, K1W), (P13, K1), (P13, tv.DEFAULTS),
    ("L50 K4 short5 max", P13), ("L50 K4 short5 max", K1), ("L50 K8 short5 max", "L50 K4 short5 max"),
    (P13 + " ft10", P13), (K1 + " ft10", K1), (P13 + " ft10", K1 + " ft10"),
]]

# block name -> what generates it
GENERATORS: dict[str, Callable[[], str]] = {
    "frontier": lambda: frontier.report_block(),
    "benchmark": lambda: benchmark_block(kept_runs()),
    "headline": lambda: headline_block(kept_runs()),
    "tuning-recency": lambda: tuning_block("recency_*.jsonl"),
    "tuning-levers": lambda: tuning_block("levers_*.jsonl"),
    "tuning-levers-paired": lambda: validation_grid.paired_table(tuning_logs("levers_*.jsonl"), LEVER_PAIRS) + "\n",
    "tuning-baselines": lambda: tuning_block("baseline_*.jsonl"),
    "interest-share": interest_share_block,
    "tuning-multi-target": lambda: tuning_block("multi_target_levers_*.jsonl", tv.MT_METRICS),
    "tuning-multi-target-paired": lambda: validation_grid.paired_table(
        tuning_logs("multi_target_levers_*.jsonl"), MULTI_TARGET_PAIRS, tv.MT_METRICS) + "\n",
}


def pages(root: str = ROOT) -> list[str]:
    """README.md and every page under docs/: where figures may be quoted."""
    return [os.path.join(root, "README.md"), *sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))]


FILES = pages()
PAGE_NAME = re.compile(r"[\w./-]+\.md\b")


def named_pages(path: str, root: str = ROOT) -> list[str]:
    """The pages ``path`` names (a markdown link or a path ending in ``.md``, relative to its own
    folder or to the repository), which its prose may quote."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    named = []
    for name in dict.fromkeys(PAGE_NAME.findall(text)):
        for base in (os.path.dirname(path), root):
            candidate = os.path.normpath(os.path.join(base, name))
            if os.path.isfile(candidate) and candidate != os.path.normpath(path) and candidate not in named:
                named.append(candidate)
                break
    return named


# a metric (".0577", "-.0099"); a figure with a unit is a quantity (below)
PROSE_FIGURE = re.compile(r"(?<![\w.])[+-]?0?\.(\d{3,4})(?!\d)(?!x\b| ?m?s\b)")
DECIMAL = re.compile(r"(?<!\d)0?\.(\d+)")
# seconds ("8.8 s"), milliseconds ("0.81 ms") and ratios ("0.086x", "164x") quoted in prose
UNIT_FIGURE = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?)(?: ?(?:ms|s)\b|x\b)")
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def decimal_forms(text: str) -> set[str]:
    """The digits after the point of every decimal in ``text``, as written and rounded to 3 and
    4 places (``0.34226`` gives ``3423`` and ``342``)."""
    forms = set()
    for match in DECIMAL.finditer(text):
        digits = match.group(1)
        value = float("0." + digits)
        forms |= {f"{value:.4f}"[2:], f"{value:.3f}"[2:]}
        if len(digits) <= 4:
            forms.add(digits)
    return forms


def record_figures(runs_dir: str = RUNS_DIR, tuning_runs: str = TUNING_RUNS) -> set[str]:
    """:func:`decimal_forms` of every metric a committed benchmark run or tuning trial holds."""
    values = [value for run in kept_runs(runs_dir) for key in ("test_result", "best_valid_result")
              for value in (run.get(key) or {}).values()]
    values += [value for trial in all_trials(tuning_runs) for value in trial["valid"].values()]
    return decimal_forms(" ".join(repr(float(value)) for value in values))


def all_trials(tuning_runs: str = TUNING_RUNS) -> list[dict]:
    return [trial for path in glob.glob(os.path.join(tuning_runs, "*.jsonl"))
            for trial in validation_grid.finished_trials(path).values()]


def quantity_forms(values: list[float]) -> set[str]:
    """Every value of ``values`` written with 0 to 4 decimals, the forms a quoted number of
    seconds or a ratio may take (``8.81297`` gives ``9``, ``8.8``, ``8.81``, ...)."""
    return {f"{value:.{digits}f}" for value in values for digits in range(5)}


def json_scalars(value: object) -> list[float]:
    """The numbers of a JSON record, leaving out lists of bare numbers (raw samples such as one
    run's epoch seconds: a figure quotes their median, never one of them)."""
    if isinstance(value, dict):
        return [number for item in value.values() for number in json_scalars(item)]
    if isinstance(value, list):
        if value and all(isinstance(item, (int, float)) for item in value):
            return []
        return [number for item in value for number in json_scalars(item)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def record_quantities(runs_dir: str = RUNS_DIR, tuning_runs: str = TUNING_RUNS, records_dir: str = DOCS) -> set[str]:
    """:func:`quantity_forms` of what backs seconds and ratios: every number of the JSON records
    in ``records_dir`` and its ``records_history`` (epoch cost, anomaly mode, ...), every benchmark row's mean seconds per
    training epoch (as its tables show it), and each benchmark run's and tuning trial's median
    training epoch and total seconds."""
    values = []
    # today's records and the superseded ones tuning.md's history quotes (docs/records_history/)
    for path in sorted(glob.glob(os.path.join(records_dir, "*.json")) +
                       glob.glob(os.path.join(records_dir, "records_history", "*.json"))):
        values += json_scalars(read_json(path))
    runs = kept_runs(runs_dir)
    values += [entry["epoch_seconds"][0] for entry in summarise(runs).values()]
    for record in [*runs, *all_trials(tuning_runs)]:
        if record.get("train_epoch_seconds"):
            values.append(statistics.median(record["train_epoch_seconds"]))
        values += [float(record[key]) for key in ("wall_seconds", "total_seconds") if record.get(key)]
    return quantity_forms(values)


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("|")]


def table_numbers(text: str) -> list[float]:
    return [float(number.replace(",", "")) for number in NUMBER.findall("\n".join(table_lines(text)))]


def prose_lines(path: str) -> list[tuple[int, str]]:
    """(line number, line) of the prose of ``path``: not code, not a table, not a generated block
    (those are checked by regenerating them)."""
    prose, in_code, in_block = [], False, False
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            stripped = line.lstrip()
            if stripped.startswith("```"):
                in_code = not in_code
                continue
            if stripped.startswith(("<!-- figures:", "<!-- /figures:", "<!-- verdicts:", "<!-- /verdicts:")):
                in_block = stripped.startswith(("<!-- figures:", "<!-- verdicts:"))
                continue
            if not (in_code or in_block or stripped.startswith("|")):
                prose.append((number, line))
    return prose


def unbacked_figures(path: str, source_paths: list[str], records: set[str],
                     quantities: set[str] = frozenset()) -> list[str]:
    """Figures in the prose of ``path`` that no record (metrics: ``records``; seconds and ratios:
    ``quantities``) and no table of ``path`` or of ``source_paths`` holds, as ``"line N: figure"``."""
    backed, backed_quantities = set(records), set(quantities)
    for source in [path, *source_paths]:
        text = open(source, encoding="utf-8").read()
        backed |= decimal_forms("\n".join(table_lines(text)))
        backed_quantities |= quantity_forms(table_numbers(text))
    missing = []
    for number, line in prose_lines(path):
        found = [(match.start(), match.group(0)) for match in PROSE_FIGURE.finditer(line)
                 if match.group(1) not in backed]
        found += [(match.start(), match.group(0)) for match in UNIT_FIGURE.finditer(line)
                  if match.group(1).replace(",", "") not in backed_quantities]
        missing += [f"line {number}: {figure}" for _, figure in sorted(found)]
    return missing


def check_prose(paths: list[str] | None = None) -> list[str]:
    """Every unbacked prose figure of ``paths`` (default: every page), each page backed by the
    records and by its own tables and those of the pages it names, as ``"path line N: figure"``."""
    records, quantities = record_figures(), record_quantities()
    unbacked = []
    for path in paths or pages():
        name = os.path.relpath(path, ROOT)
        unbacked += [f"{name} {where}" for where in unbacked_figures(path, named_pages(path), records, quantities)]
    return unbacked


def check_files(paths: list[str], write: bool) -> list[str]:
    """Paths whose blocks differ from their records (rewritten when ``write``)."""
    return blocks.refresh(paths, BLOCK, {name: make() for name, make in GENERATORS.items()}, write)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the blocks and docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.write:
        compare.main(["--report_only"])
    stale = check_files(FILES, args.write)
    verb = "rewrote" if args.write else "out of date with their records"
    print(f"[figures] {verb}: {', '.join(stale)}" if stale else "[figures] every block matches its records")
    unbacked = check_prose()
    for where in unbacked:
        print(f"[figures] a figure in prose that no record or table holds: {where}")
    contradicted = prose_verdicts.check_pages(pages(), ROOT, prose_lines)
    for where in contradicted:
        print(f"[figures] a verdict word in prose that the noise rule contradicts: {where}")
    return 1 if (stale and not args.write) or unbacked or contradicted else 0


if __name__ == "__main__":
    sys.exit(main())

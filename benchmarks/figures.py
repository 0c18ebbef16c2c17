"""Regenerate every benchmark and tuning figure quoted in README.md and docs/ from the records.

The records are committed: ``docs/benchmark_runs/*.json`` (one per benchmark run, written by
``benchmarks/compare.py``) and ``docs/tuning_runs/*.jsonl`` (one line per validation trial,
written by ``benchmarks/validation_grid.py``). Generated text sits between markers:

    <!-- figures: NAME -->
    ...generated, do not edit by hand...
    <!-- /figures: NAME -->

    python benchmarks/figures.py            # check: exit 1 and show what differs
    python benchmarks/figures.py --write    # rewrite the blocks and docs/benchmarks.md

``--write`` also rewrites ``docs/benchmarks.md`` and its plots from the kept runs (the same as
``python benchmarks/compare.py --report_only``); tests/test_benchmarks.py runs the check, so a
README or doc that disagrees with its records fails CI.

Figures quoted in prose (a metric such as ``.0577`` or ``-.0099`` outside tables and code) are
checked too: each must be a value of a committed record (a run's test or validation metrics, a
trial's validation metrics) or of a table in the docs the text summarises, to 3 or 4 decimals.
A stale number left in a sentence after its table changed fails the check.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import json
import os
import re
import sys
from typing import Callable

from benchmarks import compare, validation_grid
from benchmarks.diagnostics import interest_share

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

RUNS_DIR = os.path.join(ROOT, "docs", "benchmark_runs")
TUNING_RUNS = os.path.join(ROOT, "docs", "tuning_runs")
INTEREST_SHARE = os.path.join(ROOT, "docs", "interest_share.json")
BLOCK = re.compile(r"(<!-- figures: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures: (?P=name) -->)", re.S)


def kept_runs(runs_dir: str = RUNS_DIR) -> list[dict]:
    runs = []
    for path in sorted(glob.glob(os.path.join(runs_dir, "*.json"))):
        with open(path, encoding="utf-8") as file:
            runs.append(json.load(file))
    return runs


def benchmark_block(runs: list[dict]) -> str:
    """Per report section: test headline metrics and epoch cost of every row, then the
    targets with their verdicts, all computed by compare.py's own summary."""
    summary = compare.summarise(runs)
    lines = []
    sections = dict.fromkeys(compare.run_section(run) for run in runs)
    for section in sections:
        protocol = next(entry["protocol"] for (name, _), entry in summary.items() if name == section)
        quality, recall = compare.PROTOCOLS[protocol].headline
        lines += [
            f"**{section}** (test split, mean ± std over seeds; `docs/benchmarks.md` has every metric)",
            "",
            f"| model | seeds | {quality} | {recall} | s / train epoch |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in compare.MODELS:
            entry = summary.get((section, row))
            if entry:
                lines.append(
                    f"| {row} | {entry['seeds']} | {compare.format_cell(*entry[quality])} | "
                    f"{compare.format_cell(*entry[recall])} | {compare.epoch_cell(entry, digits=1)} |"
                )
        if compare.section_has_anomaly_runs(summary, section):
            lines += ["", compare.anomaly_note()]
        lines += ["", *compare.target_lines(summary, section, protocol), ""]
    return "\n".join(lines)


def tuning_block(pattern: str, metrics: tuple[str, ...] = validation_grid.SHOWN) -> str:
    return validation_grid.table(tuning_logs(pattern), metrics) + "\n"


def interest_share_block(path: str = INTEREST_SHARE) -> str:
    """benchmarks/interest_share.py's table of its records."""
    with open(path, encoding="utf-8") as file:
        return interest_share.markdown_table(json.load(file))


def tuning_logs(pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(TUNING_RUNS, pattern)))


# grid 14's questions: does a lever beat the preset, do several interests beat one? Grid 16's:
# does the preset beat the paper's defaults? Grids 17 and 20: REMI's regulariser, later targets.
# Since grid 26 the preset is "L20 K4 short5 max stw".
LEVER_PAIRS = [
    ("L20 K4 short5 max stw", "L20 K4 short5 max"),
    ("L20 K4 short5 max stw", "L20 K1 short5 stw"),
    ("L20 K4 short5 max", "L5 K2 (defaults)"),
    ("L20 K4 short5 max rgrad rr100", "L20 K4 short5 max"),  # grid 17
    ("L20 K4 short5 max rgrad rr10", "L20 K4 short5 max"),
    ("L20 K4 short5 max ft10", "L20 K4 short5 max"),  # grid 20
    ("L20 K4 short5 max ft10", "L20 K1 short5 ft10"),
    ("L20 K4 short5 max ssm400", "L20 K4 short5 max"),  # grid 21
    ("L20 K4 short5 max ssm400 e60", "L20 K4 short5 max"),  # grid 22: the same seconds, not epochs
    ("L20 K4 short5 max e60", "L20 K4 short5 max"),
    ("L20 K4 short5 max ssm400 e60", "L20 K4 short5 max e60"),
    ("L20 K4 short5 max ihn10.0", "L20 K4 short5 max"),  # grid 24: REMI's hard negatives
    ("L20 K4 short5 max", "L20 K1 short5"),  # grid 25: several interests on long synthetic histories
    ("L5 K2 (defaults)", "L20 K1 short5"),
    ("L20 K4 short5 max stw", "L5 K2 (defaults)"),  # grid 26: the short-term weights re-tune the preset
    ("L20 K1 short5 stw", "L20 K1 short5"),
    ("L50 K4 short5 max stw", "L20 K4 short5 max stw"),  # grid 27: the routed interests over 50 behaviours
    ("L20 K4 short5 max sta", "L20 K4 short5 max stw"),  # grid 29: the short-term interest attends
    ("L20 K4 short5 max sta", "L20 K1 short5 stw"),
    ("L20 K4 short5 max sta", "L20 K1 short5 sta"),
    ("L20 K1 short5 sta", "L20 K1 short5 stw"),
    ("L20 K4 short5 max stw stl1", "L20 K4 short5 max stw"),  # grid 30: the short-term interest's own loss
    ("L20 K4 short5 max stw stl1", "L20 K1 short5 stw"),
    ("L20 K4 short5 max stw stl0.5", "L20 K4 short5 max stw stl1"),  # grid 31: half the weight
    ("L20 K4 short5 max stw stl0.5", "L20 K4 short5 max stw"),
    ("L20 K4 short5 max stw stl1 som", "L20 K4 short5 max stw stl1"),  # grid 32: the order MLP
    ("L20 K4 short5 max stw stl2", "L20 K4 short5 max stw stl1"),  # grid 33: twice the weight
    ("L20 K4 short5 max stw stl2", "L20 K1 short5 stw"),
    # grid 35: cosine scores; "rerun" is the preset again on grid 35's machine
    ("L20 K4 short5 max stw stl1 cos.2", "L20 K4 short5 max stw stl1 rerun"),
    ("L20 K4 short5 max stw stl1 cos.2", "L20 K4 short5 max stw stl1"),
    ("L20 K4 short5 max stw stl1 rerun", "L20 K4 short5 max stw stl1"),
    ("L20 K4 short5 max stw stl1 cos.2", "L20 K1 short5 stw"),
    ("L20 K4 short5 max stw stl1 cos.2", "L20 K1 short5 stw cos.2"),  # grid 36: the ablation with cosine scores
    ("L20 K1 short5 stw cos.2", "L20 K1 short5 stw"),
]

# grids 15, 19 and 20: the same questions under the multi-target protocol (validation users' later items)
MULTI_TARGET_METRICS = ("recall@20", "recall@50", "ndcg@50")
MULTI_TARGET_PAIRS = [
    ("MT L20 K4 short5 max stw", "MT L20 K4 short5 max"),
    ("MT L20 K4 short5 max stw", "MT L20 K1 short5 stw"),
    ("MT L20 K4 short5 max", "MT L20 K1 short5"),
    ("MT L20 K4 short5 max", "MT L5 K2 (defaults)"),
    # grid 19: a 50-item window for the routed interests (K = 1 pools the 5 latest at any window)
    ("MT L50 K4 short5 max", "MT L20 K4 short5 max"),
    ("MT L50 K4 short5 max", "MT L20 K1 short5"),
    ("MT L50 K8 short5 max", "MT L50 K4 short5 max"),
    # grid 20: later items as extra training targets
    ("MT L20 K4 short5 max ft10", "MT L20 K4 short5 max"),
    ("MT L20 K1 short5 ft10", "MT L20 K1 short5"),
    ("MT L20 K4 short5 max ft10", "MT L20 K1 short5 ft10"),
]

# block name -> what generates it
GENERATORS: dict[str, Callable[[], str]] = {
    "benchmark": lambda: benchmark_block(kept_runs()),
    "tuning-recency": lambda: tuning_block("recency_*.jsonl"),
    "tuning-levers": lambda: tuning_block("levers_*.jsonl"),
    "tuning-levers-paired": lambda: validation_grid.paired_table(tuning_logs("levers_*.jsonl"), LEVER_PAIRS) + "\n",
    "tuning-baselines": lambda: tuning_block("baseline_*.jsonl"),
    "interest-share": interest_share_block,
    "tuning-multi-target": lambda: tuning_block("multi_target_levers_*.jsonl", MULTI_TARGET_METRICS),
    "tuning-multi-target-paired": lambda: validation_grid.paired_table(
        tuning_logs("multi_target_levers_*.jsonl"), MULTI_TARGET_PAIRS, MULTI_TARGET_METRICS) + "\n",
}
FILES = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "docs", "tuning.md")]


# prose file -> the files whose tables it may quote (besides its own and the records)
PROSE_SOURCES = {
    os.path.join(ROOT, "README.md"): [
        os.path.join(ROOT, "docs", name) for name in ("benchmarks.md", "retrieval.md", "scale.md", "tuning.md")
    ],
    os.path.join(ROOT, "docs", "tuning.md"): [
        os.path.join(ROOT, "docs", name)
        for name in ("benchmarks.md", "eval_determinism.md", os.path.join("past_split", "benchmarks.md"))
    ],
    **{os.path.join(ROOT, "docs", name): [] for name in ("retrieval.md", "scale.md", "eval_determinism.md")},
}
PROSE_FIGURE = re.compile(r"(?<![\w.])[+-]?0?\.(\d{3,4})(?!\d)")
DECIMAL = re.compile(r"(?<!\d)0?\.(\d+)")


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
    values = []
    for run in kept_runs(runs_dir):
        for key in ("test_result", "best_valid_result"):
            values += list((run.get(key) or {}).values())
    for path in glob.glob(os.path.join(tuning_runs, "*.jsonl")):
        values += [value for record in validation_grid.finished_trials(path).values()
                   for value in record["valid"].values()]
    return decimal_forms(" ".join(repr(float(value)) for value in values))


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("|")]


def unbacked_figures(path: str, source_paths: list[str], records: set[str]) -> list[str]:
    """Figures in the prose of ``path`` that no record and no table of ``path`` or of
    ``source_paths`` holds, as ``"line N: figure"``."""
    backed = set(records)
    for source in [path, *source_paths]:
        with open(source, encoding="utf-8") as file:
            backed |= decimal_forms("\n".join(table_lines(file.read())))
    missing, in_code = [], False
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if line.startswith("```"):
                in_code = not in_code
            if in_code or line.startswith("```") or line.lstrip().startswith("|"):
                continue
            missing += [f"line {number}: {match.group(0)}" for match in PROSE_FIGURE.finditer(line)
                        if match.group(1) not in backed]
    return missing


def check_prose(sources: dict[str, list[str]] = PROSE_SOURCES) -> list[str]:
    """Every unbacked prose figure of the files in ``sources``, as ``"path line N: figure"``."""
    records = record_figures()
    return [f"{os.path.relpath(path, ROOT)} {where}"
            for path, source_paths in sources.items() for where in unbacked_figures(path, source_paths, records)]


def regenerate(text: str, generated: dict[str, str]) -> str:
    """``text`` with the body of every known block replaced by its generated content."""
    def body(match: re.Match) -> str:
        name = match.group("name")
        if name not in generated:
            raise KeyError(f"unknown figures block {name!r}; known: {', '.join(generated)}")
        return match.group(1) + generated[name] + match.group(4)

    return BLOCK.sub(body, text)


def check_files(paths: list[str], write: bool) -> list[str]:
    """Paths whose blocks differ from their records (rewritten when ``write``)."""
    generated = {name: make() for name, make in GENERATORS.items()}
    stale = []
    for path in paths:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        fresh = regenerate(text, generated)
        if fresh != text:
            stale.append(path)
            if write:
                with open(path, "w", encoding="utf-8") as file:
                    file.write(fresh)
            else:
                diff = difflib.unified_diff(text.splitlines(), fresh.splitlines(), path, "regenerated", lineterm="")
                print("\n".join(list(diff)[:60]))
    return stale


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
    return 1 if (stale and not args.write) or unbacked else 0


if __name__ == "__main__":
    sys.exit(main())

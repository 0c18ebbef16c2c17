"""Generate the tuning pages' verdicts from the per-seed trial records, under the one noise rule.

Each grid of docs/tuning_archive.md judges its comparisons in a ``<!-- verdicts: NAME -->`` block,
and docs/tuning.md's "Removed levers" table is one too (a block may live in either page). Every
verdict comes from ``docs/tuning_runs/*.jsonl`` through ``benchmarks/stats.py``; a comparison of
one shared seed shows its difference and "no verdict"::

    python -m benchmarks.tuning_verdicts            # check: exit 1 and show what differs
    python -m benchmarks.tuning_verdicts --write    # rewrite the blocks
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from dataclasses import dataclass
from typing import Union

from benchmarks import blocks, stats, validation_grid
from benchmarks.rows import ROOT

PAGES = [os.path.join(ROOT, "docs", "tuning.md"), os.path.join(ROOT, "docs", "tuning_archive.md")]
TUNING_RUNS = os.path.join(ROOT, "docs", "tuning_runs")
BLOCK = blocks.block_pattern("verdicts")
REMOVED_AT = "5224e6d"  # the last commit holding the removed levers' code (issue 39)


@dataclass(frozen=True)
class Part:
    """Comparisons ``a - b`` of points logged in ``logs`` (a glob under docs/tuning_runs/)."""

    logs: str
    pairs: tuple[tuple[str, str], ...]
    metrics: tuple[str, ...] = validation_grid.SHOWN
    datasets: tuple[str, ...] | None = None  # None: every dataset where both points ran
    protocol: str = ""  # named in the removed-levers summary ("multi-target")


Block = Union[str, tuple[Part, ...]]  # a note (no per-seed record) or tables

LEVERS, MULTI_TARGET, RECENCY = "levers_*.jsonl", "multi_target_levers_*.jsonl", "recency_*.jsonl"
MT_METRICS = ("recall@20", "recall@50", "ndcg@50")
# the preset as grids 10-25, 26-29, 30-34 and 35-36 left it, its single interest, the paper's defaults
P13, P26, P30 = "L20 K4 short5 max", "L20 K4 short5 max stw", "L20 K4 short5 max stw stl1"
P35 = P30 + " cos.2"
K1, K1W, DEFAULTS = "L20 K1 short5", "L20 K1 short5 stw", "L5 K2 (defaults)"
SHARED = " (shared MLP)"  # grids 10-13's rows before the short-term interest got its own MLP


def mt(label: str) -> str:
    return "MT " + label


def levers(*pairs: tuple[str, str], datasets: tuple[str, ...] | None = None) -> Part:
    return Part(LEVERS, pairs, datasets=datasets)


def multi_target(*pairs: tuple[str, str]) -> Part:
    return Part(MULTI_TARGET, tuple((mt(a), mt(b)) for a, b in pairs), MT_METRICS, protocol="multi-target")


LONG_SYNTHETIC = ("synth_long", "synth_long6")
GRIDS: dict[str, Block] = {
    "grids-1-9": "No per-seed record: grids 1-9 ran through `run_recbole_mind.py --tune` before trial logs "
                 "were kept, and their tables were copied from the search's output by hand, so the noise rule "
                 "gives them no verdict; their \"level\" and \"beats\" are readings of those tables.\n",
    "grids-10-13": (Part(RECENCY, (
        ("L20 K4 short5 prior" + SHARED, "L20 K4 short5" + SHARED),
        ("L20 K4 short5 recemb" + SHARED, "L20 K4 short5" + SHARED),
        ("L20 K4 short5 max" + SHARED, "L20 K4 short5" + SHARED),
        (P13, K1), (P13, "paper defaults L5 K2"),
    )),),
    "grid-14": (levers((P26, P13), (P26, K1W), (P13 + " rgrad", P13)),),
    "grid-15": (multi_target((P26, P13), (P26, K1W), (P13, K1)),),
    "grid-16": (levers((P13, DEFAULTS)), multi_target((P13, DEFAULTS))),
    "grid-17": (levers(*((f"{P13} rgrad rr{weight}", P13) for weight in (1, 10, 100))),),
    "grid-18": "No verdict: every point of grid 18 ran one seed (2020), and the RecBole-default point is the "
               "benchmark's own run, not a grid trial. The tuned rows' three-seed benchmark runs "
               "(docs/benchmarks.md) judge them.\n",
    "grid-19": (multi_target(("L50 K4 short5 max", P13), ("L50 K4 short5 max", K1),
                             ("L50 K8 short5 max", "L50 K4 short5 max")),),
    "grid-20": (multi_target((P13 + " ft10", P13), (K1 + " ft10", K1), (P13 + " ft10", K1 + " ft10")),
                levers((P13 + " ft10", P13), (K1 + " ft10", K1W), (P13 + " ft10", K1 + " ft10"))),
    "grid-21": (levers((P13 + " ssm100", P13), (P13 + " ssm400", P13), datasets=("ml-100k",)),),
    "grid-22": (levers((P13 + " ssm400 e60", P13), (P13 + " e60", P13), (P13 + " ssm400 e60", P13 + " e60")),),
    "grid-23": (levers(*((f"{P13} {suffix}", P13) for suffix in ("lr.002", "drop.1", "wd1e-5", "mlp256", "std.1"))),),
    "grid-24": (levers(*((f"{P13} ihn{beta}", P13) for beta in ("0.5", "2.0", "10.0"))),),
    "grid-25": (levers((P13, K1), (P13, DEFAULTS), (DEFAULTS, K1), (P13 + " ihn10.0", P13),
                       (P13 + " ssm400", P13), (P13 + " ssm400", K1), (P13 + " ssm400 ihn10.0", P13 + " ssm400"),
                       ("L5 K2 max", DEFAULTS), ("L20 K4 max", P13), datasets=LONG_SYNTHETIC),),
    "grid-26": (levers((P26, P13), (P26, K1W), (P26, DEFAULTS), (K1W, K1)),),
    "grid-27": (levers(("L20 K4 short10 max stw", P26), ("L50 K4 short5 max stw", P26)),),
    "grid-28": (levers((P26 + " d64", P26), (P26 + " d64 lr.002", P26)),),
    "grid-29": (levers((P13 + " sta", P26), (P13 + " sta", K1W), (P13 + " sta", K1 + " sta"), (K1 + " sta", K1W),
                       ("L50 K4 short5 max sta", P26)),),
    "grid-30": (levers((P30, P26), (P30, K1W)),),
    "grid-31": (levers((P26 + " stl0.5", P30), (P26 + " stl0.5", P26)),),
    "grid-32": (levers((P30 + " som", P30)),),
    "grid-33": (levers((P26 + " stl2", P30), (P26 + " stl2", K1W)),),
    "grid-34": (levers(*((f"{P30} cos{temperature}", P30) for temperature in (".1", ".3", ".5"))),),
    "grid-35": (levers((P35, P30 + " rerun"), (P35, P30), (P30 + " rerun", P30), (P35, K1W)),),
    "grid-36": (levers((P35, K1W + " cos.2"), (K1W + " cos.2", K1W)),),
}


@dataclass(frozen=True)
class RemovedLever:
    key: str
    grids: str  # the sections of docs/tuning_archive.md that measured it
    added: str  # the commit that added it
    deciding: tuple[Part, ...]  # with the lever - without it
    grid_files: str  # under docs/tuning_runs/, run from REMOVED_AT


REMOVED_LEVERS = (
    RemovedLever("recency_embedding", "10-13", "233efde",
                 (Part(RECENCY, (("L20 K4 short5 recemb" + SHARED, "L20 K4 short5" + SHARED),)),), "s1b.yaml"),
    RemovedLever("routing_recency_prior", "10-13", "233efde",
                 (Part(RECENCY, (("L20 K4 short5 prior" + SHARED, "L20 K4 short5" + SHARED),)),), "s1a.yaml"),
    RemovedLever("short_term_attention", "29", "d079470",
                 (levers((P13 + " sta", P26), (K1 + " sta", K1W)),),
                 "levers_screen_sta_*.yaml, levers_seeds_sta_*.yaml, levers_seeds_sta1_*.yaml, "
                 "levers_screen_sta50_*.yaml"),
    RemovedLever("short_term_order_mlp", "32", "ed66a76", (levers((P30 + " som", P30)),), "levers_seeds_som_*.yaml"),
    RemovedLever("routing_gradient", "14", "77a2368", (levers((P13 + " rgrad", P13)),),
                 "levers_ml-100k.yaml, levers_synth_iid.yaml, levers_synth_sticky.yaml (point `... rgrad`)"),
    RemovedLever("routing_regularization", "17", "82c936a",
                 (levers(*((f"{P13} rgrad rr{weight}", P13) for weight in (1, 10, 100))),),
                 "levers_rr_*.yaml, levers_rr_seeds_*.yaml"),
    RemovedLever("future_targets", "20", "707082b",
                 (levers((P13 + " ft10", P13)), multi_target((P13 + " ft10", P13), (K1 + " ft10", K1))),
                 "levers_future_*.yaml, multi_target_future_ml-100k-long.yaml"),
    RemovedLever("hard_negative_beta", "24-25", "4fad3c2",
                 (levers(*((f"{P13} ihn{beta}", P13) for beta in ("0.5", "2.0", "10.0")),
                         (P13 + " ssm400 ihn10.0", P13 + " ssm400")),),
                 "levers_ihn_*.yaml, levers_ihn_seeds_*.yaml, levers_synth_long.yaml and levers_ssm_synth_long.yaml "
                 "(points `... ihn10.0`)"),
)


def part_logs(part: Part, tuning_runs: str = TUNING_RUNS) -> list[str]:
    return sorted(glob.glob(os.path.join(tuning_runs, part.logs)))


def grid_block(block: Block, tuning_runs: str = TUNING_RUNS) -> str:
    """A grid's verdict tables (one per part, every comparison of the records) or its note."""
    if isinstance(block, str):
        return block
    tables = [validation_grid.paired_table(part_logs(part, tuning_runs), list(part.pairs), part.metrics,
                                           one_seed_rows=True, datasets=part.datasets) for part in block]
    return "\n\n".join(tables) + "\n"


def judged(parts: tuple[Part, ...], tuning_runs: str = TUNING_RUNS) -> list[tuple[str, str]]:
    """``(place, verdict)`` of every comparison of ``parts`` the rule can judge, a place being
    "dataset metric" (with the protocol when not leave-one-out)."""
    verdicts = []
    for part in parts:
        points = validation_grid.trials_by_point(part_logs(part, tuning_runs))
        for a, b in part.pairs:
            for (dataset, label), records in points.items():
                if label != a or (dataset, b) not in points:
                    continue
                for metric in part.metrics:
                    rows = validation_grid.by_seed(records, metric), validation_grid.by_seed(points[dataset, b], metric)
                    if stats.has_verdict(*rows):
                        place = " ".join(word for word in (dataset, part.protocol, metric) if word)
                        verdicts.append((place, stats.compare_seeds(*rows).verdict))
    return verdicts


def summary(verdicts: list[tuple[str, str]]) -> str:
    """"behind on X, Y; level on 4 of 6" for a lever's judged comparisons."""
    if not verdicts:
        return "one seed only: no verdict"
    words = [f"{word} on {', '.join(place for place, said in verdicts if said == word)}"
             for word in ("ahead", "behind") if any(said == word for _, said in verdicts)]
    level = sum(said == "level" for _, said in verdicts)
    if level:
        words.append(f"level on {level} of {len(verdicts)}" if len(words) else f"level on all {level}")
    return "; ".join(words)


def removed_levers_block(tuning_runs: str = TUNING_RUNS) -> str:
    lines = [
        "| key | grids | verdict (noise rule, validation) | added in | last commit with its code | "
        "grid files to rerun (docs/tuning_runs/) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for lever in REMOVED_LEVERS:
        verdict = summary(judged(lever.deciding, tuning_runs))
        lines.append(f"| `{lever.key}` | {lever.grids} | {verdict} | {lever.added} | {REMOVED_AT} | {lever.grid_files} |")
    return "\n".join(lines) + "\n"


def generated(tuning_runs: str = TUNING_RUNS) -> dict[str, str]:
    """Block name -> its generated body."""
    return {"removed-levers": removed_levers_block(tuning_runs),
            **{name: grid_block(block, tuning_runs) for name, block in GRIDS.items()}}


def regenerate(text: str, bodies: dict[str, str]) -> str:
    """``text`` with every verdicts block's body replaced by its generated one."""
    return blocks.replace_blocks(BLOCK, text, bodies, "a tuning page")


def missing_blocks(text: str, bodies: dict[str, str]) -> list[str]:
    """Generated blocks that ``text`` (the pages, joined) has no markers for."""
    present = {match.group("name") for match in BLOCK.finditer(text)}
    return [name for name in bodies if name not in present]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the blocks of the tuning pages")
    args = parser.parse_args(argv)
    bodies = generated()
    missing = missing_blocks("".join(open(page, encoding="utf-8").read() for page in PAGES), bodies)
    for name in missing:
        print(f"[verdicts] no tuning page has a block {name!r}: add <!-- verdicts: {name} --> and its end marker")
    stale = blocks.refresh(PAGES, BLOCK, bodies, args.write)
    names = ", ".join(os.path.relpath(page, ROOT) for page in stale)
    if not stale:
        print("[verdicts] every block of the tuning pages matches its records")
    elif args.write:
        print(f"[verdicts] rewrote {names}")
    else:
        print(f"[verdicts] {names} out of date with the records: python -m benchmarks.tuning_verdicts --write")
    return 1 if missing or (stale and not args.write) else 0


if __name__ == "__main__":
    sys.exit(main())

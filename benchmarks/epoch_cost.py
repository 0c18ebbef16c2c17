"""The cost targets' epoch ratios measured in one run: benchmark rows' training epochs timed in turn.

The benchmark's runs were made on different days and this machine's speed drifts between them,
so this script times whole training epochs (RecBole's ``_train_epoch``: data loading included,
evaluation excluded) of the rows named, taking them in turn for ``--rounds`` rounds so that drift
falls on every row alike; the report takes its cost targets' ratios from these records::

    python -m benchmarks.epoch_cost                  # writes docs/epoch_cost.json
    python -m benchmarks.epoch_cost --protocol multi_target   # docs/epoch_cost_multi_target.json
    python -m benchmarks.epoch_cost --phases --rows MIND "MIND preset"   # docs/epoch_phases.json

``--phases`` splits each epoch into data loading (the loader's next batch), forward (the loss),
backward and the optimizer's step, in a loop of its own that does what RecBole's ``_train_epoch``
does for these models (no gradient clipping, no progress bar).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from typing import Any

from benchmarks.summary import EPOCH_COST_RECORDS
from benchmarks.rows import MODELS, PROTOCOLS, ROOT, row_config
from benchmarks.run import run_environment, utc_now

DEFAULT_ROWS = ["MIND", "MIND preset", "SASRec tuned"]
PHASES = ("data", "forward", "backward", "optimizer")
PHASES_RECORD = os.path.join(ROOT, "docs", "epoch_phases.json")


def prepare_row(row: str, dataset: str, protocol: str, seed: int, data_path: str | None = None) -> tuple[Any, Any]:
    """``(trainer, train_data)`` of a benchmark row under ``protocol``."""
    from recbole_mind.training.pipeline import build_trainer, prepare

    config = row_config(row, dataset, protocol, seed, data_path)
    prepared = prepare(config)
    return build_trainer(config, prepared.model), prepared.train_data


def phase_seconds(trainer: Any, train_data: Any) -> dict[str, float]:
    """One training epoch's wall seconds in each of ``PHASES``."""
    import time

    model, optimizer, clock = trainer.model.train(), trainer.optimizer, time.perf_counter
    totals = dict.fromkeys(PHASES, 0.0)
    batches = iter(train_data)
    while True:
        start = clock()
        batch = next(batches, None)
        if batch is None:
            break
        batch = batch.to(trainer.device)
        loaded = clock()
        optimizer.zero_grad()
        loss = model.calculate_loss(batch)
        loss = sum(loss) if isinstance(loss, tuple) else loss
        computed = clock()
        loss.backward()
        backward = clock()
        optimizer.step()
        for phase, seconds in zip(PHASES, (loaded - start, computed - loaded, backward - computed, clock() - backward)):
            totals[phase] += seconds
    return totals


def epoch_ratios(seconds: dict[str, list[float]], reference: str) -> dict[str, float]:
    """Each row's median epoch seconds over the reference row's median."""
    medians = {row: statistics.median(values) for row, values in seconds.items()}
    return {row: median / medians[reference] for row, median in medians.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=DEFAULT_ROWS, help="benchmark rows (compare.py's names)")
    parser.add_argument("--reference", default="SASRec tuned", help="the row every ratio divides by")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/ subfolders")
    parser.add_argument("--protocol", default="leave_one_out", choices=sorted(PROTOCOLS))
    parser.add_argument("--rounds", type=int, default=3, help="epochs timed per row, the rows taken in turn")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", help="the record to write (default: the protocol's, benchmarks.summary.EPOCH_COST_RECORDS)")
    parser.add_argument("--phases", action="store_true",
                        help=f"split each epoch into {', '.join(PHASES)} (docs/epoch_phases.json)")
    args = parser.parse_args(argv)
    unknown = [row for row in args.rows if row not in MODELS]
    if unknown:
        parser.error(f"unknown row(s) {unknown}; allowed: {sorted(MODELS)}")
    if args.reference not in args.rows and not args.phases:  # --phases gives shares, no ratios
        parser.error(f"--reference {args.reference!r} must be one of --rows {args.rows}")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    out = args.out or (PHASES_RECORD if args.phases else EPOCH_COST_RECORDS[args.protocol])
    command = " ".join(["python -m benchmarks.epoch_cost", *(sys.argv[1:] if argv is None else argv)])
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    try:
        prepared = {row: prepare_row(row, args.dataset, args.protocol, args.seed, args.data_path) for row in args.rows}
    except (ValueError, FileNotFoundError) as error:  # a bad or missing dataset: the message says which
        parser.exit(2, f"epoch_cost.py: error: {error}\n")
    if args.phases:
        return write_phases(prepared, args, command, out)
    seconds: dict[str, list[float]] = {row: [] for row in args.rows}
    for round_index in range(args.rounds):
        for row, (trainer, train_data) in prepared.items():
            loss = trainer._train_epoch(train_data, round_index, show_progress=False)
            if not all(math.isfinite(part) for part in (loss if isinstance(loss, tuple) else (loss,))):
                raise RuntimeError(f"{row}: a non-finite training loss in round {round_index + 1}")
            elapsed = trainer.epoch_seconds[-1]
            seconds[row].append(elapsed)
            print(f"[epoch_cost] round {round_index + 1}/{args.rounds} {row}: {elapsed:.1f} s", flush=True)
    ratios = epoch_ratios(seconds, args.reference)
    medians = {row: statistics.median(values) for row, values in seconds.items()}
    record = {"command": command, "finished": utc_now(), "environment": run_environment(), "dataset": args.dataset,
              "protocol": args.protocol, "reference": args.reference,
              "rows": [{"row": row, "epoch_seconds": seconds[row], "median_seconds": medians[row],
                        "ratio_to_reference": ratios[row]} for row in args.rows]}
    with open(out, "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1)
        file.write("\n")
    for row in args.rows:
        print(f"[epoch_cost] {row}: median {medians[row]:.1f} s, {ratios[row]:.3f}x {args.reference}")
    print(f"[epoch_cost] wrote {out}")
    return 0


def write_phases(prepared: dict[str, tuple[Any, Any]], args: argparse.Namespace, command: str, out: str) -> int:
    """``--phases``: the rows' epochs in turn, each split into ``PHASES``; medians and shares."""
    import torch

    rounds: dict[str, list[dict[str, float]]] = {row: [] for row in prepared}
    for round_index in range(args.rounds):
        for row, (trainer, train_data) in prepared.items():
            rounds[row].append(phase_seconds(trainer, train_data))
            print(f"[epoch_cost] round {round_index + 1}/{args.rounds} {row}: "
                  + ", ".join(f"{phase} {rounds[row][-1][phase]:.2f} s" for phase in PHASES), flush=True)
    rows = []
    for row, measured in rounds.items():
        medians = {phase: statistics.median(epoch[phase] for epoch in measured) for phase in PHASES}
        total = sum(medians.values())
        rows.append({"row": row, "rounds": measured, "median_seconds": medians,
                     "shares": {phase: medians[phase] / total for phase in PHASES}})
        print(f"[epoch_cost] {row}: " + ", ".join(f"{phase} {rows[-1]['shares'][phase]:.0%}" for phase in PHASES))
    record = {"command": command, "finished": utc_now(), "environment": run_environment(), "dataset": args.dataset,
              "protocol": args.protocol, "torch_threads": torch.get_num_threads(), "rows": rows}
    with open(out, "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1)
        file.write("\n")
    print(f"[epoch_cost] wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

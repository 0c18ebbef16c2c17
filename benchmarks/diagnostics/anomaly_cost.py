"""What torch's anomaly mode costs a baseline's training step, and that it changes no result.

RecBole 1.2.1's ``sine.py`` switches anomaly mode on when imported, so benchmark runs made
before ``recbole_mind.integration.compat`` restored the mode trained in it (docs/benchmarks.md marks their
seconds with a dagger). This script measures what that did, on the benchmark protocol's data
(ml-100k by default): for each model, the same first ``--batches`` training batches from the same
initial weights, once with anomaly mode off and once on; it records the seconds of each pass
and whether every loss came out identical. The record it writes is what the benchmark report's
note quotes (``benchmarks.records.anomaly_note``)::

    python -m benchmarks.diagnostics.anomaly_cost                # writes docs/anomaly_mode.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from typing import Any

from benchmarks.records import ANOMALY_RECORD
from benchmarks.rows import protocol_files
from benchmarks.run import run_environment


def train_steps(model: Any, batches: list, anomaly: bool) -> tuple[float, list[float]]:
    """Seconds of ``len(batches)`` optimiser steps of ``model``, and the loss of each step."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    with torch.autograd.set_detect_anomaly(anomaly):
        start = time.perf_counter()
        for interaction in batches:
            optimizer.zero_grad()
            loss = model.calculate_loss(interaction)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - start
    return seconds, losses


def measure(model_name: str, dataset: str, batches: int) -> dict[str, Any]:
    """Off and on for one model; each pass starts from a fresh model seeded the same way."""
    from recbole.utils import init_seed

    from recbole_mind.training.config import build_config
    from recbole_mind.training.pipeline import prepare

    config = build_config(model_name, dataset, protocol_files(dataset, quick=False), {"seed": 2020})
    prepared = prepare(config, build_model=False)
    taken = []
    for interaction in prepared.train_data:
        taken.append(interaction)
        if len(taken) == batches:
            break
    passes = {}
    for anomaly in (False, True):
        init_seed(config["seed"], config["reproducibility"])
        model = config.model_class(config, prepared.train_data._dataset).to(config["device"])
        passes[anomaly] = train_steps(model, taken, anomaly)
    (off_seconds, off_losses), (on_seconds, on_losses) = passes[False], passes[True]
    return {
        "model": model_name,
        "dataset": dataset,
        "batches": len(taken),
        "batch_size": config["train_batch_size"],
        "seconds_off": off_seconds,
        "seconds_on": on_seconds,
        "ratio": on_seconds / off_seconds,
        "losses_identical": off_losses == on_losses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["GRU4Rec", "SASRec"])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--batches", type=int, default=8, help="training batches timed per pass")
    parser.add_argument("--out", default=ANOMALY_RECORD)
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error(f"--batches must be at least 1, got {args.batches}")
    command = " ".join(["python -m benchmarks.diagnostics.anomaly_cost", *(sys.argv[1:] if argv is None else argv)])
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    rows = []
    for model_name in args.models:
        try:
            row = measure(model_name, args.dataset, args.batches)
        except (ValueError, FileNotFoundError) as error:  # an unknown model, a missing dataset: the message says which
            parser.exit(2, f"anomaly_cost.py: error: {error}\n")
        print(f"[anomaly_cost] {model_name}: {row['seconds_off']:.1f} s off, {row['seconds_on']:.1f} s on "
              f"({row['ratio']:.2f}x), losses identical: {row['losses_identical']}")
        rows.append(row)
    record = {
        "command": command,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": run_environment(),
        "models": rows,
    }
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1)
        file.write("\n")
    print(f"[anomaly_cost] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

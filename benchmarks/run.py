"""Executing benchmark runs: one training run in a fresh process, and what it ran on."""

from __future__ import annotations

import datetime
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.rows import ROOT


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """One training run; executed in a fresh spawned process."""
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    os.chdir(task["work_dir"])
    from recbole_mind import run_recbole_mind

    environment = run_environment()
    start = time.perf_counter()
    result = run_recbole_mind(task["model"], task["dataset"], config_file_list=task["config_files"],
                              config_dict=task["config_dict"])
    import torch

    # RecBole 1.2.1's sine.py switches anomaly mode on when imported (recbole_mind.integration.compat undoes
    # it): recorded because it slows training, not results, and differently per model.
    environment["anomaly_mode"] = torch.is_anomaly_enabled()
    return {
        "row": task["row"], "dataset": task["dataset"], "protocol": task["protocol"], "seed": task["config_dict"]["seed"],
        "test_result": {key: float(value) for key, value in result["test_result"].items()},
        "best_valid_result": {key: float(value) for key, value in (result["best_valid_result"] or {}).items()},
        "train_epoch_seconds": result["train_epoch_seconds"],
        "eval_users_per_second": result["test_users"] / result["test_seconds"],
        "model_parameters": result["model_parameters"], "wall_seconds": time.perf_counter() - start,
        "valid_curve": result.get("valid_curve"), "finished": utc_now(), "environment": environment,
    }


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_in_fresh_process(function: Callable[[Any], Any], argument: Any) -> Any:
    """``function(argument)`` in a new spawned process; the caller waits for its result.

    A SIGTERM to the caller (``kill PID``) stops the run too: by default the caller would die at
    once and leave the training process running as an orphan, competing for the cores with the
    next benchmark and spoiling its seconds.
    """
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the pool's exit, which terminates its worker

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(function, (argument,))
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_environment() -> dict[str, Any]:
    """Machine and versions of a run, kept in its record and printed by the report."""
    import recbole
    import torch

    from recbole_mind import __version__

    return {
        "recbole_mind": __version__, "recbole": recbole.__version__, "torch": torch.__version__,
        "python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
        "code": code_version(),
    }


CODE_PATHS = ["recbole_mind", "benchmarks", "properties"]


def code_version(root: str = ROOT) -> str | None:
    """The git commit of the checkout a run used, with ``+uncommitted`` when its code (package,
    benchmarks, properties) had edits; None outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short=10", "HEAD")
    if not commit:
        return None
    edits = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return commit + ("+uncommitted" if edits else "")

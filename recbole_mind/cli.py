"""Command line mirroring RecBole's ``run_recbole.py``.

``--model``, ``--dataset`` and ``--config_files`` are ours; every other ``--key=value`` is a
RecBole/MIND config override that RecBole's ``Config`` reads from the command line itself,
exactly as with ``run_recbole.py``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from recbole_mind.quick_start import DatasetNotFoundError, run_recbole_mind


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_recbole_mind.py",
        description=(
            "Train and evaluate MIND (or any RecBole model) with RecBole. Any other "
            "--key=value overrides a config key, e.g. --epochs=20 --interest_num=8."
        ),
    )
    parser.add_argument("--model", "-m", default="MIND", help="MIND or a RecBole model name (default: MIND)")
    parser.add_argument("--dataset", "-d", default="ml-100k", help="dataset name (default: ml-100k)")
    parser.add_argument(
        "--config_files", default=None, help="space-separated YAML files, later files win"
    )
    return parser


def _format_result(result: dict[str, Any]) -> str:
    return ", ".join(f"{metric}: {float(value):.4f}" for metric, value in result.items())


def main(argv: Sequence[str] | None = None) -> int:
    args, _ = build_parser().parse_known_args(argv)
    config_files = args.config_files.split() if args.config_files else None
    try:
        result = run_recbole_mind(
            model=args.model, dataset=args.dataset, config_file_list=config_files
        )
    except (ValueError, DatasetNotFoundError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"best valid: {_format_result(result['best_valid_result'])}")
    print(f"test result: {_format_result(result['test_result'])}")
    return 0
